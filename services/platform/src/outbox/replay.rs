//! Replay: re-publish a service's retained outbox events, with their original `ce_id`s, so a
//! consumer whose broker lost events catches up and drops, through its inbox, what it had
//! already applied.
//!
//! [`replay`] lists the retained sent rows from a time (their creation) or from an outbox id
//! for a retry (`outbox_retry`, see the relay); the service's relay then publishes them as it publishes any row: the same
//! event id, `ce_time`, key and trace headers. It never copies a row, so an event is in the
//! outbox once. Order: the relay publishes the listed rows and its new rows merged in id order,
//! and the replayed rows are the older ones, so for every key they go out before any event
//! written after them. The replay takes the relay's lock, waiting for a relay pass in flight to
//! finish (each pass claims the listed rows from the lowest id), so no newer rows can be
//! published between the replay and the re-published rows; and it is one
//! transaction, so no relay sees half a replay. What can be replayed is what retention has
//! kept: `OUTBOX_RETENTION` back at most.
//!
//! The service binaries run it as `<service> replay --since <RFC 3339 time> [--topic T]` or
//! `<service> replay --from-id <outbox id> [--topic T]` against `DATABASE_URL` ([`command`]);
//! `haicheng replay <service> …` wraps that.

use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use sqlx::{Acquire, Postgres};

use super::{RELAY_LOCK, WAKE_CHANNEL};
use crate::{config::PlatformConfig, db};

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFrom {
    /// Rows written at or after this time.
    Time(DateTime<Utc>),
    /// Rows whose outbox id is this or later.
    Id(i64),
}

/// What a replay re-queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    pub rows: i64,
    /// The outbox ids of the first and last row re-queued; `None` when there was none.
    pub first_id: Option<i64>,
    pub last_id: Option<i64>,
}

/// Lists the sent rows from `from` (of `topic` only, when given) for a retry, so the relay
/// publishes them once more in their original order. Rows not yet sent are left as they are:
/// they are published anyway. `db` is a pool or a connection.
pub async fn replay<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    from: ReplayFrom,
    topic: Option<&str>,
) -> sqlx::Result<Replayed> {
    let (since, from_id) = match from {
        ReplayFrom::Time(time) => (Some(time), None),
        ReplayFrom::Id(id) => (None, Some(id)),
    };
    let mut tx = db.begin().await?;
    // Waits for a relay pass in flight; the relay skips its passes until this commits.
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", RELAY_LOCK)
        .execute(&mut *tx)
        .await?;
    // A row is sent when the relay's watermark has passed it and it is not listed for a
    // retry already (`outbox_unsent`); re-queueing lists it for a retry.
    let requeued = sqlx::query!(
        r#"WITH requeued AS (
             INSERT INTO outbox_retry (id)
             SELECT id FROM outbox
             WHERE ($1::timestamptz IS NULL OR created_at >= $1)
               AND ($2::bigint IS NULL OR id >= $2)
               AND ($3::text IS NULL OR topic = $3)
               AND id NOT IN (SELECT id FROM outbox_unsent)
             ON CONFLICT DO NOTHING
             RETURNING id)
         SELECT count(*) AS "rows!", min(id) AS first_id, max(id) AS last_id FROM requeued"#,
        since,
        from_id,
        topic,
    )
    .fetch_one(&mut *tx)
    .await?;
    let (rows, first_id, last_id) = (requeued.rows, requeued.first_id, requeued.last_id);
    sqlx::query!("SELECT pg_notify($1, '')", WAKE_CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(
        rows,
        ?first_id,
        ?last_id,
        ?from,
        topic,
        "outbox: rows re-queued for replay"
    );
    Ok(Replayed {
        rows,
        first_id,
        last_id,
    })
}

/// A replay asked for on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRequest {
    pub from: ReplayFrom,
    pub topic: Option<String>,
}

pub const USAGE: &str = "replay (--since <RFC 3339 time, e.g. 2026-12-01T08:00:00Z> | --from-id <outbox id>) [--topic <topic>]";

impl ReplayRequest {
    /// Parses the arguments after `replay`.
    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut from = None;
        let mut topic = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .with_context(|| format!("{arg} needs a value; usage: {USAGE}"))
            };
            let start = match arg.as_str() {
                "--since" => {
                    let raw = value()?;
                    let time = DateTime::parse_from_rfc3339(raw).with_context(|| {
                        format!("--since {raw:?} is not an RFC 3339 time (2026-12-01T08:00:00Z)")
                    })?;
                    ReplayFrom::Time(time.with_timezone(&Utc))
                }
                "--from-id" => {
                    let raw = value()?;
                    match raw.parse::<i64>() {
                        Ok(id) if id > 0 => ReplayFrom::Id(id),
                        _ => bail!("--from-id {raw:?} is not an outbox id (a positive number)"),
                    }
                }
                "--topic" => {
                    topic = Some(value()?.clone());
                    continue;
                }
                other => bail!("unknown argument {other:?}; usage: {USAGE}"),
            };
            if from.replace(start).is_some() {
                bail!("give one of --since and --from-id, once; usage: {USAGE}");
            }
        }
        let from =
            from.with_context(|| format!("--since or --from-id is needed; usage: {USAGE}"))?;
        Ok(Self { from, topic })
    }
}

/// `<service> replay …`: re-queues the rows in the service's database (`DATABASE_URL`) and
/// says how many; the service's running relay publishes them (or does once it starts).
pub async fn command(config: &PlatformConfig, args: &[String]) -> anyhow::Result<()> {
    let request = ReplayRequest::parse(args)?;
    let pool = db::connect(&config.database_url, 1, Duration::from_secs(30)).await?;
    let replayed = replay(&pool, request.from, request.topic.as_deref()).await;
    pool.close().await;
    let replayed = replayed.context("re-queueing the outbox rows")?;
    match (replayed.first_id, replayed.last_id) {
        (Some(first), Some(last)) => println!(
            "{} events re-queued (outbox ids {first} to {last}); the {} relay publishes them with their original ids",
            replayed.rows, config.service_name
        ),
        _ => println!("no sent event retained from there: nothing to replay"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<ReplayRequest> {
        ReplayRequest::parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn a_time_or_an_id_and_an_optional_topic() {
        let request = parse(&["--since", "2026-12-01T08:00:00+08:00", "--topic", "t"]).unwrap();
        assert_eq!(
            request.from,
            ReplayFrom::Time("2026-12-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(request.topic.as_deref(), Some("t"));
        let request = parse(&["--from-id", "42"]).unwrap();
        assert_eq!(request.from, ReplayFrom::Id(42));
        assert_eq!(request.topic, None);
    }

    #[test]
    fn malformed_arguments_are_refused_with_what_is_wrong() {
        for (args, says) in [
            (&[][..], "--since or --from-id is needed"),
            (&["--since"][..], "--since needs a value"),
            (&["--since", "yesterday"][..], "not an RFC 3339 time"),
            (&["--since", "2026-12-01"][..], "not an RFC 3339 time"),
            (&["--from-id", "0"][..], "not an outbox id"),
            (&["--from-id", "x"][..], "not an outbox id"),
            (
                &["--from-id", "1", "--since", "2026-12-01T00:00:00Z"][..],
                "one of",
            ),
            (&["--until", "x"][..], "unknown argument"),
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }
}
