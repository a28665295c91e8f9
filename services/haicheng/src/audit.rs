//! `haicheng audit [--service S]… [--principal P] [--uscc U] [--since T] [--until T]`: the
//! audit records (refused calls, reads of enterprise data, notice reads) of every service, or
//! of those named, merged newest first. Each service keeps its own log and serves it to the
//! holders of `audit.read` (commerce). `--limit` caps the records read from each service.

use clap::{Args, builder::PossibleValuesParser};
use haicheng_proto::audit::v1::{AuditRecord, ListAuditRecordsRequest};
use prost_types::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::{
    Context,
    client::call,
    errors::CliError,
    output::{self, Format, Table},
};

/// The services that keep an audit log (the notices' is the classification process's).
const SERVICES: [&str; 6] = [
    "census",
    "classification",
    "land-parcel",
    "trade-fair",
    "support",
    "inspection",
];

#[derive(Args)]
pub struct AuditArgs {
    /// Only this service (repeatable); every service by default.
    #[arg(long, value_parser = PossibleValuesParser::new(SERVICES))]
    service: Vec<String>,
    /// Only this caller: department:finance, service:NAME, enterprise:USCC or anonymous.
    #[arg(long)]
    principal: Option<String>,
    /// Only records about this enterprise.
    #[arg(long)]
    uscc: Option<String>,
    /// At or after this RFC 3339 time.
    #[arg(long, value_parser = output::parse_time)]
    since: Option<Timestamp>,
    /// Before this RFC 3339 time.
    #[arg(long, value_parser = output::parse_time)]
    until: Option<Timestamp>,
    /// The newest records read from each service, at most.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    limit: u32,
}

pub async fn run(args: AuditArgs, context: &Context) -> Result<(), CliError> {
    let wanted: Vec<&str> = if args.service.is_empty() {
        SERVICES.to_vec()
    } else {
        args.service.iter().map(String::as_str).collect()
    };
    let mut records = Vec::new();
    for service in wanted {
        let mut client = context.connect.audit(service).await?;
        let mut page_token = String::new();
        let mut read = 0;
        loop {
            let page = client
                .list_audit_records(call(ListAuditRecordsRequest {
                    principal: args.principal.clone().unwrap_or_default(),
                    uscc: args.uscc.clone().unwrap_or_default(),
                    since: args.since,
                    until: args.until,
                    page_size: (args.limit - read).min(1000) as i32,
                    page_token,
                }))
                .await?
                .into_inner();
            read += page.records.len() as u32;
            records.extend(page.records);
            if page.next_page_token.is_empty() || read >= args.limit {
                break;
            }
            page_token = page.next_page_token;
        }
    }
    // Newest first across services (the id breaks ties within one).
    records.sort_by(|a, b| {
        let key = |r: &AuditRecord| r.at.map(|t| (t.seconds, t.nanos));
        key(b).cmp(&key(a)).then(b.id.cmp(&a.id))
    });
    output::emit(&render(&records, context.format));
    Ok(())
}

fn render(records: &[AuditRecord], format: Format) -> String {
    match format {
        Format::Json => output::json(&records.iter().map(Shown::new).collect::<Vec<_>>()),
        Format::Table => {
            let mut table = Table::new(&[
                "AT",
                "SERVICE",
                "METHOD",
                "PRINCIPAL",
                "CODE",
                "USCC",
                "PEER",
                "DETAIL",
            ]);
            for r in records {
                table.row(vec![
                    output::time(r.at.as_ref()),
                    r.service.clone(),
                    r.method.rsplit('/').next().unwrap_or(&r.method).to_string(),
                    r.principal.clone(),
                    r.code.clone(),
                    dash(&r.uscc),
                    dash(&r.peer),
                    if r.detail_json == "{}" {
                        "-".into()
                    } else {
                        r.detail_json.clone()
                    },
                ]);
            }
            table.render()
        }
    }
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.to_string()
    }
}

/// A record as JSON: its fields, and beside them `detail`, the JSON that the proto carries
/// as a string (`detailJson`), so that a script reads it without parsing twice.
#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    record: &'a AuditRecord,
    detail: Value,
}

impl<'a> Shown<'a> {
    fn new(record: &'a AuditRecord) -> Self {
        Self {
            record,
            detail: serde_json::from_str(&record.detail_json).unwrap_or(Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_render_as_a_table_and_as_json() {
        let record = AuditRecord {
            id: 7,
            at: Some(Timestamp {
                seconds: 1_765_000_000,
                nanos: 0,
            }),
            service: "census".into(),
            method: "/haicheng.census.v1.CensusService/GetEnterpriseFile".into(),
            principal: "department:finance".into(),
            peer: "10.0.0.9:51000".into(),
            code: "OK".into(),
            uscc: "91210381MA0Q12343L".into(),
            detail_json: r#"{"all_revisions":false}"#.into(),
        };
        let table = render(std::slice::from_ref(&record), Format::Table);
        assert!(table.contains("GetEnterpriseFile"), "{table}");
        assert!(table.contains("department:finance"), "{table}");
        let json: Value = serde_json::from_str(&render(&[record], Format::Json)).unwrap();
        assert_eq!(json[0]["detail"]["all_revisions"], false);
        assert_eq!(json[0]["uscc"], "91210381MA0Q12343L");
    }
}
