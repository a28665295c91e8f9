//! One in-process launcher for every service's tests: [`spawn`] gives the service a fresh
//! database and a topic prefix of its own, starts its `run` on port 0 and waits until it
//! serves; the [`Service`] it returns holds the gRPC channel, a pool on the service's
//! database, and [`Service::stop`].

use std::{future::Future, net::SocketAddr, time::Duration};

use sqlx::PgPool;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::{Request, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::{Publisher, TestDatabase, stack, unique_name, wait_until};

/// The variables a service's `from_lookup` reads, as the launcher hands them over.
pub type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A service running in this process.
pub struct Service {
    /// A lazily connecting channel to the service.
    pub channel: Channel,
    pub address: SocketAddr,
    /// The service's own database (a fresh one).
    pub db: TestDatabase,
    /// A pool on that database as its owner, for checking what the service stored.
    pub pool: PgPool,
    /// The service's `KAFKA_TOPIC_PREFIX`: no other test's service sees its topics or groups.
    pub prefix: String,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Starts a service: `config` is its `Config::from_lookup`, `run` its `run(config,
/// listener, shutdown)`. It gets a fresh database, the shared broker, a topic prefix of its
/// own and a 100 ms outbox poll; `vars` add to or override these (two services of one test
/// share a prefix by naming it). Returns once the service answers health checks as serving.
///
/// ```text
/// let census = testkit::spawn(census::Config::from_lookup, census::run, &[]).await;
/// ```
pub async fn spawn<C, E, F, Fut>(
    config: impl FnOnce(Lookup) -> Result<C, E>,
    run: F,
    vars: &[(&str, &str)],
) -> Service
where
    E: std::fmt::Display,
    F: FnOnce(C, TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let db = TestDatabase::create().await;
    // Migrated as the owner, served as the runtime role.
    let mut all: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.runtime_url.clone()),
        ("DATABASE_OWNER_URL".into(), db.url.clone()),
        ("KAFKA_BOOTSTRAP".into(), stack().kafka_bootstrap.clone()),
        (
            "KAFKA_TOPIC_PREFIX".into(),
            format!("{}.", unique_name("t")),
        ),
        ("OUTBOX_POLL_MS".into(), "100".into()),
        ("DATABASE_MAX_CONNECTIONS".into(), "5".into()),
        // Tests use the development tokens; a test of production credentials overrides it.
        ("AUTH_DEVELOPMENT".into(), "true".into()),
    ];
    for (name, value) in vars {
        all.retain(|(k, _)| k != name);
        all.push((name.to_string(), value.to_string()));
    }
    let prefix = value_of(&all, "KAFKA_TOPIC_PREFIX").unwrap_or_default();
    let lookup: Lookup = Box::new(move |name| value_of(&all, name));
    let config = config(lookup).unwrap_or_else(|err| panic!("test configuration: {err}"));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = listener.local_addr().expect("the bound address");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(config, listener, shutdown.clone()));
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("a valid URI")
        .connect_lazy();
    let mut service = Service {
        channel,
        address,
        pool: db.pool().await,
        db,
        prefix,
        shutdown,
        task,
    };
    service.wait_serving().await;
    service
}

fn value_of(vars: &[(String, String)], name: &str) -> Option<String> {
    vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

impl Service {
    /// The broker's name of `topic` for this service.
    pub fn topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// A [`Publisher`] onto this service's topics, sending as `source`.
    pub fn publisher(&self, source: &str) -> Publisher {
        Publisher::new(source, &self.prefix)
    }

    /// Asks the service to shut down, without waiting for it.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Stops the service and checks that it stopped cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the service task did not panic")
            .expect("the service stopped cleanly");
    }

    /// Waits until the health service says SERVING; a service whose `run` ended first fails
    /// the test with its error.
    async fn wait_serving(&mut self) {
        let serving = wait_until(Duration::from_secs(60), || {
            let mut health = HealthClient::new(self.channel.clone());
            let finished = self.task.is_finished();
            async move {
                if finished {
                    return true;
                }
                let request = Request::new(HealthCheckRequest::default());
                let reply = tokio::time::timeout(Duration::from_secs(2), health.check(request));
                matches!(reply.await, Ok(Ok(r)) if r.get_ref().status() == ServingStatus::Serving)
            }
        })
        .await;
        if self.task.is_finished() {
            match (&mut self.task).await {
                Ok(Ok(())) => panic!("the service stopped before it served"),
                Ok(Err(err)) => panic!("the service failed to start: {err:#}"),
                Err(err) => panic!("the service panicked while starting: {err}"),
            }
        }
        assert!(serving, "the service did not serve within 60 s");
    }
}
