//! `haicheng dev`: the whole platform on one machine.
//!
//! Starts the local stack (`scripts/stack`: a private PostgreSQL and an Apache Kafka broker under
//! `.local/stack`), one database per service, and the six services as separate processes
//! (the binaries beside this one; logs in `.local/logs`); waits until every service reports
//! SERVING; loads the demo data set on first start; prints the addresses, the development
//! tokens and a short tour; and runs until Ctrl-C, when it stops the services (SIGTERM:
//! NOT_SERVING, drain, commit) in the reverse order of their start, then the stack.
//! PostgreSQL keeps its data under `.local/`, so a restart finds everything again.
//!
//! Meanwhile it supervises the services as a kubelet would: a process that dies is reported
//! (its exit status or signal first, then the last lines of its log) and started again after
//! an exponential back-off (1 s doubling to 60 s, reset once it ran for a minute), while the
//! others keep running. Logs are appended across starts, each start marked by a line.
//!
//! Every service serves mutual TLS with a certificate of a local CA made once under
//! `.local/tls` ([`crate::dev_tls`]); `haicheng dev` connects with its client certificate, and
//! the banner prints the `export` that lets the tour's commands do the same.

use std::{
    io::Write,
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::{ExitCode, ExitStatus, Stdio},
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Args;
use platform::backoff::Backoff;
use sqlx::{Connection, PgConnection};
use tokio::{
    process::{Child, Command},
    time::Instant,
};

use crate::{
    client,
    demo::{self, load, tour::Tour},
    dev_tls::DevTls,
};

/// Lines of a dead process's log printed with its report.
const LOG_TAIL_LINES: usize = 12;
/// A restarted process that has run this long gets the shortest back-off again.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// The services, where they listen, in start order (census first: the others consume its
/// events).
const SERVICES: [(&str, &str); 6] = client::local::ALL;

/// Settings of one service in a development stack, besides those every service gets.
fn development_settings(name: &str) -> &'static [(&'static str, &'static str)] {
    match name {
        // No publicity window (a development setting; clusters set 5 working days): the demo
        // and the tour finalize a round as soon as it is published.
        "support" => &[("SUPPORT_PUBLICITY_WORKING_DAYS", "0")],
        _ => &[],
    }
}

#[derive(Args)]
pub struct DevArgs {
    /// Folder for the stack's data and the logs.
    #[arg(long, default_value = ".local")]
    dir: PathBuf,
    /// Seed of the demo data set loaded on first start.
    #[arg(long, default_value_t = demo::DEFAULT_SEED)]
    seed: u64,
    /// Do not load the demo data set.
    #[arg(long)]
    no_demo: bool,
}

/// A supervised service process.
struct Service {
    name: &'static str,
    address: String,
    program: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    /// The running process; `None` while it waits for its restart.
    child: Option<Child>,
    started: Instant,
    backoff: Backoff,
    /// When a dead process is started again.
    restart_at: Option<Instant>,
    restarts: u32,
    /// Restarted and not yet reported SERVING.
    awaiting_serving: bool,
}

impl Service {
    /// Starts (or restarts) the process; its output is appended to its log.
    fn spawn(&mut self) -> anyhow::Result<()> {
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        writeln!(
            log,
            "----- haicheng dev: starting {} at {} -----",
            self.name,
            chrono::Utc::now().to_rfc3339()
        )?;
        let child = Command::new(&self.program)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            // Its own process group: Ctrl-C in the terminal reaches only `haicheng dev`, which
            // then stops the services one by one, instead of all of them at once.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.name))?;
        self.child = Some(child);
        self.started = Instant::now();
        Ok(())
    }

    /// The exit status if the process has died since the last look.
    fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        let status = child.try_wait()?;
        if status.is_some() {
            self.child = None;
        }
        Ok(status)
    }

    /// What happened and the end of its log, cause first.
    fn report_death(&self, status: ExitStatus) -> String {
        let mut report = format!("{} {}", self.name, describe(status));
        report.push_str(&format!("; last lines of {}:\n", self.log.display()));
        for line in log_tail(&self.log, LOG_TAIL_LINES) {
            report.push_str("  | ");
            report.push_str(&line);
            report.push('\n');
        }
        report
    }
}

/// "exited with status 1", "was killed by signal 9 (SIGKILL)".
fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    match status.signal() {
        Some(signal) => {
            let name = match signal {
                libc::SIGKILL => " (SIGKILL)",
                libc::SIGTERM => " (SIGTERM)",
                libc::SIGINT => " (SIGINT)",
                libc::SIGABRT => " (SIGABRT)",
                libc::SIGSEGV => " (SIGSEGV)",
                libc::SIGBUS => " (SIGBUS)",
                _ => "",
            };
            format!("was killed by signal {signal}{name}")
        }
        None => format!("ended ({status})"),
    }
}

/// The last `count` lines of a log (long lines cut), empty if it cannot be read.
fn log_tail(path: &Path, count: usize) -> Vec<String> {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..]
        .iter()
        .map(|line| match line.char_indices().nth(300) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_string(),
        })
        .collect()
}

pub async fn run(args: DevArgs) -> ExitCode {
    match dev(args).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dev(args: DevArgs) -> anyhow::Result<ExitCode> {
    let repo = repo_root();
    let binaries = std::env::current_exe()?
        .parent()
        .context("the binary's folder")?
        .to_path_buf();
    for (name, _) in SERVICES {
        if !binaries.join(name).exists() {
            bail!(
                "{} is missing: build the services first (cargo build --workspace --bins, as `make run` does)",
                binaries.join(name).display()
            );
        }
    }
    std::fs::create_dir_all(args.dir.join("logs"))?;
    let names = SERVICES.map(|(name, _)| name);
    let tls = DevTls::prepare(&args.dir.join("tls"), &names)
        .context("making the local CA and certificates")?;
    client::use_tls(Some(&tls.client_files()))?;
    let stack_dir = std::path::absolute(args.dir.join("stack"))?;

    let status = std::process::Command::new(repo.join("scripts/stack"))
        .arg("up")
        .arg(&stack_dir)
        .status()?;
    match status.code() {
        Some(0) => {}
        // scripts/stack has said which prerequisite is missing and how to get it.
        Some(3) => return Ok(ExitCode::from(3)),
        _ => bail!(
            "starting the local stack failed (scripts/stack up {})",
            stack_dir.display()
        ),
    }
    let env = std::fs::read_to_string(stack_dir.join("env"))?;
    let database_url = env_value(&env, "DATABASE_URL")?;
    let kafka = env_value(&env, "KAFKA_BOOTSTRAP")?;

    let mut services = Vec::new();
    let started = start_services(
        &binaries,
        &args.dir.join("logs"),
        &database_url,
        &kafka,
        &tls,
        &mut services,
    )
    .await;
    let outcome = match started {
        Ok(()) => serve(&args, &database_url, &kafka, &tls, &mut services).await,
        Err(err) => Err(err),
    };
    stop(&mut services).await;
    let _ = std::process::Command::new(repo.join("scripts/stack"))
        .arg("down")
        .arg(&stack_dir)
        .status();
    outcome
}

/// After start: demo data once, the banner, then supervise the services until Ctrl-C.
async fn serve(
    args: &DevArgs,
    database_url: &str,
    kafka: &str,
    tls: &DevTls,
    services: &mut [Service],
) -> anyhow::Result<ExitCode> {
    let marker = args.dir.join("demo-loaded");
    let (census, classification, land, fair, support, inspection) = (
        services[0].address.clone(),
        services[1].address.clone(),
        services[2].address.clone(),
        services[3].address.clone(),
        services[4].address.clone(),
        services[5].address.clone(),
    );
    let demo = async {
        if args.no_demo || marker.exists() {
            return Ok(());
        }
        let targets = load::Targets {
            census: &census,
            classification: &classification,
            land: &land,
            fair: &fair,
            support: &support,
            inspection: &inspection,
        };
        let loaded = load::demo(targets, args.seed)
            .await
            .context("loading the demo data")?;
        let mut marker_text = format!("seed {}\nround {}\n", args.seed, loaded.round);
        if let Some(visit) = &loaded.visit {
            marker_text.push_str(&format!("visit {} {}\n", visit.visit, visit.uscc));
        }
        std::fs::write(&marker, marker_text)?;
        anyhow::Ok(())
    };
    tokio::pin!(demo);
    let mut demo_pending = true;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => {
                eprintln!("\nstopping…");
                return Ok(ExitCode::SUCCESS);
            }
            loaded = &mut demo, if demo_pending => {
                demo_pending = false;
                if let Err(err) = loaded {
                    eprintln!("error: {err:#}; it is tried again on the next start");
                }
                print_banner(database_url, kafka, services, tls, &args.dir, args.seed);
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => supervise(services).await?,
        }
    }
}

/// One look at every service: report and schedule the restart of the dead, restart those
/// whose back-off has passed, and say when a restarted one serves again.
async fn supervise(services: &mut [Service]) -> anyhow::Result<()> {
    for service in services.iter_mut() {
        if let Some(status) = service.exited()? {
            if service.started.elapsed() >= STABLE_AFTER {
                service.backoff.reset();
            }
            let delay = service.backoff.next_delay();
            eprint!("{}", service.report_death(status));
            eprintln!(
                "{} restarts in {} s; the other services keep running",
                service.name,
                delay.as_secs()
            );
            service.restart_at = Some(Instant::now() + delay);
            service.awaiting_serving = false;
        }
        if service.restart_at.is_some_and(|at| Instant::now() >= at) {
            service.restart_at = None;
            service.restarts += 1;
            service.spawn()?;
            service.awaiting_serving = true;
            eprintln!(
                "{} started again (restart {})",
                service.name, service.restarts
            );
        }
        if service.awaiting_serving
            && service.child.is_some()
            && matches!(
                crate::check(&service.address).await,
                Ok(tonic_health::pb::health_check_response::ServingStatus::Serving)
            )
        {
            service.awaiting_serving = false;
            eprintln!("{:<16} {:<18} SERVING again", service.name, service.address);
        }
    }
    Ok(())
}

async fn start_services(
    binaries: &Path,
    logs: &Path,
    database_url: &str,
    kafka: &str,
    tls: &DevTls,
    services: &mut Vec<Service>,
) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(database_url)
        .await
        .context("connecting to the local PostgreSQL")?;
    // The services' runtime role, created once. The local cluster trusts local connections,
    // so it needs no password (nothing to generate, store or print).
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DO $$ BEGIN CREATE ROLE {RUNTIME_ROLE} LOGIN;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )))
    .execute(&mut admin)
    .await
    .context("creating the runtime role")?;
    for (name, address) in SERVICES {
        let database = name.replace('-', "_");
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&database)
                .fetch_one(&mut admin)
                .await?;
        if !exists {
            // The name is one of ours, never input.
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
                .execute(&mut admin)
                .await?;
        }
        let address = address.to_string();
        let owner_url = with_database(database_url, &database);
        let runtime_url = with_user(&owner_url, RUNTIME_ROLE);
        let env = [
            // Served as the runtime role; `migrate` below runs as the owner first.
            ("DATABASE_URL", runtime_url),
            ("KAFKA_BOOTSTRAP", kafka.to_string()),
            ("GRPC_ADDR", address.clone()),
            ("SHUTDOWN_GRACE_MS", "0".to_string()),
            // Asked for explicitly: the development tokens printed below work only so.
            ("AUTH_DEVELOPMENT", "true".to_string()),
            // A service restarted after a crash takes its partitions back at once.
            ("KAFKA_GROUP_INSTANCE_ID", format!("{name}-dev")),
        ];
        let mut env: Vec<(String, String)> = env.map(|(k, v)| (k.to_string(), v)).to_vec();
        env.extend(
            development_settings(name)
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        env.extend(tls.service_env(name)?);
        let mut service = Service {
            name,
            address,
            program: binaries.join(name),
            env,
            log: logs.join(format!("{name}.log")),
            child: None,
            started: Instant::now(),
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            restart_at: None,
            restarts: 0,
            awaiting_serving: false,
        };
        migrate(&service, &owner_url).await?;
        service.spawn()?;
        services.push(service);
    }
    for service in services.iter_mut() {
        wait_serving(service, Duration::from_secs(90)).await?;
        eprintln!("{:<16} {:<18} SERVING", service.name, service.address);
    }
    Ok(())
}

/// The role the services serve as; the stack's administrator owns the databases and
/// migrates them.
const RUNTIME_ROLE: &str = "haicheng_runtime";

/// `<service> migrate` as the owner, as the Kubernetes Job does before the Deployment.
async fn migrate(service: &Service, owner_url: &str) -> anyhow::Result<()> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&service.log)
        .with_context(|| format!("opening {}", service.log.display()))?;
    let status = tokio::process::Command::new(&service.program)
        .arg("migrate")
        .envs(service.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("DATABASE_OWNER_URL", owner_url)
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .await
        .with_context(|| format!("running {} migrate", service.name))?;
    anyhow::ensure!(
        status.success(),
        "{} migrate failed ({status}); see {}",
        service.name,
        service.log.display()
    );
    Ok(())
}

/// The same connection string logging in as `user` (no password).
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let host_start = rest
        .find('/')
        .map_or(rest, |slash| &rest[..slash])
        .rfind('@')
        .map_or(0, |at| at + 1);
    format!("{scheme}://{user}@{}", &rest[host_start..])
}

async fn wait_serving(service: &mut Service, timeout: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if let Some(status) = service.exited()? {
            bail!(
                "during start-up, {}",
                service.report_death(status).trim_end()
            );
        }
        if matches!(
            crate::check(&service.address).await,
            Ok(tonic_health::pb::health_check_response::ServingStatus::Serving)
        ) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("{} did not report SERVING within {timeout:?}", service.name)
}

/// SIGTERM to each running service, last started first; each gets 30 s to drain. One that
/// is not running (dead, waiting for its restart) is said to be so, not "stopped".
async fn stop(services: &mut [Service]) {
    for service in services.iter_mut().rev() {
        match service.exited() {
            Ok(Some(status)) => {
                eprint!("{}", service.report_death(status));
                continue;
            }
            Ok(None) if service.child.is_none() => {
                eprintln!("{} was not running", service.name);
                continue;
            }
            _ => {}
        }
        let Some(child) = service.child.as_mut() else {
            continue;
        };
        if let Some(pid) = child.id() {
            // Already gone is fine: the wait below reports how it ended.
            let _ = platform::process::signal(pid, libc::SIGTERM);
        }
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(Ok(status)) if status.success() => eprintln!("{} stopped", service.name),
            Ok(Ok(status)) => eprintln!("{} stopped: {}", service.name, describe(status)),
            Ok(Err(err)) => eprintln!("{}: waiting for it failed: {err}", service.name),
            Err(_) => {
                eprintln!("{} did not stop within 30 s; killing it", service.name);
                let _ = child.kill().await;
            }
        }
        service.child = None;
    }
}

fn print_banner(
    database_url: &str,
    kafka: &str,
    services: &[Service],
    tls: &DevTls,
    dir: &Path,
    seed: u64,
) {
    println!("\nready.\n");
    for service in services {
        println!("  {:<16} {}  (mutual TLS)", service.name, service.address);
    }
    println!(
        "  {:<16} {database_url}  (one database per service)",
        "PostgreSQL"
    );
    println!("  {:<16} {kafka}", "Kafka");
    println!("  {:<16} {}", "logs", dir.join("logs").display());
    println!("\ndevelopment tokens (Authorization: Bearer TOKEN):");
    for department in platform::auth::Department::ALL {
        println!(
            "  {:<20} {}",
            department.as_str(),
            platform::auth::TokenTable::development_token(department)
        );
    }
    println!("  {:<20} dev-census-import", "census import");
    println!(
        "  {:<20} dev-enterprise-<USCC>  (that enterprise: its own file, class, explanation, invitations and objections)",
        "an enterprise"
    );
    println!(
        "\nthe services serve mutual TLS with certificates of a local CA ({}); first, in each terminal:",
        dir.join("tls").display()
    );
    println!("  {}", tls.exports());
    println!("\ntry (haicheng is target/debug/haicheng; -o json for scripts):");
    let marker = std::fs::read_to_string(dir.join("demo-loaded")).unwrap_or_default();
    let round = marker
        .lines()
        .find_map(|line| line.strip_prefix("round ").map(str::to_string));
    let visit = marker.lines().find_map(|line| {
        let (visit, uscc) = line.strip_prefix("visit ")?.split_once(' ')?;
        Some(demo::inspection::DemoVisit {
            visit: visit.to_string(),
            uscc: uscc.to_string(),
        })
    });
    for line in Tour::of(seed).with_round(round).with_visit(visit).lines() {
        println!("  {line}");
    }
    println!("\nOn a first start classification is still ranking the demo data for about 15 s.");
    println!(
        "Notices go out once a period's classes have not changed for CLASSIFICATION_NOTICE_SETTLE (30 s);"
    );
    println!("a class that moves and moves back meanwhile sends none.");
    println!(
        "support runs with SUPPORT_PUBLICITY_WORKING_DAYS=0 (a development setting: no publicity window,"
    );
    println!("so a round can be finalized at once; clusters publish a list for 5 working days).");
    println!("A service that dies is reported and started again; Ctrl-C stops everything.");
}

/// The repository, for `scripts/` (this command is a development tool run from a checkout).
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn env_value(env: &str, name: &str) -> anyhow::Result<String> {
    env.lines()
        .find_map(|line| line.strip_prefix(&format!("export {name}=")))
        .map(|v| v.trim_matches(['"', '\'']).to_string())
        .with_context(|| format!("{name} missing from the stack's env file"))
}

/// The same connection string naming another database.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{database}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(program: &str, log: PathBuf) -> Service {
        Service {
            name: "flaky",
            // Nothing listens here: the SERVING check after a restart fails at once.
            address: "127.0.0.1:1".into(),
            program: program.into(),
            env: Vec::new(),
            log,
            child: None,
            started: Instant::now(),
            backoff: Backoff::new(Duration::from_millis(10), Duration::from_millis(40)),
            restart_at: None,
            restarts: 0,
            awaiting_serving: false,
        }
    }

    #[test]
    fn the_cause_of_a_death_is_said_plainly() {
        assert_eq!(
            describe(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(libc::SIGKILL)),
            "was killed by signal 9 (SIGKILL)"
        );
    }

    #[tokio::test]
    async fn a_process_that_dies_is_restarted_with_back_off_and_its_log_kept() {
        let dir = std::env::temp_dir().join(format!("haicheng-dev-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("flaky.log");
        std::fs::write(&log, "a line from an earlier run\n").unwrap();
        let mut services = [service("false", log.clone())];
        services[0].spawn().unwrap();

        let deadline = Instant::now() + Duration::from_secs(20);
        while services[0].restarts < 3 {
            assert!(Instant::now() < deadline, "three restarts within 20 s");
            supervise(&mut services).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.starts_with("a line from an earlier run\n"), "{text}");
        assert_eq!(
            text.matches("----- haicheng dev: starting flaky").count(),
            4,
            "the first start and three restarts, appended: {text}"
        );
        let report = services[0].report_death(ExitStatus::from_raw(1 << 8));
        assert!(
            report.starts_with("flaky exited with status 1; last lines of"),
            "{report}"
        );
        assert!(
            report.contains("| ----- haicheng dev: starting flaky"),
            "{report}"
        );
        stop(&mut services).await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_runtime_url_is_the_owner_url_with_the_runtime_role() {
        assert_eq!(
            with_user("postgres://haicheng@127.0.0.1:5432/census", RUNTIME_ROLE),
            "postgres://haicheng_runtime@127.0.0.1:5432/census"
        );
        assert_eq!(
            with_user(
                "postgres://127.0.0.1:5432/census?sslmode=disable",
                RUNTIME_ROLE
            ),
            "postgres://haicheng_runtime@127.0.0.1:5432/census?sslmode=disable"
        );
    }
}
