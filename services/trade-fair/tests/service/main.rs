//! The trade-fair service against a real PostgreSQL and broker: started in-process through
//! `testkit::spawn` with a database and topic prefix of its own. Tests drive the API, feed
//! census and classification events on the service's topics, or call the store with the
//! time they need (window edges, offer expiry) on the service's own database.

mod access;
mod barred;
mod first_come;
mod invitations;
mod paging;
mod scored;
mod subsidies;
mod upgrade;
mod waitlist;

use std::time::Duration;

use chrono::{DateTime, Utc};
use haicheng_proto::fair::v1::{self as pb, fair_service_client::FairServiceClient};
use platform::{Outbox, time::to_timestamp};
use prost::{Message, Name};
use sqlx::PgPool;
use testkit::{Publisher, Service, Usccs, unique_name};
pub use testkit::{as_dept, fields};
use tonic::transport::Channel;
use trade_fair::{
    Config,
    config::Rules,
    domain::{
        Class, Period, Segment,
        fair::BoothType,
        registration::{Application, Registration},
    },
    store::{
        Store,
        read_model::{self, EnterpriseRecord, ReturnRecord},
        registrations::After,
    },
};

pub type Client = FairServiceClient<Channel>;

/// The service under test.
pub struct App {
    pub client: Client,
    pub pool: PgPool,
    pub outbox: Outbox,
    pub rules: Rules,
    /// The service's store on the same database, for tests that choose the time.
    pub store: Store,
    /// Publishes onto this test's topics, as census and classification would.
    pub events: Publisher,
    pub usccs: Usccs,
    service: Service,
}

/// Starts the service; its background sweep is slowed to once an hour so tests run each
/// sweep themselves, at the time they choose.
pub async fn spawn_app() -> App {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> App {
    platform::telemetry::init_for_tests();
    let mut vars = vec![
        (trade_fair::config::vars::SWEEP_MS, "3600000"),
        (platform::config::vars::AUTH_DEVELOPMENT, "true"),
    ];
    vars.extend_from_slice(extra);
    let service = testkit::spawn(Config::from_lookup, trade_fair::run, &vars).await;
    let events = service.publisher("trade-fair-tests");
    let config = Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .expect("the same configuration");
    let outbox = Outbox::new(trade_fair::SPEC.name);
    App {
        client: FairServiceClient::new(service.channel.clone()),
        pool: service.pool.clone(),
        store: Store::new(
            service.pool.clone(),
            outbox.clone(),
            std::sync::Arc::new(config.rules.clone()),
        ),
        outbox,
        rules: config.rules,
        events,
        usccs: Usccs::new(),
        service,
    }
}

pub fn hours(n: i64) -> chrono::Duration {
    chrono::Duration::hours(n)
}

/// What a test firm looks like in the census and to classification.
#[derive(Debug, Clone, Copy)]
pub struct FirmSpec {
    pub class: Option<Class>,
    pub export_sales_fen: i64,
    pub small: bool,
    pub tax_veto: bool,
    /// Decides the export threshold: `TRADE` a trading firm, the others producers.
    pub segment: Segment,
}

impl Default for FirmSpec {
    fn default() -> Self {
        Self {
            class: Some(Class::B),
            export_sales_fen: 2_000_000_000,
            small: false,
            tax_veto: false,
            segment: Segment::Textile,
        }
    }
}

/// A fair plan: window open from an hour ago for `window_hours`, the fair a month on.
pub fn fair_plan(kind: pb::FairKind, mode: pb::AllocationMode, standard_booths: i32) -> pb::Fair {
    let now = Utc::now();
    pb::Fair {
        name: format!("Test fair {}", unique_name("f")),
        kind: kind as i32,
        city: "Guangzhou".into(),
        venue: "Pazhou".into(),
        market: pb::Market::TraditionalExport as i32,
        starts_at: Some(to_timestamp(now + hours(24 * 30))),
        ends_at: Some(to_timestamp(now + hours(24 * 35))),
        registration_opens_at: Some(to_timestamp(now - hours(1))),
        registration_closes_at: Some(to_timestamp(now + hours(24))),
        allocation_mode: mode as i32,
        inventory: vec![pb::BoothInventory {
            booth_type: pb::BoothType::Standard as i32,
            capacity: standard_booths,
            fee_fen: 2_000_000,
            taken: 0,
        }],
        ..Default::default()
    }
}

impl App {
    /// The broker's name of `topic` for this test's service.
    pub fn topic(&self, topic: &str) -> String {
        self.service.topic(topic)
    }

    pub fn uscc(&self, i: usize) -> String {
        self.usccs.nth(i)
    }

    /// Puts a firm into the read model directly, as the consumers would.
    pub async fn seed(&self, uscc: &str, firm: FirmSpec) {
        let mut tx = self.pool.begin().await.unwrap();
        let record = EnterpriseRecord {
            uscc: uscc.into(),
            name: format!("Firm {uscc}"),
            small_firm: firm.small,
            tax_credit_violation: firm.tax_veto,
            segment: Some(firm.segment),
            version: 1,
        };
        read_model::apply_enterprise(&mut tx, &record)
            .await
            .unwrap();
        let period = Period::parse("2025").unwrap();
        let sales = ReturnRecord {
            uscc,
            name: "",
            segment: Some(firm.segment),
            period,
            revision: 1,
            export_sales_fen: firm.export_sales_fen,
        };
        read_model::apply_return(&mut tx, &sales).await.unwrap();
        read_model::apply_class(&mut tx, uscc, firm.class, period, Utc::now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    pub async fn create_fair(&self, plan: pb::Fair) -> pb::Fair {
        self.client
            .clone()
            .create_fair(as_dept(
                "commerce",
                pb::CreateFairRequest { fair: Some(plan) },
            ))
            .await
            .expect("CreateFair")
            .into_inner()
            .fair
            .expect("a fair")
    }

    pub async fn apply(
        &self,
        fair_id: &str,
        uscc: &str,
        booths: i32,
    ) -> Result<pb::Registration, tonic::Status> {
        self.client
            .clone()
            .apply(as_dept(
                "commerce",
                pb::ApplyRequest {
                    fair_id: fair_id.into(),
                    uscc: uscc.into(),
                    booth_type: pb::BoothType::Standard as i32,
                    booths,
                },
            ))
            .await
            .map(|r| r.into_inner().registration.expect("a registration"))
    }

    /// One page of ListRegistrations, as commerce reads it.
    pub async fn list_registrations(
        &self,
        request: pb::ListRegistrationsRequest,
    ) -> Result<pb::ListRegistrationsResponse, tonic::Status> {
        self.client
            .clone()
            .list_registrations(as_dept("commerce", request))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Every registration of a fair (of `status`; unspecified: any), following the pages
    /// of `page_size` (0: the default); each page but the last is full.
    pub async fn registrations_paged(
        &self,
        fair_id: &str,
        status: pb::RegistrationStatus,
        page_size: i32,
    ) -> Vec<pb::Registration> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = pb::ListRegistrationsRequest {
                fair_id: fair_id.into(),
                status: status as i32,
                page_size,
                page_token,
            };
            let page = self
                .list_registrations(request)
                .await
                .expect("ListRegistrations");
            let full = usize::try_from(page_size).unwrap();
            if page_size > 0 {
                assert!(page.registrations.len() <= full, "a page of at most {full}");
                if !page.next_page_token.is_empty() {
                    assert_eq!(
                        page.registrations.len(),
                        full,
                        "a page before the last is full"
                    );
                }
            }
            all.extend(page.registrations);
            if page.next_page_token.is_empty() {
                return all;
            }
            page_token = page.next_page_token;
        }
    }

    /// Every registration of a fair as the store reads them, by application time, following
    /// pages of ten.
    pub async fn stored_registrations(&self, fair_id: uuid::Uuid) -> Vec<Registration> {
        let mut all: Vec<Registration> = Vec::new();
        loop {
            let after = all.last().map(After::of);
            let page = (self.store)
                .registrations_page(fair_id, None, after, 10)
                .await
                .expect("a page of registrations");
            let last = page.len() < 10;
            all.extend(page);
            if last {
                return all;
            }
        }
    }

    /// Every registration of a fair, by application time.
    pub async fn registrations(&self, fair_id: &str) -> Vec<pb::Registration> {
        self.registrations_paged(fair_id, pb::RegistrationStatus::Unspecified, 0)
            .await
    }

    /// The waitlisted registrations of a fair, in waitlist order.
    pub async fn waitlist(&self, fair_id: &str) -> Vec<pb::Registration> {
        self.registrations_paged(fair_id, pb::RegistrationStatus::Waitlisted, 0)
            .await
    }

    pub async fn get_fair(&self, fair_id: &str) -> pb::GetFairResponse {
        self.client
            .clone()
            .get_fair(as_dept(
                "commerce",
                pb::GetFairRequest {
                    fair_id: fair_id.into(),
                },
            ))
            .await
            .expect("GetFair")
            .into_inner()
    }

    /// A scored fair of `standard` standard and `brand` brand booths (20 % of them reserved
    /// for small firms, 10 % for class A, at most 3 a firm) and `n` applications a minute
    /// apart from its opening, not allocated: firms of every class in turn (none, C, B, A, so
    /// that later applicants often rank before earlier ones), every fifth small, every third
    /// for brand booths, one to three booths each; firm 7 is then vetoed (the allocation
    /// cancels it).
    pub async fn mixed_scored_fair(&self, standard: i32, brand: i32, n: usize) -> pb::Fair {
        let mut plan = fair_plan(
            pb::FairKind::CantonFair,
            pb::AllocationMode::Scored,
            standard,
        );
        plan.inventory.push(pb::BoothInventory {
            booth_type: pb::BoothType::Brand as i32,
            capacity: brand,
            fee_fen: 5_000_000,
            taken: 0,
        });
        plan.small_firm_reserve_percent = Some(20);
        plan.a_class_reserve_percent = Some(10);
        plan.per_firm_cap = Some(3);
        let fair = self.create_fair(plan).await;
        let fair_id = uuid::Uuid::parse_str(&fair.id).unwrap();
        let opens = at(&fair.registration_opens_at);
        for i in 0..n {
            let firm = FirmSpec {
                class: [None, Some(Class::C), Some(Class::B), Some(Class::A)][i % 4],
                export_sales_fen: 2_000_000_000 + (i as i64 % 5) * 1_000_000,
                small: i % 5 == 0,
                ..FirmSpec::default()
            };
            self.seed(&self.uscc(i), firm).await;
            let application = Application {
                fair_id,
                uscc: self.uscc(i),
                booth_type: if i % 3 == 0 {
                    BoothType::Brand
                } else {
                    BoothType::Standard
                },
                booths: 1 + (i as u32 % 3),
            };
            let applied_at = opens + chrono::Duration::minutes(i as i64);
            self.store.apply(&application, applied_at).await.unwrap();
        }
        let mut tx = self.pool.begin().await.unwrap();
        let vetoed = EnterpriseRecord {
            uscc: self.uscc(7),
            name: "Firm 7".into(),
            small_firm: false,
            tax_credit_violation: true,
            segment: Some(Segment::Textile),
            version: 2,
        };
        read_model::apply_enterprise(&mut tx, &vetoed)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        fair
    }

    /// Rows in the inbox of the service's consumers (each event applied once is one row).
    pub async fn inbox_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM inbox")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(60), self.service.stop())
            .await
            .expect("the service stopped in time");
    }
}

/// The `M` events of `topic` that `keep` accepts (`testkit::read_events`, without the keys).
pub async fn collect<M: Message + Name + Default>(
    topic: &str,
    keep: impl Fn(&M) -> bool,
    expected: usize,
    timeout: Duration,
) -> Vec<M> {
    testkit::collect::<M>(topic, keep, expected, timeout)
        .await
        .into_iter()
        .map(|(_, event)| event)
        .collect()
}

pub fn at(t: &Option<prost_types::Timestamp>) -> DateTime<Utc> {
    platform::time::from_timestamp(t.as_ref().expect("a timestamp")).expect("a valid timestamp")
}
