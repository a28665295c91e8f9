//! Registry writes: register, update, deregister. Each adds a version row and moves the
//! enterprise's current-version pointer, never changing an earlier version.

use sqlx::PgConnection;

use super::{Store, StoreError, clock, corrupt, enterprise_columns};
use crate::{
    domain::{Enterprise, RegistryFields, Status, Uscc},
    events,
};

/// What a registration did.
pub enum Registered {
    /// A new enterprise, version 1.
    Created(Enterprise),
    /// The same registration again: the current record, unchanged.
    Existing(Enterprise),
}

/// A change to an existing enterprise's record.
enum Change {
    Fields(RegistryFields),
    Deregister { reason: String },
}

impl Store {
    /// Registers `uscc`; the same data again returns the existing record, different data is
    /// ALREADY_EXISTS.
    pub async fn register(
        &self,
        uscc: &Uscc,
        fields: &RegistryFields,
        recorded_by: &str,
    ) -> Result<Registered, StoreError> {
        let mut tx = self.pool.begin().await?;
        let created_at: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "INSERT INTO enterprises (uscc, current_version, created_at)
             VALUES ($1, 1, clock_timestamp())
             ON CONFLICT (uscc) DO NOTHING
             RETURNING created_at",
        )
        .bind(uscc.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(created_at) = created_at else {
            let current = current(&mut tx, uscc, false).await?.ok_or_else(|| {
                corrupt(format!("enterprise {uscc} vanished during registration"))
            })?;
            return if current.is_active() && &current.fields == fields {
                Ok(Registered::Existing(current))
            } else {
                Err(StoreError::RegisteredDifferently(uscc.clone()))
            };
        };
        let enterprise = Enterprise {
            uscc: uscc.clone(),
            fields: fields.clone(),
            status: Status::Active,
            deregistration_reason: None,
            version: 1,
            created_at,
            updated_at: created_at,
        };
        insert_version(&mut tx, &enterprise, recorded_by).await?;
        self.outbox
            .enqueue(&mut tx, events::enterprise_registered(&enterprise))
            .await?;
        tx.commit().await?;
        Ok(Registered::Created(enterprise))
    }

    /// Replaces the registry fields of an active enterprise whose current version is
    /// `expected_version`. A change to the same values is no change: the record comes back
    /// as it is, with no new version and no event.
    pub async fn update(
        &self,
        uscc: &Uscc,
        expected_version: i64,
        fields: RegistryFields,
        recorded_by: &str,
    ) -> Result<Enterprise, StoreError> {
        self.change(uscc, expected_version, Change::Fields(fields), recorded_by)
            .await
    }

    /// Marks an active enterprise deregistered; its file stays.
    pub async fn deregister(
        &self,
        uscc: &Uscc,
        expected_version: i64,
        reason: String,
        recorded_by: &str,
    ) -> Result<Enterprise, StoreError> {
        self.change(
            uscc,
            expected_version,
            Change::Deregister { reason },
            recorded_by,
        )
        .await
    }

    async fn change(
        &self,
        uscc: &Uscc,
        expected_version: i64,
        change: Change,
        recorded_by: &str,
    ) -> Result<Enterprise, StoreError> {
        let mut tx = self.pool.begin().await?;
        let current = current(&mut tx, uscc, true)
            .await?
            .ok_or_else(|| StoreError::UnknownEnterprise(uscc.clone()))?;
        if !current.is_active() {
            return Err(StoreError::Deregistered(uscc.clone()));
        }
        if current.version != expected_version {
            return Err(StoreError::StaleVersion {
                uscc: uscc.clone(),
                current: current.version,
                expected: expected_version,
            });
        }
        let mut next = Enterprise {
            version: current.version + 1,
            updated_at: clock(&mut tx).await?,
            ..current.clone()
        };
        match change {
            Change::Fields(fields) if fields == current.fields => return Ok(current),
            Change::Fields(fields) => next.fields = fields,
            Change::Deregister { reason } => {
                next.status = Status::Deregistered;
                next.deregistration_reason = Some(reason);
            }
        }
        insert_version(&mut tx, &next, recorded_by).await?;
        sqlx::query("UPDATE enterprises SET current_version = $2 WHERE uscc = $1")
            .bind(uscc.as_str())
            .bind(next.version)
            .execute(&mut *tx)
            .await?;
        self.outbox
            .enqueue(&mut tx, events::enterprise_updated(&next, current.version))
            .await?;
        tx.commit().await?;
        Ok(next)
    }
}

/// The current record of `uscc`, optionally locking it for a change.
async fn current(
    conn: &mut PgConnection,
    uscc: &Uscc,
    lock: bool,
) -> sqlx::Result<Option<Enterprise>> {
    let query = if lock {
        concat!(
            "SELECT ",
            enterprise_columns!(),
            " FROM enterprises e JOIN enterprise_versions v
               ON v.uscc = e.uscc AND v.version = e.current_version
             WHERE e.uscc = $1 FOR UPDATE OF e"
        )
    } else {
        concat!(
            "SELECT ",
            enterprise_columns!(),
            " FROM enterprises e JOIN enterprise_versions v
               ON v.uscc = e.uscc AND v.version = e.current_version
             WHERE e.uscc = $1"
        )
    };
    sqlx::query_as::<_, super::EnterpriseRow>(query)
        .bind(uscc.as_str())
        .fetch_optional(conn)
        .await?
        .map(Enterprise::try_from)
        .transpose()
}

async fn insert_version(
    conn: &mut PgConnection,
    enterprise: &Enterprise,
    recorded_by: &str,
) -> sqlx::Result<()> {
    let fields = &enterprise.fields;
    sqlx::query(
        "INSERT INTO enterprise_versions (uscc, version, name, legal_representative, park,
            industry_class, segment, size, registration_date, status, deregistration_reason,
            safety_violation, environmental_violation, tax_credit_violation, recorded_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(enterprise.uscc.as_str())
    .bind(enterprise.version)
    .bind(&fields.name)
    .bind(&fields.legal_representative)
    .bind(fields.park.as_str())
    .bind(fields.industry_class.code())
    .bind(fields.industry_class.segment().as_str())
    .bind(fields.size.as_str())
    .bind(fields.registration_date)
    .bind(enterprise.status.as_str())
    .bind(&enterprise.deregistration_reason)
    .bind(fields.vetoes.safety)
    .bind(fields.vetoes.environmental)
    .bind(fields.vetoes.tax_credit)
    .bind(enterprise.updated_at)
    .bind(recorded_by)
    .execute(conn)
    .await?;
    Ok(())
}
