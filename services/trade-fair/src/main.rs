use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    platform::main(
        &trade_fair::SPEC,
        trade_fair::Config::from_env,
        trade_fair::run,
    )
    .await
}
