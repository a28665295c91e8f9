//! Item lists and rosters, per department.

use chrono::{DateTime, Utc};
use platform::auth::Department;
use sqlx::PgConnection;

use super::{Store, StoreError, rows::ItemRow};
use crate::{
    domain::{
        item::{Item, decide_put},
        plan::Inspector,
    },
    events,
};

/// Every item of every department (the lists are short), by department and code.
pub(super) async fn all_items(conn: &mut PgConnection) -> Result<Vec<Item>, StoreError> {
    let rows = sqlx::query_as!(
        ItemRow,
        "SELECT department, code, title, legal_basis, kind, safety, off_site, documents, version, updated_at
         FROM items ORDER BY department, code"
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(ItemRow::into_item).collect()
}

pub(super) async fn roster(
    conn: &mut PgConnection,
    department: Department,
) -> Result<Vec<Inspector>, StoreError> {
    let rows = sqlx::query!(
        "SELECT id, name FROM inspectors WHERE department = $1 ORDER BY id",
        department.as_str()
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Inspector {
            id: r.id,
            name: r.name,
            department,
        })
        .collect())
}

impl Store {
    /// Creates or replaces an item of the caller's list (load → decide → commit with ItemChanged).
    pub async fn put_item(
        &self,
        caller: Option<Department>,
        caller_name: &str,
        item: Item,
        now: DateTime<Utc>,
    ) -> Result<Item, StoreError> {
        let mut tx = self.pool.begin().await?;
        let existing = sqlx::query_as!(
            ItemRow,
            "SELECT department, code, title, legal_basis, kind, safety, off_site, documents, version, updated_at
             FROM items WHERE department = $1 AND code = $2 FOR UPDATE",
            item.department.as_str(),
            item.code
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(ItemRow::into_item)
        .transpose()?;
        let item = decide_put(caller, caller_name, existing.as_ref(), item, now)?;
        sqlx::query!(
            "INSERT INTO items (department, code, title, legal_basis, kind, safety, off_site, documents, version, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (department, code) DO UPDATE SET
                 title = EXCLUDED.title, legal_basis = EXCLUDED.legal_basis, kind = EXCLUDED.kind,
                 safety = EXCLUDED.safety, off_site = EXCLUDED.off_site, documents = EXCLUDED.documents,
                 version = EXCLUDED.version, updated_at = EXCLUDED.updated_at",
            item.department.as_str(),
            item.code,
            item.title,
            item.legal_basis,
            <&str>::from(item.kind),
            item.safety,
            item.off_site,
            &item.documents,
            item.version,
            item.updated_at
        )
        .execute(&mut *tx)
        .await?;
        self.outbox
            .enqueue(&mut tx, events::item_changed(&item))
            .await?;
        tx.commit().await?;
        Ok(item)
    }

    /// A department's items, or every department's.
    pub async fn items(&self, department: Option<Department>) -> Result<Vec<Item>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let all = all_items(&mut conn).await?;
        Ok(all
            .into_iter()
            .filter(|i| department.is_none_or(|d| d == i.department))
            .collect())
    }

    /// Replaces a department's roster.
    pub async fn put_roster(
        &self,
        department: Department,
        inspectors: &[Inspector],
    ) -> Result<Vec<Inspector>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "DELETE FROM inspectors WHERE department = $1",
            department.as_str()
        )
        .execute(&mut *tx)
        .await?;
        for i in inspectors {
            sqlx::query!(
                "INSERT INTO inspectors (department, id, name) VALUES ($1, $2, $3)",
                department.as_str(),
                i.id,
                i.name
            )
            .execute(&mut *tx)
            .await?;
        }
        let stored = roster(&mut tx, department).await?;
        tx.commit().await?;
        Ok(stored)
    }

    pub async fn roster(&self, department: Department) -> Result<Vec<Inspector>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        roster(&mut conn, department).await
    }
}
