//! Disposal of idle land: the idle fee settled, take-back decided (one per grant: the grant's
//! row is locked, and the decision's key is the grant), low-efficiency land listed, long-term
//! leases renewed. Each change is load → `domain::disposal` / `supply` decide → commit with
//! its events.

use chrono::Utc;
use sqlx::{PgConnection, types::Json};
use uuid::Uuid;

use super::{
    Result, Store, check_version, grants, is_unique_violation, parcels, read_model, refused, today,
};
use crate::{
    domain::{
        disposal::{self, DisposalRefused, Settlement, TakeBack, TakeBackCommand, TakenBackUnit},
        grant::{GrantRecord, GrantStatus, GrantView},
        parcel::{ParcelRecord, ParcelStatus},
        supply::{self, Renewal, SupplyMode},
    },
    events::{self, LandNotice},
};

/// The take-back decision of a grant, if it was taken back.
pub(super) async fn take_back_of(conn: &mut PgConnection, id: Uuid) -> Result<Option<TakeBack>> {
    let row = sqlx::query!(
        r#"SELECT review_reason, reason, document_number, decided_on, decided_by,
            units AS "units: Json<Vec<TakenBackUnit>>"
        FROM take_backs WHERE grant_id = $1"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| TakeBack {
        review_reason: r.review_reason,
        reason: r.reason,
        document_number: r.document_number,
        decided_on: r.decided_on,
        decided_by: r.decided_by,
        units: r.units.0,
    }))
}

/// The units on a parcel with their holders, as a take-back names them.
async fn units_on(conn: &mut PgConnection, parcel_id: &str) -> Result<Vec<TakenBackUnit>> {
    let rows = sqlx::query!(
        "SELECT id, building_id, holder_uscc, status FROM units WHERE parcel_id = $1
         ORDER BY building_id, floor, part",
        parcel_id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| TakenBackUnit {
            unit_id: r.id.to_string(),
            building_id: r.building_id.to_string(),
            holder_uscc: r.holder_uscc,
            status: r.status,
        })
        .collect())
}

/// Writes a decided take-back: the decision, the grant ended, the parcel back in supply.
async fn commit_take_back(
    conn: &mut PgConnection,
    grant: &GrantRecord,
    decision: &TakeBack,
) -> Result<()> {
    let inserted = sqlx::query!(
        "INSERT INTO take_backs (grant_id, parcel_id, review_reason, reason, document_number,
             decided_on, decided_by, units)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        grant.id,
        grant.parcel_id,
        decision.review_reason,
        decision.reason,
        decision.document_number,
        decision.decided_on,
        decision.decided_by,
        Json(&decision.units) as _,
    )
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => {
            return Err(refused(DisposalRefused::NotInForce(
                grant.id,
                GrantStatus::TakenBack,
            )));
        }
        Err(err) => return Err(err.into()),
    }
    sqlx::query!(
        "UPDATE grants SET status_before_end = status, status = 'taken_back', ended_at = now(),
             version = version + 1
         WHERE id = $1",
        grant.id
    )
    .execute(&mut *conn)
    .await?;
    parcels::lock(conn, &grant.parcel_id).await?;
    parcels::set_status(conn, &grant.parcel_id, ParcelStatus::Available).await?;
    Ok(())
}

fn take_back_notice<'a>(
    grant: &'a GrantRecord,
    decision: &TakeBack,
    name: &'a str,
) -> LandNotice<'a> {
    LandNotice {
        cause: format!("take_back|{}", grant.id),
        kind: "land_taken_back",
        text: disposal::take_back_notice_text(grant, decision),
        uscc: &grant.uscc,
        enterprise_name: name,
        parcel_id: &grant.parcel_id,
        period: None,
        issued_at: Utc::now(),
        due_on: None,
    }
}

impl Store {
    /// Takes a grant under review back: the grant ends, the parcel returns to supply.
    pub async fn take_back(
        &self,
        id: Uuid,
        expected_version: i64,
        command: &TakeBackCommand<'_>,
    ) -> Result<(GrantView, ParcelRecord)> {
        let mut tx = self.pool.begin().await?;
        let grant = grants::load_locked(&mut tx, id).await?;
        check_version(&format!("grant {id}"), grant.version, expected_version)?;
        let day = today(&mut tx).await?;
        let units = units_on(&mut tx, &grant.parcel_id).await?;
        let view = self.view(grant, day);
        let decision = disposal::decide_take_back(&view, units, command, day).map_err(refused)?;
        let grant = view.grant;
        commit_take_back(&mut tx, &grant, &decision).await?;
        let after = self.view(grants::load(&mut tx, id).await?, day);
        let parcel = parcels::load(&mut tx, &grant.parcel_id).await?;
        let name = read_model::enterprise(&mut tx, &grant.uscc)
            .await?
            .map(|e| e.name)
            .unwrap_or_default();
        let mut announced = vec![events::grant_taken_back(&after, &parcel, Utc::now())];
        let notice = take_back_notice(&grant, &decision, &name);
        announced.extend(events::notices(
            &notice,
            &self.rules.disposal_notice_departments,
        ));
        self.publish(&mut tx, announced).await?;
        tx.commit().await?;
        Ok((after, parcel))
    }

    /// Records an ordered idle fee as paid or waived.
    pub async fn settle_idle_fee(
        &self,
        id: Uuid,
        expected_version: i64,
        settlement: Settlement,
    ) -> Result<GrantView> {
        let mut tx = self.pool.begin().await?;
        let grant = grants::load_locked(&mut tx, id).await?;
        check_version(&format!("grant {id}"), grant.version, expected_version)?;
        let day = today(&mut tx).await?;
        let fee = disposal::decide_fee(&grant, settlement, day).map_err(refused)?;
        sqlx::query!(
            "UPDATE grants SET idle_fee_status = $2, idle_fee_settled_on = $3,
                 idle_fee_waiver_reason = $4, version = version + 1
             WHERE id = $1",
            id,
            fee.status.as_str(),
            fee.settled_on,
            fee.waiver_reason,
        )
        .execute(&mut *tx)
        .await?;
        let after = self.view(grants::load(&mut tx, id).await?, day);
        self.publish(&mut tx, vec![events::idle_fee_settled(&after, &fee)])
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Renews a long-term lease in force.
    pub async fn renew_lease(
        &self,
        id: Uuid,
        expected_version: i64,
        renewal: Renewal,
    ) -> Result<GrantView> {
        let mut tx = self.pool.begin().await?;
        let grant = grants::load_locked(&mut tx, id).await?;
        check_version(&format!("grant {id}"), grant.version, expected_version)?;
        if grant.terms.mode != SupplyMode::LongTermLease {
            return Err(refused(DisposalRefused::NotLongTermLease(id)));
        }
        if !grant.in_force() {
            return Err(refused(DisposalRefused::NotInForce(id, grant.status)));
        }
        let parcel = parcels::load(&mut tx, &grant.parcel_id).await?;
        let terms =
            supply::check_renewal(&grant.terms, renewal, parcel.land_use, &self.rules.terms)
                .map_err(|v| refused(DisposalRefused::Invalid(v)))?;
        sqlx::query!(
            "UPDATE grants SET lease_years = $2, price_fen = $3, yearly_rent_fen = $4,
                 version = version + 1
             WHERE id = $1",
            id,
            terms.lease_years as i32,
            terms.price_fen,
            terms.yearly_rent_fen,
        )
        .execute(&mut *tx)
        .await?;
        let day = today(&mut tx).await?;
        let after = self.view(grants::load(&mut tx, id).await?, day);
        let added = terms.lease_years - grant.terms.lease_years;
        let event = events::lease_renewed(&after, added, terms.yearly_rent_fen);
        self.publish(&mut tx, vec![event]).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Grants in force flagged low-efficiency, by id after `after`, at most `limit`, with the
    /// park of each one's parcel.
    pub async fn low_efficiency_grants(
        &self,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<(GrantView, platform::Park)>> {
        let mut conn = self.pool.acquire().await?;
        let day = today(&mut conn).await?;
        let mut out = Vec::new();
        for grant in grants::low_efficiency(&mut conn, after, limit).await? {
            let park = parcels::load(&mut conn, &grant.parcel_id).await?.park;
            out.push((self.view(grant, day), park));
        }
        Ok(out)
    }
}
