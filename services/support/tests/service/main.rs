//! The support service against a real PostgreSQL and broker, started in-process through
//! `testkit::spawn`. Tests drive the API, feed facts through the consumers' topics or put them
//! in the read model directly, and call the store with the time they need (a round's
//! finalization after its publicity window).

mod applications;
mod consumers;
mod policies;
mod rounds;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use haicheng_proto::{
    common::v1 as common,
    support::v1::{self as pb, support_service_client::SupportServiceClient},
};
use platform::{
    Class, Outbox, Park, Segment,
    bus::{CloudEvent, Producer},
    period::Period,
};
use prost::{Message, Name};
use sqlx::PgPool;
use support::{
    Config,
    domain::facts::Figures,
    store::{
        Store,
        read_model::{self, FirmRecord},
    },
};
use testkit::{Service, Usccs, stack};
use tonic::{Request, transport::Channel};
use uuid::Uuid;

pub type Client = SupportServiceClient<Channel>;

/// The period every test's policies apply to.
pub const PERIOD: &str = "2025";

pub struct App {
    pub client: Client,
    pub pool: PgPool,
    pub store: Store,
    pub producer: Producer,
    pub usccs: Usccs,
    service: Service,
}

pub async fn spawn_app() -> App {
    platform::telemetry::init_for_tests();
    let vars = [(platform::config::vars::AUTH_DEVELOPMENT, "true")];
    let service = testkit::spawn(Config::from_lookup, support::run, &vars).await;
    let producer =
        Producer::new(&stack().kafka_bootstrap, Duration::from_secs(10)).expect("a producer");
    App {
        client: SupportServiceClient::new(service.channel.clone()),
        store: Store::new(service.pool.clone(), Outbox::new(support::SPEC.name)),
        pool: service.pool.clone(),
        producer,
        usccs: Usccs::new(),
        service,
    }
}

/// A request with the development token of `who` (`commerce`, `finance`,
/// `enterprise-<USCC>`, …).
pub fn as_dev<T>(who: &str, message: T) -> Request<T> {
    testkit::with_token(&format!("dev-{}", who.replace('_', "-")), message)
}

/// Field names of an INVALID_ARGUMENT's violations.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// A firm of a test, as the read model holds it.
#[derive(Debug, Clone, Copy)]
pub struct Firm {
    pub class: Option<Class>,
    pub score: f64,
    pub rd_spend_fen: i64,
    pub revenue_fen: i64,
    pub veto: bool,
}

impl Default for Firm {
    fn default() -> Self {
        Self {
            class: Some(Class::B),
            score: 50.0,
            rd_spend_fen: 1_000_000,
            revenue_fen: 20_000_000,
            veto: false,
        }
    }
}

/// A policy spec: commerce's, AUTOMATIC, valid through 2020–2099, for [`PERIOD`].
pub fn spec(id: &str, benefit: pb::Benefit, budget_fen: i64) -> pb::PolicySpec {
    pb::PolicySpec {
        id: id.into(),
        title: format!("Policy {id}"),
        document_number: "海政发〔2025〕1号".into(),
        issuer: common::Department::Commerce as i32,
        valid_from: "2020-01-01".into(),
        valid_until: "2099-12-31".into(),
        period: Some(common::Period {
            code: PERIOD.into(),
        }),
        mode: pb::PolicyMode::Automatic as i32,
        review_working_days: 0,
        conditions: vec![],
        benefit: Some(benefit),
        budget_fen,
        remainder: pb::Remainder::None as i32,
        exclusive_group: String::new(),
    }
}

pub fn fixed(fen: i64) -> pb::Benefit {
    pb::Benefit {
        amount: Some(pb::benefit::Amount::FixedFen(fen)),
        cap_fen: 0,
    }
}

/// A policy id no other test uses.
pub fn policy_id(name: &str) -> String {
    format!("{name}-{}", &Uuid::new_v4().simple().to_string()[..8])
}

impl App {
    pub fn uscc(&self, i: usize) -> String {
        self.usccs.nth(i)
    }

    pub fn topic(&self, topic: &str) -> String {
        self.service.topic(topic)
    }

    /// Puts a firm into the read model, as the consumers would.
    pub async fn seed(&self, uscc: &str, firm: Firm) {
        let period = Period::parse(PERIOD).unwrap();
        let mut tx = self.pool.begin().await.unwrap();
        let record = FirmRecord {
            uscc: uscc.into(),
            name: format!("Firm {uscc}"),
            park: Some(Park::Xiliu),
            segment: Some(Segment::Textile),
            registered_on: NaiveDate::from_ymd_opt(2015, 1, 1),
            veto: firm.veto,
            deregistered: false,
            version: 1,
        };
        read_model::upsert_firm(&mut tx, &record).await.unwrap();
        let figures = Figures {
            rd_spend_fen: firm.rd_spend_fen,
            revenue_fen: firm.revenue_fen,
            ..Figures::default()
        };
        read_model::upsert_return(&mut tx, uscc, period, 1, &figures)
            .await
            .unwrap();
        read_model::set_class(&mut tx, uscc, period, firm.class, firm.score, Utc::now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    pub async fn put(
        &self,
        who: &str,
        spec: pb::PolicySpec,
        expected_version: i64,
    ) -> Result<pb::Policy, tonic::Status> {
        self.client
            .clone()
            .put_policy(as_dev(
                who,
                pb::PutPolicyRequest {
                    spec: Some(spec),
                    expected_version,
                },
            ))
            .await
            .map(|r| r.into_inner().policy.expect("a policy"))
    }

    pub async fn run_round(&self, who: &str, policy_id: &str) -> Result<pb::Round, tonic::Status> {
        self.client
            .clone()
            .run_round(as_dev(
                who,
                pb::RunRoundRequest {
                    policy_id: policy_id.into(),
                },
            ))
            .await
            .map(|r| r.into_inner().round.expect("a round"))
    }

    /// Publishes `message` about `subject` on the service's `topic`.
    pub async fn publish<M: Message + Name>(
        &self,
        topic: &str,
        subject: &str,
        message: &M,
    ) -> (CloudEvent, Vec<u8>) {
        let event = CloudEvent {
            id: Uuid::now_v7(),
            ty: M::full_name(),
            source: "support-tests".into(),
            subject: subject.into(),
            time: Utc::now(),
            trace: Default::default(),
        };
        let payload = message.encode_to_vec();
        self.publish_again(topic, &event, &payload).await;
        (event, payload)
    }

    pub async fn publish_again(&self, topic: &str, event: &CloudEvent, payload: &[u8]) {
        self.producer
            .send(&self.topic(topic), &event.subject, payload, event)
            .await
            .expect("publishing an event");
    }

    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(60), self.service.stop())
            .await
            .expect("the service stopped in time");
    }
}

/// A moment past any round's publicity window.
pub fn after_the_window(round: &pb::Round) -> DateTime<Utc> {
    let deadline = round.objection_deadline.as_ref().expect("a deadline");
    platform::time::from_timestamp(deadline).expect("a valid deadline")
        + chrono::Duration::seconds(1)
}
