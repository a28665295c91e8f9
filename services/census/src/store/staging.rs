//! An import batch's way into PostgreSQL: its submissions are copied (`COPY … FROM STDIN`,
//! binary) into a staging table, and every statement after that is set-based over it: the
//! enterprises locked key by key in USCC order, the state read by joins with the staged
//! keys, and the new revisions inserted by `INSERT … SELECT` from the staged rows, with only
//! what the domain decided per row (its revision and enterprise version) sent back.
//!
//! The staging table is a temporary table of the connection (`ON COMMIT DELETE ROWS`),
//! created on a connection's first import: nothing else sees it, it writes no WAL, it needs
//! no batch id, no index and no cleanup (a commit empties it, a rollback takes the copied
//! rows with it), and two imports on two connections never meet in it. A shared UNLOGGED
//! table keyed by a batch id would need all of those, and its deletes would leave dead rows
//! for vacuum. PostgreSQL empties it only at commits of transactions that touched temporary
//! tables, so the other calls served by the same pooled connection pay nothing for it. The
//! runtime role needs the database's TEMPORARY privilege (PUBLIC has it by default).
//!
//! Its statements are not prepared (`persistent(false)`): each is planned for the batch at
//! hand (module [`super::returns`] says why), and the temporary table, which the build's
//! offline query data cannot know, keeps them out of the query macros.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{EnterpriseRow, ReturnRow, enterprise_columns, return_columns};
use crate::domain::{CensusReturn, Enterprise, Submission};

/// The connection's staging table; its columns are those [`copy_in`] writes, in order.
const CREATE_STAGING: &str = "CREATE TEMPORARY TABLE IF NOT EXISTS census_import_rows (
        n                        integer          NOT NULL,
        client_request_id        text             NOT NULL,
        uscc                     text             NOT NULL,
        period                   text             NOT NULL,
        employees_total          bigint           NOT NULL,
        production_staff         bigint           NOT NULL,
        rd_technical_staff       bigint           NOT NULL,
        management_sales_staff   bigint           NOT NULL,
        college_educated_staff   bigint           NOT NULL,
        rd_spend_fen             bigint           NOT NULL,
        revenue_fen              bigint           NOT NULL,
        industrial_output_fen    bigint           NOT NULL,
        tax_paid_fen             bigint           NOT NULL,
        export_sales_fen         bigint           NOT NULL,
        equipment_value_fen      bigint           NOT NULL,
        automation_share_percent double precision NOT NULL,
        equipment_level          text             NOT NULL,
        invention_patents        bigint           NOT NULL,
        utility_model_patents    bigint           NOT NULL,
        design_patents           bigint           NOT NULL,
        land_used_centi_mu       bigint           NOT NULL,
        energy_use_tce           double precision,
        rd_exceeds_revenue_flag  boolean          NOT NULL,
        sources                  jsonb            NOT NULL
    ) ON COMMIT DELETE ROWS";

/// Fields of one staged row.
const STAGED_FIELDS: i16 = 24;

/// Copies `batch` into the connection's staging table (created if this connection has none
/// yet); row `n` is `batch[n]`. Inside the caller's transaction, which the rows leave with.
pub(super) async fn copy_in(conn: &mut PgConnection, batch: &[Submission]) -> sqlx::Result<()> {
    sqlx::raw_sql(CREATE_STAGING).execute(&mut *conn).await?;
    let data = encode(batch)?;
    let mut copy = conn
        .copy_in_raw("COPY census_import_rows FROM STDIN (FORMAT binary)")
        .await?;
    copy.send(data).await?;
    copy.finish().await?;
    Ok(())
}

/// The batch in PostgreSQL's binary COPY format.
fn encode(batch: &[Submission]) -> sqlx::Result<Vec<u8>> {
    let mut out = CopyBinary::with_capacity(batch.len() * 320);
    for (n, submission) in batch.iter().enumerate() {
        let n = i32::try_from(n).map_err(|_| sqlx::Error::Protocol("batch too large".into()))?;
        let content = &submission.content;
        let i = &content.indicators;
        out.row(STAGED_FIELDS);
        out.int4(n);
        out.text(&submission.client_request_id);
        out.text(content.uscc.as_str());
        out.text(&content.period.code());
        for figure in [
            i.employees_total,
            i.production_staff,
            i.rd_technical_staff,
            i.management_sales_staff,
            i.college_educated_staff,
            i.rd_spend_fen,
            i.revenue_fen,
            i.industrial_output_fen,
            i.tax_paid_fen,
            i.export_sales_fen,
            i.equipment_value_fen,
        ] {
            out.int8(figure);
        }
        out.float8(Some(i.automation_share_percent));
        out.text(i.equipment_level.as_str());
        for figure in [
            i.invention_patents,
            i.utility_model_patents,
            i.design_patents,
            i.land_used_centi_mu,
        ] {
            out.int8(figure);
        }
        out.float8(i.energy_use_tce);
        out.boolean(i.rd_exceeds_revenue_flag);
        let sources = serde_json::to_string(&content.sources.to_stored())
            .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        out.jsonb(&sources);
    }
    Ok(out.finish())
}

/// A writer of PostgreSQL's binary COPY format: a header, each row as its field count and
/// every field as its length and its value in the type's binary form, a trailer.
struct CopyBinary(Vec<u8>);

impl CopyBinary {
    fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes + 32);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        Self(buf)
    }

    fn row(&mut self, fields: i16) {
        self.0.extend_from_slice(&fields.to_be_bytes());
    }

    fn field(&mut self, value: &[u8]) {
        // A field longer than 2 GiB cannot come through a capped gRPC message.
        let len = i32::try_from(value.len()).unwrap_or(i32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(value);
    }

    fn null(&mut self) {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
    }

    fn text(&mut self, value: &str) {
        self.field(value.as_bytes());
    }

    fn int4(&mut self, value: i32) {
        self.field(&value.to_be_bytes());
    }

    fn int8(&mut self, value: i64) {
        self.field(&value.to_be_bytes());
    }

    fn float8(&mut self, value: Option<f64>) {
        match value {
            Some(value) => self.field(&value.to_be_bytes()),
            None => self.null(),
        }
    }

    fn boolean(&mut self, value: bool) {
        self.field(&[u8::from(value)]);
    }

    /// jsonb's binary form: a version byte (1), then the JSON text.
    fn jsonb(&mut self, json: &str) {
        let len = i32::try_from(json.len() + 1).unwrap_or(i32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.push(1);
        self.0.extend_from_slice(json.as_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}

/// Locks the staged rows' enterprises, one key at a time in byte order of the USCC (the
/// order every writer of several enterprises takes), and reads their current records in a
/// statement of its own (the race this closes is told at [`super::returns`]'s batch state).
/// Both go key by key, a subquery that locks or has a LIMIT being never merged into the
/// outer query: each enterprise is reached through its primary key whatever the statistics.
pub(super) async fn lock_enterprises(
    conn: &mut PgConnection,
) -> sqlx::Result<HashMap<String, Enterprise>> {
    sqlx::query(
        "SELECT k.uscc
         FROM (
            SELECT uscc FROM census_import_rows GROUP BY uscc ORDER BY uscc COLLATE \"C\"
         ) AS k
         CROSS JOIN LATERAL (
            SELECT 1 FROM enterprises e WHERE e.uscc = k.uscc FOR UPDATE
         ) AS locked",
    )
    .persistent(false)
    .execute(&mut *conn)
    .await?;
    let rows: Vec<EnterpriseRow> = sqlx::query_as(concat!(
        "SELECT found.* FROM (SELECT DISTINCT uscc FROM census_import_rows) AS k
         CROSS JOIN LATERAL (
            SELECT ",
        enterprise_columns!(),
        " FROM enterprises e JOIN enterprise_versions v
              ON v.uscc = e.uscc AND v.version = e.current_version
            WHERE e.uscc = k.uscc
            LIMIT 1
         ) AS found"
    ))
    .persistent(false)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| Enterprise::try_from(row).map(|e| (e.uscc.to_string(), e)))
        .collect()
}

/// Revisions already stored under the staged rows' client request ids, each found through
/// the unique index.
pub(super) async fn stored_by_request_id(
    conn: &mut PgConnection,
) -> sqlx::Result<HashMap<String, CensusReturn>> {
    let rows: Vec<ReturnRow> = sqlx::query_as(concat!(
        "SELECT found.* FROM (SELECT DISTINCT client_request_id FROM census_import_rows) AS k
         CROSS JOIN LATERAL (
            SELECT ",
        return_columns!(),
        " FROM census_returns r WHERE r.client_request_id = k.client_request_id LIMIT 1
         ) AS found"
    ))
    .persistent(false)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|row| CensusReturn::try_from(row).map(|r| (r.client_request_id.clone(), r)))
        .collect()
}

/// The latest revision of each (uscc, period) staged, each read backwards through the
/// primary key.
pub(super) async fn last_revisions(
    conn: &mut PgConnection,
) -> sqlx::Result<HashMap<(String, String), i64>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT k.uscc, k.period, last.revision
         FROM (SELECT DISTINCT uscc, period FROM census_import_rows) AS k
         CROSS JOIN LATERAL (
            SELECT r.revision FROM census_returns r
            WHERE r.uscc = k.uscc AND r.period = k.period
            ORDER BY r.revision DESC LIMIT 1
         ) AS last",
    )
    .persistent(false)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(uscc, period, revision)| ((uscc, period), revision))
        .collect())
}

/// A staged row the domain decided to store: its place in the batch, its revision and the
/// enterprise version it was checked against.
pub(super) struct Decided {
    pub n: i32,
    pub revision: i64,
    pub enterprise_version: i64,
}

/// Inserts the decided rows from the staging table: one statement, with three numbers per
/// row sent back; the batch's rows share their time and submitter.
pub(super) async fn insert_decided(
    conn: &mut PgConnection,
    decided: &[Decided],
    submitted_at: DateTime<Utc>,
    submitted_by: &str,
) -> sqlx::Result<()> {
    if decided.is_empty() {
        return Ok(());
    }
    let n: Vec<i32> = decided.iter().map(|d| d.n).collect();
    let revision: Vec<i64> = decided.iter().map(|d| d.revision).collect();
    let version: Vec<i64> = decided.iter().map(|d| d.enterprise_version).collect();
    sqlx::query(
        "INSERT INTO census_returns (uscc, period, revision, client_request_id,
            employees_total, production_staff, rd_technical_staff, management_sales_staff,
            college_educated_staff, rd_spend_fen, revenue_fen, industrial_output_fen,
            tax_paid_fen, export_sales_fen, equipment_value_fen, automation_share_percent,
            equipment_level, invention_patents, utility_model_patents, design_patents,
            land_used_centi_mu, energy_use_tce, rd_exceeds_revenue_flag, sources,
            enterprise_version, submitted_at, submitted_by)
         SELECT s.uscc, s.period, d.revision, s.client_request_id,
            s.employees_total, s.production_staff, s.rd_technical_staff,
            s.management_sales_staff, s.college_educated_staff, s.rd_spend_fen, s.revenue_fen,
            s.industrial_output_fen, s.tax_paid_fen, s.export_sales_fen, s.equipment_value_fen,
            s.automation_share_percent, s.equipment_level, s.invention_patents,
            s.utility_model_patents, s.design_patents, s.land_used_centi_mu, s.energy_use_tce,
            s.rd_exceeds_revenue_flag, s.sources, d.enterprise_version, $4, $5
         FROM unnest($1::integer[], $2::bigint[], $3::bigint[]) AS d(n, revision, enterprise_version)
         JOIN census_import_rows s ON s.n = d.n",
    )
    .bind(&n)
    .bind(&revision)
    .bind(&version)
    .bind(submitted_at)
    .bind(submitted_by)
    .persistent(false)
    .execute(conn)
    .await?;
    Ok(())
}
