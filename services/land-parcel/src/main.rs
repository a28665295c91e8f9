use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    platform::main(
        &land_parcel::SPEC,
        land_parcel::Config::from_env,
        land_parcel::run,
    )
    .await
}
