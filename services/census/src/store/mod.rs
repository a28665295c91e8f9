//! PostgreSQL: the registry, the returns and the read audit. Every write commits together
//! with its outbox rows ([`platform::Outbox::enqueue`]) in one transaction, so an event is
//! published exactly when its change exists.
//!
//! Writers of one enterprise take its `enterprises` row lock first (several enterprises in
//! USCC order, so two writers never deadlock); versions, revisions and their recorded times
//! therefore grow together, which is what as-of reads rely on.

mod enterprises;
mod error;
mod reads;
mod returns;
mod staging;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use platform::Outbox;
use sqlx::{PgConnection, PgPool, types::Json};

pub use enterprises::Registered;
pub use error::StoreError;
pub use reads::{FileView, ListFilter};
pub use returns::Outcomes;

use crate::domain::{
    CensusReturn, Enterprise, EquipmentLevel, Indicators, IndustryClass, Park, Period,
    RegistryFields, ReturnContent, Size, Sources, Status, Uscc, Vetoes,
};

/// The census's database and outbox.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    outbox: Outbox,
}

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox) -> Self {
        Self { pool, outbox }
    }
}

/// Attempts of a transaction that lost a race (a unique key another writer just took, a
/// deadlock): the next attempt sees the winner's rows and decides from them.
const ATTEMPTS: usize = 3;

/// True for errors a fresh attempt of the same transaction can resolve.
fn is_retryable(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| {
            // unique_violation, serialization_failure, deadlock_detected
            matches!(code.as_ref(), "23505" | "40001" | "40P01")
        })
}

/// A stored value that no longer parses: the database was changed behind the service's back.
fn corrupt(what: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored data is not valid: {what}").into())
}

/// The database's clock, read after the caller's locks are held.
async fn clock(conn: &mut PgConnection) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar!(r#"SELECT clock_timestamp() AS "now!""#)
        .fetch_one(conn)
        .await
}

/// Columns of one enterprise version (`v`) with its registry row (`e`).
macro_rules! enterprise_columns {
    () => {
        "v.uscc, v.version, v.name, v.legal_representative, v.park, v.industry_class, v.size,
         v.registration_date, v.status, v.deregistration_reason, v.safety_violation,
         v.environmental_violation, v.tax_credit_violation, v.recorded_at, e.created_at"
    };
}
pub(crate) use enterprise_columns;

#[derive(sqlx::FromRow)]
struct EnterpriseRow {
    uscc: String,
    version: i64,
    name: String,
    legal_representative: String,
    park: Park,
    industry_class: String,
    size: String,
    registration_date: NaiveDate,
    status: String,
    deregistration_reason: Option<String>,
    safety_violation: bool,
    environmental_violation: bool,
    tax_credit_violation: bool,
    recorded_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl TryFrom<EnterpriseRow> for Enterprise {
    type Error = sqlx::Error;
    fn try_from(row: EnterpriseRow) -> Result<Self, Self::Error> {
        let at = |what: &str| {
            corrupt(format!(
                "enterprise {} version {}: {what}",
                row.uscc, row.version
            ))
        };
        Ok(Enterprise {
            uscc: Uscc::parse(&row.uscc).map_err(|e| at(&e.to_string()))?,
            fields: RegistryFields {
                name: row.name,
                legal_representative: row.legal_representative,
                park: row.park,
                industry_class: IndustryClass::parse(&row.industry_class)
                    .map_err(|e| at(&e.to_string()))?,
                size: Size::parse(&row.size).ok_or_else(|| at("size"))?,
                registration_date: row.registration_date,
                vetoes: Vetoes {
                    safety: row.safety_violation,
                    environmental: row.environmental_violation,
                    tax_credit: row.tax_credit_violation,
                },
            },
            status: Status::parse(&row.status).ok_or_else(|| at("status"))?,
            deregistration_reason: row.deregistration_reason,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.recorded_at,
        })
    }
}

/// Columns of one return revision.
macro_rules! return_columns {
    () => {
        "uscc, period, revision, client_request_id, employees_total, production_staff,
         rd_technical_staff, management_sales_staff, college_educated_staff, rd_spend_fen,
         revenue_fen, industrial_output_fen, tax_paid_fen, export_sales_fen, equipment_value_fen,
         automation_share_percent, equipment_level, invention_patents, utility_model_patents,
         design_patents, land_used_centi_mu, energy_use_tce, rd_exceeds_revenue_flag, sources,
         enterprise_version, submitted_at, submitted_by"
    };
}
pub(crate) use return_columns;

#[derive(sqlx::FromRow)]
struct ReturnRow {
    uscc: String,
    period: String,
    revision: i64,
    client_request_id: String,
    employees_total: i64,
    production_staff: i64,
    rd_technical_staff: i64,
    management_sales_staff: i64,
    college_educated_staff: i64,
    rd_spend_fen: i64,
    revenue_fen: i64,
    industrial_output_fen: i64,
    tax_paid_fen: i64,
    export_sales_fen: i64,
    equipment_value_fen: i64,
    automation_share_percent: f64,
    equipment_level: String,
    invention_patents: i64,
    utility_model_patents: i64,
    design_patents: i64,
    land_used_centi_mu: i64,
    energy_use_tce: Option<f64>,
    rd_exceeds_revenue_flag: bool,
    sources: Json<BTreeMap<String, String>>,
    enterprise_version: i64,
    submitted_at: DateTime<Utc>,
    submitted_by: String,
}

impl TryFrom<ReturnRow> for CensusReturn {
    type Error = sqlx::Error;
    fn try_from(row: ReturnRow) -> Result<Self, Self::Error> {
        let at = |what: &str| {
            corrupt(format!(
                "return {} {} revision {}: {what}",
                row.uscc, row.period, row.revision
            ))
        };
        Ok(CensusReturn {
            content: ReturnContent {
                uscc: Uscc::parse(&row.uscc).map_err(|e| at(&e.to_string()))?,
                period: Period::parse(&row.period).map_err(|e| at(&e.to_string()))?,
                indicators: Indicators {
                    employees_total: row.employees_total,
                    production_staff: row.production_staff,
                    rd_technical_staff: row.rd_technical_staff,
                    management_sales_staff: row.management_sales_staff,
                    college_educated_staff: row.college_educated_staff,
                    rd_spend_fen: row.rd_spend_fen,
                    revenue_fen: row.revenue_fen,
                    industrial_output_fen: row.industrial_output_fen,
                    tax_paid_fen: row.tax_paid_fen,
                    export_sales_fen: row.export_sales_fen,
                    equipment_value_fen: row.equipment_value_fen,
                    automation_share_percent: row.automation_share_percent,
                    equipment_level: EquipmentLevel::parse(&row.equipment_level)
                        .ok_or_else(|| at("equipment_level"))?,
                    invention_patents: row.invention_patents,
                    utility_model_patents: row.utility_model_patents,
                    design_patents: row.design_patents,
                    land_used_centi_mu: row.land_used_centi_mu,
                    energy_use_tce: row.energy_use_tce,
                    rd_exceeds_revenue_flag: row.rd_exceeds_revenue_flag,
                },
                sources: Sources::from_stored(row.sources.0),
            },
            revision: row.revision,
            client_request_id: row.client_request_id,
            submitted_at: row.submitted_at,
            submitted_by: row.submitted_by,
            enterprise_version: row.enterprise_version,
        })
    }
}
