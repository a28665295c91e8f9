//! `haicheng`: the platform's command-line client.
//!
//! `haicheng health` asks whether the services are up; `haicheng census import FILE.csv`
//! imports census returns ([`census`]); the classification and notice commands arrive with
//! their services.

mod census;
mod census_csv;
mod client;
mod demo;
mod dev;
mod load;

use std::{process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use tonic::transport::Endpoint;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

#[derive(Parser)]
#[command(
    name = "haicheng",
    version,
    about = "Client of the Haicheng industry platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ask each service for its gRPC health status.
    Health {
        /// Service addresses as NAME=HOST:PORT; the local defaults when none are given.
        #[arg(value_name = "NAME=HOST:PORT")]
        services: Vec<String>,
    },
    /// The whole platform on this machine: local stack, services, demo data (make run).
    Dev(dev::DevArgs),
    /// The census service: import returns.
    Census {
        #[command(subcommand)]
        command: census::CensusCommand,
    },
}

const LOCAL_SERVICES: [(&str, &str); 4] = [
    ("census", "127.0.0.1:50051"),
    ("classification", "127.0.0.1:50052"),
    ("land-parcel", "127.0.0.1:50053"),
    ("trade-fair", "127.0.0.1:50054"),
];

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Health { services } => health(services).await,
        Command::Census { command } => census::run(command).await,
        Command::Dev(args) => dev::run(args).await,
    }
}

async fn health(services: Vec<String>) -> ExitCode {
    let targets: Vec<(String, String)> = if services.is_empty() {
        LOCAL_SERVICES
            .iter()
            .map(|(n, a)| (n.to_string(), a.to_string()))
            .collect()
    } else {
        let mut targets = Vec::new();
        for spec in services {
            let Some((name, address)) = spec.split_once('=') else {
                eprintln!("error: {spec:?} is not NAME=HOST:PORT");
                return ExitCode::from(2);
            };
            targets.push((name.to_string(), address.to_string()));
        }
        targets
    };
    let mut all_serving = true;
    for (name, address) in targets {
        let status = check(&address).await;
        let serving = matches!(status, Ok(ServingStatus::Serving));
        all_serving &= serving;
        match status {
            Ok(status) => println!("{name:<16} {address:<22} {}", status.as_str_name()),
            Err(err) => println!("{name:<16} {address:<22} DOWN ({err})"),
        }
    }
    if all_serving {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub(crate) async fn check(address: &str) -> anyhow::Result<ServingStatus> {
    let channel = Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .connect()
        .await?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    Ok(response.into_inner().status())
}
