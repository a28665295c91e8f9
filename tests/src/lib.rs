//! Helpers for the system tests: start a service's binary as a real process on a free port
//! (`testkit::process`, the launcher the bench uses too), wait for its health, stop it with a
//! signal.
//!
//! Every service runs with mutual TLS, as in a cluster: a certificate of the run's test CA
//! ([`pki`]) and that CA for its clients; the tests connect with a client certificate of the
//! same CA ([`ServiceProcess::channel`], [`cli_env`] for the `haicheng` binary).

pub mod chain;
pub mod checker;
pub mod cluster;
pub mod fixtures;
pub mod otlp;

use std::sync::OnceLock;

use platform::tls::ClientFiles;
pub use testkit::process::{ServiceProcess, binary};
use testkit::{process::Launch, tls::TestCa};

/// The six services, by binary name.
pub const SERVICES: [&str; 6] = [
    "census",
    "classification",
    "land-parcel",
    "trade-fair",
    "support",
    "inspection",
];

/// The client account of the tests' certificate.
pub const CLIENT_ACCOUNT: &str = "system-tests";

/// The test CA of this process, with the client certificate the tests present.
pub struct Pki {
    pub ca: TestCa,
    pub client: ClientFiles,
}

/// This process's test CA (made on first use; its temporary folder lives as long as the
/// process).
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = TestCa::new("haicheng system-tests CA");
        let client = ca.client_files(Some(&ca.client(CLIENT_ACCOUNT)));
        Pki { ca, client }
    })
}

/// The variables that make the `haicheng` binary connect as the tests do.
pub fn cli_env() -> Vec<(&'static str, String)> {
    let files = &pki().client;
    let (cert, key) = files
        .identity
        .clone()
        .expect("the tests' client certificate");
    vec![
        ("HAICHENG_CA", files.ca.display().to_string()),
        ("HAICHENG_CERT", cert.display().to_string()),
        ("HAICHENG_KEY", key.display().to_string()),
    ]
}

/// Starts `name` as in a cluster: migrated first by `<name> migrate` as the owner (as the
/// Job does), then served with mutual TLS, a fresh database and the shared broker, plus
/// `extra` variables; its log under `haicheng-system-tests` in the temporary folder. Does not
/// wait for it to serve ([`ServiceProcess::wait_serving`]).
pub async fn start(name: &'static str, extra: &[(&str, &str)]) -> ServiceProcess {
    Launch::new(binary(name), name)
        .vars(extra)
        .mutual_tls(&pki().ca, &pki().client)
        .migrate_first()
        .log_dir(std::env::temp_dir().join("haicheng-system-tests"))
        .start()
        .await
        .expect("starting the service")
}
