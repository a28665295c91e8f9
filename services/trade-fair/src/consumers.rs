//! The consumers, each through the inbox (the effect is applied once per event id):
//!
//! - [`CensusConsumer`] keeps the read model of census facts: size class (small firms),
//!   the tax-credit veto, and export sales per period;
//! - [`ClassificationConsumer`] keeps each firm's class of the latest period and, in the same
//!   transaction, invites a firm that entered class A to every external fair whose window is
//!   open, or withdraws the unused invitations of one that left class A.
//!
//! Events are told apart by `ce_type`; other types are ignored, not dead-lettered.

use chrono::Utc;
use haicheng_proto::{
    census::v1::{
        CensusReturnSubmitted, Enterprise, EnterpriseRegistered, EnterpriseSize, EnterpriseUpdated,
    },
    classification::v1::EnterpriseClassified,
};
use platform::{Envelope, Handler, HandlerError, period::Period, time::from_timestamp};
use sqlx::PgConnection;

use crate::{
    domain::{
        Class, Segment,
        invitation::{self, ClassMove},
    },
    store::{
        Store, StoreError,
        read_model::{self, EnterpriseRecord, ReturnRecord},
    },
};

impl From<StoreError> for HandlerError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Database(err) => err.into(),
            other => HandlerError::Permanent(other.to_string()),
        }
    }
}

fn invalid(reason: impl Into<String>) -> HandlerError {
    HandlerError::Permanent(reason.into())
}

pub fn period(code: Option<&str>) -> Result<Period, HandlerError> {
    Period::parse(code.unwrap_or("")).map_err(|err| invalid(format!("period {err}")))
}

/// Applies census events to the read model.
#[derive(Debug, Clone, Copy, Default)]
pub struct CensusConsumer;

pub fn enterprise_record(enterprise: Option<Enterprise>) -> Result<EnterpriseRecord, HandlerError> {
    let e = enterprise.ok_or_else(|| invalid("the event carries no enterprise"))?;
    if e.uscc.is_empty() {
        return Err(invalid("the enterprise has no USCC"));
    }
    Ok(EnterpriseRecord {
        small_firm: matches!(e.size(), EnterpriseSize::Small | EnterpriseSize::Micro),
        tax_credit_violation: e.tax_credit_violation,
        segment: Segment::from_proto(e.segment),
        version: e.version,
        name: e.name,
        uscc: e.uscc,
    })
}

impl Handler for CensusConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if event.is::<EnterpriseRegistered>() {
            let message: EnterpriseRegistered = event.decode()?;
            read_model::apply_enterprise(tx, &enterprise_record(message.enterprise)?).await?;
        } else if event.is::<EnterpriseUpdated>() {
            let message: EnterpriseUpdated = event.decode()?;
            read_model::apply_enterprise(tx, &enterprise_record(message.enterprise)?).await?;
        } else if event.is::<CensusReturnSubmitted>() {
            let m: CensusReturnSubmitted = event.decode()?;
            if m.uscc.is_empty() {
                return Err(invalid("the return has no USCC"));
            }
            let period = period(m.period.as_ref().map(|p| p.code.as_str()))?;
            let indicators = m
                .indicators
                .as_ref()
                .ok_or_else(|| invalid("the return carries no indicators"))?;
            let sales = ReturnRecord {
                uscc: &m.uscc,
                name: &m.name,
                segment: Segment::from_proto(m.segment),
                period,
                revision: m.revision,
                export_sales_fen: indicators.export_sales_fen,
            };
            read_model::apply_return(tx, &sales).await?;
        } else {
            tracing::debug!(ce_type = %event.event.ty, "ignoring an event type trade-fair does not use");
        }
        Ok(())
    }
}

/// Applies class changes, with the invitations they cause.
#[derive(Debug, Clone)]
pub struct ClassificationConsumer {
    pub store: Store,
}

impl Handler for ClassificationConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if !event.is::<EnterpriseClassified>() {
            tracing::debug!(ce_type = %event.event.ty, "ignoring an event type trade-fair does not use");
            return Ok(());
        }
        let m: EnterpriseClassified = event.decode()?;
        if m.uscc.is_empty() {
            return Err(invalid("the event has no USCC"));
        }
        let period = period(m.period.as_ref().map(|p| p.code.as_str()))?;
        let class = Class::from_proto(m.new_class);
        let at = m
            .classified_at
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(event.event.time);
        let Some(previous) = read_model::apply_class(tx, &m.uscc, class, period, at).await? else {
            return Ok(());
        };
        let now = Utc::now();
        match invitation::on_class_change(previous, class) {
            Some(ClassMove::EnteredA) => {
                let issued = self.store.invite_to_open_fairs(tx, &m.uscc, now).await?;
                tracing::info!(uscc = %m.uscc, invitations = issued.len(), "entered class A");
            }
            Some(ClassMove::LeftA) => {
                let withdrawn = self.store.withdraw_unused(tx, &m.uscc, now).await?;
                tracing::info!(uscc = %m.uscc, withdrawn = withdrawn.len(), "left class A");
            }
            None => {}
        }
        Ok(())
    }
}
