//! Event handlers, each through the platform's inbox (the effect is applied once per event
//! id, in the inbox transaction):
//!
//! - [`CensusConsumer`]: enterprises (active, segment, park) from registry events; yearly
//!   census returns kept and, for a holder of land, its grants evaluated with the events and
//!   notices that follow, all in the same transaction;
//! - [`ClassificationConsumer`]: classes and scores for the land queue.
//!
//! Events are told apart by `ce_type`; other types are ignored, not dead-lettered.

use chrono::{DateTime, Utc};
use haicheng_proto::{
    census::v1::{
        CensusReturnSubmitted, Enterprise, EnterpriseRegistered, EnterpriseStatus,
        EnterpriseUpdated,
    },
    classification::v1::EnterpriseClassified,
};
use platform::{
    Class, Envelope, Handler, HandlerError, Park, Segment, period::Period, time::from_timestamp,
};
use sqlx::PgConnection;

use crate::{
    domain::evaluation::{Figures, ReturnFacts},
    store::{EnterpriseRecord, Store, StoreError},
};

fn invalid(reason: impl Into<String>) -> HandlerError {
    HandlerError::Permanent(reason.into())
}

fn transient(err: StoreError) -> HandlerError {
    match err {
        StoreError::Database(err) => err.into(),
        other => HandlerError::Transient(anyhow::Error::new(other)),
    }
}

pub fn enterprise_record(enterprise: Option<Enterprise>) -> Result<EnterpriseRecord, HandlerError> {
    let e = enterprise.ok_or_else(|| invalid("the event carries no enterprise"))?;
    if e.uscc.is_empty() {
        return Err(invalid("the enterprise has no USCC"));
    }
    Ok(EnterpriseRecord {
        active: e.status() != EnterpriseStatus::Deregistered,
        segment: Segment::from_proto(e.segment),
        park: Park::from_proto(e.park),
        uscc: e.uscc,
        name: e.name,
        version: e.version,
    })
}

/// Applies census events.
#[derive(Clone)]
pub struct CensusConsumer {
    pub store: Store,
}

impl Handler for CensusConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if event.is::<EnterpriseRegistered>() {
            let message: EnterpriseRegistered = event.decode()?;
            let record = enterprise_record(message.enterprise)?;
            self.store
                .apply_enterprise(tx, &record)
                .await
                .map_err(transient)?;
        } else if event.is::<EnterpriseUpdated>() {
            let message: EnterpriseUpdated = event.decode()?;
            let record = enterprise_record(message.enterprise)?;
            self.store
                .apply_enterprise(tx, &record)
                .await
                .map_err(transient)?;
        } else if event.is::<CensusReturnSubmitted>() {
            let message: CensusReturnSubmitted = event.decode()?;
            self.apply_return(tx, message).await?;
        } else {
            tracing::debug!(ce_type = %event.event.ty, "ignoring an event type land-parcel does not use");
        }
        Ok(())
    }
}

impl CensusConsumer {
    async fn apply_return(
        &self,
        tx: &mut PgConnection,
        m: CensusReturnSubmitted,
    ) -> Result<(), HandlerError> {
        if m.uscc.is_empty() {
            return Err(invalid("the return has no USCC"));
        }
        let code = m.period.as_ref().map(|p| p.code.as_str()).unwrap_or("");
        let period = Period::parse(code).map_err(|err| invalid(format!("period {err}")))?;
        let indicators = m
            .indicators
            .as_ref()
            .ok_or_else(|| invalid("the return carries no indicators"))?;
        // A return is accepted only for an active enterprise: it makes the firm known here.
        let record = EnterpriseRecord {
            uscc: m.uscc.clone(),
            name: m.name.clone(),
            active: true,
            segment: Segment::from_proto(m.segment),
            park: Park::from_proto(m.park),
            version: m.enterprise_version,
        };
        self.store
            .apply_enterprise(tx, &record)
            .await
            .map_err(transient)?;
        // A yearly period's code is its four digits; a quarter's has six.
        let canonical = period.code();
        let Some(year) = (canonical.len() == 4)
            .then(|| canonical.parse::<i32>().ok())
            .flatten()
        else {
            tracing::debug!(uscc = %m.uscc, period = code, "a quarterly return: evaluations use yearly ones");
            return Ok(());
        };
        let submitted_at: DateTime<Utc> = m
            .submitted_at
            .as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| invalid("the return has no valid submitted_at"))?;
        let facts = ReturnFacts {
            uscc: &m.uscc,
            name: &m.name,
            year,
            revision: m.revision,
            figures: Figures {
                output_fen: indicators.industrial_output_fen,
                tax_fen: indicators.tax_paid_fen,
                energy_tce: indicators.energy_use_tce,
            },
            evaluated_on: (submitted_at + chrono::Duration::hours(8)).date_naive(),
            submitted_at,
        };
        let outcome = self
            .store
            .apply_return(tx, &facts)
            .await
            .map_err(transient)?;
        if outcome.evaluations > 0 {
            tracing::info!(uscc = %m.uscc, year, evaluations = outcome.evaluations, notices = outcome.notices, "grants evaluated");
        }
        Ok(())
    }
}

/// Applies classification events to the classes the queue is ordered by.
#[derive(Clone)]
pub struct ClassificationConsumer {
    pub store: Store,
}

impl Handler for ClassificationConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if !event.is::<EnterpriseClassified>() {
            tracing::debug!(ce_type = %event.event.ty, "ignoring an event type land-parcel does not use");
            return Ok(());
        }
        let m: EnterpriseClassified = event.decode()?;
        if m.uscc.is_empty() {
            return Err(invalid("the classification has no USCC"));
        }
        let at = m
            .classified_at
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(event.event.time);
        let score = if m.score.is_finite() { m.score } else { 0.0 };
        let code = m.period.as_ref().map(|p| p.code.as_str()).unwrap_or("");
        let period = Period::parse(code).map_err(|err| invalid(format!("period {err}")))?;
        let class = Class::from_proto(m.new_class);
        self.store
            .apply_class(tx, &m.uscc, &period.code(), class, score, at)
            .await
            .map_err(transient)?;
        Ok(())
    }
}
