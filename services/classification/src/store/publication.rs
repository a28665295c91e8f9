//! Publication (公示) of a period's ranking, and which ranking a read answers from.
//!
//! Publishing is one transaction under the period's lock (the one the re-ranker and overrides
//! take): a pending re-rank is done first, so the published classes reflect every return
//! received; the period's notices are settled at once (the settle's own step); the classes in
//! force are copied with everything their explanation reads (figures, registration date,
//! cohort benchmarks) into the snapshot tables; the publication is recorded and a
//! `PeriodPublished` enqueued. A period is published once. The snapshot is never written
//! again, so an "as published" read never changes.
//!
//! Returns are applied without the period's lock: one committed while publishing could put
//! figures in the snapshot that its ranking did not see. Such a return marks the period dirty
//! in its own transaction, so a period found dirty after the copy means exactly that: the
//! attempt is rolled back and made again (re-ranking first), a few times, then ABORTED.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use haicheng_proto::{
    classification::v1::{self as pb, PeriodPublished},
    common::v1 as common,
    topics,
};
use platform::{Outbox, OutgoingEvent, time::to_timestamp};
use sqlx::{PgConnection, PgPool};

use super::{Store, StoreError, classes, lock_period, rerank, settle};
use crate::domain::policy::NoticeRule;

/// Which ranking a read answers from: the current one reads `classifications` and the
/// database view `current_class_rows` (its rows with their figures and benchmarks), the
/// published one `published_classifications` and `published_class_rows` (migration 0007).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum View {
    /// The classes in force now.
    #[default]
    Current,
    /// The classes as published (the snapshot).
    Published,
    /// The final list: the snapshot amended by the upheld objections (`final_classifications`
    /// and `final_class_rows`, migration 0011), once the period is finalized.
    Final,
}

/// A published period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub period: String,
    pub published_at: DateTime<Utc>,
    pub published_by: String,
    pub model_version: i64,
    /// Enterprises in the snapshot.
    pub enterprises: i64,
    pub note: String,
    /// The objection window it announced, working days (`None`: the configured one).
    pub objection_working_days: Option<u32>,
    /// The end of the objection window, when a calendar gives one.
    pub objection_deadline: Option<DateTime<Utc>>,
}

/// What publishing did besides the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The pending re-rank done first, if any: classes whose class in force changed.
    pub reranked_changes: Option<usize>,
    /// The period's settle: notices sent at once.
    pub settled: settle::SettleOutcome,
}

/// Who publishes what.
#[derive(Debug, Clone, Copy)]
pub struct PublishRequest<'a> {
    pub period: &'a str,
    pub note: &'a str,
    pub principal: &'a str,
    /// The objection window it announces, working days (`None`: the configured one).
    pub objection_working_days: Option<u32>,
}

/// Attempts at publishing while returns keep arriving.
const ATTEMPTS: usize = 3;

impl Store {
    /// Publishes `request.period`; `deadline` gives the end of the objection window from the
    /// publication time. FAILED_PRECONDITION if the period is published already (naming when and
    /// by whom) or has no classifications; ABORTED if returns kept arriving meanwhile.
    pub async fn publish(
        &self,
        request: PublishRequest<'_>,
        deadline: impl Fn(DateTime<Utc>) -> Option<DateTime<Utc>>,
    ) -> Result<(Publication, PublishOutcome), StoreError> {
        let pool = &self.pool;
        let outbox = &self.outbox;
        let rules: &[NoticeRule] = &self.rules;
        for _ in 0..ATTEMPTS {
            if let Some(published) = attempt(pool, outbox, rules, request, &deadline).await? {
                return Ok(published);
            }
        }
        Err(StoreError::VersionConflict(format!(
            "returns of period {} kept arriving while it was being published ({ATTEMPTS} attempts): \
             nothing was published; publish it once the census import is done",
            request.period
        )))
    }
}

/// One publishing transaction; `None` (rolled back) if a return arrived meanwhile.
async fn attempt(
    pool: &PgPool,
    outbox: &Outbox,
    rules: &[NoticeRule],
    request: PublishRequest<'_>,
    deadline: &impl Fn(DateTime<Utc>) -> Option<DateTime<Utc>>,
) -> Result<Option<(Publication, PublishOutcome)>, StoreError> {
    let period = request.period;
    let mut tx = pool.begin().await?;
    lock_period(&mut tx, period).await?;
    if let Some(earlier) = find(&mut tx, period).await? {
        return Err(StoreError::Precondition(format!(
            "period {period} was published at {} by {}; a period is published once",
            earlier.published_at.to_rfc3339(),
            earlier.published_by
        )));
    }
    // A re-rank pending: done here, under the lock already held, rather than refused.
    let reranked = rerank::rerank_if_dirty(&mut tx, outbox, period).await?;
    let counted = sqlx::query!(
        r#"SELECT count(*) AS "enterprises!", max(model_version) AS model_version
           FROM classifications WHERE period = $1"#,
        period,
    )
    .fetch_one(&mut *tx)
    .await?;
    let (enterprises, model_version) = (counted.enterprises, counted.model_version);
    let Some(model_version) = model_version.filter(|_| enterprises > 0) else {
        return Err(StoreError::Precondition(format!(
            "period {period} has no classifications to publish"
        )));
    };
    let settled = settle::settle_locked(&mut tx, outbox, rules, period).await?;

    // Stored to the microsecond: the answer carries exactly what is stored.
    let published_at = Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .map_err(|err| StoreError::Other(err.into()))?;
    let publication = Publication {
        period: period.to_string(),
        published_at,
        published_by: request.principal.to_string(),
        model_version,
        enterprises,
        note: request.note.to_string(),
        objection_working_days: request.objection_working_days,
        objection_deadline: deadline(published_at),
    };
    sqlx::query!(
        "INSERT INTO publications (period, published_at, published_by, model_version, note,
                                   objection_working_days)
         VALUES ($1, $2, $3, $4, $5, $6)",
        period,
        published_at,
        &publication.published_by,
        model_version,
        &publication.note,
        request
            .objection_working_days
            .map(i32::try_from)
            .transpose()
            .map_err(|err| StoreError::Other(err.into()))?,
    )
    .execute(&mut *tx)
    .await?;
    copy_snapshot(&mut tx, period, enterprises).await?;
    if still_dirty(&mut tx, period).await? {
        return Ok(None);
    }
    let event = PeriodPublished {
        publication: Some(to_proto(&publication)),
    };
    outbox
        .enqueue(
            &mut tx,
            OutgoingEvent::new(topics::CLASSIFICATION_EVENTS, period, &event),
        )
        .await?;
    tx.commit().await?;
    let outcome = PublishOutcome {
        reranked_changes: reranked.map(|r| r.changed_classes),
        settled,
    };
    Ok(Some((publication, outcome)))
}

/// Whether a change of the period's returns or firms committed since it was last re-ranked.
async fn still_dirty(conn: &mut PgConnection, period: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM dirty_periods WHERE period = $1) AS "dirty!""#,
        period,
    )
    .fetch_one(conn)
    .await
}

/// Copies the period's classes in force with their figures, and its cohorts, into the
/// snapshot; `expected` rows must be copied.
async fn copy_snapshot(
    tx: &mut PgConnection,
    period: &str,
    expected: i64,
) -> Result<(), StoreError> {
    let copied = sqlx::query!(
        "INSERT INTO published_classifications
             (period, uscc, period_key, name, park, segment, grading, computed_class, class,
              score, rank, cohort_size, model_version, reduced_model, vetoed, override_class,
              override_reason, override_by, override_at, classified_at, registration_date,
              employees_total, rd_spend_fen, revenue_fen, industrial_output_fen, tax_paid_fen,
              export_sales_fen, automation_share_percent, patents, land_used_centi_mu,
              energy_use_tce)
         SELECT period, uscc, period_key, name, park, segment, grading, computed_class, class,
                score, rank, cohort_size, model_version, reduced_model, vetoed, override_class,
                override_reason, override_by, override_at, classified_at, registration_date,
                employees_total, rd_spend_fen, revenue_fen, industrial_output_fen, tax_paid_fen,
                export_sales_fen, automation_share_percent, patents, land_used_centi_mu,
                energy_use_tce
         FROM current_class_rows WHERE period = $1",
        period,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if i64::try_from(copied).ok() != Some(expected) {
        // A classification without its return or enterprise: the read model is damaged.
        return Err(StoreError::Other(anyhow::anyhow!(
            "period {period}: {copied} of {expected} classifications have their figures"
        )));
    }
    sqlx::query!(
        "INSERT INTO published_cohorts (period, segment, model_version, cohort_size, benchmarks, ranked_at)
         SELECT period, segment, model_version, cohort_size, benchmarks, ranked_at
         FROM cohorts WHERE period = $1",
        period,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

struct Row {
    period: String,
    published_at: DateTime<Utc>,
    published_by: String,
    model_version: i64,
    note: String,
    objection_working_days: Option<i32>,
}

/// The publication of `period`, if it is published (without its deadline).
pub async fn find(conn: &mut PgConnection, period: &str) -> sqlx::Result<Option<Publication>> {
    let row = sqlx::query_as!(
        Row,
        "SELECT period, published_at, published_by, model_version, note, objection_working_days
         FROM publications WHERE period = $1",
        period,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let enterprises: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM published_classifications WHERE period = $1"#,
        period,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(Publication {
        period: row.period,
        published_at: row.published_at,
        published_by: row.published_by,
        model_version: row.model_version,
        enterprises,
        note: row.note,
        objection_working_days: row
            .objection_working_days
            .and_then(|days| u32::try_from(days).ok()),
        objection_deadline: None,
    }))
}

/// Whether `period` is published.
pub async fn is_published(conn: &mut PgConnection, period: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM publications WHERE period = $1) AS "published!""#,
        period,
    )
    .fetch_one(conn)
    .await
}

impl Store {
    /// Whether the period an enterprise's read is about is published: the given period, else the
    /// latest period the enterprise is classified in (`false` when it is in none: the read then
    /// answers NOT_FOUND as before).
    pub async fn is_published_for(
        &self,
        uscc: &str,
        period: Option<&str>,
    ) -> Result<bool, StoreError> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await?;
        let period = match period {
            Some(period) => Some(period.to_string()),
            None => classes::latest_period_of(&mut conn, View::Current, uscc).await?,
        };
        match period {
            Some(period) => Ok(is_published(&mut conn, &period).await?),
            None => Ok(false),
        }
    }
}

/// FAILED_PRECONDITION naming `period` unless `view` has it: published for the published
/// view, finalized for the final one (the current view has every period).
pub async fn require_view(
    conn: &mut PgConnection,
    view: View,
    period: &str,
) -> Result<(), StoreError> {
    match view {
        View::Current => Ok(()),
        View::Published => require_published(conn, period).await,
        View::Final => super::finalization::require_finalized(conn, period).await,
    }
}

/// FAILED_PRECONDITION naming `period` unless it is published.
pub async fn require_published(conn: &mut PgConnection, period: &str) -> Result<(), StoreError> {
    if is_published(conn, period).await? {
        Ok(())
    } else {
        Err(StoreError::Precondition(format!(
            "period {period} is not published: no published ranking to read"
        )))
    }
}

impl Store {
    /// The period a listing or a distribution in `view` reads: the given one (which must be
    /// published for the published view), else the latest period of the view (`None`: the
    /// current view has no classes yet; the published view refuses, as no period is published).
    pub async fn resolve_period(
        &self,
        view: View,
        period: Option<String>,
    ) -> Result<Option<String>, StoreError> {
        let pool = &self.pool;
        let mut conn = pool.acquire().await?;
        match (view, period) {
            (view, Some(period)) => {
                require_view(&mut conn, view, &period).await?;
                Ok(Some(period))
            }
            (view, None) => match classes::latest_period(&mut conn, view).await? {
                Some(period) => Ok(Some(period)),
                None if view == View::Published => Err(StoreError::Precondition(
                    "no period is published yet: no published ranking to read".into(),
                )),
                None if view == View::Final => Err(StoreError::Precondition(
                    "no period is finalized yet: no final list to read".into(),
                )),
                None => Ok(None),
            },
        }
    }
}

/// The contract's message of a publication.
pub fn to_proto(publication: &Publication) -> pb::Publication {
    pb::Publication {
        period: Some(common::Period {
            code: publication.period.clone(),
        }),
        published_at: Some(to_timestamp(publication.published_at)),
        published_by: publication.published_by.clone(),
        model_version: publication.model_version,
        enterprises: i32::try_from(publication.enterprises).unwrap_or(i32::MAX),
        objection_deadline: publication.objection_deadline.map(to_timestamp),
        note: publication.note.clone(),
        objection_working_days: publication.objection_working_days,
    }
}
