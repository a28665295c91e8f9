//! The gauge `notices.overdue`: per department, the notices past their deadline and not
//! acknowledged. A notice's state is computed when it is read (see `store`), so nothing marks
//! it overdue: this task reads the count once a minute, for the dashboards and the alert on
//! overdue notices (deploy/observability).

use std::{collections::BTreeMap, time::Duration};

use opentelemetry::metrics::Gauge;
use platform::telemetry::attr;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How often the count is taken; overdue is measured in days, a minute is plenty.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// The unacknowledged notices past their deadline (the producer's `due_at`, or `issued_at`
/// plus `overdue_after`), by department; departments with none are absent.
pub async fn count_by_department(
    pool: &PgPool,
    overdue_after: Duration,
) -> sqlx::Result<BTreeMap<String, i64>> {
    let rows = sqlx::query!(
        r#"SELECT department, count(*) AS "overdue!"
         FROM notices
         WHERE acknowledged_at IS NULL
           AND coalesce(due_at, issued_at + $1::bigint * interval '1 millisecond') <= now()
         GROUP BY department"#,
        i64::try_from(overdue_after.as_millis()).unwrap_or(i64::MAX),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.department, row.overdue))
        .collect())
}

/// Records the count every [`INTERVAL`] until `stop`; a department that had overdue notices
/// and has none now is recorded as 0, so its series falls instead of ending at its last value.
pub async fn report(pool: PgPool, overdue_after: Duration, stop: CancellationToken) {
    let gauge: Gauge<u64> = opentelemetry::global::meter("notices")
        .u64_gauge("notices.overdue")
        .with_description("unacknowledged notices past their deadline, by department")
        .build();
    let mut seen: BTreeMap<String, i64> = BTreeMap::new();
    loop {
        match count_by_department(&pool, overdue_after).await {
            Ok(counts) => {
                for count in seen.values_mut() {
                    *count = 0;
                }
                seen.extend(counts);
                for (department, count) in &seen {
                    let value = u64::try_from(*count).unwrap_or(0);
                    gauge.record(value, &[attr("department", department.clone())]);
                }
            }
            // The next pass tries again; the gauge keeps its last values meanwhile.
            Err(err) => tracing::warn!(error = %err, "counting overdue notices failed"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(INTERVAL) => {}
        }
    }
}
