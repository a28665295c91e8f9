use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    platform::main(&support::SPEC, support::Config::from_env, support::run).await
}
