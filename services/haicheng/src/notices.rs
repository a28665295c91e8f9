//! `haicheng notices …`: the support-policy notices of the caller's department (the token
//! decides which: `dev-finance` sees finance's notices).
//!
//! - `notices list [--period P] [--uscc USCC] [--rule RULE_ID] [--kind KIND]
//!   [--state open|acknowledged|overdue] [--page-size N] [--page-token T] [--all]`: newest
//!   first, the filters combined (the server checks them: a bad USCC or period is refused
//!   naming the flag's field); a `--page-token` goes with the filters it was printed for;
//! - `notices ack NOTICE_ID`: marks one acknowledged (twice is harmless);
//! - `notices watch [--cursor C]`: prints each notice as it arrives, with its cursor, until
//!   Ctrl-C. When the stream drops (the service restarts, the network fails) it reconnects
//!   from the last cursor printed, with backoff, so nothing is missed or printed twice. Pass
//!   the last cursor printed as `--cursor` to resume a later watch where this one stopped.
//!   With `-o json` each notice is one line of JSON (`{"cursor": …, "notice": {…}}`).
//!
//! Needs `notices.read` (list, watch) and `notices.ack` (ack); a service account, which has no
//! department, is refused.

use std::{future::Future, time::Duration};

use clap::{Args, Subcommand};
use haicheng_proto::{common::v1 as common, policy::v1 as pb};
use platform::backoff::Backoff;
use tonic::{Code, Status};

use crate::{
    Context,
    client::{self, Authed, call},
    enterprise::more_hint,
    enums,
    errors::{CliError, code_name},
    output::{self, Format, Table},
};

type NoticeClient = pb::notice_service_client::NoticeServiceClient<Authed>;

/// First wait before reconnecting a dropped watch; doubles up to [`RECONNECT_MAX`].
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(10);

#[derive(Subcommand)]
pub enum NoticesCommand {
    /// Your department's notices, newest first.
    List(ListArgs),
    /// Acknowledge a notice.
    Ack {
        /// Id of the notice (as `notices list` prints it).
        notice_id: String,
    },
    /// Print notices as they arrive, until Ctrl-C.
    Watch {
        /// Resume after this cursor (the last one a watch printed); from the oldest kept
        /// notice when left out.
        #[arg(long, default_value = "")]
        cursor: String,
    },
}

#[derive(Args)]
pub struct ListArgs {
    /// Only notices of this census period: YYYY or YYYYQn.
    #[arg(long)]
    period: Option<String>,
    /// Only notices about this enterprise (USCC).
    #[arg(long)]
    uscc: Option<String>,
    /// Only notices of this configured rule (its id, as `-o json` shows in `ruleId`).
    #[arg(long)]
    rule: Option<String>,
    /// Only notices of this kind of action (e.g. key_support_fund_review).
    #[arg(long)]
    kind: Option<String>,
    /// Only notices in this state: OPEN, ACKNOWLEDGED or OVERDUE (any case).
    #[arg(long, value_parser = enums::parse::<pb::NoticeState>)]
    state: Option<pb::NoticeState>,
    #[command(flatten)]
    paging: client::Paging,
}

impl ListArgs {
    fn request(&self, page_token: String) -> pb::ListNoticesRequest {
        let text = |value: &Option<String>| value.as_deref().unwrap_or("").trim().to_string();
        pb::ListNoticesRequest {
            state: self.state.map_or(0, |s| s as i32),
            page_size: self.paging.page_size.unwrap_or(0),
            page_token,
            period: self.period.as_ref().map(|code| common::Period {
                code: code.trim().to_string(),
            }),
            uscc: text(&self.uscc),
            rule_id: text(&self.rule),
            kind: text(&self.kind),
        }
    }
}

pub async fn run(command: NoticesCommand, context: &Context) -> Result<(), CliError> {
    let mut service = context.connect.notices().await?;
    match command {
        NoticesCommand::List(args) => {
            let (notices, next_page_token) = client::pages(
                args.paging.all,
                args.paging.page_token.clone(),
                "notices",
                |token| {
                    let mut service = service.clone();
                    let request = call(args.request(token));
                    async move {
                        let page = service.list_notices(request).await?.into_inner();
                        Ok((page.notices, page.next_page_token))
                    }
                },
            )
            .await?;
            match context.format {
                Format::Table => {
                    output::emit(&render_list(&notices));
                    more_hint(&next_page_token);
                }
                Format::Json => output::emit(&output::json(&pb::ListNoticesResponse {
                    notices,
                    next_page_token,
                })),
            }
        }
        NoticesCommand::Ack { notice_id } => {
            let reply = service
                .acknowledge_notice(call(pb::AcknowledgeNoticeRequest {
                    notice_id: notice_id.trim().to_string(),
                }))
                .await?
                .into_inner();
            output::emit(&match context.format {
                Format::Table => render_acknowledged(&reply.notice.unwrap_or_default()),
                Format::Json => output::json(&reply),
            });
        }
        NoticesCommand::Watch { cursor } => {
            let format = context.format;
            watch(service, cursor, format, tokio::signal::ctrl_c()).await?;
        }
    }
    Ok(())
}

/// Follows the watch stream until `stop` resolves, reconnecting from the last cursor when
/// the stream drops. Returns early only for a refusal that a retry cannot cure.
pub(crate) async fn watch<S>(
    mut service: NoticeClient,
    mut cursor: String,
    format: Format,
    stop: S,
) -> Result<(), CliError>
where
    S: Future,
{
    tokio::pin!(stop);
    eprintln!(
        "watching notices from {} (Ctrl-C to stop)",
        if cursor.is_empty() {
            "the oldest kept".to_string()
        } else {
            format!("cursor {cursor}")
        }
    );
    let mut backoff = Backoff::new(RECONNECT_FIRST, RECONNECT_MAX);
    loop {
        let ended = tokio::select! {
            _ = &mut stop => return Ok(()),
            ended = follow(&mut service, &mut cursor, &mut backoff, format) => ended,
        };
        let wait = backoff.next_delay();
        match ended {
            Err(status) if !is_transient(&status) => return Err(status.into()),
            Err(status) => eprintln!(
                "the watch dropped ({}: {}); reconnecting from cursor {cursor:?} in {wait:?}",
                code_name(status.code()),
                status.message()
            ),
            Ok(()) => eprintln!(
                "the service ended the watch; reconnecting from cursor {cursor:?} in {wait:?}"
            ),
        }
        tokio::select! {
            _ = &mut stop => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// One watch call: prints each notice and advances `cursor` past it. The backoff starts
/// again once the service has accepted the call.
async fn follow(
    service: &mut NoticeClient,
    cursor: &mut String,
    backoff: &mut Backoff,
    format: Format,
) -> Result<(), Status> {
    let mut stream = service
        .watch_notices(pb::WatchNoticesRequest {
            cursor: cursor.clone(),
        })
        .await?
        .into_inner();
    backoff.reset();
    while let Some(item) = stream.message().await? {
        output::emit(&match format {
            Format::Table => render_watched(&item),
            Format::Json => {
                let mut line = serde_json::to_string(&item).unwrap_or_default();
                line.push('\n');
                line
            }
        });
        *cursor = item.cursor;
    }
    Ok(())
}

/// A failure that reconnecting may cure; a refusal of the caller or the request is final.
fn is_transient(status: &Status) -> bool {
    !matches!(
        status.code(),
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented
    )
}

fn transition(notice: &pb::SupportPolicyNotice) -> String {
    match &notice.transition {
        Some(t) => format!(
            "{} → {}",
            enums::short::<common::EnterpriseClass>(t.from_class),
            enums::short::<common::EnterpriseClass>(t.to_class)
        ),
        None => "-".to_string(),
    }
}

fn render_list(entries: &[pb::NoticeEntry]) -> String {
    if entries.is_empty() {
        return "no notices\n".to_string();
    }
    let mut table = Table::new(&[
        "NOTICE", "ISSUED", "STATE", "DUE", "USCC", "NAME", "CLASS", "PERIOD", "RULE", "KIND",
        "TEXT",
    ]);
    for entry in entries {
        let n = entry.notice.clone().unwrap_or_default();
        table.row(vec![
            n.notice_id.clone(),
            output::time(n.issued_at.as_ref()),
            enums::short::<pb::NoticeState>(entry.state),
            output::time(n.due_at.as_ref()),
            n.uscc.clone(),
            n.enterprise_name.clone(),
            transition(&n),
            n.period
                .as_ref()
                .map_or("-".to_string(), |p| p.code.clone()),
            if n.rule_id.is_empty() {
                "-".to_string()
            } else {
                n.rule_id.clone()
            },
            n.kind.clone(),
            n.text.clone(),
        ]);
    }
    table.render()
}

fn render_acknowledged(entry: &pb::NoticeEntry) -> String {
    let n = entry.notice.clone().unwrap_or_default();
    format!(
        "notice {} {}\n{}",
        n.notice_id,
        enums::short::<pb::NoticeState>(entry.state).to_lowercase(),
        output::fields(&[
            ("acknowledged", output::time(entry.acknowledged_at.as_ref())),
            ("by", entry.acknowledged_by.clone()),
            ("enterprise", format!("{} {}", n.uscc, n.enterprise_name)),
            ("kind", n.kind.clone()),
        ])
    )
}

/// One line per streamed notice, the cursor first (it is what resumes a watch).
fn render_watched(item: &pb::WatchNoticesResponse) -> String {
    let n = item.notice.clone().unwrap_or_default();
    format!(
        "[{}] {}  {}  {} {}  {}  {}: {}\n",
        item.cursor,
        output::time(n.issued_at.as_ref()),
        n.notice_id,
        n.uscc,
        n.enterprise_name,
        transition(&n),
        n.kind,
        n.text
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: NoticesCommand,
    }

    fn notice() -> pb::SupportPolicyNotice {
        pb::SupportPolicyNotice {
            notice_id: "n-7".into(),
            department: common::Department::Finance as i32,
            uscc: "91210381MA0Q12343L".into(),
            transition: Some(pb::ClassTransition {
                from_class: common::EnterpriseClass::B as i32,
                to_class: common::EnterpriseClass::A as i32,
            }),
            kind: "key_support_fund_review".into(),
            text: "Review key support funds".into(),
            issued_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            enterprise_name: "南台箱包".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_filters_parse_into_the_request() {
        for state in ["open", "OPEN", "Open"] {
            let cli = Cli::try_parse_from(["notices", "list", "--state", state]).unwrap();
            let NoticesCommand::List(args) = cli.command else {
                panic!("a list")
            };
            assert_eq!(
                args.request(String::new()).state,
                pb::NoticeState::Open as i32
            );
        }
        assert!(Cli::try_parse_from(["notices", "list", "--state", "closed"]).is_err());
        let cli = Cli::try_parse_from([
            "notices",
            "list",
            "--period",
            "2025Q3",
            "--uscc",
            " 91210381MA0Q12343L ",
            "--rule",
            "finance-entering-a",
            "--kind",
            "key_support_fund_review",
        ])
        .unwrap();
        let NoticesCommand::List(args) = cli.command else {
            panic!("a list")
        };
        let request = args.request("next".into());
        assert_eq!(request.period.unwrap().code, "2025Q3");
        assert_eq!(request.uscc, "91210381MA0Q12343L");
        assert_eq!(request.rule_id, "finance-entering-a");
        assert_eq!(request.kind, "key_support_fund_review");
        assert_eq!(request.page_token, "next");
        let cli = Cli::try_parse_from(["notices", "list"]).unwrap();
        let NoticesCommand::List(args) = cli.command else {
            panic!("a list")
        };
        let request = args.request(String::new());
        assert_eq!(request.period, None, "no --period filters no period");
        assert!(request.uscc.is_empty() && request.rule_id.is_empty());
        let cli = Cli::try_parse_from(["notices", "watch", "--cursor", "42"]).unwrap();
        assert!(matches!(cli.command, NoticesCommand::Watch { cursor } if cursor == "42"));
    }

    #[test]
    fn a_watched_notice_is_one_line_with_its_cursor() {
        let item = pb::WatchNoticesResponse {
            notice: Some(notice()),
            cursor: "42".into(),
        };
        assert_eq!(
            render_watched(&item),
            "[42] 2023-11-14T22:13:20Z  n-7  91210381MA0Q12343L 南台箱包  B → A  key_support_fund_review: Review key support funds\n"
        );
        let value = serde_json::to_value(&item).unwrap();
        assert_eq!(value["cursor"], "42");
        assert_eq!(value["notice"]["department"], "DEPARTMENT_FINANCE");
        assert_eq!(
            value["notice"]["transition"]["toClass"],
            "ENTERPRISE_CLASS_A"
        );
        assert_eq!(value["notice"]["dueAt"], serde_json::Value::Null);
    }

    #[test]
    fn the_list_is_a_table() {
        let entry = pb::NoticeEntry {
            notice: Some(notice()),
            state: pb::NoticeState::Open as i32,
            ..Default::default()
        };
        let text = render_list(std::slice::from_ref(&entry));
        assert!(
            text.starts_with("NOTICE  ISSUED                STATE  DUE  USCC"),
            "{text}"
        );
        assert!(
            text.contains(
                "n-7     2023-11-14T22:13:20Z  OPEN   -    91210381MA0Q12343L  南台箱包  B → A"
            ),
            "{text}"
        );
        assert_eq!(
            serde_json::to_value(&entry).unwrap()["state"],
            "NOTICE_STATE_OPEN"
        );
    }

    #[test]
    fn only_failures_a_retry_can_cure_reconnect() {
        assert!(is_transient(&Status::unavailable("restarting")));
        assert!(is_transient(&Status::unknown("h2 protocol error")));
        assert!(is_transient(&Status::internal("stream reset")));
        assert!(!is_transient(&Status::unauthenticated("no token")));
        assert!(!is_transient(&Status::permission_denied(
            "not a department"
        )));
        assert!(!is_transient(&Status::invalid_argument("cursor")));
    }
}
