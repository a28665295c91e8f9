//! `haicheng class publish --period P [--note TEXT] [--objection-days N]`: publishes a period's ranking (公示) as
//! it stands, commerce only (`classification.admin`). The service re-ranks a pending period
//! first, keeps the ranking as a snapshot (read back with `--published` on `class show`,
//! `list`, `explain` and `distribution`), and sends the period's notices at once. A period is
//! published once.
//!
//! `haicheng class finalize --period P`: makes the period's final list (最终结果), the
//! published ranking amended by the upheld objections, once its objection window has closed
//! and every objection is decided (commerce only); read it back with `--view final`.

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
    /// The objection window this publication announces, in working days (default: the
    /// service's configured window; longer is allowed, shorter only in development mode).
    #[arg(long, value_name = "DAYS")]
    objection_days: Option<u32>,
}

impl PublishArgs {
    fn request(&self) -> pb::PublishPeriodRequest {
        pb::PublishPeriodRequest {
            period: Some(common::Period {
                code: self.period.trim().to_string(),
            }),
            note: self.note.trim().to_string(),
            objection_working_days: self.objection_days,
        }
    }
}

#[derive(Args)]
pub struct FinalizeArgs {
    /// Published census period to finalize (2025 or 2025Q3).
    #[arg(long)]
    period: String,
}

impl FinalizeArgs {
    fn request(&self) -> pb::FinalizePeriodRequest {
        pb::FinalizePeriodRequest {
            period: Some(common::Period {
                code: self.period.trim().to_string(),
            }),
        }
    }
}

type Client = pb::classification_service_client::ClassificationServiceClient<Authed>;

pub async fn finalize(
    service: &mut Client,
    args: &FinalizeArgs,
    format: Format,
) -> Result<(), CliError> {
    let reply = service
        .finalize_period(call(args.request()))
        .await?
        .into_inner();
    output::emit(&match format {
        Format::Table => render_final(&reply.finalization.unwrap_or_default()),
        Format::Json => output::json(&reply),
    });
    Ok(())
}

fn class_name(number: i32) -> &'static str {
    match common::EnterpriseClass::try_from(number) {
        Ok(common::EnterpriseClass::A) => "A",
        Ok(common::EnterpriseClass::B) => "B",
        Ok(common::EnterpriseClass::C) => "C",
        _ => "-",
    }
}

fn render_final(f: &pb::Finalization) -> String {
    let mut pairs = vec![
        ("period", output::period(f.period.as_ref())),
        ("finalized", output::time(f.finalized_at.as_ref())),
        ("by", f.finalized_by.clone()),
        ("published", output::time(f.published_at.as_ref())),
        ("enterprises", f.enterprises.to_string()),
        ("amended", f.amendments.len().to_string()),
    ];
    let lines: Vec<String> = f
        .amendments
        .iter()
        .map(|a| {
            format!(
                "{} {} -> {} (objection {})",
                a.uscc,
                class_name(a.published_class),
                class_name(a.final_class),
                a.objection_id
            )
        })
        .collect();
    let joined = lines.join("; ");
    if !joined.is_empty() {
        pairs.push(("amendments", joined));
    }
    output::fields(&pairs)
}

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
    fn a_final_list_prints_its_amendments() {
        let f = pb::Finalization {
            period: Some(common::Period {
                code: "2025".into(),
            }),
            finalized_by: "department:commerce".into(),
            enterprises: 12,
            amendments: vec![pb::FinalAmendment {
                uscc: "91330100MA27XXXX0X".into(),
                published_class: common::EnterpriseClass::C as i32,
                final_class: common::EnterpriseClass::A as i32,
                objection_id: 3,
            }],
            ..Default::default()
        };
        let text = render_final(&f);
        assert!(text.contains("amended      1\n"), "{text}");
        assert!(
            text.contains("91330100MA27XXXX0X C -> A (objection 3)"),
            "{text}"
        );
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
