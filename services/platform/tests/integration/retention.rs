//! Retention: expired sent outbox rows and inbox ids go in batches, recent and unsent rows
//! stay, and under a steady load both tables stay bounded. Time passing is simulated by
//! moving every row's timestamp back, and the sweep is driven step by step; a started
//! platform runs the sweep on its own.

use std::time::Duration;

use platform::{
    Platform, PlatformConfig, ServiceSpec,
    config::{lookup_in, vars},
    retention::{Sweeper, Swept},
};
use testkit::{stack, wait_until};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{Setup, setup};

static SPEC: ServiceSpec = ServiceSpec {
    name: "platform-tests",
    grpc_services: &[],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &crate::TEST_MIGRATIONS,
    consumes: &[],
    produces: &[],
    vars: &[],
};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

impl Setup {
    /// Publishes every unsent row through a real relay, retrying a failed delivery (a topic
    /// just created may not be known to the broker's leader yet) as the relay's loop does.
    pub async fn publish_all(&self) {
        self.publish_all_to("").await;
    }

    pub async fn publish_all_to(&self, prefix: &str) {
        let relay = self.relay(500).with_topic_prefix(prefix);
        let published = wait_until(Duration::from_secs(30), || async {
            relay.publish_pass().await.unwrap();
            self.unsent().await == 0
        })
        .await;
        assert!(
            published,
            "every row published ({} left)",
            self.unsent().await
        );
    }

    /// Moves the creation time of the outbox rows of `events` back by `age`.
    async fn age_outbox(&self, events: &[Uuid], age: &str) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET created_at = created_at - interval '{age}' WHERE event_id = ANY($1)"
        )))
        .bind(events)
        .execute(&self.pool)
        .await
        .unwrap();
    }

    /// Records `count` inbox ids of a consumer, applied `age` ago.
    async fn add_inbox_ids(&self, count: i64, age: &str) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset, processed_at)
             SELECT 'retention-test', gen_random_uuid(), 't', 0, n, now() - interval '{age}'
             FROM generate_series(1, $1) AS n"
        )))
        .bind(count)
        .execute(&self.pool)
        .await
        .unwrap();
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn outbox_ids(&self) -> Vec<Uuid> {
        sqlx::query_scalar("SELECT event_id FROM outbox ORDER BY event_id")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn old_sent_rows_go_in_batches_and_recent_and_unsent_rows_stay() {
    let s = setup().await;
    let expired = s.enqueue(230, true).await;
    let recent = s.enqueue(50, true).await;
    s.publish_all().await;
    // Never published: the broker was away for three weeks. Old, but never deleted.
    let unsent = s.enqueue(30, true).await;
    s.age_outbox(&expired, "15 days").await;
    s.age_outbox(&recent, "13 days").await;
    s.age_outbox(&unsent, "21 days").await;
    s.add_inbox_ids(120, "31 days").await;
    s.add_inbox_ids(40, "29 days").await;

    let sweeper = Sweeper::new(s.pool.clone(), DAY * 14, DAY * 30).with_batch_size(100);
    let steps = [
        sweeper.step().await.unwrap(),
        sweeper.step().await.unwrap(),
        sweeper.step().await.unwrap(),
        sweeper.step().await.unwrap(),
    ];
    let swept = |outbox, inbox| Swept { outbox, inbox };
    assert_eq!(
        steps,
        [swept(100, 100), swept(100, 20), swept(30, 0), swept(0, 0)],
        "at most one batch per table and step, until nothing is left"
    );

    let mut kept = [recent, unsent].concat();
    kept.sort();
    assert_eq!(
        s.outbox_ids().await,
        kept,
        "recent sent rows and unsent rows stay"
    );
    assert_eq!(s.unsent().await, 30);
    assert_eq!(
        s.count("inbox").await,
        40,
        "inbox ids inside the window stay"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn under_a_steady_load_both_tables_stay_bounded() {
    let s = setup().await;
    // Short windows so that an hour a tick shows the steady state within a few dozen ticks.
    let sweeper = Sweeper::new(s.pool.clone(), HOUR * 10, HOUR * 20).with_batch_size(64);
    let never = CancellationToken::new();
    let per_tick = 25;
    let ticks = 40;
    for tick in 1..=ticks {
        s.enqueue(per_tick, true).await;
        s.publish_all().await;
        s.add_inbox_ids(per_tick as i64, "0 hours").await;
        // An hour passes.
        for update in [
            "UPDATE outbox SET created_at = created_at - interval '1 hour'",
            "UPDATE inbox SET processed_at = processed_at - interval '1 hour'",
        ] {
            sqlx::query(update).execute(&s.pool).await.unwrap();
        }
        sweeper.sweep(&never).await.unwrap();

        // Rows of the last 9 ticks are 1 to 9 hours (and a few seconds) old: inside 10 h.
        let outbox = s.count("outbox").await;
        let inbox = s.count("inbox").await;
        let per_tick = per_tick as i64;
        assert_eq!(outbox, per_tick * tick.min(9), "outbox after tick {tick}");
        assert_eq!(inbox, per_tick * tick.min(19), "inbox after tick {tick}");
    }
    assert_eq!(s.unsent().await, 0);
    // 1,000 events went through each table; each holds only its window.
    assert!(s.count("outbox").await * 4 < (per_tick * ticks as usize) as i64);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_started_platform_sweeps_on_its_own() {
    let s = setup().await;
    let expired = s.enqueue(12, true).await;
    let mut recent = s.enqueue(3, true).await;
    s.publish_all().await;
    s.age_outbox(&expired, "15 days").await;
    s.add_inbox_ids(7, "31 days").await;
    s.add_inbox_ids(2, "1 day").await;

    let config = PlatformConfig::from_lookup(
        "platform-tests",
        0,
        lookup_in(&[
            (vars::DATABASE_URL, &s.db.runtime_url),
            (vars::DATABASE_OWNER_URL, &s.db.url),
            (vars::KAFKA_BOOTSTRAP, &stack().kafka_bootstrap),
        ]),
    )
    .unwrap();
    let platform = Platform::start(&SPEC, config, CancellationToken::new())
        .await
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || async {
            s.count("outbox").await == 3 && s.count("inbox").await == 2
        })
        .await,
        "the retention task started with the relay deleted what had expired"
    );
    recent.sort();
    assert_eq!(s.outbox_ids().await, recent);
    drop(platform);
}
