//! A LISTEN/NOTIFY wake-up that survives a lost connection.
//!
//! A writer runs `pg_notify(channel, payload)` in its transaction, so the notification
//! arrives once what it announces is visible. A [`Listener`] holds one LISTEN connection and
//! turns what arrives into [`Wake`]s. PostgreSQL does not keep notifications for a listener
//! that is away: whenever the connection is (re)established, the caller hears
//! [`Wake::Resync`] and re-reads everything, since a notification may have been missed.
//! While the database cannot be reached, connecting is retried with backoff, so a caller
//! that also polls on a timer keeps working meanwhile.

use std::time::Duration;

use sqlx::{PgPool, postgres::PgListener};

use crate::backoff::Backoff;

/// What a wait for a notification ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// A notification arrived on one of the channels.
    Notified { channel: String, payload: String },
    /// The connection was (re)established: notifications may have been missed, re-read all.
    Resync,
}

/// One LISTEN connection on a fixed set of channels, reconnecting with backoff.
pub struct Listener {
    pool: PgPool,
    channels: Vec<String>,
    /// `None` until connected, and again after the connection failed.
    listener: Option<PgListener>,
    backoff: Backoff,
    /// No connection is tried before this, after a failed one; kept here rather than in a
    /// sleep so a caller's `select!` dropping `next` does not defeat the backoff.
    retry_at: Option<tokio::time::Instant>,
}

impl Listener {
    /// Listens on `channels` once [`next`](Self::next) is first awaited.
    pub fn new(pool: PgPool, channels: &[&str]) -> Self {
        Self {
            pool,
            channels: channels.iter().map(|c| c.to_string()).collect(),
            listener: None,
            retry_at: None,
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(10)),
        }
    }

    /// Waits for the next wake-up. Cancel-safe: a `select!` may drop it at any point, and
    /// a notification not yet returned stays for the next call.
    pub async fn next(&mut self) -> Wake {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                if let Some(at) = self.retry_at {
                    tokio::time::sleep_until(at).await;
                }
                match self.connect().await {
                    Ok(listener) => {
                        self.listener = Some(listener);
                        self.backoff.reset();
                        self.retry_at = None;
                        return Wake::Resync;
                    }
                    Err(err) => {
                        tracing::warn!(
                            error = %err,
                            channels = ?self.channels,
                            "LISTEN failed; retrying with backoff"
                        );
                        self.retry_at =
                            Some(tokio::time::Instant::now() + self.backoff.next_delay());
                        continue;
                    }
                }
            };
            return match listener.try_recv().await {
                Ok(Some(notification)) => Wake::Notified {
                    channel: notification.channel().to_string(),
                    payload: notification.payload().to_string(),
                },
                // The connection dropped; the next `try_recv` reconnects.
                Ok(None) => Wake::Resync,
                Err(err) => {
                    tracing::warn!(error = %err, channels = ?self.channels, "LISTEN connection failed");
                    self.listener = None;
                    Wake::Resync
                }
            };
        }
    }

    async fn connect(&self) -> sqlx::Result<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener
            .listen_all(self.channels.iter().map(String::as_str))
            .await?;
        Ok(listener)
    }
}
