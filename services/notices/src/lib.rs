//! Support-policy notice store (保障政策通知): consumes `haicheng.policy.notices.v1`, whoever
//! produced the notice (classification now, land-parcel later), and serves NoticeService to
//! the departments: list, acknowledge, watch.
//!
//! A library, not a process: the classification process hosts it. A host links the store's
//! migrations ([`MIGRATIONS`], `migrations/0100_notices.sql` and `0101_notice_filters.sql`)
//! into its own migrations folder (classification's are symbolic links to them), so the table is
//! part of the host's one schema history and there is one copy of the SQL.
//!
//! # Wiring (in the host's `run`)
//!
//! ```text
//! let mut platform = Platform::start(&SPEC, config.platform, shutdown).await?;
//! let notices = notices::start(&mut platform, config.notices)?;
//! let mut routes = RoutesBuilder::default();
//! routes.add_service(notices);
//! let policy = notices::access_rules(AccessPolicy::new(platform.config.tokens.clone()));
//! platform.serve(listener, routes, policy).await
//! ```
//!
//! [`start`] registers the consumer `<service>.notices` on the notices topic, starts the one
//! LISTEN task that wakes watch streams, and returns the gRPC server (message sizes capped).
//! Watch streams never end by themselves and the server's drain waits for every open call,
//! so they end on the platform's shutdown token, when shutdown begins. Add
//! [`SERVICE_NAME`] to the spec's `grpc_services` for health, and the variables in
//! [`vars::ALL`] to the deploy checks.
//!
//! # Design
//!
//! - Filters: ListNotices filters by period, USCC, rule id, kind and state ([`filter`]); the
//!   period and rule id are columns since `0101_notice_filters.sql` (which a host links too),
//!   indexed with the department and the sequence like the USCC; the page token carries the
//!   filters it was issued for. Notices stored before 0101 are filed by a backfill at start.
//! - Storage: table `notices` (migration `0100_notices.sql`), one row per `notice_id`. The
//!   inbox makes each event's effect exactly-once, and `ON CONFLICT (notice_id) DO NOTHING`
//!   makes the same notice republished under a new event id a no-op.
//! - Cursor: the row's `seq` (bigserial). Inserts are ordered by an advisory lock so they
//!   commit in `seq` order; a watch resumed after its last cursor misses and repeats nothing.
//!   On the wire the cursor is the opaque `n1.<seq>`; empty means from the oldest notice.
//! - Overdue: computed when read, not marked by a task. An unacknowledged notice is OVERDUE
//!   once its deadline passed: the producer's `due_at`, or else `issued_at` plus
//!   [`NoticeSettings::overdue_after`] (`NOTICE_OVERDUE_AFTER_MS`, default 7 days). Returned
//!   notices carry that deadline in `due_at`. The gauge `notices.overdue` counts them by
//!   department once a minute ([`overdue`]), for the alert on overdue notices.
//! - Wake-up: `pg_notify` in the consumer's transaction, one LISTEN connection per process,
//!   and a poll every [`NoticeSettings::watch_poll`] as the fallback (see `watch.rs`).

mod api;
mod consumer;
pub mod filter;
mod model;
pub mod outgoing;
pub mod overdue;
mod settings;
mod store;
mod watch;

use haicheng_proto::topics;
use platform::{AccessPolicy, Platform, Rule, auth::scopes};

pub use api::NoticeApi;
pub use consumer::NoticeConsumer;
pub use haicheng_proto::policy::v1::notice_service_server::{NoticeServiceServer, SERVICE_NAME};
pub use settings::{NoticeSettings, vars};

/// The store's own migration, for a process that hosts the store alone (its tests); a
/// service host applies it through the link in its own migrations folder.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Starts the notice store on `platform` and returns its gRPC server for the routes.
///
/// Registers the consumer of [`topics::POLICY_NOTICES`] and spawns the task that wakes watch
/// streams on new notices (it stops when `shutdown` is cancelled, as do open watch streams).
/// The NoticeService methods recorded in the audit log on every call.
pub const AUDITED_READS: &[&str] = &["ListNotices", "WatchNotices", "AcknowledgeNotice"];

pub fn start(
    platform: &mut Platform,
    settings: NoticeSettings,
) -> anyhow::Result<NoticeServiceServer<NoticeApi>> {
    // Streams end when shutdown begins, so they never hold up the drain.
    let shutdown = platform.shutdown_token();
    let wakeups = watch::Wakeups::default();
    let (listener, pool) = (wakeups.clone(), platform.pool.clone());
    platform.spawn(move |stop| listener.listen(pool, stop));
    let pool = platform.pool.clone();
    platform.spawn(move |stop| file_old_notices(pool, stop));
    platform.consume("notices", &[topics::POLICY_NOTICES], NoticeConsumer)?;
    let (pool, overdue_after) = (platform.pool.clone(), settings.overdue_after);
    platform.spawn(move |stop| overdue::report(pool, overdue_after, stop));
    // Every notice list, watch and acknowledgement is written to the audit log.
    platform.audit_reads(SERVICE_NAME, AUDITED_READS);
    let store = store::NoticeStore::new(platform.pool.clone(), settings.overdue_after);
    let api = NoticeApi::new(store, wakeups, settings, shutdown);
    Ok(platform::capped!(
        NoticeServiceServer::new(api),
        platform.config
    ))
}

/// Fills the filter columns of notices stored before migration 0101, then waits for
/// shutdown (a background task that ends early would stop the process).
async fn file_old_notices(pool: sqlx::PgPool, stop: tokio_util::sync::CancellationToken) {
    tokio::select! {
        () = stop.cancelled() => return,
        result = store::backfill_filter_columns(&pool) => match result {
            Ok(0) => {}
            Ok(filled) => tracing::info!(filled, "filter columns of older notices filled"),
            // Those older notices then escape the period and rule filters until a restart.
            Err(err) => tracing::warn!(error = %err, "filling the filter columns of older notices failed"),
        },
    }
    stop.cancelled().await;
}

/// `policy` with a rule for each NoticeService method: `notices.read` to list and watch,
/// `notices.ack` to acknowledge. Which department's notices a caller sees is the handler's
/// business (its own).
pub fn access_rules(policy: AccessPolicy) -> AccessPolicy {
    let method = |name: &str| format!("/{SERVICE_NAME}/{name}");
    policy
        .allow(&method("ListNotices"), Rule::Scope(scopes::NOTICES_READ))
        .allow(&method("WatchNotices"), Rule::Scope(scopes::NOTICES_READ))
        .allow(
            &method("AcknowledgeNotice"),
            Rule::Scope(scopes::NOTICES_ACK),
        )
}
