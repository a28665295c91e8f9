//! WatchNotices: a department's notices from a cursor on, then new ones as they commit.
//!
//! Wake-up: the consumer's insert runs `pg_notify('haicheng_notices', department)` in its
//! transaction, so the notification arrives when the notice is visible. One LISTEN connection
//! per process ([`Wakeups::listen`]) turns notifications into a per-department
//! `tokio::sync::watch` signal; streams never hold a connection while idle. A stream marks
//! the signal seen *before* it reads, so a notice committed between its read and its wait
//! still wakes it. Whenever the LISTEN connection was lost every stream is woken (a
//! notification may have been missed), and an idle stream re-reads every `watch_poll` anyway.
//!
//! Gaps and repeats: a stream reads `seq > cursor` in `seq` order and advances its cursor
//! only past what it yielded; notices commit in `seq` order (see `store`), so resuming from
//! the last cursor a client saw neither misses nor repeats a notice.

use std::{
    collections::{HashMap, VecDeque},
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use futures::Stream;
use haicheng_proto::policy::v1::WatchNoticesResponse;
use platform::{
    auth::Department,
    notify::{self, Wake},
};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::{
    model::Cursor,
    store::{Entry, NoticeStore, WAKE_CHANNEL},
};

/// Notices read per query while catching up.
const BATCH: i64 = 256;

/// The stream type of WatchNotices.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchNoticesResponse, Status>> + Send>>;

/// One wake-up signal per department.
#[derive(Clone)]
pub struct Wakeups(Arc<HashMap<Department, watch::Sender<()>>>);

impl Default for Wakeups {
    fn default() -> Self {
        Self(Arc::new(
            Department::ALL
                .into_iter()
                .map(|d| (d, watch::Sender::new(())))
                .collect(),
        ))
    }
}

impl Wakeups {
    fn subscribe(&self, department: Department) -> watch::Receiver<()> {
        self.0[&department].subscribe()
    }

    fn wake(&self, department: Department) {
        self.0[&department].send_replace(());
    }

    fn wake_all(&self) {
        for sender in self.0.values() {
            sender.send_replace(());
        }
    }

    /// Listens for inserts until `shutdown`; the LISTEN connection reconnects by itself.
    pub async fn listen(self, pool: PgPool, shutdown: CancellationToken) {
        let mut wakeups = notify::Listener::new(pool, &[WAKE_CHANNEL]);
        loop {
            let wake = tokio::select! {
                _ = shutdown.cancelled() => break,
                wake = wakeups.next() => wake,
            };
            match wake {
                Wake::Notified { payload, .. } => match Department::parse(&payload) {
                    Some(department) => self.wake(department),
                    None => self.wake_all(),
                },
                // Anything committed while nobody listened is read now.
                Wake::Resync => self.wake_all(),
            }
        }
    }
}

/// Everything one watch needs; moved through the stream's steps.
pub struct Watch {
    pub store: NoticeStore,
    pub department: Department,
    /// The last notice yielded (or the client's starting cursor).
    pub cursor: Cursor,
    pub wakeups: Wakeups,
    pub poll: Duration,
    pub shutdown: CancellationToken,
}

struct State {
    watch: Watch,
    wake: watch::Receiver<()>,
    /// Read but not yet yielded, in sequence order.
    pending: VecDeque<Entry>,
    /// Set after an error has been yielded: the stream ends.
    failed: bool,
}

impl Watch {
    /// The notices after the cursor, then new ones, until shutdown or the client leaves
    /// (dropping the stream). A database error ends the stream with that error.
    pub fn into_stream(self) -> WatchStream {
        let state = State {
            wake: self.wakeups.subscribe(self.department),
            watch: self,
            pending: VecDeque::new(),
            failed: false,
        };
        Box::pin(futures::stream::unfold(state, next))
    }
}

async fn next(mut s: State) -> Option<(Result<WatchNoticesResponse, Status>, State)> {
    loop {
        if s.failed || s.watch.shutdown.is_cancelled() {
            return None;
        }
        if let Some(entry) = s.pending.pop_front() {
            s.watch.cursor = entry.cursor;
            let item = WatchNoticesResponse {
                cursor: entry.cursor.encode(),
                notice: Some(entry.notice),
            };
            return Some((Ok(item), s));
        }
        s.wake.borrow_and_update();
        match s
            .watch
            .store
            .after(s.watch.department, s.watch.cursor, BATCH)
            .await
        {
            Ok(entries) if !entries.is_empty() => {
                s.pending.extend(entries);
                continue;
            }
            Ok(_) => {}
            Err(err) => {
                s.failed = true;
                return Some((Err(err.into()), s));
            }
        }
        tokio::select! {
            _ = s.watch.shutdown.cancelled() => return None,
            // Never fails: `Watch` holds the senders.
            _ = s.wake.changed() => {}
            _ = tokio::time::sleep(s.watch.poll) => {}
        }
    }
}
