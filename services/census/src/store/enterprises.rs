//! Registry writes: register, update, deregister. Each adds a version row and moves the
//! enterprise's current-version pointer, never changing an earlier version.

use sqlx::PgConnection;

use super::{Store, StoreError, clock, corrupt, enterprise_columns};
use crate::{
    domain::{
        Enterprise, RegistryFields, Uscc,
        registry::{self, ChangeCommand, Decision},
    },
    events,
};

/// What a registration did.
pub enum Registered {
    /// A new enterprise, version 1.
    Created(Enterprise),
    /// The same registration again: the current record, unchanged.
    Existing(Enterprise),
}

impl Store {
    /// Registers `uscc`; the same data again returns the existing record, different data is
    /// refused ([`registry::register_again`]).
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
            return Ok(Registered::Existing(registry::register_again(
                current, fields,
            )?));
        };
        let enterprise = registry::first_version(uscc.clone(), fields.clone(), created_at);
        insert_version(&mut tx, &enterprise, recorded_by).await?;
        self.outbox
            .enqueue(&mut tx, events::enterprise_registered(&enterprise))
            .await?;
        tx.commit().await?;
        Ok(Registered::Created(enterprise))
    }

    /// Changes an enterprise's record: loads it (locked) and the time, lets
    /// [`registry::decide`] rule, and commits a new version with its event. A change to the
    /// same values comes back as the record it is, with no new version and no event.
    pub async fn change(
        &self,
        command: ChangeCommand,
        recorded_by: &str,
    ) -> Result<Enterprise, StoreError> {
        let mut tx = self.pool.begin().await?;
        let current = current(&mut tx, &command.uscc, true).await?;
        let now = clock(&mut tx).await?;
        let (next, previous_version) = match registry::decide(current, command, now)? {
            Decision::Unchanged(current) => return Ok(current),
            Decision::NewVersion {
                next,
                previous_version,
            } => (next, previous_version),
        };
        insert_version(&mut tx, &next, recorded_by).await?;
        sqlx::query("UPDATE enterprises SET current_version = $2 WHERE uscc = $1")
            .bind(next.uscc.as_str())
            .bind(next.version)
            .execute(&mut *tx)
            .await?;
        self.outbox
            .enqueue(&mut tx, events::enterprise_updated(&next, previous_version))
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
