//! The steps of a transaction that enqueue the service's events (built in
//! [`crate::events`]) through the outbox.

use haicheng_proto::policy::v1::SupportPolicyNotice;
use platform::{Outbox, auth::Department};
use sqlx::PgConnection;

use crate::events::{self, ClassChange, classified_event};

/// Enqueues one change's `EnterpriseClassified` in the transaction behind `conn` (an
/// override; a re-rank enqueues all of its changes at once).
pub async fn publish_classified(
    conn: &mut PgConnection,
    outbox: &Outbox,
    change: &ClassChange<'_>,
) -> sqlx::Result<()> {
    outbox
        .enqueue(conn, classified_event(change))
        .await
        .map(|_| ())
}

/// Enqueues `notices` (keyed by department, with the enterprise as subject) in one statement.
pub async fn enqueue_notices(
    conn: &mut PgConnection,
    outbox: &Outbox,
    notices: &[(Department, SupportPolicyNotice)],
) -> sqlx::Result<()> {
    let events = notices
        .iter()
        .map(|(department, notice)| events::notice_event(*department, notice))
        .collect();
    outbox.enqueue_many(conn, events).await.map(|_| ())
}
