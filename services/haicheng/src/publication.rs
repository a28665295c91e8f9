//! `haicheng class publish --period P [--note TEXT]`: publishes a period's ranking (公示) as
//! it stands, commerce only (`classification.admin`). The service re-ranks a pending period
//! first, keeps the ranking as a snapshot (read back with `--published` on `class show`,
//! `list`, `explain` and `distribution`), and sends the period's notices at once. A period is
//! published once.

use clap::Args;
use haicheng_proto::{classification::v1 as pb, common::v1 as common};

use crate::{
    client::{Authed, call},
    errors::CliError,
    output::{self, Format},
};

#[derive(Args)]
pub struct PublishArgs {
    /// Census period to publish (2025 or 2025Q3).
    #[arg(long)]
    period: String,
    /// A note kept with the publication (e.g. the bureau's document number).
    #[arg(long, default_value = "")]
    note: String,
}

impl PublishArgs {
    fn request(&self) -> pb::PublishPeriodRequest {
        pb::PublishPeriodRequest {
            period: Some(common::Period {
                code: self.period.trim().to_string(),
            }),
            note: self.note.trim().to_string(),
        }
    }
}

type Client = pb::classification_service_client::ClassificationServiceClient<Authed>;

pub async fn publish(
    service: &mut Client,
    args: &PublishArgs,
    format: Format,
) -> Result<(), CliError> {
    let reply = service
        .publish_period(call(args.request()))
        .await?
        .into_inner();
    output::emit(&match format {
        Format::Table => render(&reply.publication.unwrap_or_default()),
        Format::Json => output::json(&reply),
    });
    Ok(())
}

fn render(p: &pb::Publication) -> String {
    let mut pairs = vec![
        ("period", output::period(p.period.as_ref())),
        ("published", output::time(p.published_at.as_ref())),
        ("by", p.published_by.clone()),
        ("model version", p.model_version.to_string()),
        ("enterprises", p.enterprises.to_string()),
        (
            "objections until",
            output::time(p.objection_deadline.as_ref()),
        ),
    ];
    if !p.note.is_empty() {
        pairs.push(("note", p.note.clone()));
    }
    output::fields(&pairs)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: PublishArgs,
    }

    #[test]
    fn the_period_is_required_and_trimmed() {
        assert!(Cli::try_parse_from(["publish"]).is_err());
        let cli =
            Cli::try_parse_from(["publish", "--period", " 2025 ", "--note", "doc 7"]).unwrap();
        let request = cli.args.request();
        assert_eq!(request.period.unwrap().code, "2025");
        assert_eq!(request.note, "doc 7");
    }

    #[test]
    fn a_publication_prints_its_fields() {
        let publication = pb::Publication {
            period: Some(common::Period {
                code: "2025".into(),
            }),
            published_by: "department:commerce".into(),
            model_version: 2,
            enterprises: 4_812,
            note: "doc 7".into(),
            ..Default::default()
        };
        let text = render(&publication);
        assert!(text.contains("enterprises       4812\n"), "{text}");
        assert!(text.contains("objections until  -\n"), "{text}");
        assert!(text.ends_with("note              doc 7\n"), "{text}");
        let value = serde_json::to_value(&publication).unwrap();
        assert_eq!(value["publishedBy"], "department:commerce");
        assert_eq!(value["objectionDeadline"], serde_json::Value::Null);
    }
}
