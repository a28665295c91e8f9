//! The read model's consumers, each through the inbox (an event applies once per event id):
//! census registry records and returns, classes in force and published, land evaluations,
//! and external fairs. Events are told apart by `ce_type`; other types are ignored. An event
//! with impossible content (no USCC, a bad period) goes to the DLQ, never half-applied.

use chrono::{Datelike, NaiveDate};
use haicheng_proto::{
    census::v1::{
        CensusReturnSubmitted, Enterprise, EnterpriseRegistered, EnterpriseStatus,
        EnterpriseUpdated,
    },
    classification::v1::{EnterpriseClassified, Grading, PeriodFinalized, PeriodPublished},
    fair::v1::{RegistrationCancelled, RegistrationConfirmed},
    land::v1::{CommitmentEvaluated, EvaluationOutcome, GrantTakenBack},
};
use platform::{
    Class, Envelope, Handler, HandlerError, Park, Segment, calendar::china_date, period::Period,
    time::from_timestamp,
};
use sqlx::PgConnection;

use crate::{
    domain::facts::Figures,
    store::read_model::{self, FirmRecord},
};

fn invalid(reason: impl Into<String>) -> HandlerError {
    HandlerError::Permanent(reason.into())
}

pub fn period(code: Option<&str>) -> Result<Period, HandlerError> {
    Period::parse(code.unwrap_or("")).map_err(|err| invalid(format!("period {err}")))
}

pub fn uscc(code: &str) -> Result<&str, HandlerError> {
    platform::uscc::Uscc::parse(code)
        .map(|_| code)
        .map_err(|err| invalid(format!("uscc {code:?}: {err}")))
}

pub fn firm(enterprise: Option<Enterprise>) -> Result<FirmRecord, HandlerError> {
    let e = enterprise.ok_or_else(|| invalid("the event carries no enterprise"))?;
    uscc(&e.uscc)?;
    Ok(FirmRecord {
        park: Park::from_proto(e.park),
        segment: Segment::from_proto(e.segment),
        registered_on: NaiveDate::parse_from_str(&e.registration_date, "%Y-%m-%d").ok(),
        veto: e.safety_violation || e.environmental_violation || e.tax_credit_violation,
        deregistered: e.status() == EnterpriseStatus::Deregistered,
        version: e.version,
        name: e.name,
        uscc: e.uscc,
    })
}

/// Census events: registry records and returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct CensusConsumer;

impl Handler for CensusConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if event.is::<EnterpriseRegistered>() {
            let m: EnterpriseRegistered = event.decode()?;
            read_model::upsert_firm(tx, &firm(m.enterprise)?).await?;
        } else if event.is::<EnterpriseUpdated>() {
            let m: EnterpriseUpdated = event.decode()?;
            read_model::upsert_firm(tx, &firm(m.enterprise)?).await?;
        } else if event.is::<CensusReturnSubmitted>() {
            let m: CensusReturnSubmitted = event.decode()?;
            let uscc = uscc(&m.uscc)?;
            let period = period(m.period.as_ref().map(|p| p.code.as_str()))?;
            let i = m
                .indicators
                .as_ref()
                .ok_or_else(|| invalid("the return carries no indicators"))?;
            let figures = Figures {
                employees_total: i.employees_total,
                rd_spend_fen: i.rd_spend_fen,
                revenue_fen: i.revenue_fen,
                industrial_output_fen: i.industrial_output_fen,
                tax_paid_fen: i.tax_paid_fen,
                export_sales_fen: i.export_sales_fen,
                equipment_value_fen: i.equipment_value_fen,
                invention_patents: i.invention_patents,
                land_used_centi_mu: i.land_used_centi_mu,
            };
            read_model::upsert_return(tx, uscc, period, m.revision, &figures).await?;
        }
        Ok(())
    }
}

/// Classification events: every classification (the class in force is the latest), when
/// each period was published (the class as published is the last classification before it),
/// and each period's final list.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassificationConsumer;

impl Handler for ClassificationConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if event.is::<EnterpriseClassified>() {
            let m: EnterpriseClassified = event.decode()?;
            let uscc = uscc(&m.uscc)?;
            let period = period(m.period.as_ref().map(|p| p.code.as_str()))?;
            let graded = m.grading() == Grading::Graded;
            let class = if graded {
                Class::from_proto(m.new_class)
            } else {
                None
            };
            let at = m
                .classified_at
                .as_ref()
                .and_then(from_timestamp)
                .ok_or_else(|| invalid("the classification has no classified_at"))?;
            read_model::set_class(tx, uscc, period, class, m.score, at).await?;
        } else if event.is::<PeriodPublished>() {
            let m: PeriodPublished = event.decode()?;
            let publication = m
                .publication
                .ok_or_else(|| invalid("the event carries no publication"))?;
            let period = period(publication.period.as_ref().map(|p| p.code.as_str()))?;
            let at = publication
                .published_at
                .as_ref()
                .and_then(from_timestamp)
                .ok_or_else(|| invalid("the publication has no published_at"))?;
            read_model::set_published(tx, period, at).await?;
        } else if event.is::<PeriodFinalized>() {
            let m: PeriodFinalized = event.decode()?;
            finalized(tx, m).await?;
        }
        Ok(())
    }
}

/// Applies a period's final list: every firm's class as finalized.
async fn finalized(tx: &mut PgConnection, m: PeriodFinalized) -> Result<(), HandlerError> {
    let f = m
        .finalization
        .ok_or_else(|| invalid("the event carries no finalization"))?;
    let period = period(f.period.as_ref().map(|p| p.code.as_str()))?;
    let at = f
        .finalized_at
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| invalid("the finalization has no finalized_at"))?;
    let classes = m
        .classes
        .into_iter()
        .map(|c| {
            uscc(&c.uscc)?;
            Ok((c.uscc, Class::from_proto(c.enterprise_class)))
        })
        .collect::<Result<Vec<_>, HandlerError>>()?;
    read_model::set_finalized(tx, period, at, &classes).await?;
    Ok(())
}

/// Land events: whether each grant is short at its latest evaluation; a grant taken back is
/// short no more. Other land events (idle fees, lineage, leases) are not read here.
#[derive(Debug, Clone, Copy, Default)]
pub struct LandConsumer;

impl Handler for LandConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if event.is::<CommitmentEvaluated>() {
            let m: CommitmentEvaluated = event.decode()?;
            let e = m
                .evaluation
                .ok_or_else(|| invalid("the event carries no evaluation"))?;
            let uscc = uscc(&e.uscc)?;
            if e.grant_id.is_empty() {
                return Err(invalid("the evaluation has no grant id"));
            }
            let recorded_at = e
                .recorded_at
                .as_ref()
                .and_then(from_timestamp)
                .ok_or_else(|| invalid("the evaluation has no recorded_at"))?;
            let short = e.outcome() == EvaluationOutcome::Short;
            read_model::set_land_evaluation(tx, &e.grant_id, uscc, short, recorded_at).await?;
        } else if event.is::<GrantTakenBack>() {
            // A taken-back grant holds no land: its last shortfall is no longer current.
            let m: GrantTakenBack = event.decode()?;
            let grant = m
                .grant
                .ok_or_else(|| invalid("the event carries no grant"))?;
            let uscc = uscc(&grant.uscc)?;
            if grant.id.is_empty() {
                return Err(invalid("the taken-back grant has no id"));
            }
            let at = m
                .taken_back_at
                .as_ref()
                .and_then(from_timestamp)
                .ok_or_else(|| invalid("the take-back has no taken_back_at"))?;
            read_model::set_land_evaluation(tx, &grant.id, uscc, false, at).await?;
        }
        Ok(())
    }
}

/// Fair events: confirmed registrations at external fairs, by the year of the fair's start.
#[derive(Debug, Clone, Copy, Default)]
pub struct FairConsumer;

impl Handler for FairConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if event.is::<RegistrationConfirmed>() {
            let m: RegistrationConfirmed = event.decode()?;
            let registration = m
                .registration
                .ok_or_else(|| invalid("the event carries no registration"))?;
            let uscc = uscc(&registration.uscc)?;
            // Only the fair in the event says whether it is external; without it, nothing
            // can be concluded.
            let Some(fair) = m.fair.filter(|f| f.external) else {
                return Ok(());
            };
            let starts = fair
                .starts_at
                .as_ref()
                .and_then(from_timestamp)
                .ok_or_else(|| invalid("the fair has no start"))?;
            let year = china_date(starts).year();
            read_model::add_fair_participation(tx, &registration.id, uscc, year).await?;
        } else if event.is::<RegistrationCancelled>() {
            let m: RegistrationCancelled = event.decode()?;
            let registration = m
                .registration
                .ok_or_else(|| invalid("the event carries no registration"))?;
            read_model::remove_fair_participation(tx, &registration.id).await?;
        }
        Ok(())
    }
}
