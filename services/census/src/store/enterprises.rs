//! Registry writes: register, update, deregister. Each adds a version row and moves the
//! enterprise's current-version pointer, never changing an earlier version.

use sqlx::PgConnection;

use super::{EnterpriseRow, Store, StoreError, clock, corrupt};
use crate::{
    domain::{
        Enterprise, Park, RegistryFields, Uscc,
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
        let created_at = sqlx::query_scalar!(
            "INSERT INTO enterprises (uscc, current_version, created_at)
             VALUES ($1, 1, clock_timestamp())
             ON CONFLICT (uscc) DO NOTHING
             RETURNING created_at",
            uscc.as_str(),
        )
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
        sqlx::query!(
            "UPDATE enterprises SET current_version = $2 WHERE uscc = $1",
            next.uscc.as_str(),
            next.version,
        )
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
    // The columns of `enterprise_columns!`, written out: the macros take one literal.
    let row = if lock {
        sqlx::query_as!(
            EnterpriseRow,
            r#"SELECT v.uscc, v.version, v.name, v.legal_representative, v.park AS "park: Park",
                    v.industry_class, v.size, v.registration_date, v.status, v.deregistration_reason,
                    v.safety_violation, v.environmental_violation, v.tax_credit_violation,
                    v.recorded_at, e.created_at
             FROM enterprises e JOIN enterprise_versions v
               ON v.uscc = e.uscc AND v.version = e.current_version
             WHERE e.uscc = $1 FOR UPDATE OF e"#,
            uscc.as_str(),
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_as!(
            EnterpriseRow,
            r#"SELECT v.uscc, v.version, v.name, v.legal_representative, v.park AS "park: Park",
                    v.industry_class, v.size, v.registration_date, v.status, v.deregistration_reason,
                    v.safety_violation, v.environmental_violation, v.tax_credit_violation,
                    v.recorded_at, e.created_at
             FROM enterprises e JOIN enterprise_versions v
               ON v.uscc = e.uscc AND v.version = e.current_version
             WHERE e.uscc = $1"#,
            uscc.as_str(),
        )
        .fetch_optional(conn)
        .await?
    };
    row.map(Enterprise::try_from).transpose()
}

async fn insert_version(
    conn: &mut PgConnection,
    enterprise: &Enterprise,
    recorded_by: &str,
) -> sqlx::Result<()> {
    let fields = &enterprise.fields;
    sqlx::query!(
        "INSERT INTO enterprise_versions (uscc, version, name, legal_representative, park,
            industry_class, segment, size, registration_date, status, deregistration_reason,
            safety_violation, environmental_violation, tax_credit_violation, recorded_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        enterprise.uscc.as_str(),
        enterprise.version,
        fields.name,
        fields.legal_representative,
        fields.park.as_str(),
        fields.industry_class.code(),
        fields.industry_class.segment().as_str(),
        fields.size.as_str(),
        fields.registration_date,
        enterprise.status.as_str(),
        enterprise.deregistration_reason,
        fields.vetoes.safety,
        fields.vetoes.environmental,
        fields.vetoes.tax_credit,
        enterprise.updated_at,
        recorded_by,
    )
    .execute(conn)
    .await?;
    Ok(())
}
