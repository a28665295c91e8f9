//! The one runtime every Haicheng service uses the same way.
//!
//! A service declares a [`ServiceSpec`] (its name, the gRPC services it serves by their
//! generated `SERVICE_NAME`, topics, migrations, and its own variable lists in `vars`),
//! builds its [`PlatformConfig`] (plus its own settings), and calls [`Platform::start`]: that
//! connects and checks the database is migrated (`<service> migrate` migrates as the owner
//! role), creates the producer, ensures the topics and starts
//! the outbox relay. The service then adds its consumers ([`Platform::consume`], `?`: one that
//! cannot start stops start-up) and background tasks ([`Platform::spawn`]), and hands its
//! gRPC routes and access policy to [`Platform::serve`]. That refuses to start when a served
//! method has no access rule, runs until shutdown and stops everything in order; every
//! background task is supervised ([`supervisor`]): one that ends or panics early stops the
//! service with an error, so the process exits non-zero and is restarted.
//!
//! # Where things go (every service, the same)
//!
//! A service crate has `config.rs`, `domain/` (pure rules and entities, no I/O, no protobuf),
//! `events.rs` (domain values → outgoing events; never imports the store), `store/` (one
//! `Store` struct: loads and commits, no business `if`), `api/` (the gRPC trait methods are
//! the handlers; `convert` maps proto ↔ domain; refusals and store errors become [`ApiError`]
//! once, here), `consumers.rs` (inbox handlers) and `lib.rs`. Words several services share
//! ([`Park`], [`Segment`], [`Class`], [`auth::Department`], [`period::Period`],
//! [`uscc::Uscc`]) come from here, parsed from requests by the [`fields`] parsers on
//! [`Violations`].
//!
//! Every state change takes one path: the store loads what the rule needs (in the
//! transaction, locking what it will change) → a pure `decide(state, command, rules, now) ->
//! Result<Decision, Refused>` in `domain/` says the rows to write and the domain events, or a
//! typed refusal whose variant names the rule → the store commits the rows and the events'
//! outbox rows in that one transaction. A version conflict is the store's `VersionConflict`
//! (ABORTED).
//!
//! - **A new rule**: a function or a `Refused` variant in `domain/`, unit-tested there without
//!   a database; its number in the service's `Rules` (config) with its variable.
//! - **A new RPC**: the message in `proto/`, a trait method in `api/` (parse with
//!   [`Violations`], load → decide → commit through the store), its access rule in the
//!   service's policy, a row in the README.
//! - **A new event**: the message in `proto/`, its builder in `events.rs` from domain values,
//!   the topic in the [`ServiceSpec`]'s `produces`, its consumers through the [`inbox`].

pub mod audit;
pub mod auth;
pub mod backoff;
pub mod bus;
pub mod calendar;
pub mod config;
pub mod contract;
pub mod db;
pub mod error;
pub mod fields;
pub mod inbox;
pub mod notify;
pub mod outbox;
pub mod paging;
pub mod period;
pub mod process;
pub mod retention;
pub mod server;
pub mod shutdown;
pub mod supervisor;
pub mod telemetry;
pub mod time;
pub mod tls;
pub mod uscc;
pub mod vocab;

use std::{collections::BTreeSet, process::ExitCode, time::Duration};

use sqlx::{PgPool, migrate::Migrator};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;

pub use auth::{AccessPolicy, Principal, Rule};
pub use config::{ConfigError, PlatformConfig};
pub use error::{ApiError, Violations};
pub use inbox::{Envelope, Handler, HandlerError};
pub use outbox::{Outbox, OutgoingEvent};
pub use vocab::{Class, Park, Segment};

use crate::{
    bus::{Producer, dlq_topic},
    inbox::{ConsumerSettings, InboxConsumer},
    outbox::Relay,
    server::GrpcSettings,
    supervisor::Supervisor,
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
    /// The consumers the service starts, `(name, topics)`: the group of each is
    /// `<service>.<name>` (behind `KAFKA_TOPIC_PREFIX`), and [`Platform::consume`] refuses one
    /// not listed here, so the list is what the process does. A consumer also writes the DLQ
    /// of each topic it reads.
    pub consumes: &'static [(&'static str, &'static [&'static str])],
    /// The topics the service's outbox events go to.
    ///
    /// With `consumes`, printed by `<service> topics`, from which `deploy/check` derives the
    /// service's Kafka ACLs; the topics of both (and their DLQs) are created when absent and
    /// `KAFKA_ENSURE_TOPICS` is on.
    pub produces: &'static [&'static str],
    /// The service's own environment variables, one list per module that reads some (e.g.
    /// `&[config::vars::ALL]`); the platform's ([`config::vars::ALL`]) are added. Printed by
    /// `<service> vars`, which the deploy checks read.
    pub vars: &'static [&'static [&'static str]],
}

impl ServiceSpec {
    /// Every variable the service reads, with who reads it: `platform` or the service.
    pub fn variables(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        let platform = config::vars::ALL.iter().map(|var| ("platform", *var));
        let own = self.vars.iter().flat_map(|vars| vars.iter());
        platform.chain(own.map(|var| (self.name, *var)))
    }

    /// Every topic the service reads or writes, once each, in declaration order (without
    /// the DLQs).
    pub fn topics(&self) -> Vec<&'static str> {
        let read = self.consumes.iter().flat_map(|(_, topics)| topics.iter());
        let mut all: Vec<&'static str> = Vec::new();
        for topic in read.chain(self.produces) {
            if !all.contains(topic) {
                all.push(topic);
            }
        }
        all
    }

    /// The service's use of Kafka as `<service> topics` prints it, one tab-separated line
    /// each, names without `KAFKA_TOPIC_PREFIX`: `consume TOPIC GROUP` for each topic a
    /// consumer reads, `produce TOPIC` for each topic written (outbox events and the DLQs of
    /// the topics read). `deploy/check` turns these into each KafkaUser's ACLs.
    pub fn kafka_use(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (name, topics) in self.consumes {
            for topic in *topics {
                lines.push(format!("consume\t{topic}\t{}.{name}", self.name));
            }
        }
        let dead_letters = self
            .consumes
            .iter()
            .flat_map(|(_, topics)| topics.iter().map(|topic| dlq_topic(topic)));
        let mut written: Vec<String> = Vec::new();
        for topic in self
            .produces
            .iter()
            .map(|t| t.to_string())
            .chain(dead_letters)
        {
            if !written.contains(&topic) {
                written.push(topic);
            }
        }
        lines.extend(written.into_iter().map(|topic| format!("produce\t{topic}")));
        lines
    }

    fn declares_consumer(&self, name: &str, topics: &[&str]) -> bool {
        self.consumes
            .iter()
            .any(|(declared, declared_topics)| *declared == name && *declared_topics == topics)
    }
}

/// How long shutdown waits for the relay, the consumers and the service's tasks to stop
/// once the calls have drained; `deploy/check` reads this constant to check that
/// `terminationGracePeriodSeconds` covers the whole sequence.
pub const WORKERS_STOP_BUDGET: Duration = Duration::from_secs(30);
/// How long shutdown waits for the producer to deliver what it holds (also read by
/// `deploy/check`).
pub const PRODUCER_FLUSH_BUDGET: Duration = Duration::from_secs(10);

/// A started service's shared parts.
pub struct Platform {
    pub config: PlatformConfig,
    pub pool: PgPool,
    pub producer: Producer,
    pub outbox: Outbox,
    spec: &'static ServiceSpec,
    /// Cancelled to begin the shutdown: from outside (signal, test; this is a child of the
    /// token given to [`start`](Self::start)) or by the supervisor when a task failed.
    shutdown: CancellationToken,
    /// Cancelled once the server has drained, to stop the relay and the consumers.
    workers: CancellationToken,
    /// The relay, the consumers and the service's own tasks.
    supervisor: Supervisor,
    /// Where the gRPC server's audit records go (written by a supervised task).
    audit_log: audit::AuditLog,
    /// The gRPC paths recorded on every call ([`audit_reads`](Self::audit_reads)).
    audited_reads: BTreeSet<String>,
}

/// Creates the service's topics and their DLQs where the service owns that (a local stack),
/// then checks it can reach every topic it uses: a missing topic or ACL stops the start
/// here, naming the topic.
async fn prepare_topics(
    spec: &ServiceSpec,
    config: &PlatformConfig,
    producer: &Producer,
) -> anyhow::Result<()> {
    // A name starting with `^` is a subscription pattern, not a topic of its own.
    let topics: Vec<String> = spec
        .topics()
        .into_iter()
        .filter(|t| !t.starts_with('^'))
        .map(|t| config.topic(t))
        .collect();
    if config.kafka_ensure_topics {
        let mut all = topics.clone();
        all.extend(topics.iter().map(|t| dlq_topic(t)));
        let topic_refs: Vec<&str> = all.iter().map(String::as_str).collect();
        producer
            .ensure_topics(&topic_refs, config.kafka_topic_partitions)
            .await?;
    }
    producer
        .check_topics(&topics, Duration::from_secs(10))
        .await?;
    Ok(())
}

impl Platform {
    /// Connects as the runtime role and checks that the database is migrated to this
    /// binary's version (refusing to start, naming the `migrate` command, when it is not),
    /// creates the producer, ensures the topics, starts the relay, the retention sweeps and
    /// the audit writer. With `DATABASE_OWNER_URL` set (development launchers only; never in
    /// a Deployment) it first migrates as the owner, as `<service> migrate` does.
    pub async fn start(
        spec: &'static ServiceSpec,
        config: PlatformConfig,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        if let Some(err) = &config.missing_credentials {
            return Err(anyhow::Error::new(err.clone()));
        }
        if let Some(owner) = &config.audit.database_owner_url {
            db::migrate_as_owner(
                owner,
                &config.database_url,
                spec.migrations,
                Duration::from_secs(30),
            )
            .await?;
        }
        let pool = db::connect(
            &config.database_url,
            config.database_max_connections,
            Duration::from_secs(30),
        )
        .await?;
        db::check_migrated(&pool, spec.migrations, spec.name).await?;
        let producer = Producer::new(&config.kafka, config.kafka_message_timeout)?;
        prepare_topics(spec, &config, &producer).await?;

        let workers = CancellationToken::new();
        let relay = Relay::new(
            pool.clone(),
            producer.clone(),
            config.outbox_batch_size,
            config.outbox_poll,
        )
        .with_topic_prefix(&config.kafka_topic_prefix);
        let mut supervisor = Supervisor::default();
        let stop = workers.clone();
        supervisor.spawn("outbox relay", async move {
            relay.run(stop).await;
            Ok(())
        });
        let sweeper = retention::Sweeper::new(
            pool.clone(),
            config.outbox_retention,
            config.inbox_retention,
        );
        let stop = workers.clone();
        supervisor.spawn("retention", async move {
            sweeper.run(stop).await;
            Ok(())
        });
        if let Some(verifier) = config.tokens.jwt() {
            let (verifier, stop) = (verifier.clone(), workers.clone());
            supervisor.spawn("jwks refresh", async move {
                verifier.run_refresher(stop).await;
                Ok(())
            });
        }
        let (audit_log, audit_writer) = audit::AuditLog::new(spec.name, pool.clone());
        let stop = workers.clone();
        supervisor.spawn("audit writer", async move {
            audit_writer.run(stop).await;
            Ok(())
        });
        let (audit_pool, audit_retention) = (pool.clone(), config.audit.retention);
        let stop = workers.clone();
        supervisor.spawn("audit retention", async move {
            audit::writer::run_retention(audit_pool, audit_retention, stop).await;
            Ok(())
        });
        tracing::info!(service = spec.name, "platform started");
        Ok(Self {
            audit_log,
            audited_reads: BTreeSet::new(),
            outbox: Outbox::new(spec.name),
            config,
            pool,
            producer,
            spec,
            shutdown: shutdown.child_token(),
            workers,
            supervisor,
        })
    }

    /// Starts a consumer named `<service>.<name>` (its Kafka group, behind the topic prefix)
    /// that applies `handler` once per event of `topics`. A consumer that cannot be created
    /// or subscribed is an error here, so the service does not start without it; once
    /// running it is supervised like every background task. A consumer the [`ServiceSpec`]
    /// does not declare in `consumes` is refused: its Kafka identity would lack the ACLs.
    pub fn consume<H: Handler>(
        &mut self,
        name: &str,
        topics: &[&str],
        handler: H,
    ) -> anyhow::Result<()> {
        if !self.spec.declares_consumer(name, topics) {
            anyhow::bail!(
                "the consumer {name} of {topics:?} is not in the ServiceSpec's `consumes` \
                 (the list `{} topics` prints and the Kafka ACLs follow)",
                self.spec.name
            );
        }
        let settings = ConsumerSettings {
            name: self.config.topic(&format!("{}.{name}", self.spec.name)),
            kafka: self.config.kafka.clone(),
            topics: topics.iter().map(|t| self.config.topic(t)).collect(),
            max_attempts: self.config.inbox_max_attempts,
            commit_interval: Duration::from_secs(1),
            group_instance_id: self.config.kafka_group_instance_id.clone(),
        };
        let task_name = format!("consumer {}", settings.name);
        let consumer =
            InboxConsumer::new(settings, self.pool.clone(), self.producer.clone(), handler);
        let subscription = consumer
            .subscribe()
            .map_err(|err| err.context(format!("starting the {task_name}")))?;
        let workers = self.workers.clone();
        self.supervisor
            .spawn(task_name, consumer.run_subscribed(subscription, workers));
        Ok(())
    }

    /// Declares `methods` of the gRPC service `service` (its generated `SERVICE_NAME`) audited
    /// reads: every call is recorded (method, principal, peer, code, and the [`audit::Subject`]
    /// its handler names), not only refusals. [`serve`](Self::serve) refuses a method that
    /// is not served.
    pub fn audit_reads(&mut self, service: &str, methods: &[&str]) {
        self.audited_reads
            .extend(methods.iter().map(|method| format!("/{service}/{method}")));
    }

    /// Cancelled when shutdown begins (before the drain): long-lived calls such as watch
    /// streams end on it, so the drain is not held up by them.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs a background task until the server has drained; it is given the token that asks
    /// it to stop, and shutdown waits for it (up to 30 s). The task must run until then: if
    /// it returns or panics earlier, the supervisor stops the service with an error (see
    /// [`supervisor`]). It is reported under the name of its future's function.
    pub fn spawn<F, Fut>(&mut self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let future = task(self.workers.clone());
        self.supervisor
            .spawn(supervisor::name_of::<Fut>(), async move {
                future.await;
                Ok(())
            });
    }

    /// Serves `routes` until shutdown, then: NOT_SERVING, drain calls, stop the relay and
    /// the consumers (offsets committed), flush the producer, close the pool.
    ///
    /// Refuses to start (an error) when a method of a served gRPC service has no access
    /// rule. A background task that ends or panics before shutdown was asked begins the same
    /// shutdown and makes this return an error naming the task, so the process exits
    /// non-zero.
    pub async fn serve(
        self,
        listener: TcpListener,
        routes: RoutesBuilder,
        policy: AccessPolicy,
    ) -> anyhow::Result<()> {
        let Platform {
            config,
            pool,
            producer,
            spec,
            shutdown,
            workers,
            mut supervisor,
            audit_log,
            audited_reads,
            ..
        } = self;
        tracing::info!(address = %listener.local_addr()?, "serving gRPC");
        let settings = GrpcSettings {
            config: &config,
            service_names: spec.grpc_services,
            descriptor_set: spec.descriptor_set,
            policy,
            audit_log,
            audited_reads,
            pool: pool.clone(),
        };
        let mut failure: Option<anyhow::Error> = None;
        let served = {
            let server = server::serve(listener, routes, settings, shutdown.clone());
            tokio::pin!(server);
            loop {
                tokio::select! {
                    served = &mut server => break served,
                    // Every task runs until the workers are told to stop, after the drain.
                    Some(exit) = supervisor.next_exit() => {
                        tracing::error!(task = %exit.name, "{exit}; shutting the service down");
                        failure.get_or_insert_with(|| anyhow::anyhow!("{exit}"));
                        shutdown.cancel();
                    }
                }
            }
        };
        workers.cancel();
        for exit in supervisor.join_all(WORKERS_STOP_BUDGET).await {
            if exit.is_failure() {
                tracing::error!(task = %exit.name, "{exit} while stopping");
                failure.get_or_insert_with(|| anyhow::anyhow!("{exit} while stopping"));
            }
        }
        if let Err(err) = producer.flush(PRODUCER_FLUSH_BUDGET) {
            tracing::warn!(error = %err, "producer flush on shutdown");
        }
        pool.close().await;
        tracing::info!("stopped");
        served?;
        failure.map_or(Ok(()), Err)
    }
}

/// Access to the platform part of a service's configuration.
pub trait ServiceConfig: Send + 'static {
    fn platform(&self) -> &PlatformConfig;
}

/// The whole of a service's `main`: load the configuration (a bad variable stops start-up
/// with its name and exit code 2), start telemetry, bind, run until SIGTERM/SIGINT.
/// With the argument `migrate` it only applies the migrations and exits (the Kubernetes Job);
/// with `replay …` it re-queues retained outbox events ([`outbox::replay::command`]) and exits;
/// with `vars` it prints every variable it reads, one `OWNER<TAB>NAME` a line (OWNER is
/// `platform` or the service), and exits: what `deploy/check` checks the manifests against;
/// with `topics` it prints [`ServiceSpec::kafka_use`] (the KafkaUser ACLs) and exits.
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
    if std::env::args().nth(1).as_deref() == Some("vars") {
        for (owner, var) in spec.variables() {
            println!("{owner}\t{var}");
        }
        return ExitCode::SUCCESS;
    }
    if std::env::args().nth(1).as_deref() == Some("topics") {
        for line in spec.kafka_use() {
            println!("{line}");
        }
        return ExitCode::SUCCESS;
    }
    let command = std::env::args().nth(1);
    if let Some(other) = command
        .as_deref()
        .filter(|c| !["migrate", "replay"].contains(c))
    {
        eprintln!(
            "error: unknown argument {other:?}; the only ones are `migrate`, `vars`, `topics` and `{}`",
            outbox::replay::USAGE
        );
        return ExitCode::from(2);
    }
    let config = match load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    // Fail closed: serving needs credentials; `migrate` and `replay` serve nobody.
    if let (None, Some(err)) = (command.as_deref(), &config.platform().missing_credentials) {
        eprintln!("error: {err}");
        return ExitCode::from(2);
    }
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
    if platform.development {
        tracing::warn!(
            service = platform.service_name,
            "DEVELOPMENT MODE ({}=true): the development tokens (dev-commerce, \
             dev-enterprise-<USCC>, …) are accepted; never run a cluster like this",
            config::vars::AUTH_DEVELOPMENT
        );
    }
    let address = platform.grpc_addr;
    let result = match command.as_deref() {
        Some("migrate") => migrate_only(spec, platform).await,
        Some("replay") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            outbox::replay::command(platform, &args).await
        }
        _ => serve_until_signal(config, address, run).await,
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

/// `<service> migrate`: as the owner role (`DATABASE_OWNER_URL`), applies the migrations and
/// grants the runtime role (the user of `DATABASE_URL`) its rights ([`db::grant_runtime`]).
async fn migrate_only(spec: &ServiceSpec, config: &PlatformConfig) -> anyhow::Result<()> {
    let owner = config.audit.database_owner_url.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "`{} migrate` runs as the owner role: set {} (the owner's connection string) \
             beside {} (the runtime role's, whose user is granted its rights)",
            spec.name,
            config::vars::DATABASE_OWNER_URL,
            config::vars::DATABASE_URL
        )
    })?;
    db::migrate_as_owner(
        owner,
        &config.database_url,
        spec.migrations,
        Duration::from_secs(60),
    )
    .await?;
    tracing::info!(service = spec.name, "migrations applied");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

    /// Shaped like classification: two consumers, one topic both read and written.
    static SPEC: ServiceSpec = ServiceSpec {
        name: "ranker",
        grpc_services: &[],
        descriptor_set: &[],
        migrations: &NO_MIGRATIONS,
        consumes: &[("census", &["census.events"]), ("notices", &["notices"])],
        produces: &["ranks", "notices"],
        vars: &[],
    };

    #[test]
    fn kafka_use_lists_each_read_with_its_group_and_each_write_once() {
        assert_eq!(
            SPEC.kafka_use(),
            [
                "consume\tcensus.events\tranker.census",
                "consume\tnotices\tranker.notices",
                "produce\tranks",
                "produce\tnotices",
                "produce\tcensus.events.dlq",
                "produce\tnotices.dlq",
            ]
        );
    }

    #[test]
    fn topics_are_the_reads_and_writes_once_each() {
        assert_eq!(SPEC.topics(), ["census.events", "notices", "ranks"]);
    }

    #[test]
    fn only_a_declared_consumer_with_its_declared_topics_is_accepted() {
        assert!(SPEC.declares_consumer("census", &["census.events"]));
        assert!(!SPEC.declares_consumer("census", &["notices"]));
        assert!(!SPEC.declares_consumer("audit", &["census.events"]));
    }
}
