//! The facts the tiers read, as other services' events tell them (through the inbox, exactly
//! once): census records (name, veto, deregistration), the class in force, land evaluations;
//! and each firm's tier, kept with the facts. An older event never overwrites a newer one
//! (census versions, classification times), so a replayed class event changes nothing.
//! Entering class C opens a follow-up task for market supervision; a land shortfall one for
//! natural resources.

use chrono::{DateTime, NaiveDate, Utc};
use platform::{Class, auth::Department, calendar::china_date, period::Period};
use sqlx::PgConnection;

use super::{Store, StoreError, placement::NewTask, rows::parse};
use crate::{
    config::Rules,
    domain::{
        item::ItemKind,
        tier::{
            Facts, FirmStanding, Standing, Tier, assess, follow_up_on_class, follow_up_on_land,
        },
        visit::Exemption,
    },
    events,
};

/// A census registry record, as an event carries it.
#[derive(Debug, Clone)]
pub struct CensusRecord {
    pub uscc: String,
    pub name: String,
    pub veto: bool,
    pub deregistered: bool,
    pub version: i64,
}

struct FirmRow {
    uscc: String,
    name: String,
    veto: bool,
    class: Option<String>,
    tier: String,
    white_listed: bool,
    tier_reason: String,
    updated_at: DateTime<Utc>,
    land_shortfall: Option<bool>,
    open_rectification: Option<bool>,
}

impl FirmRow {
    fn into_standing(self) -> Result<FirmStanding, StoreError> {
        let class = match &self.class {
            Some(c) => Some(Class::parse(c).ok_or_else(|| super::rows::corrupt("class", c))?),
            None => None,
        };
        Ok(FirmStanding {
            facts: Facts {
                class,
                veto: self.veto,
                land_shortfall: self.land_shortfall.unwrap_or(false),
                open_rectification: self.open_rectification.unwrap_or(false),
            },
            standing: Standing {
                tier: parse::<Tier>("tier", &self.tier)?,
                white_listed: self.white_listed,
                reason: self.tier_reason,
            },
            uscc: self.uscc,
            name: self.name,
            updated_at: self.updated_at,
        })
    }
}

/// Which firms a tier list shows.
#[derive(Debug, Clone, Default)]
pub struct TierFilter {
    pub tier: Option<Tier>,
    pub white_listed_only: bool,
}

/// One firm with its facts, as stored.
pub(super) async fn firm(
    conn: &mut PgConnection,
    uscc: &str,
) -> Result<Option<FirmStanding>, StoreError> {
    let row = sqlx::query_as!(
        FirmRow,
        r#"SELECT f.uscc, f.name, f.veto, f.class, f.tier, f.white_listed, f.tier_reason, f.updated_at,
                  EXISTS (SELECT 1 FROM land_grants g WHERE g.uscc = f.uscc AND g.short) AS "land_shortfall",
                  EXISTS (SELECT 1 FROM rectifications r WHERE r.uscc = f.uscc AND NOT r.closed) AS "open_rectification"
           FROM firms f WHERE f.uscc = $1 AND NOT f.deregistered"#,
        uscc
    )
    .fetch_optional(conn)
    .await?;
    row.map(FirmRow::into_standing).transpose()
}

/// Assesses the firm again from its facts; when its tier or white-list standing changed,
/// stores it with a RiskTierChanged event.
pub(super) async fn refresh_standing(
    store: &Store,
    conn: &mut PgConnection,
    uscc: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(mut firm) = firm(conn, uscc).await? else {
        return Ok(());
    };
    let standing = assess(&firm.facts);
    if standing == firm.standing {
        return Ok(());
    }
    let old = std::mem::replace(&mut firm.standing, standing);
    firm.updated_at = now;
    sqlx::query!(
        "UPDATE firms SET tier = $2, white_listed = $3, tier_reason = $4, updated_at = $5
         WHERE uscc = $1",
        uscc,
        <&str>::from(firm.standing.tier),
        firm.standing.white_listed,
        firm.standing.reason,
        now
    )
    .execute(&mut *conn)
    .await?;
    store
        .outbox
        .enqueue(conn, events::risk_tier_changed(&firm, &old))
        .await?;
    Ok(())
}

impl Store {
    /// Applies a registry record unless a newer version is stored.
    pub async fn apply_census(
        &self,
        conn: &mut PgConnection,
        record: &CensusRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO firms (uscc, name, veto, deregistered, census_version, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (uscc) DO UPDATE SET
                 name = EXCLUDED.name, veto = EXCLUDED.veto, deregistered = EXCLUDED.deregistered,
                 census_version = EXCLUDED.census_version
             WHERE firms.census_version < EXCLUDED.census_version",
            record.uscc,
            record.name,
            record.veto,
            record.deregistered,
            record.version,
            now
        )
        .execute(&mut *conn)
        .await?;
        refresh_standing(self, conn, &record.uscc, now).await
    }

    /// Applies a classification unless a later one is stored; entering class C opens a
    /// follow-up task for market supervision.
    pub async fn apply_class(
        &self,
        conn: &mut PgConnection,
        uscc: &str,
        name: &str,
        (class, period): (Option<Class>, Period),
        at: DateTime<Utc>,
        rules: &Rules,
    ) -> Result<(), StoreError> {
        let before: Option<Option<String>> =
            sqlx::query_scalar!("SELECT class FROM firms WHERE uscc = $1 FOR UPDATE", uscc)
                .fetch_optional(&mut *conn)
                .await?;
        let applied = sqlx::query!(
            "INSERT INTO firms (uscc, name, class, class_period_key, classified_at, updated_at)
             VALUES ($1, $2, $3, $5, $4, $4)
             ON CONFLICT (uscc) DO UPDATE SET
                 class = EXCLUDED.class, class_period_key = EXCLUDED.class_period_key,
                 classified_at = EXCLUDED.classified_at,
                 name = CASE WHEN firms.name = '' THEN EXCLUDED.name ELSE firms.name END
             WHERE firms.classified_at IS NULL
                OR (firms.class_period_key, firms.classified_at)
                   < (EXCLUDED.class_period_key, EXCLUDED.classified_at)",
            uscc,
            name,
            class.map(Class::as_str),
            at,
            period.completion_key()
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if applied == 0 {
            return Ok(());
        }
        let before = before.flatten().as_deref().and_then(Class::parse);
        refresh_standing(self, conn, uscc, at).await?;
        if let Some(department) = follow_up_on_class(before, class) {
            let reference = format!("class C in force since {}", china_date(at));
            self.follow_up(conn, department, uscc, reference, china_date(at), rules, at)
                .await?;
        }
        Ok(())
    }

    /// Applies a grant's evaluation unless a later one is stored; the firm's first shortfall
    /// opens a follow-up task for natural resources.
    pub async fn apply_land(
        &self,
        conn: &mut PgConnection,
        grant_id: &str,
        uscc: &str,
        short: bool,
        at: DateTime<Utc>,
        rules: &Rules,
    ) -> Result<(), StoreError> {
        let was_short: Option<bool> = sqlx::query_scalar!(
            "SELECT EXISTS (SELECT 1 FROM land_grants WHERE uscc = $1 AND short)",
            uscc
        )
        .fetch_one(&mut *conn)
        .await?;
        let applied = sqlx::query!(
            "INSERT INTO land_grants (grant_id, uscc, short, recorded_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (grant_id) DO UPDATE SET short = EXCLUDED.short, recorded_at = EXCLUDED.recorded_at
             WHERE land_grants.recorded_at < EXCLUDED.recorded_at",
            grant_id,
            uscc,
            short,
            at
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if applied == 0 {
            return Ok(());
        }
        sqlx::query!(
            "INSERT INTO firms (uscc, updated_at) VALUES ($1, $2) ON CONFLICT (uscc) DO NOTHING",
            uscc,
            at
        )
        .execute(&mut *conn)
        .await?;
        refresh_standing(self, conn, uscc, at).await?;
        if let Some(department) = follow_up_on_land(was_short.unwrap_or(false), short) {
            let reference = format!("land commitment of grant {grant_id} short");
            self.follow_up(conn, department, uscc, reference, china_date(at), rules, at)
                .await?;
        }
        Ok(())
    }

    /// A triggered follow-up task of `department` on its triggered items (none listed: no
    /// task, logged), due `follow_up_days` after `on`, exempt as a data clue.
    #[allow(clippy::too_many_arguments)]
    async fn follow_up(
        &self,
        conn: &mut PgConnection,
        department: Department,
        uscc: &str,
        reference: String,
        on: NaiveDate,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let items: Vec<String> = sqlx::query_scalar!(
            "SELECT code FROM items WHERE department = $1 AND kind = 'TRIGGERED' ORDER BY code",
            department.as_str()
        )
        .fetch_all(&mut *conn)
        .await?;
        if items.is_empty() {
            tracing::warn!(
                department = department.as_str(),
                uscc,
                "no triggered item listed: no follow-up task"
            );
            return Ok(());
        }
        let task = NewTask {
            department,
            uscc: uscc.to_string(),
            kind: ItemKind::Triggered,
            item_codes: items,
            planned_on: on + chrono::Duration::days(i64::from(rules.limits.follow_up_days)),
            exemption: Some((Exemption::DataClue, reference)),
        };
        let placed = self.place_new(conn, task, rules, now).await?;
        self.outbox
            .enqueue(conn, events::follow_up_notice(&placed.0, now))
            .await?;
        Ok(())
    }

    /// One firm's standing (a deregistered or unknown firm: not found).
    pub async fn firm_standing(&self, uscc: &str) -> Result<FirmStanding, StoreError> {
        let mut conn = self.pool.acquire().await?;
        firm(&mut conn, uscc)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("enterprise {uscc}")))
    }

    /// Firms by USCC after `after`, filtered.
    pub async fn standings(
        &self,
        filter: &TierFilter,
        after: &str,
        limit: i64,
    ) -> Result<Vec<FirmStanding>, StoreError> {
        let rows = sqlx::query_as!(
            FirmRow,
            r#"SELECT f.uscc, f.name, f.veto, f.class, f.tier, f.white_listed, f.tier_reason, f.updated_at,
                      EXISTS (SELECT 1 FROM land_grants g WHERE g.uscc = f.uscc AND g.short) AS "land_shortfall",
                      EXISTS (SELECT 1 FROM rectifications r WHERE r.uscc = f.uscc AND NOT r.closed) AS "open_rectification"
               FROM firms f
               WHERE NOT f.deregistered AND f.uscc > $1
                 AND ($2::text IS NULL OR f.tier = $2) AND (NOT $3 OR f.white_listed)
               ORDER BY f.uscc LIMIT $4"#,
            after,
            filter.tier.map(<&str>::from),
            filter.white_listed_only,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(FirmRow::into_standing).collect()
    }
}
