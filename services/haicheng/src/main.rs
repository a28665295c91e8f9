//! `haicheng`: the platform's command-line client.
//!
//! `haicheng dev` runs the whole platform on this machine ([`dev`]); `haicheng health` asks
//! whether the services are up. The client commands, one module per group:
//!
//! - `haicheng enterprise show|list` ([`enterprise`]), `haicheng census submit|import`
//!   ([`census`]): the census service;
//! - `haicheng class show|list|explain|distribution|publish` ([`classes`]) and
//!   `haicheng model get|set` ([`model`]): the classification service;
//! - `haicheng objection file|decide|list` ([`objections`]): objections to a published
//!   ranking (the classification service);
//! - `haicheng notices list|ack|watch` ([`notices`]): the notice service (served by the
//!   classification process), for the caller's own department;
//! - `haicheng fair …` ([`fair`]): the trade-fair service;
//! - `haicheng policy …` ([`policy`]): the support service: policies (put from a JSON file,
//!   [`policy_file`]), rounds and objections, payments, the calculator, applications,
//!   reports and an enterprise's benefits;
//! - `haicheng inspection …` ([`inspection`]): the inspection service: item lists, risk
//!   tiers, yearly plans (drawn, shown with their joint-visit rate), visits, approval and
//!   inspection codes, results, ratings and their aggregates, visits per firm and year;
//! - `haicheng land parcels|parcel|grant|evaluations|units|queue` ([`land`]): the
//!   land-parcel service;
//! - `haicheng audit [--service S] [--principal P] [--uscc U] [--since T] [--until T]`
//!   ([`audit`]): every service's audit records merged newest first (commerce);
//! - `haicheng replay SERVICE --since TIME` ([`replay`]): re-publish a service's retained
//!   outbox events with their original ids (an operator's command, on the service's database);
//! - `haicheng token new` ([`token`]): a machine account's static token and its
//!   `AUTH_TOKENS` entry (an operator's command, offline).
//!
//! Every client command takes the global options `--token` (`HAICHENG_TOKEN`), `--census`
//! (`HAICHENG_CENSUS_ADDR`), `--classification` (`HAICHENG_CLASSIFICATION_ADDR`), `--land`
//! (`HAICHENG_LAND_ADDR`), `--trade-fair` (`HAICHENG_TRADE_FAIR_ADDR`), `--support`
//! (`HAICHENG_SUPPORT_ADDR`), `--inspection` (`HAICHENG_INSPECTION_ADDR`), `--ca`,
//! `--cert` and `--key` (`HAICHENG_CA`, `HAICHENG_CERT`, `HAICHENG_KEY`: TLS and mutual TLS,
//! [`client`]) and `-o table|json` ([`output`]); errors and exit codes are in [`errors`].

mod audit;
mod census;
mod classes;
mod client;
mod demo;
mod dev;
mod dev_tls;
mod enterprise;
mod errors;
mod fair;
mod inspection;
mod land;
mod land_disposal;
mod model;
mod notices;
mod objections;
mod output;
mod policy;
mod policy_file;
mod publication;
mod replay;
mod token;

use std::{process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use haicheng::{census_csv, enums, return_file};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::errors::CliError;

#[derive(Parser)]
#[command(
    name = "haicheng",
    version,
    about = "Client of the Haicheng industry platform"
)]
struct Cli {
    #[command(flatten)]
    connect: client::Connect,
    /// Output: a table for people, or JSON for scripts.
    #[arg(
        short = 'o',
        long = "output",
        global = true,
        value_enum,
        default_value_t
    )]
    format: output::Format,
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
    /// Enterprises: the registry and each enterprise's file.
    Enterprise {
        #[command(subcommand)]
        command: enterprise::EnterpriseCommand,
    },
    /// The census service: submit and import returns.
    Census {
        #[command(subcommand)]
        command: census::CensusCommand,
    },
    /// Classes A, B and C: show, list, explain, distribution; publish a period.
    Class {
        #[command(subcommand)]
        command: classes::ClassCommand,
    },
    /// The classification model: get and set.
    Model {
        #[command(subcommand)]
        command: model::ModelCommand,
    },
    /// Objections to a published ranking: file, decide, list.
    Objection {
        #[command(subcommand)]
        command: objections::ObjectionCommand,
    },
    /// Support-policy notices of your department: list, acknowledge, watch.
    Notices {
        #[command(subcommand)]
        command: notices::NoticesCommand,
    },
    /// Land: parcels, grants, evaluations, units, the land queue.
    Land(land::LandArgs),
    /// Re-publish a service's retained events (same event ids) after a broker lost some.
    Replay(replay::ReplayArgs),
    /// Trade fairs: fairs, invitations, applications, allocation, offers, outcomes, subsidies.
    Fair(fair::FairArgs),
    /// Support policies: put, list, rounds, objections, payments, the calculator, applications.
    Policy(policy::PolicyArgs),
    /// Inspections: items, risk tiers, plans, visits, codes, results, ratings, visits per firm.
    Inspection(inspection::InspectionArgs),
    /// Static tokens of machine accounts: `token new` prints one and its AUTH_TOKENS entry.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// The audit log of every service: refusals, enterprise-data reads, notice reads (commerce).
    Audit(audit::AuditArgs),
}

/// What every client command needs: where the services are, who calls, how to print.
pub struct Context {
    pub connect: client::Connect,
    pub format: output::Format,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // `haicheng dev` connects with the certificates it makes; every other command with the
    // options' (plaintext when they name no CA).
    if !matches!(cli.command, Command::Dev(_)) {
        let chosen = cli.connect.tls_files().and_then(|files| {
            client::use_tls(files.as_ref()).map_err(|err| CliError::usage(format!("{err:#}")))
        });
        if let Err(err) = chosen {
            eprint!("{}", err.render(cli.format));
            return ExitCode::from(err.exit_code());
        }
    }
    let context = Context {
        connect: cli.connect,
        format: cli.format,
    };
    match cli.command {
        Command::Health { services } => health(services).await,
        Command::Dev(args) => dev::run(args).await,
        Command::Census { command } => census::run(command, &context).await,
        Command::Enterprise { command } => {
            finish(enterprise::run(command, &context).await, &context)
        }
        Command::Class { command } => finish(classes::run(command, &context).await, &context),
        Command::Model { command } => finish(model::run(command, &context).await, &context),
        Command::Objection { command } => {
            finish(objections::run(command, &context).await, &context)
        }
        Command::Notices { command } => finish(notices::run(command, &context).await, &context),
        Command::Land(args) => finish(land::run(args, &context).await, &context),
        Command::Replay(args) => replay::run(args, &context).await,
        Command::Fair(args) => finish(fair::run(args, &context).await, &context),
        Command::Policy(args) => finish(policy::run(args, &context).await, &context),
        Command::Inspection(args) => finish(inspection::run(args, &context).await, &context),
        Command::Token { command } => token::run(command, context.format),
        Command::Audit(args) => finish(audit::run(args, &context).await, &context),
    }
}

/// The exit code of a client command, with its error printed on stderr.
pub(crate) fn finish(result: Result<(), CliError>, context: &Context) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprint!("{}", err.render(context.format));
            ExitCode::from(err.exit_code())
        }
    }
}

async fn health(services: Vec<String>) -> ExitCode {
    let targets: Vec<(String, String)> = if services.is_empty() {
        client::local::ALL
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
            Ok(status) => {
                // A service in development mode reports it in a health entry of its own.
                let development = serving
                    && matches!(
                        check_entry(&address, platform::server::DEVELOPMENT_MODE_HEALTH).await,
                        Ok(ServingStatus::Serving)
                    );
                let mode = if development {
                    " (development mode)"
                } else {
                    ""
                };
                println!("{name:<16} {address:<22} {}{mode}", status.as_str_name())
            }
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
    check_entry(address, "").await
}

/// The status of one health entry (`""`: the whole server).
async fn check_entry(address: &str, service: &str) -> anyhow::Result<ServingStatus> {
    let channel = client::endpoint(address)?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .connect()
        .await?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await?;
    Ok(response.into_inner().status())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_client_certificate_needs_its_key_and_a_ca() {
        let files = |args: &[&str]| {
            let args = [&["haicheng"][..], args, &["health"]].concat();
            Cli::try_parse_from(args).unwrap().connect.tls_files()
        };
        assert_eq!(files(&[]).unwrap(), None);
        let ca_only = files(&["--ca", "ca.pem"]).unwrap().unwrap();
        assert_eq!(
            (ca_only.ca.to_str(), ca_only.identity),
            (Some("ca.pem"), None)
        );
        let mutual = files(&["--ca", "ca.pem", "--cert", "c.pem", "--key", "c.key"]).unwrap();
        assert!(mutual.unwrap().identity.is_some());
        for (args, needle) in [
            (&["--ca", "ca.pem", "--cert", "c.pem"][..], "needs --key"),
            (&["--ca", "ca.pem", "--key", "c.key"][..], "needs --cert"),
            (&["--cert", "c.pem", "--key", "c.key"][..], "need --ca"),
        ] {
            let err = files(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains(needle), "{args:?}: {err}");
        }
    }

    #[test]
    fn global_options_go_anywhere_after_the_program_name() {
        let cli = Cli::try_parse_from([
            "haicheng",
            "census",
            "import",
            "returns.csv",
            "--census",
            "10.0.0.1:7000",
            "--token",
            "dev-census-import",
            "-o",
            "json",
        ])
        .unwrap();
        assert_eq!(cli.connect.census, "10.0.0.1:7000");
        assert_eq!(cli.connect.token.as_deref(), Some("dev-census-import"));
        assert_eq!(cli.format, output::Format::Json);
        let cli =
            Cli::try_parse_from(["haicheng", "-o", "table", "class", "distribution"]).unwrap();
        assert_eq!(cli.format, output::Format::Table);
        assert!(Cli::try_parse_from(["haicheng", "-o", "yaml", "class", "distribution"]).is_err());
    }

    #[test]
    fn every_service_address_is_a_global_option_defaulting_to_the_local_one() {
        let defaults = Cli::try_parse_from(["haicheng", "health"]).unwrap().connect;
        assert_eq!(
            [
                defaults.census,
                defaults.classification,
                defaults.land,
                defaults.trade_fair,
                defaults.support,
                defaults.inspection
            ],
            client::local::ALL.map(|(_, address)| address.to_string())
        );
        let cli = Cli::try_parse_from([
            "haicheng",
            "audit",
            "--land",
            "10.0.0.3:7000",
            "--trade-fair",
            "10.0.0.4:7000",
        ])
        .unwrap();
        assert_eq!(cli.connect.land, "10.0.0.3:7000");
        assert_eq!(cli.connect.trade_fair, "10.0.0.4:7000");
        let cli = Cli::try_parse_from(["haicheng", "land", "--land", "10.0.0.3:7000", "parcels"])
            .unwrap();
        assert_eq!(cli.connect.land, "10.0.0.3:7000");
    }

    #[test]
    fn submit_needs_its_key_fields() {
        let ok = Cli::try_parse_from([
            "haicheng",
            "census",
            "submit",
            "--uscc",
            "91210381MA0Q12343L",
            "--period",
            "2025",
            "--request-id",
            "r-1",
            "--file",
            "return.json",
        ]);
        assert!(ok.is_ok());
        let missing = Cli::try_parse_from([
            "haicheng",
            "census",
            "submit",
            "--uscc",
            "91210381MA0Q12343L",
            "--period",
            "2025",
            "--file",
            "return.json",
        ]);
        assert!(missing.is_err(), "the request id is required");
    }
}
