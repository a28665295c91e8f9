//! `haicheng replay SERVICE (--since TIME | --from-id ID) [--topic TOPIC]`: re-publishes a
//! service's retained outbox events with their original event ids (`ce_id`), so consumers
//! whose broker lost events catch up, and drop through their inbox what they had applied.
//!
//! It re-queues the rows in the service's own database
//! ([`platform::outbox::replay::replay`]); the service's relay then publishes them, in their
//! original order and before anything written since, or does so when the service next starts.
//! The database is `--database-url` (or `HAICHENG_REPLAY_DATABASE_URL`) when given, otherwise
//! the one `haicheng dev` made for the service under `--dir`. In Kubernetes the same runs
//! inside the service's pod, with its `DATABASE_URL`:
//! `kubectl exec deploy/census -- census replay --since 2026-12-01T08:00:00+08:00`.
//! Exit codes: 0 done (also when nothing was retained from there), 2 bad arguments or no
//! database known, 3 the database could not be reached, 1 the replay itself failed.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args, builder::PossibleValuesParser};
use platform::outbox::replay::{ReplayFrom, Replayed, replay};
use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::{Context, client, dev, errors::CliError, output};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Args)]
#[command(group(ArgGroup::new("from").required(true).args(["since", "from_id"])))]
pub struct ReplayArgs {
    /// The service whose outbox events to re-publish.
    #[arg(value_parser = PossibleValuesParser::new(client::local::ALL.map(|(name, _)| name)))]
    service: String,
    /// Re-publish the events written at or after this RFC 3339 time
    /// (2026-12-01T08:00:00+08:00); what retention kept, OUTBOX_RETENTION back at most.
    #[arg(long, value_parser = parse_since, )]
    since: Option<DateTime<Utc>>,
    /// Or re-publish the events from this outbox id on (a replay prints the ids it took).
    #[arg(long, value_name = "OUTBOX_ID", value_parser = clap::value_parser!(i64).range(1..))]
    from_id: Option<i64>,
    /// Only the events of this topic (e.g. haicheng.census.events.v1).
    #[arg(long)]
    topic: Option<String>,
    /// The service's database; by default the one `haicheng dev` created for it.
    #[arg(long, env = "HAICHENG_REPLAY_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The folder `haicheng dev` keeps its stack in (for the default database).
    #[arg(long, default_value = ".local")]
    dir: PathBuf,
}

pub async fn run(args: ReplayArgs, context: &Context) -> ExitCode {
    let from = match (args.since, args.from_id) {
        (Some(time), _) => ReplayFrom::Time(time),
        (None, Some(id)) => ReplayFrom::Id(id),
        (None, None) => {
            let missing = CliError::usage("give --since or --from-id");
            return crate::finish(Err(missing), context);
        }
    };
    let url = match database_url(&args) {
        Ok(url) => url,
        Err(err) => return crate::finish(Err(err), context),
    };
    let connected = match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&url)).await {
        Ok(connected) => connected.map_err(|err| err.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    };
    let mut connection = match connected {
        Ok(connection) => connection,
        Err(cause) => {
            let message = format!("cannot reach the {} database: {cause}", args.service);
            return failed(context, 3, &message);
        }
    };
    let replayed = replay(&mut connection, from, args.topic.as_deref()).await;
    let _ = connection.close().await;
    match replayed {
        Ok(replayed) => {
            output::emit(&report(&args.service, &replayed, context.format));
            ExitCode::SUCCESS
        }
        Err(err) => failed(
            context,
            1,
            &format!("the replay in the {} database failed: {err}", args.service),
        ),
    }
}

fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.to_utc())
        .map_err(|e| {
            format!("{text:?} is not an RFC 3339 time such as 2026-12-01T08:00:00+08:00 ({e})")
        })
}

/// `--database-url`, or the service's database on the stack `haicheng dev` runs under `--dir`.
fn database_url(args: &ReplayArgs) -> Result<String, CliError> {
    if let Some(url) = &args.database_url {
        return Ok(url.clone());
    }
    let env_file = args.dir.join("stack/env");
    let env = std::fs::read_to_string(&env_file).map_err(|_| {
        CliError::usage(format!(
            "no database: give --database-url (or HAICHENG_REPLAY_DATABASE_URL), or run `haicheng dev` first ({} not found)",
            env_file.display()
        ))
    })?;
    let cluster = dev::env_value(&env, "DATABASE_URL")
        .map_err(|e| CliError::usage(format!("{}: {e}", env_file.display())))?;
    Ok(dev::with_database(
        &cluster,
        &args.service.replace('-', "_"),
    ))
}

fn report(service: &str, replayed: &Replayed, format: output::Format) -> String {
    match format {
        output::Format::Json => output::json(&json!({
            "service": service,
            "requeued": replayed.rows,
            "first_outbox_id": replayed.first_id,
            "last_outbox_id": replayed.last_id,
        })),
        output::Format::Table => match (replayed.first_id, replayed.last_id) {
            (Some(first), Some(last)) => format!(
                "{} events of {service} re-queued (outbox ids {first} to {last}); its relay publishes them with their original event ids\n",
                replayed.rows
            ),
            _ => format!("no sent event of {service} retained from there: nothing to replay\n"),
        },
    }
}

/// A failure after the arguments were accepted: the message on stderr (JSON with `-o json`).
fn failed(context: &Context, exit: u8, message: &str) -> ExitCode {
    match context.format {
        output::Format::Json => eprint!(
            "{}",
            output::json(
                &json!({ "error": { "code": "DATABASE", "message": message, "exit_code": exit } })
            )
        ),
        output::Format::Table => eprintln!("error: {message}"),
    }
    ExitCode::from(exit)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        replay: ReplayArgs,
    }

    fn parse(args: &[&str]) -> Result<ReplayArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("replay").chain(args.iter().copied())).map(|c| c.replay)
    }

    #[test]
    fn a_service_and_a_time_or_an_outbox_id() {
        let args = parse(&["census", "--since", "2026-12-01T08:00:00+08:00"]).unwrap();
        assert_eq!(args.since, Some("2026-12-01T00:00:00Z".parse().unwrap()));
        let args = parse(&[
            "land-parcel",
            "--from-id",
            "17",
            "--topic",
            "haicheng.land.events.v1",
        ])
        .unwrap();
        assert_eq!(args.from_id, Some(17));
        assert_eq!(args.topic.as_deref(), Some("haicheng.land.events.v1"));
    }

    #[test]
    fn bad_arguments_are_refused() {
        for args in [
            &["census"][..],
            &["billing", "--from-id", "1"][..],
            &["census", "--since", "yesterday"][..],
            &["census", "--from-id", "0"][..],
            &[
                "census",
                "--from-id",
                "1",
                "--since",
                "2026-12-01T00:00:00Z",
            ][..],
        ] {
            assert!(parse(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn the_default_database_is_the_services_own_on_the_dev_stack() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("stack")).unwrap();
        std::fs::write(
            dir.path().join("stack/env"),
            "export DATABASE_URL=postgres://haicheng@127.0.0.1:55432/postgres\n",
        )
        .unwrap();
        let dir_arg = dir.path().to_str().unwrap();
        let args = parse(&["trade-fair", "--from-id", "1", "--dir", dir_arg]).unwrap();
        assert_eq!(
            database_url(&args).unwrap(),
            "postgres://haicheng@127.0.0.1:55432/trade_fair"
        );
        let missing = parse(&["census", "--from-id", "1", "--dir", "/nonexistent"]).unwrap();
        assert_eq!(database_url(&missing).unwrap_err().exit_code(), 2);
    }
}
