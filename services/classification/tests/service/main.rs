//! The classification service against a real PostgreSQL and broker: started in-process
//! through `testkit::spawn` (`classification::run` on port 0, a database and a topic prefix
//! of its own), fed census events on its own census topic, read back from its own
//! classification and notice topics.
//!
//! Tests start the service with `CLASSIFICATION_NOTICE_SETTLE=0s` (notices right after each
//! re-rank) unless they set it: `settling` tests the quiet time itself, and `publication` and
//! `net_notices_5000` set one to see notices wait for it (or for publication).

/// SQL reading a stored class column (the vocabulary's spelling, `A`; NULL for none) as the
/// contract's number (`ENTERPRISE_CLASS_A` = 1; 0 for none), as the tests compare it.
macro_rules! class_number {
    ($column:literal) => {
        concat!(
            "COALESCE(array_position(ARRAY['A', 'B', 'C'], ",
            $column,
            "), 0)::int2"
        )
    };
}

/// As [`class_number!`] for a column where NULL stays NULL.
macro_rules! optional_class_number {
    ($column:literal) => {
        concat!("array_position(ARRAY['A', 'B', 'C'], ", $column, ")::int2")
    };
}

mod api;
mod batch;
mod chain;
mod class_spelling;
mod coalescing;
mod cohorts;
mod enterprise;
mod finalization;
mod net_notices_5000;
mod objections;
mod park_segment_spelling;
mod publication;
mod quotas;
mod settling;

use std::{collections::HashSet, time::Duration};

use classification::{Config, clock::Clock};
use haicheng_proto::{
    census::v1::{CensusIndicators, CensusReturnSubmitted, Enterprise, EnterpriseRegistered},
    classification::v1::{
        Classification, GetClassRequest, ListClassesRequest,
        classification_service_client::ClassificationServiceClient,
    },
    common::v1::{Park, Segment},
    topics::CENSUS_EVENTS,
};
use platform::bus::CloudEvent;
use prost::{Message, Name};
use sqlx::PgPool;
use testkit::{Publisher, Service, Usccs, wait_until};
pub use testkit::{as_dept, collect, period};
use tonic::transport::Channel;

pub type Client = ClassificationServiceClient<Channel>;

/// Land of every test firm: 50 mu, so tax per mu in yuan is tax_paid_fen / 5000.
pub const LAND_CENTI_MU: i64 = 5_000;

/// The service under test.
pub struct App {
    pub client: Client,
    /// A pool on the service's database.
    pub pool: PgPool,
    /// Publishes onto this test's topics, as census would.
    pub events: Publisher,
    /// Put before every topic and group name of this test's service (`KAFKA_TOPIC_PREFIX`),
    /// so tests sharing the broker never see each other's events.
    pub prefix: String,
    pub census_topic: String,
    /// Notices go out right after each re-rank (a settle time of 0): [`App::settled`] then
    /// also waits for them.
    notices_at_once: bool,
    /// This test's USCCs.
    usccs: Usccs,
    service: Service,
}

/// Starts the service with the default configuration but a settle time of 0.
pub async fn spawn_app() -> App {
    spawn_app_with(&[]).await
}

/// Starts the service with `extra` settings; the settle time is 0 unless `extra` sets it.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> App {
    spawn_app_at(Clock::System, extra).await
}

/// As [`spawn_app_with`], the service reading the time of its day-dependent rules from
/// `clock`.
pub async fn spawn_app_at(clock: Clock, extra: &[(&str, &str)]) -> App {
    platform::telemetry::init_for_tests();
    let settle = classification::config::vars::NOTICE_SETTLE;
    let mut vars = vec![(settle, "0s")];
    vars.extend_from_slice(extra);
    let notices_at_once = vars.iter().rev().find(|(k, _)| *k == settle) == Some(&(settle, "0s"));
    let config = |lookup: testkit::Lookup| {
        Config::from_lookup(lookup).map(|config| Config { clock, ..config })
    };
    let service = testkit::spawn(config, classification::run, &vars).await;
    let census_topic = service.topic(CENSUS_EVENTS);
    let events = service.publisher("census-tests");
    events
        .producer
        .ensure_topics(&[&census_topic], 3)
        .await
        .expect("the census topic");
    App {
        client: ClassificationServiceClient::new(service.channel.clone()),
        pool: service.pool.clone(),
        events,
        prefix: service.prefix.clone(),
        census_topic,
        notices_at_once,
        usccs: Usccs::new(),
        service,
    }
}

/// Figures of a test firm: everything equal but the tax per mu (yuan).
pub fn figures(tax_yuan_per_mu: i64) -> CensusIndicators {
    CensusIndicators {
        employees_total: 100,
        rd_spend_fen: 100_000_000,
        revenue_fen: 5_000_000_000,
        industrial_output_fen: 4_000_000_000,
        tax_paid_fen: tax_yuan_per_mu * LAND_CENTI_MU,
        export_sales_fen: 500_000_000,
        automation_share_percent: 50.0,
        invention_patents: 3,
        land_used_centi_mu: LAND_CENTI_MU,
        energy_use_tce: Some(100.0),
        ..Default::default()
    }
}

impl App {
    /// The broker's name of `topic` for this test's service.
    pub fn topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// The `i`-th USCC of this test; codes sort by `i`.
    pub fn uscc(&self, i: usize) -> String {
        self.usccs.nth(i)
    }

    /// Publishes `message` about `subject` on the census topic; returns the event for replays.
    pub async fn publish<M: Message + Name>(
        &self,
        subject: &str,
        message: &M,
    ) -> (CloudEvent, Vec<u8>) {
        self.events.publish(CENSUS_EVENTS, subject, message).await
    }

    pub async fn publish_again(&self, event: &CloudEvent, payload: &[u8]) {
        self.events
            .publish_again(CENSUS_EVENTS, event, payload)
            .await;
    }

    /// A return of firm `uscc` (segment textile, park Ganwang, registered long ago).
    pub fn census_return(
        &self,
        uscc: &str,
        period_code: &str,
        revision: i64,
        tax: i64,
    ) -> CensusReturnSubmitted {
        CensusReturnSubmitted {
            uscc: uscc.into(),
            period: period(period_code),
            revision,
            indicators: Some(figures(tax)),
            segment: Segment::Textile as i32,
            park: Park::Ganwang as i32,
            registration_date: "2005-06-01".into(),
            industry_class: "1711".into(),
            name: format!("Firm {uscc}"),
            enterprise_version: 1,
            ..Default::default()
        }
    }

    pub async fn submit(
        &self,
        uscc: &str,
        period_code: &str,
        revision: i64,
        tax: i64,
    ) -> (CloudEvent, Vec<u8>) {
        let message = self.census_return(uscc, period_code, revision, tax);
        self.publish(uscc, &message).await
    }

    /// Registers (or updates, with a higher version) an enterprise with a veto flag.
    pub async fn register(&self, uscc: &str, version: i64, vetoed: bool) {
        let message = EnterpriseRegistered {
            enterprise: Some(Enterprise {
                uscc: uscc.into(),
                name: format!("Firm {uscc}"),
                park: Park::Ganwang as i32,
                industry_class: "1711".into(),
                segment: Segment::Textile as i32,
                registration_date: "2005-06-01".into(),
                status: 1,
                safety_violation: vetoed,
                version,
                ..Default::default()
            }),
        };
        self.publish(uscc, &message).await;
    }

    /// Waits until `period` holds `firms` returns whose revisions sum to `revisions`, and no
    /// re-rank is pending: every submitted figure is then reflected in the classes. With a
    /// settle time of 0 also until no period is unsettled: the notices are in the outbox.
    pub async fn settled(&self, period_code: &str, firms: i64, revisions: i64) {
        let settled = wait_until(Duration::from_secs(90), || async {
            let (count, sum): (i64, Option<i64>) = sqlx::query_as(
                "SELECT count(*), sum(revision)::int8 FROM census_returns WHERE period = $1",
            )
            .bind(period_code)
            .fetch_one(&self.pool)
            .await
            .unwrap();
            let dirty: i64 = sqlx::query_scalar("SELECT count(*) FROM dirty_periods")
                .fetch_one(&self.pool)
                .await
                .unwrap();
            let unsettled: i64 = sqlx::query_scalar("SELECT count(*) FROM unsettled_periods")
                .fetch_one(&self.pool)
                .await
                .unwrap();
            let dirty = if self.notices_at_once {
                dirty + unsettled
            } else {
                dirty
            };
            let ranked: i64 =
                sqlx::query_scalar("SELECT count(*) FROM classifications WHERE period = $1")
                    .bind(period_code)
                    .fetch_one(&self.pool)
                    .await
                    .unwrap();
            count == firms && sum == Some(revisions) && dirty == 0 && ranked == firms
        })
        .await;
        assert!(settled, "period {period_code} settled with {firms} firms");
    }

    pub async fn reranks(&self, period_code: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM rerank_runs WHERE period = $1")
            .bind(period_code)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn class_of(&self, uscc: &str) -> Classification {
        self.client
            .clone()
            .get_class(as_dept(
                "finance",
                GetClassRequest {
                    uscc: uscc.into(),
                    ..Default::default()
                },
            ))
            .await
            .expect("GetClass")
            .into_inner()
            .classification
            .expect("a classification")
    }

    /// Every classification of a period, through ListClasses page by page.
    pub async fn list_all(&self, period_code: &str, page_size: i32) -> Vec<Classification> {
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_classes(as_dept(
                    "finance",
                    ListClassesRequest {
                        page_size,
                        page_token: token,
                        period: period(period_code),
                        ..Default::default()
                    },
                ))
                .await
                .expect("ListClasses")
                .into_inner();
            all.extend(page.classifications);
            if page.next_page_token.is_empty() {
                return all;
            }
            token = page.next_page_token;
        }
    }

    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(60), self.service.stop())
            .await
            .expect("the service stopped in time");
    }
}

/// A set of USCCs, for filters.
pub fn set(codes: &[&str]) -> HashSet<String> {
    codes.iter().map(|c| c.to_string()).collect()
}

/// Runs a step that takes a period's lock (a settle or a re-rank called directly) until it
/// gets it. `None` means another transaction held the lock at that moment: the service's own
/// re-ranker takes it after every re-rank to see whether the period is due, so a test's call
/// can meet it however settled the period looked.
pub async fn once_locked<T, F, Fut>(mut step: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(done) = step().await.expect("the step runs") {
            return done;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the period's lock stayed taken for 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
