//! `haicheng objection …`: objections (异议) to a published ranking.
//!
//! - `objection file --period P --uscc U --reason R [--evidence REF]... [--class A|B|C]`:
//!   files an objection within the objection window (the working days after publication);
//!   by commerce (`dev-commerce`) or by the enterprise itself (`dev-enterprise-<USCC>`);
//! - `objection decide --id N (--uphold CLASS | --reject) --reason R`: upholds it (the class
//!   becomes an override with the reason, its notices go out at once) or rejects it; commerce
//!   only;
//! - `objection list [--period P] [--uscc U] [--state filed|upheld|rejected] [--page-size N]
//!   [--page-token T] [--all]`: newest first; an enterprise sees only its own.
//!
//! Times are printed in China Standard Time (+08:00), the calendar the window is counted in.

use clap::{ArgGroup, Args, Subcommand};
use haicheng_proto::{classification::v1 as pb, common::v1 as common};
use platform::time::from_timestamp;
use prost_types::Timestamp;

use crate::{
    Context,
    client::{self, call},
    enterprise::more_hint,
    enums,
    errors::CliError,
    output::{self, Format, Table},
};

#[derive(Subcommand)]
pub enum ObjectionCommand {
    /// File an objection to an enterprise's class in a published period.
    File(FileArgs),
    /// Uphold (an override with the reason) or reject an objection; commerce only.
    Decide(DecideArgs),
    /// Objections, newest first, filtered.
    List(ListArgs),
}

#[derive(Args)]
pub struct FileArgs {
    /// The published census period (2025 or 2025Q3).
    #[arg(long)]
    period: String,
    /// USCC of the enterprise.
    #[arg(long)]
    uscc: String,
    /// Why the enterprise objects.
    #[arg(long)]
    reason: String,
    /// A reference to evidence (document number, URL); repeat for more.
    #[arg(long = "evidence", value_name = "REF")]
    evidence: Vec<String>,
    /// The class asked for: A, B or C.
    #[arg(long = "class", value_parser = enums::parse::<common::EnterpriseClass>)]
    class: Option<common::EnterpriseClass>,
}

#[derive(Args)]
#[command(group(ArgGroup::new("decision").required(true).args(["uphold", "reject"])))]
pub struct DecideArgs {
    /// The objection's id (as `objection file` or `objection list` printed it).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    id: i64,
    /// Uphold it, setting this class (A, B or C) as an override.
    #[arg(long, value_name = "CLASS", value_parser = enums::parse::<common::EnterpriseClass>)]
    uphold: Option<common::EnterpriseClass>,
    /// Reject it; nothing else changes.
    #[arg(long)]
    reject: bool,
    /// Why; recorded with the decision (and as the override's reason when upheld).
    #[arg(long)]
    reason: String,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only this period.
    #[arg(long)]
    period: Option<String>,
    /// Only this enterprise.
    #[arg(long)]
    uscc: Option<String>,
    /// Only this state: FILED, UPHELD or REJECTED (any case).
    #[arg(long, value_parser = enums::parse::<pb::ObjectionState>)]
    state: Option<pb::ObjectionState>,
    #[command(flatten)]
    paging: client::Paging,
}

impl ListArgs {
    fn request(&self, page_token: String) -> pb::ListObjectionsRequest {
        pb::ListObjectionsRequest {
            period: self.period.as_deref().map(period),
            uscc: self.uscc.as_deref().unwrap_or("").trim().to_string(),
            state: self.state.map_or(0, |s| s as i32),
            page_size: self.paging.page_size.unwrap_or(0),
            page_token,
        }
    }
}

fn period(code: &str) -> common::Period {
    common::Period {
        code: code.trim().to_string(),
    }
}

pub async fn run(command: ObjectionCommand, context: &Context) -> Result<(), CliError> {
    let mut service = context.connect.classification().await?;
    match command {
        ObjectionCommand::File(args) => {
            let reply = service
                .file_objection(call(pb::FileObjectionRequest {
                    period: Some(period(&args.period)),
                    uscc: args.uscc.trim().to_string(),
                    reason: args.reason,
                    evidence: args.evidence,
                    requested_class: args.class.map_or(0, |c| c as i32),
                }))
                .await?
                .into_inner();
            emit_one(reply.objection, context.format);
        }
        ObjectionCommand::Decide(args) => {
            let (decision, class) = match args.uphold {
                Some(class) => (pb::ObjectionDecision::Uphold, class as i32),
                None => (pb::ObjectionDecision::Reject, 0),
            };
            let reply = service
                .decide_objection(call(pb::DecideObjectionRequest {
                    objection_id: args.id,
                    decision: decision as i32,
                    enterprise_class: class,
                    reason: args.reason,
                }))
                .await?
                .into_inner();
            emit_one(reply.objection, context.format);
        }
        ObjectionCommand::List(args) => {
            let (objections, next_page_token) = client::pages(
                args.paging.all,
                args.paging.page_token.clone(),
                "objections",
                |token| {
                    let mut service = service.clone();
                    let request = call(args.request(token));
                    async move {
                        let page = service.list_objections(request).await?.into_inner();
                        Ok((page.objections, page.next_page_token))
                    }
                },
            )
            .await?;
            match context.format {
                Format::Table => {
                    output::emit(&render_list(&objections));
                    more_hint(&next_page_token);
                }
                Format::Json => output::emit(&output::json(&pb::ListObjectionsResponse {
                    objections,
                    next_page_token,
                })),
            }
        }
    }
    Ok(())
}

/// The objection a file or a decision answered with (JSON: `{"objection": {…}}`, the shape of
/// both responses).
fn emit_one(objection: Option<pb::Objection>, format: Format) {
    output::emit(&match format {
        Format::Table => render_objection(&objection.unwrap_or_default()),
        Format::Json => output::json(&pb::FileObjectionResponse { objection }),
    });
}

/// A time in China Standard Time, to the second (`2026-03-10T00:00:00+08:00`); `-` if unset.
fn cst(ts: Option<&Timestamp>) -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3_600).expect("UTC+8 is a valid offset");
    match ts.and_then(from_timestamp) {
        Some(t) => t
            .with_timezone(&offset)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        None => output::time(ts),
    }
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text.to_string()
    }
}

fn render_objection(o: &pb::Objection) -> String {
    let evidence = if o.evidence.is_empty() {
        "-".to_string()
    } else {
        o.evidence.join(", ")
    };
    output::fields(&[
        ("objection", o.id.to_string()),
        ("period", output::period(o.period.as_ref())),
        ("uscc", o.uscc.clone()),
        ("state", enums::short::<pb::ObjectionState>(o.state)),
        (
            "class when filed",
            enums::short::<common::EnterpriseClass>(o.class_at_filing),
        ),
        (
            "class asked for",
            enums::short::<common::EnterpriseClass>(o.requested_class),
        ),
        ("reason", o.reason.clone()),
        ("evidence", evidence),
        ("filed by", o.filed_by.clone()),
        ("filed at", cst(o.filed_at.as_ref())),
        ("window ends", cst(o.deadline.as_ref())),
        (
            "decided class",
            enums::short::<common::EnterpriseClass>(o.decided_class),
        ),
        ("decision reason", dash(&o.decision_reason)),
        ("decided by", dash(&o.decided_by)),
        ("decided at", cst(o.decided_at.as_ref())),
    ])
}

fn render_list(objections: &[pb::Objection]) -> String {
    let mut table = Table::new(&[
        "ID",
        "PERIOD",
        "USCC",
        "STATE",
        "CLASS",
        "ASKED",
        "DECIDED",
        "FILED",
        "WINDOW ENDS",
    ])
    .numeric(&[0]);
    for o in objections {
        table.row(vec![
            o.id.to_string(),
            output::period(o.period.as_ref()),
            o.uscc.clone(),
            enums::short::<pb::ObjectionState>(o.state),
            enums::short::<common::EnterpriseClass>(o.class_at_filing),
            enums::short::<common::EnterpriseClass>(o.requested_class),
            enums::short::<common::EnterpriseClass>(o.decided_class),
            cst(o.filed_at.as_ref()),
            cst(o.deadline.as_ref()),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_china_standard_time() {
        let ts = Timestamp {
            seconds: 1_773_072_000, // 2026-03-09T16:00:00Z
            nanos: 0,
        };
        assert_eq!(cst(Some(&ts)), "2026-03-10T00:00:00+08:00");
        assert_eq!(cst(None), "-");
    }

    #[test]
    fn a_list_row_has_the_short_names() {
        let objection = pb::Objection {
            id: 7,
            period: Some(period("2025")),
            uscc: "91210381MA0Q12343L".into(),
            state: pb::ObjectionState::Upheld as i32,
            class_at_filing: common::EnterpriseClass::C as i32,
            requested_class: common::EnterpriseClass::A as i32,
            decided_class: common::EnterpriseClass::B as i32,
            ..Default::default()
        };
        let text = render_list(std::slice::from_ref(&objection));
        let row = text.lines().nth(1).unwrap();
        assert!(row.contains("UPHELD"), "{row}");
        assert!(
            row.contains("91210381MA0Q12343L  UPHELD  C      A      B"),
            "{row}"
        );
        assert_eq!(
            serde_json::to_value(&objection).unwrap()["state"],
            "OBJECTION_STATE_UPHELD"
        );
    }
}
