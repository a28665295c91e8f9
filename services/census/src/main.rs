use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    platform::main(&census::SPEC, census::Config::from_env, census::run).await
}
