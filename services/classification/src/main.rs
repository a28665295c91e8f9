use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    platform::main(
        &classification::SPEC,
        classification::Config::from_env,
        classification::run,
    )
    .await
}
