//! What the CLI tests share: running the real binary, and registering enterprises with a
//! census started by `testkit::spawn`.

#![allow(dead_code)] // each test crate uses its own part

use std::{process::Output, time::Duration};

use haicheng_proto::{
    census::v1::{
        EnterpriseSize, RegisterEnterpriseRequest, census_service_client::CensusServiceClient,
    },
    common::v1::Park,
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

/// A small enterprise registered in 2016, legal representative 张伟.
pub fn registration(
    uscc: &str,
    name: &str,
    park: Park,
    industry_class: &str,
) -> RegisterEnterpriseRequest {
    RegisterEnterpriseRequest {
        uscc: uscc.into(),
        name: name.into(),
        legal_representative: "张伟".into(),
        park: park as i32,
        industry_class: industry_class.into(),
        size: EnterpriseSize::Small as i32,
        registration_date: "2016-05-20".into(),
        ..Default::default()
    }
}
