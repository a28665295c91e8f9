//! What the CLI tests share: running the real binary, and registering enterprises with a
//! census started by `testkit::spawn`.

#![allow(dead_code)] // each test crate uses its own part

use std::{process::Output, time::Duration};

use haicheng_proto::census::v1::{
    RegisterEnterpriseRequest, census_service_client::CensusServiceClient,
};
use testkit::Service;

/// The `haicheng` binary, with no address or token from the caller's environment.
pub fn command(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_haicheng"));
    command
        .args(args)
        .env_remove("HAICHENG_TOKEN")
        .env_remove("HAICHENG_CENSUS_ADDR")
        .env_remove("HAICHENG_CLASSIFICATION_ADDR")
        .kill_on_drop(true);
    command
}

/// Runs `command` (made by [`command`] from `args`) to its end, within a minute, and prints
/// what it said so a failing test shows it.
pub async fn run(mut command: tokio::process::Command, args: &[&str]) -> Output {
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("haicheng finishes")
        .expect("running haicheng");
    println!(
        "$ haicheng {}\n{}{}exit {:?}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        output.status.code()
    );
    output
}

/// Registers `requests` with `census`, as commerce.
pub async fn register(
    census: &Service,
    requests: impl IntoIterator<Item = RegisterEnterpriseRequest>,
) {
    let mut client = CensusServiceClient::new(census.channel.clone());
    for request in requests {
        tokio::time::timeout(
            Duration::from_secs(60),
            client.register_enterprise(testkit::with_token("dev-commerce", request)),
        )
        .await
        .expect("the census answers")
        .expect("registered");
    }
}
