//! PostgreSQL over TLS as a cluster runs it: the platform's pool connects with
//! `sslmode=verify-full` against the cluster's CA and the session is encrypted; a login
//! without TLS is rejected by the server, and a server whose certificate another CA signed is
//! refused by the client.

use std::time::Duration;

use secrecy::SecretString;
use sqlx::{Connection, PgConnection};

#[tokio::test(flavor = "multi_thread")]
async fn the_pool_verifies_the_server_and_a_plaintext_login_is_rejected() {
    let pg = testkit::Postgres::start_tls();
    let url = pg.admin_url();
    assert!(url.contains("sslmode=verify-full"), "{url}");

    let pool = platform::db::connect(&SecretString::from(url.clone()), 1, Duration::from_secs(30))
        .await
        .expect("a verified TLS connection");
    let (ssl, version): (bool, String) =
        sqlx::query_as("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(ssl, "the session is encrypted");
    assert!(version.starts_with("TLSv1."), "{version}");
    pool.close().await;

    let base = url.split('?').next().unwrap();
    let plaintext = PgConnection::connect(&format!("{base}?sslmode=disable"))
        .await
        .expect_err("a plaintext login was accepted");
    assert!(
        plaintext.to_string().contains("no encryption"),
        "{plaintext}"
    );

    // A CA of its own: the server's certificate is not signed by it.
    let other = tempfile::tempdir().unwrap();
    let made = std::process::Command::new(testkit::scripts_dir().join("tls-certs"))
        .arg(other.path())
        .arg("unused")
        .status()
        .unwrap();
    assert!(made.success());
    let wrong_ca = format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        other.path().join("ca.crt").display()
    );
    PgConnection::connect(&wrong_ca)
        .await
        .expect_err("a server certificate from another CA was trusted");
}
