//! Census and classification as real processes on one broker, isolated from other tests by a
//! topic prefix of their own, and the calls the system tests make of them.

use std::{collections::BTreeMap, time::Duration};

use haicheng_proto::{
    census::v1::{
        CensusIndicators, ImportReturnsResponse, ImportReturnsRow, RegisterEnterpriseRequest,
        SubmitReturnRequest, census_service_client::CensusServiceClient,
    },
    classification::v1::{
        ListClassesRequest, classification_service_client::ClassificationServiceClient,
    },
    common::v1::{EnterpriseClass, Park},
    policy::v1::notice_service_client::NoticeServiceClient,
};
use tonic::transport::Channel;

use testkit::with_token;

use crate::ServiceProcess;

/// Land of every test firm, in hundredths of a mu: 50 mu.
const LAND_CENTI_MU: i64 = 5_000;

pub struct Cluster {
    /// Put before this cluster's topics and consumer groups.
    pub prefix: String,
    pub census: ServiceProcess,
    pub classification: ServiceProcess,
}

impl Cluster {
    /// Starts census and classification with `extra` settings and waits until both serve.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        Self::start_with(extra, &[]).await
    }

    /// Like [`start`](Self::start), with `classification_extra` for classification alone
    /// (after `extra`): a database of its own, say.
    pub async fn start_with(extra: &[(&str, &str)], classification_extra: &[(&str, &str)]) -> Self {
        let prefix = format!("{}.", testkit::unique_name("system"));
        let mut env = vec![
            ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
            ("OUTBOX_POLL_MS", "100"),
            ("SHUTDOWN_GRACE_MS", "0"),
        ];
        // Classification sends a period's notices once it has been quiet for the settle time
        // (30 s by default); the system tests want them right after each re-rank.
        let mut classification_env = env.clone();
        classification_env.push(("CLASSIFICATION_NOTICE_SETTLE", "0s"));
        env.extend_from_slice(extra);
        classification_env.extend_from_slice(extra);
        classification_env.extend_from_slice(classification_extra);
        let mut census = crate::start("census", &env).await;
        let mut classification = crate::start("classification", &classification_env).await;
        census
            .wait_serving(Duration::from_secs(60))
            .await
            .expect("census serves");
        classification
            .wait_serving(Duration::from_secs(60))
            .await
            .expect("classification serves");
        Self {
            prefix,
            census,
            classification,
        }
    }

    pub async fn census(&self) -> CensusServiceClient<Channel> {
        CensusServiceClient::new(self.census.channel().await)
    }

    pub async fn classes(&self) -> ClassificationServiceClient<Channel> {
        ClassificationServiceClient::new(self.classification.channel().await)
    }

    pub async fn notices(&self) -> NoticeServiceClient<Channel> {
        NoticeServiceClient::new(self.classification.channel().await)
    }

    /// Registers textile firms (class 1711, Ganwang park, registered in 2010).
    pub async fn register(&self, usccs: &[String]) {
        let mut census = self.census().await;
        for (i, uscc) in usccs.iter().enumerate() {
            let request = RegisterEnterpriseRequest {
                uscc: uscc.clone(),
                name: format!("海城测试纺织{i}有限公司"),
                legal_representative: "王伟".into(),
                park: Park::Ganwang as i32,
                industry_class: "1711".into(),
                size: 3,
                registration_date: "2010-05-01".into(),
                ..Default::default()
            };
            census
                .register_enterprise(with_token("dev-commerce", request))
                .await
                .expect("registering a firm");
        }
    }

    /// Submits a return of `uscc` for `period` whose only distinguishing figure is its tax per mu.
    pub async fn submit(&self, uscc: &str, period: &str, tax_yuan_per_mu: i64, request_id: &str) {
        let request = SubmitReturnRequest {
            client_request_id: request_id.into(),
            uscc: uscc.into(),
            period: testkit::period(period),
            indicators: Some(indicators(tax_yuan_per_mu)),
            sources: None,
        };
        self.census()
            .await
            .submit_return(with_token("dev-commerce", request))
            .await
            .expect("submitting a return");
    }

    /// Imports `rows` in one client stream, as `haicheng census import` does.
    pub async fn import(&self, rows: Vec<ImportReturnsRow>) -> ImportReturnsResponse {
        let request = with_token("dev-census-import", tokio_stream::iter(rows));
        self.census()
            .await
            .import_returns(request)
            .await
            .expect("importing")
            .into_inner()
    }

    /// The classification service's own database (checks no client can make).
    pub async fn classification_db(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.classification.database_url)
            .await
            .expect("the classification database")
    }

    /// Every firm's class for `period`, as the classification service reports it.
    pub async fn classes_of(&self, period: &str) -> BTreeMap<String, EnterpriseClass> {
        let mut client = self.classes().await;
        let mut classes = BTreeMap::new();
        let mut page_token = String::new();
        loop {
            let request = ListClassesRequest {
                period: testkit::period(period),
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            };
            let Ok(reply) = client
                .list_classes(with_token("dev-commerce", request))
                .await
            else {
                return classes;
            };
            let reply = reply.into_inner();
            for c in reply.classifications {
                classes.insert(c.uscc.clone(), c.enterprise_class());
            }
            if reply.next_page_token.is_empty() {
                return classes;
            }
            page_token = reply.next_page_token;
        }
    }

    /// Polls the classes of `period` until `done` holds (or `timeout` passes); returns the last.
    pub async fn wait_classes(
        &self,
        period: &str,
        timeout: Duration,
        done: impl Fn(&BTreeMap<String, EnterpriseClass>) -> bool,
    ) -> BTreeMap<String, EnterpriseClass> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let classes = self.classes_of(period).await;
            if done(&classes) || tokio::time::Instant::now() >= deadline {
                return classes;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `count` valid USCCs, unique to this call, in ascending order.
pub fn usccs(count: usize) -> Vec<String> {
    testkit::Usccs::new().first(count)
}

/// Figures of a test firm: all equal but the tax per mu (yuan).
pub fn indicators(tax_yuan_per_mu: i64) -> CensusIndicators {
    CensusIndicators {
        employees_total: 100,
        production_staff: 70,
        rd_technical_staff: 10,
        management_sales_staff: 15,
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
