//! The one runtime every Haicheng service uses the same way.
//!
//! A service declares a [`ServiceSpec`], builds its [`PlatformConfig`] (plus its own
//! settings), and calls [`Platform::start`]: that connects and migrates the database,
//! creates the producer, ensures the topics and starts the outbox relay. The service then
//! adds its consumers ([`Platform::consume`]) and hands its gRPC routes to
//! [`Platform::serve`], which runs until shutdown and stops everything in order.

pub mod auth;
pub mod backoff;
pub mod bus;
pub mod config;
pub mod contract;
pub mod db;
pub mod error;
pub mod inbox;
pub mod notify;
pub mod outbox;
pub mod paging;
pub mod period;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod time;
pub mod uscc;

use std::{process::ExitCode, time::Duration};

use sqlx::{PgPool, migrate::Migrator};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;

pub use auth::{AccessPolicy, Principal, Rule};
pub use config::{ConfigError, PlatformConfig};
pub use error::{ApiError, Violations};
pub use inbox::{Envelope, Handler, HandlerError};
pub use outbox::{Outbox, OutgoingEvent};

use crate::{
    bus::{Producer, dlq_topic},
    inbox::{ConsumerSettings, InboxConsumer},
    outbox::Relay,
    server::GrpcSettings,
};

/// What a service declares about itself.
pub struct ServiceSpec {
    /// Short name: logs, `ce_source`, consumer group prefix.
    pub name: &'static str,
    /// Fully qualified gRPC service names, for health.
    pub grpc_services: &'static [&'static str],
    /// Encoded FileDescriptorSet for reflection.
    pub descriptor_set: &'static [u8],
    pub migrations: &'static Migrator,
    /// Topics the service produces to or consumes from; created (with their DLQs) when absent.
    pub topics: &'static [&'static str],
}

/// A started service's shared parts.
pub struct Platform {
    pub config: PlatformConfig,
    pub pool: PgPool,
    pub producer: Producer,
    pub outbox: Outbox,
    spec: &'static ServiceSpec,
    /// Cancelled from outside (signal, test) to begin the shutdown.
    shutdown: CancellationToken,
    /// Cancelled once the server has drained, to stop the relay and the consumers.
    workers: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Platform {
    /// Connects, migrates, creates the producer, ensures the topics, starts the relay.
    pub async fn start(
        spec: &'static ServiceSpec,
        config: PlatformConfig,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let pool = db::connect(
            &config.database_url,
            config.database_max_connections,
            Duration::from_secs(30),
        )
        .await?;
        db::migrate(&pool, spec.migrations).await?;
        let producer = Producer::new(&config.kafka_bootstrap, config.kafka_message_timeout)?;
        if config.kafka_ensure_topics {
            let mut topics: Vec<String> = spec.topics.iter().map(|t| config.topic(t)).collect();
            topics.extend(spec.topics.iter().map(|t| dlq_topic(&config.topic(t))));
            let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
            producer
                .ensure_topics(&topic_refs, config.kafka_topic_partitions)
                .await?;
        }

        let workers = CancellationToken::new();
        let relay = Relay::new(
            pool.clone(),
            producer.clone(),
            config.outbox_batch_size,
            config.outbox_poll,
        )
        .with_topic_prefix(&config.kafka_topic_prefix);
        let tasks = vec![tokio::spawn(relay.run(workers.clone()))];
        tracing::info!(service = spec.name, "platform started");
        Ok(Self {
            outbox: Outbox::new(spec.name),
            config,
            pool,
            producer,
            spec,
            shutdown,
            workers,
            tasks,
        })
    }

    /// Starts a consumer named `<service>.<name>` (its Kafka group, behind the topic prefix)
    /// that applies `handler` once per event of `topics`.
    pub fn consume<H: Handler>(&mut self, name: &str, topics: &[&str], handler: H) {
        let settings = ConsumerSettings {
            name: self.config.topic(&format!("{}.{name}", self.spec.name)),
            bootstrap: self.config.kafka_bootstrap.clone(),
            topics: topics.iter().map(|t| self.config.topic(t)).collect(),
            max_attempts: self.config.inbox_max_attempts,
            commit_interval: Duration::from_secs(1),
            group_instance_id: self.config.kafka_group_instance_id.clone(),
        };
        let consumer =
            InboxConsumer::new(settings, self.pool.clone(), self.producer.clone(), handler);
        let workers = self.workers.clone();
        self.tasks.push(tokio::spawn(async move {
            if let Err(err) = consumer.run(workers).await {
                tracing::error!(error = format!("{err:#}"), "consumer stopped with an error");
            }
        }));
    }

    /// Cancelled when shutdown begins (before the drain): long-lived calls such as watch
    /// streams end on it, so the drain is not held up by them.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs a background task until the server has drained; it is given the token that asks
    /// it to stop, and shutdown waits for it (up to 30 s).
    pub fn spawn<F, Fut>(&mut self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.push(tokio::spawn(task(self.workers.clone())));
    }

    /// Serves `routes` until shutdown, then: NOT_SERVING, drain calls, stop the relay and
    /// the consumers (offsets committed), flush the producer, close the pool.
    pub async fn serve(
        self,
        listener: TcpListener,
        routes: RoutesBuilder,
        policy: AccessPolicy,
    ) -> anyhow::Result<()> {
        tracing::info!(address = %listener.local_addr()?, "serving gRPC");
        let settings = GrpcSettings {
            config: &self.config,
            service_names: self.spec.grpc_services,
            descriptor_set: self.spec.descriptor_set,
            policy,
        };
        let served = server::serve(listener, routes, settings, self.shutdown.clone()).await;
        self.workers.cancel();
        for task in self.tasks {
            if tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .is_err()
            {
                tracing::warn!("a background task did not stop within 30 s");
            }
        }
        if let Err(err) = self.producer.flush(Duration::from_secs(10)) {
            tracing::warn!(error = %err, "producer flush on shutdown");
        }
        self.pool.close().await;
        tracing::info!("stopped");
        served
    }
}

/// Access to the platform part of a service's configuration.
pub trait ServiceConfig: Send + 'static {
    fn platform(&self) -> &PlatformConfig;
}

/// The whole of a service's `main`: load the configuration (a bad variable stops start-up
/// with its name and exit code 2), start telemetry, bind, run until SIGTERM/SIGINT.
/// With the argument `migrate` it only applies the migrations and exits (the Kubernetes Job).
pub async fn main<C, F, Fut>(
    spec: &'static ServiceSpec,
    load: impl FnOnce() -> Result<C, ConfigError>,
    run: F,
) -> ExitCode
where
    C: ServiceConfig,
    F: FnOnce(C, TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config = match load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let platform = config.platform();
    let telemetry = match telemetry::Telemetry::init(
        platform.service_name,
        platform.otlp_endpoint.as_deref(),
        platform.log_filter.as_deref(),
    ) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("error: telemetry: {err:#}");
            return ExitCode::from(2);
        }
    };
    let address = platform.grpc_addr;
    let result = match std::env::args().nth(1).as_deref() {
        None => serve_until_signal(config, address, run).await,
        Some("migrate") => migrate_only(spec, platform).await,
        Some(other) => Err(anyhow::anyhow!(
            "unknown argument {other:?}; the only one is `migrate`"
        )),
    };
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "service failed");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_until_signal<C, F, Fut>(
    config: C,
    address: std::net::SocketAddr,
    run: F,
) -> anyhow::Result<()>
where
    F: FnOnce(C, TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("binding {address} ({}): {e}", config::vars::GRPC_ADDR))?;
    let shutdown = shutdown::on_signal()?;
    run(config, listener, shutdown).await
}

async fn migrate_only(spec: &ServiceSpec, config: &PlatformConfig) -> anyhow::Result<()> {
    let pool = db::connect(&config.database_url, 1, Duration::from_secs(60)).await?;
    db::migrate(&pool, spec.migrations).await?;
    pool.close().await;
    tracing::info!(service = spec.name, "migrations applied");
    Ok(())
}
