//! The read model's consumers, each through the inbox (an event applies once per event id):
//! census records (name, veto, deregistration), the class in force, land evaluations. Each
//! moves the firm's tier; entering class C and a first land shortfall open follow-up tasks.
//! Events are told apart by `ce_type`; other types are ignored. An event with impossible
//! content (no USCC, no time) goes to the DLQ, never half-applied.

use std::sync::Arc;

use chrono::Utc;
use haicheng_proto::{
    census::v1::{Enterprise, EnterpriseRegistered, EnterpriseStatus, EnterpriseUpdated},
    classification::v1::{EnterpriseClassified, Grading},
    land::v1::{CommitmentEvaluated, EvaluationOutcome},
};
use platform::{Class, Envelope, Handler, HandlerError, time::from_timestamp};
use sqlx::PgConnection;

use crate::{
    config::Rules,
    store::{Store, StoreError, facts::CensusRecord},
};

fn invalid(reason: impl Into<String>) -> HandlerError {
    HandlerError::Permanent(reason.into())
}

pub fn uscc(code: &str) -> Result<&str, HandlerError> {
    platform::uscc::Uscc::parse(code)
        .map(|_| code)
        .map_err(|err| invalid(format!("uscc {code:?}: {err}")))
}

/// A store error inside a consumer: the database's own are retried, the rest dead-lettered.
fn store_error(err: StoreError) -> HandlerError {
    match err {
        StoreError::Database(err) => err.into(),
        other => invalid(other.to_string()),
    }
}

pub fn census_record(enterprise: Option<Enterprise>) -> Result<CensusRecord, HandlerError> {
    let e = enterprise.ok_or_else(|| invalid("the event carries no enterprise"))?;
    uscc(&e.uscc)?;
    Ok(CensusRecord {
        veto: e.safety_violation || e.environmental_violation || e.tax_credit_violation,
        deregistered: e.status() == EnterpriseStatus::Deregistered,
        version: e.version,
        name: e.name,
        uscc: e.uscc,
    })
}

/// Census events: the directory and vetoes.
#[derive(Clone)]
pub struct CensusConsumer {
    pub store: Store,
}

impl Handler for CensusConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        let record = if event.is::<EnterpriseRegistered>() {
            let m: EnterpriseRegistered = event.decode()?;
            census_record(m.enterprise)?
        } else if event.is::<EnterpriseUpdated>() {
            let m: EnterpriseUpdated = event.decode()?;
            census_record(m.enterprise)?
        } else {
            return Ok(());
        };
        self.store
            .apply_census(tx, &record, Utc::now())
            .await
            .map_err(store_error)
    }
}

/// Classification events: the class in force (the latest period's, then the latest by time).
#[derive(Clone)]
pub struct ClassificationConsumer {
    pub store: Store,
    pub rules: Arc<Rules>,
}

impl Handler for ClassificationConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if !event.is::<EnterpriseClassified>() {
            return Ok(());
        }
        let m: EnterpriseClassified = event.decode()?;
        let uscc = uscc(&m.uscc)?;
        let code = m.period.as_ref().map_or("", |p| p.code.as_str());
        let period = platform::period::Period::parse(code)
            .map_err(|err| invalid(format!("period {code:?}: {err}")))?;
        let class = if m.grading() == Grading::Graded {
            Class::from_proto(m.new_class)
        } else {
            None
        };
        let at = m
            .classified_at
            .as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| invalid("the classification has no classified_at"))?;
        self.store
            .apply_class(tx, uscc, &m.name, (class, period), at, &self.rules)
            .await
            .map_err(store_error)
    }
}

/// Land events: whether each grant is short at its latest evaluation.
#[derive(Clone)]
pub struct LandConsumer {
    pub store: Store,
    pub rules: Arc<Rules>,
}

impl Handler for LandConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if !event.is::<CommitmentEvaluated>() {
            return Ok(());
        }
        let m: CommitmentEvaluated = event.decode()?;
        let e = m
            .evaluation
            .ok_or_else(|| invalid("the event carries no evaluation"))?;
        let uscc = uscc(&e.uscc)?;
        if e.grant_id.is_empty() {
            return Err(invalid("the evaluation has no grant id"));
        }
        let at = e
            .recorded_at
            .as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| invalid("the evaluation has no recorded_at"))?;
        let short = e.outcome() == EvaluationOutcome::Short;
        self.store
            .apply_land(tx, &e.grant_id, uscc, short, at, &self.rules)
            .await
            .map_err(store_error)
    }
}
