//! The inspection service against a real PostgreSQL and broker, started in-process through
//! `testkit::spawn`. Tests put firms in the read model through the store (as the consumers
//! would) or publish the events the consumers read, and drive the API with development
//! tokens of departments and enterprises.

mod consumers;
mod plans;
mod ratings;
mod visits;

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use haicheng_proto::{
    common::v1 as common,
    inspection::v1::{self as pb, inspection_service_client::InspectionServiceClient},
};
use inspection::{
    Config,
    config::Rules,
    store::{Store, facts::CensusRecord},
};
use platform::{Class, Outbox, config::lookup_in};
use sqlx::PgPool;
use testkit::{Publisher, Service, Usccs};
use tonic::{Request, transport::Channel};

pub type Client = InspectionServiceClient<Channel>;

pub struct App {
    pub client: Client,
    pub pool: PgPool,
    pub store: Store,
    pub usccs: Usccs,
    pub rules: Rules,
    service: Service,
}

pub async fn spawn_app() -> App {
    platform::telemetry::init_for_tests();
    let vars = [(platform::config::vars::AUTH_DEVELOPMENT, "true")];
    let service = testkit::spawn(Config::from_lookup, inspection::run, &vars).await;
    App {
        client: InspectionServiceClient::new(service.channel.clone()),
        store: Store::new(service.pool.clone(), Outbox::new(inspection::SPEC.name)),
        pool: service.pool.clone(),
        usccs: Usccs::new(),
        rules: Config::from_lookup(lookup_in(&[])).expect("defaults").rules,
        service,
    }
}

/// A request with the development token of `who` (`tax`, `market_supervision`,
/// `enterprise-<USCC>`, …).
pub fn as_dev<T>(who: &str, message: T) -> Request<T> {
    testkit::with_token(&format!("dev-{}", who.replace('_', "-")), message)
}

pub fn enterprise(uscc: &str) -> String {
    format!("enterprise-{uscc}")
}

pub fn fields(status: &tonic::Status) -> Vec<String> {
    testkit::invalid_fields(status)
}

pub fn dept(d: common::Department) -> i32 {
    d as i32
}

/// A day of the test year.
pub fn on(month: u32, day: u32) -> String {
    NaiveDate::from_ymd_opt(YEAR, month, day)
        .expect("a date")
        .to_string()
}

/// The year plans are drawn for (next year, so every visit lies ahead).
pub const YEAR: i32 = 2099;

impl App {
    pub fn uscc(&self, i: usize) -> String {
        self.usccs.nth(i)
    }

    pub fn publisher(&self) -> Publisher {
        self.service.publisher("inspection-tests")
    }

    /// Puts a firm with `class` (and a veto) into the read model, as the consumers would.
    pub async fn seed(&self, uscc: &str, class: Option<Class>, veto: bool) {
        let mut tx = self.pool.begin().await.unwrap();
        let record = CensusRecord {
            uscc: uscc.into(),
            name: format!("Firm {}", &uscc[10..]),
            veto,
            deregistered: false,
            version: 1,
        };
        let now = Utc::now();
        self.store
            .apply_census(&mut tx, &record, now)
            .await
            .unwrap();
        self.store
            .apply_class(
                &mut tx,
                uscc,
                "",
                (class, "2025".parse().unwrap()),
                now,
                &self.rules,
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    pub async fn put_item(&self, who: &str, item: pb::Item) -> Result<pb::Item, tonic::Status> {
        self.client
            .clone()
            .put_item(as_dev(who, pb::PutItemRequest { item: Some(item) }))
            .await
            .map(|r| r.into_inner().item.expect("an item"))
    }

    /// A routine item `code` of `who`'s list, with its legal basis and one document.
    pub async fn routine_item(&self, who: &str, code: &str, safety: bool) {
        self.put_item(who, item(code, pb::ItemKind::Routine, safety))
            .await
            .expect("the item is listed");
    }

    /// A roster of `n` inspectors for `who`.
    pub async fn roster(&self, who: &str, n: usize) {
        let inspectors = (0..n)
            .map(|i| pb::Inspector {
                id: format!("{who}-{i:02}"),
                name: format!("Inspector {i} of {who}"),
                department: 0,
            })
            .collect();
        self.client
            .clone()
            .put_roster(as_dev(who, pb::PutRosterRequest { inspectors }))
            .await
            .expect("the roster is kept");
    }

    pub async fn draw(
        &self,
        who: &str,
        items: &[&str],
        seed: u64,
        preview: bool,
    ) -> Result<pb::Plan, tonic::Status> {
        self.client
            .clone()
            .draw_plan(as_dev(
                who,
                pb::DrawPlanRequest {
                    year: YEAR,
                    item_codes: items.iter().map(|s| s.to_string()).collect(),
                    seed,
                    preview,
                },
            ))
            .await
            .map(|r| r.into_inner().plan.expect("a plan"))
    }

    pub async fn create_task(
        &self,
        who: &str,
        request: pb::CreateTaskRequest,
    ) -> Result<pb::CreateTaskResponse, tonic::Status> {
        self.client
            .clone()
            .create_task(as_dev(who, request))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn approve(&self, who: &str, visit_id: &str) -> Result<pb::Visit, tonic::Status> {
        self.client
            .clone()
            .approve_visit(as_dev(
                who,
                pb::ApproveVisitRequest {
                    visit_id: visit_id.into(),
                    expected_version: 0,
                },
            ))
            .await
            .map(|r| r.into_inner().visit.expect("a visit"))
    }

    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(60), self.service.stop())
            .await
            .expect("the service stopped in time");
    }
}

pub fn item(code: &str, kind: pb::ItemKind, safety: bool) -> pb::Item {
    pb::Item {
        code: code.into(),
        title: format!("Check {code}"),
        legal_basis: format!("《条例》第{}条", code.len()),
        kind: kind as i32,
        safety,
        documents: vec!["营业执照".into(), format!("{code} records")],
        ..Default::default()
    }
}

/// A task request of `kind` on `items` for `uscc` on `day`.
pub fn task(uscc: &str, kind: pb::ItemKind, items: &[&str], day: &str) -> pb::CreateTaskRequest {
    pb::CreateTaskRequest {
        uscc: uscc.into(),
        kind: kind as i32,
        item_codes: items.iter().map(|s| s.to_string()).collect(),
        planned_on: day.into(),
        exemption: 0,
        exemption_reference: String::new(),
    }
}
