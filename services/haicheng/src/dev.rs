//! `haicheng dev`: the whole platform on one machine.
//!
//! Starts the local stack (`scripts/stack`: a private PostgreSQL and the tansu broker under
//! `.local/stack`), one database per service, and the four services as separate processes
//! (the binaries beside this one; logs in `.local/logs`); waits until every service reports
//! SERVING; loads the demo data set on first start; prints the addresses, the development
//! tokens and a short tour; and runs until Ctrl-C, when it stops the services (SIGTERM:
//! NOT_SERVING, drain, commit) in the reverse order of their start, then the stack.
//! PostgreSQL keeps its data under `.local/`, so a restart finds everything again.

use std::{
    path::{Path, PathBuf},
    process::{ExitCode, Stdio},
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Args;
use sqlx::{Connection, PgConnection};
use tokio::process::{Child, Command};

use crate::{demo, load};

/// Where the services listen, in start order (census first: the others consume its events).
pub const SERVICES: [(&str, u16); 4] = [
    ("census", 50051),
    ("classification", 50052),
    ("land-parcel", 50053),
    ("trade-fair", 50054),
];

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

/// A running service process.
struct Service {
    name: &'static str,
    address: String,
    child: Child,
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
        &mut services,
    )
    .await;
    let outcome = match started {
        Ok(()) => serve(&args, &database_url, &kafka, &mut services).await,
        Err(err) => Err(err),
    };
    stop(&mut services).await;
    let _ = std::process::Command::new(repo.join("scripts/stack"))
        .arg("down")
        .arg(&stack_dir)
        .status();
    outcome
}

/// After start: demo data once, the banner, then wait for Ctrl-C or a service that dies.
async fn serve(
    args: &DevArgs,
    database_url: &str,
    kafka: &str,
    services: &mut [Service],
) -> anyhow::Result<ExitCode> {
    let marker = args.dir.join("demo-loaded");
    if !args.no_demo && !marker.exists() {
        let census = &services[0].address;
        load::demo(census, args.seed)
            .await
            .context("loading the demo data")?;
        std::fs::write(&marker, format!("seed {}\n", args.seed))?;
    }
    print_banner(database_url, kafka, services, &args.dir, args.seed);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                eprintln!("\nstopping…");
                return Ok(ExitCode::SUCCESS);
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                for service in services.iter_mut() {
                    if let Some(status) = service.child.try_wait()? {
                        bail!("{} exited ({status}); its log: {}", service.name, args.dir.join("logs").join(format!("{}.log", service.name)).display());
                    }
                }
            }
        }
    }
}

async fn start_services(
    binaries: &Path,
    logs: &Path,
    database_url: &str,
    kafka: &str,
    services: &mut Vec<Service>,
) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(database_url)
        .await
        .context("connecting to the local PostgreSQL")?;
    for (name, port) in SERVICES {
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
        let address = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
        let child = Command::new(binaries.join(name))
            .env("DATABASE_URL", with_database(database_url, &database))
            .env("KAFKA_BOOTSTRAP", kafka)
            .env("GRPC_ADDR", &address)
            .env("SHUTDOWN_GRACE_MS", "0")
            // A service restarted after a crash takes its partitions back at once.
            .env("KAFKA_GROUP_INSTANCE_ID", format!("{name}-dev"))
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        services.push(Service {
            name,
            address,
            child,
        });
    }
    for service in services.iter_mut() {
        wait_serving(service, Duration::from_secs(90)).await?;
        eprintln!("{:<16} {:<18} SERVING", service.name, service.address);
    }
    Ok(())
}

async fn wait_serving(service: &mut Service, timeout: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if let Some(status) = service.child.try_wait()? {
            bail!(
                "{} exited during start-up ({status}); see .local/logs/{}.log",
                service.name,
                service.name
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

/// SIGTERM to each service, last started first; each gets 30 s to drain.
async fn stop(services: &mut [Service]) {
    for service in services.iter_mut().rev() {
        if let Some(pid) = service.child.id() {
            // SAFETY: signalling a child process we started.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        match tokio::time::timeout(Duration::from_secs(30), service.child.wait()).await {
            Ok(_) => eprintln!("{} stopped", service.name),
            Err(_) => {
                eprintln!("{} did not stop within 30 s; killing it", service.name);
                let _ = service.child.kill().await;
            }
        }
    }
}

fn print_banner(database_url: &str, kafka: &str, services: &[Service], dir: &Path, seed: u64) {
    println!("\nready.\n");
    for service in services {
        println!("  {:<16} {}", service.name, service.address);
    }
    println!(
        "  {:<16} {database_url}  (one database per service)",
        "PostgreSQL"
    );
    println!("  {:<16} {kafka}", "Kafka (tansu)");
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
    let firm = demo::tour_firm(seed);
    println!("\ntry (haicheng is target/debug/haicheng; -o json for scripts):");
    for line in [
        "haicheng health".to_string(),
        "haicheng enterprise list --park nantai --token dev-commerce".to_string(),
        format!("haicheng enterprise show {firm} --token dev-commerce"),
        "haicheng class distribution --token dev-commerce".to_string(),
        format!("haicheng class explain {firm} --token dev-finance"),
        "haicheng notices watch --token dev-finance          (in a second terminal; Ctrl-C ends it)".to_string(),
        format!("haicheng census submit --uscc {firm} --period 2025 --request-id tour-1 --file services/haicheng/samples/return.json --token dev-commerce"),
        format!("haicheng class show {firm} --token dev-commerce     (a moment later: its new class)"),
        "haicheng notices list --token dev-finance".to_string(),
    ] {
        println!("  {line}");
    }
    println!("\nOn a first start classification is still ranking the demo data for about 15 s.");
    println!("Ctrl-C stops everything.");
}

/// The repository, for `scripts/` (this command is a development tool run from a checkout).
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn env_value(env: &str, name: &str) -> anyhow::Result<String> {
    env.lines()
        .find_map(|line| line.strip_prefix(&format!("export {name}=")))
        .map(|v| v.trim_matches(['"', '\'']).to_string())
        .with_context(|| format!("{name} missing from the stack's env file"))
}

/// The same connection string naming another database.
fn with_database(url: &str, database: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{database}"),
        None => url.to_string(),
    }
}
