use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    platform::main(
        &inspection::SPEC,
        inspection::Config::from_env,
        inspection::run,
    )
    .await
}
