//! The facts, as other services' events tell them (through the inbox, exactly once): census
//! registry records and returns, classes in force and as published, land evaluations and
//! external fairs. An older event never overwrites a newer one (versions, revisions).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use platform::{Class, Park, Segment, period::Period};
use sqlx::PgConnection;

use super::{Store, StoreError};
use crate::domain::facts::{Facts, Figures};

/// A census registry record, as an event carries it.
#[derive(Debug, Clone)]
pub struct FirmRecord {
    pub uscc: String,
    pub name: String,
    pub park: Option<Park>,
    pub segment: Option<Segment>,
    pub registered_on: Option<NaiveDate>,
    pub veto: bool,
    pub deregistered: bool,
    pub version: i64,
}

/// Applies a registry record unless a newer version is stored.
pub async fn upsert_firm(conn: &mut PgConnection, firm: &FirmRecord) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO firms (uscc, name, park, segment, registered_on, veto, deregistered, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (uscc) DO UPDATE SET
             name = EXCLUDED.name, park = EXCLUDED.park, segment = EXCLUDED.segment,
             registered_on = EXCLUDED.registered_on, veto = EXCLUDED.veto,
             deregistered = EXCLUDED.deregistered, version = EXCLUDED.version
         WHERE firms.version < EXCLUDED.version",
        firm.uscc,
        firm.name,
        firm.park as Option<Park>,
        firm.segment as Option<Segment>,
        firm.registered_on,
        firm.veto,
        firm.deregistered,
        firm.version,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Applies a return's revision unless a later one is stored.
pub async fn upsert_return(
    conn: &mut PgConnection,
    uscc: &str,
    period: Period,
    revision: i64,
    f: &Figures,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO returns (uscc, period, revision, employees_total, rd_spend_fen, revenue_fen,
             industrial_output_fen, tax_paid_fen, export_sales_fen, equipment_value_fen,
             invention_patents, land_used_centi_mu)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (uscc, period) DO UPDATE SET
             revision = EXCLUDED.revision, employees_total = EXCLUDED.employees_total,
             rd_spend_fen = EXCLUDED.rd_spend_fen, revenue_fen = EXCLUDED.revenue_fen,
             industrial_output_fen = EXCLUDED.industrial_output_fen,
             tax_paid_fen = EXCLUDED.tax_paid_fen, export_sales_fen = EXCLUDED.export_sales_fen,
             equipment_value_fen = EXCLUDED.equipment_value_fen,
             invention_patents = EXCLUDED.invention_patents,
             land_used_centi_mu = EXCLUDED.land_used_centi_mu
         WHERE returns.revision < EXCLUDED.revision",
        uscc,
        period.code(),
        revision,
        f.employees_total,
        f.rd_spend_fen,
        f.revenue_fen,
        f.industrial_output_fen,
        f.tax_paid_fen,
        f.export_sales_fen,
        f.equipment_value_fen,
        f.invention_patents,
        f.land_used_centi_mu,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a classification: in the history, and as the class in force unless a later one
/// is already stored.
pub async fn set_class(
    conn: &mut PgConnection,
    uscc: &str,
    period: Period,
    class: Option<Class>,
    score: f64,
    classified_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let code = period.code();
    sqlx::query!(
        "INSERT INTO class_history (uscc, period, classified_at, class) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
        uscc,
        code,
        classified_at,
        class as Option<Class>,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO classes (uscc, period, class, score, classified_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (uscc, period) DO UPDATE SET class = EXCLUDED.class, score = EXCLUDED.score,
             classified_at = EXCLUDED.classified_at
         WHERE classes.classified_at <= EXCLUDED.classified_at",
        uscc,
        code,
        class as Option<Class>,
        score,
        classified_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records when a period's ranking was published: its classes as published are each firm's
/// last classification before that moment.
pub async fn set_published(
    conn: &mut PgConnection,
    period: Period,
    published_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO publications (period, published_at) VALUES ($1, $2)
         ON CONFLICT (period) DO UPDATE SET published_at = EXCLUDED.published_at",
        period.code(),
        published_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a period's final list (PeriodFinalized): every firm's class as finalized. A
/// period is finalized once; a second delivery changes nothing.
pub async fn set_finalized(
    conn: &mut PgConnection,
    period: Period,
    finalized_at: DateTime<Utc>,
    classes: &[(String, Option<Class>)],
) -> sqlx::Result<()> {
    let fresh = sqlx::query!(
        "INSERT INTO finalizations (period, finalized_at) VALUES ($1, $2) ON CONFLICT (period) DO NOTHING",
        period.code(),
        finalized_at,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    if !fresh {
        return Ok(());
    }
    let usccs: Vec<String> = classes.iter().map(|(u, _)| u.clone()).collect();
    let spelled: Vec<Option<String>> = classes
        .iter()
        .map(|(_, c)| c.map(|c| c.as_str().to_string()))
        .collect();
    sqlx::query!(
        "INSERT INTO final_classes (period, uscc, class)
         SELECT $1, u, c FROM UNNEST($2::text[], $3::text[]) AS t (u, c)",
        period.code(),
        &usccs,
        &spelled as &[Option<String>],
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a grant's latest evaluation.
pub async fn set_land_evaluation(
    conn: &mut PgConnection,
    grant_id: &str,
    uscc: &str,
    short: bool,
    recorded_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO land_evaluations (grant_id, uscc, short, recorded_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (grant_id) DO UPDATE SET uscc = EXCLUDED.uscc, short = EXCLUDED.short,
             recorded_at = EXCLUDED.recorded_at
         WHERE land_evaluations.recorded_at <= EXCLUDED.recorded_at",
        grant_id,
        uscc,
        short,
        recorded_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a confirmed registration at an external fair in `year`.
pub async fn add_fair_participation(
    conn: &mut PgConnection,
    registration_id: &str,
    uscc: &str,
    year: i32,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO fair_participation (registration_id, uscc, year) VALUES ($1, $2, $3)
         ON CONFLICT (registration_id) DO NOTHING",
        registration_id,
        uscc,
        year,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets a cancelled registration.
pub async fn remove_fair_participation(
    conn: &mut PgConnection,
    registration_id: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM fair_participation WHERE registration_id = $1",
        registration_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

struct FactsRow {
    uscc: String,
    name: String,
    park: Option<Park>,
    segment: Option<Segment>,
    registered_on: Option<NaiveDate>,
    veto: bool,
    deregistered: bool,
    revision: Option<i64>,
    employees_total: Option<i64>,
    rd_spend_fen: Option<i64>,
    revenue_fen: Option<i64>,
    industrial_output_fen: Option<i64>,
    tax_paid_fen: Option<i64>,
    export_sales_fen: Option<i64>,
    equipment_value_fen: Option<i64>,
    invention_patents: Option<i64>,
    land_used_centi_mu: Option<i64>,
    class_in_force: Option<Class>,
    score: Option<f64>,
    class_published: Option<Class>,
    finalized: Option<bool>,
    class_final: Option<Class>,
    land_short: Option<bool>,
}

impl FactsRow {
    fn into_facts(self, fair_years: BTreeSet<i32>) -> Facts {
        let figures = self.revision.map(|_| Figures {
            employees_total: self.employees_total.unwrap_or(0),
            rd_spend_fen: self.rd_spend_fen.unwrap_or(0),
            revenue_fen: self.revenue_fen.unwrap_or(0),
            industrial_output_fen: self.industrial_output_fen.unwrap_or(0),
            tax_paid_fen: self.tax_paid_fen.unwrap_or(0),
            export_sales_fen: self.export_sales_fen.unwrap_or(0),
            equipment_value_fen: self.equipment_value_fen.unwrap_or(0),
            invention_patents: self.invention_patents.unwrap_or(0),
            land_used_centi_mu: self.land_used_centi_mu.unwrap_or(0),
        });
        Facts {
            uscc: self.uscc,
            name: self.name,
            park: self.park,
            segment: self.segment,
            registered_on: self.registered_on,
            veto: self.veto,
            deregistered: self.deregistered,
            figures,
            class_in_force: self.class_in_force,
            score: self.score.unwrap_or(0.0),
            class_published: self.class_published,
            class_final: self.finalized.unwrap_or(false).then_some(self.class_final),
            land_short: self.land_short.unwrap_or(false),
            external_fair_years: fair_years,
            expenses: BTreeMap::new(),
        }
    }
}

/// The facts of every registered firm for `period` (`uscc`: of that firm alone).
pub(super) async fn load_facts(
    conn: &mut PgConnection,
    period: Period,
    uscc: Option<&str>,
) -> Result<Vec<Facts>, StoreError> {
    let code = period.code();
    let rows = sqlx::query_as!(
        FactsRow,
        r#"SELECT f.uscc, f.name, f.park AS "park: Park", f.segment AS "segment: Segment",
                  f.registered_on, f.veto, f.deregistered,
                  r.revision AS "revision?", r.employees_total AS "employees_total?",
                  r.rd_spend_fen AS "rd_spend_fen?", r.revenue_fen AS "revenue_fen?",
                  r.industrial_output_fen AS "industrial_output_fen?",
                  r.tax_paid_fen AS "tax_paid_fen?", r.export_sales_fen AS "export_sales_fen?",
                  r.equipment_value_fen AS "equipment_value_fen?",
                  r.invention_patents AS "invention_patents?",
                  r.land_used_centi_mu AS "land_used_centi_mu?",
                  c.class AS "class_in_force?: Class", c.score AS "score?",
                  (SELECT h.class FROM class_history h
                   JOIN publications p ON p.period = h.period
                   WHERE h.uscc = f.uscc AND h.period = $1 AND h.classified_at <= p.published_at
                   ORDER BY h.classified_at DESC LIMIT 1) AS "class_published?: Class",
                  EXISTS (SELECT 1 FROM finalizations z WHERE z.period = $1) AS "finalized?",
                  (SELECT x.class FROM final_classes x WHERE x.period = $1 AND x.uscc = f.uscc)
                      AS "class_final?: Class",
                  EXISTS (SELECT 1 FROM land_evaluations l WHERE l.uscc = f.uscc AND l.short)
                      AS "land_short?"
           FROM firms f
           LEFT JOIN returns r ON r.uscc = f.uscc AND r.period = $1
           LEFT JOIN classes c ON c.uscc = f.uscc AND c.period = $1
           WHERE $2::text IS NULL OR f.uscc = $2
           ORDER BY f.uscc"#,
        code,
        uscc,
    )
    .fetch_all(&mut *conn)
    .await?;
    let years = sqlx::query!(
        "SELECT DISTINCT uscc, year FROM fair_participation WHERE $1::text IS NULL OR uscc = $1",
        uscc
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_firm: HashMap<String, BTreeSet<i32>> = HashMap::new();
    for row in years {
        by_firm.entry(row.uscc).or_default().insert(row.year);
    }
    let spent = sqlx::query!(
        "SELECT uscc, kind, amount_fen FROM expenses
         WHERE period = $1 AND ($2::text IS NULL OR uscc = $2)",
        code,
        uscc
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut expenses: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    for row in spent {
        expenses
            .entry(row.uscc)
            .or_default()
            .insert(row.kind, row.amount_fen);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let fair_years = by_firm.remove(&row.uscc).unwrap_or_default();
            let spent = expenses.remove(&row.uscc).unwrap_or_default();
            let mut facts = row.into_facts(fair_years);
            facts.expenses = spent;
            facts
        })
        .collect())
}

/// An expense a department recorded for a firm.
#[derive(Debug, Clone)]
pub struct Expense {
    pub uscc: String,
    pub period: Period,
    pub kind: String,
    pub amount_fen: i64,
    pub evidence: String,
}

impl Store {
    /// Records (or replaces) a firm's expense of a kind for a period.
    pub async fn record_expense(&self, expense: &Expense, by: &str) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO expenses (uscc, period, kind, amount_fen, evidence, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (uscc, period, kind) DO UPDATE SET amount_fen = EXCLUDED.amount_fen,
                 evidence = EXCLUDED.evidence, recorded_by = EXCLUDED.recorded_by,
                 recorded_at = now()",
            expense.uscc,
            expense.period.code(),
            expense.kind,
            expense.amount_fen,
            expense.evidence,
            by,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The facts of every registered firm for `period`, by USCC (a round's candidates).
    pub async fn facts_for_period(&self, period: Period) -> Result<Vec<Facts>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_facts(&mut conn, period, None).await
    }

    /// The facts of one firm for `period`, if the census has registered it.
    pub async fn facts_of(&self, uscc: &str, period: Period) -> Result<Option<Facts>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(load_facts(&mut conn, period, Some(uscc)).await?.pop())
    }
}
