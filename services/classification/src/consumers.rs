//! The census consumer: keeps the read model from census events through the inbox (the
//! effect is applied once per event id) and marks the affected periods dirty in the same
//! transaction. It never re-ranks itself: that is the re-ranker's job, coalesced.
//!
//! A batch of returns (the inbox hands over the messages already received together) is
//! applied set-based with the effect of applying them one by one.
//!
//! Events are told apart by `ce_type`; other types on the topic are ignored, not dead-lettered,
//! so the census can add events without breaking this consumer.

use chrono::NaiveDate;
use haicheng_proto::census::v1::{
    CensusIndicators, CensusReturnSubmitted, Enterprise, EnterpriseRegistered, EnterpriseStatus,
    EnterpriseUpdated,
};
use platform::{Envelope, Handler, HandlerError, Park};
use sqlx::PgConnection;

use crate::{
    domain::{Figures, Period, Segment},
    store::read_model::{self, EnterpriseRecord, ReturnEnterprise, ReturnRecord},
};

/// Applies census events to the read model.
#[derive(Debug, Clone, Copy, Default)]
pub struct CensusConsumer;

impl Handler for CensusConsumer {
    async fn handle(&self, tx: &mut PgConnection, event: &Envelope) -> Result<(), HandlerError> {
        if event.is::<EnterpriseRegistered>() {
            let message: EnterpriseRegistered = event.decode()?;
            read_model::apply_enterprise(tx, &enterprise_record(message.enterprise)?).await?;
        } else if event.is::<EnterpriseUpdated>() {
            let message: EnterpriseUpdated = event.decode()?;
            read_model::apply_enterprise(tx, &enterprise_record(message.enterprise)?).await?;
        } else if event.is::<CensusReturnSubmitted>() {
            let message: CensusReturnSubmitted = event.decode()?;
            read_model::apply_return(tx, &return_record(message)?).await?;
        } else {
            tracing::debug!(ce_type = %event.event.ty, "ignoring an event type classification does not use");
        }
        Ok(())
    }

    const BATCHES: bool = true;

    /// Returns, the bulk of the topic, are applied set-based (a few statements per batch, see
    /// [`read_model::apply_returns`]); a batch holding a registry event is applied one event
    /// at a time, in order, as `handle` would.
    async fn handle_batch(
        &self,
        tx: &mut PgConnection,
        events: &[&Envelope],
    ) -> Result<(), HandlerError> {
        let mut returns = Vec::with_capacity(events.len());
        for event in events {
            if event.is::<CensusReturnSubmitted>() {
                returns.push(return_record(event.decode()?)?);
            } else if event.is::<EnterpriseRegistered>() || event.is::<EnterpriseUpdated>() {
                for event in events {
                    self.handle(tx, event).await?;
                }
                return Ok(());
            } else {
                tracing::debug!(ce_type = %event.event.ty, "ignoring an event type classification does not use");
            }
        }
        read_model::apply_returns(tx, &returns).await?;
        Ok(())
    }
}

fn invalid(reason: impl Into<String>) -> HandlerError {
    HandlerError::Permanent(reason.into())
}

/// `YYYY-MM-DD`; anything else is treated as unknown (the firm is then never deferred).
fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

pub fn enterprise_record(enterprise: Option<Enterprise>) -> Result<EnterpriseRecord, HandlerError> {
    let e = enterprise.ok_or_else(|| invalid("the event carries no enterprise"))?;
    if e.uscc.is_empty() {
        return Err(invalid("the enterprise has no USCC"));
    }
    let segment = checked_segment(e.segment)?;
    Ok(EnterpriseRecord {
        active: e.status() != EnterpriseStatus::Deregistered,
        registration_date: date(&e.registration_date),
        uscc: e.uscc,
        name: e.name,
        park: Park::from_proto(e.park),
        segment,
        industry_class: e.industry_class,
        safety_violation: e.safety_violation,
        environmental_violation: e.environmental_violation,
        tax_credit_violation: e.tax_credit_violation,
        version: e.version,
    })
}

/// Census always assigns a segment; an event without one can never be ranked.
fn checked_segment(segment: i32) -> Result<Segment, HandlerError> {
    Segment::from_proto(segment)
        .ok_or_else(|| invalid(format!("segment {segment} is not a segment")))
}

fn figures(indicators: &CensusIndicators) -> Figures {
    Figures {
        employees_total: indicators.employees_total,
        rd_spend_fen: indicators.rd_spend_fen,
        revenue_fen: indicators.revenue_fen,
        industrial_output_fen: indicators.industrial_output_fen,
        tax_paid_fen: indicators.tax_paid_fen,
        export_sales_fen: indicators.export_sales_fen,
        automation_share_percent: indicators.automation_share_percent,
        patents: indicators
            .invention_patents
            .saturating_add(indicators.utility_model_patents)
            .saturating_add(indicators.design_patents),
        land_used_centi_mu: indicators.land_used_centi_mu,
        energy_use_tce: indicators.energy_use_tce,
    }
}

pub fn return_record(message: CensusReturnSubmitted) -> Result<ReturnRecord, HandlerError> {
    if message.uscc.is_empty() {
        return Err(invalid("the return has no USCC"));
    }
    let code = message
        .period
        .as_ref()
        .map(|p| p.code.as_str())
        .unwrap_or("");
    let period = Period::parse(code).map_err(|err| invalid(format!("period {err}")))?;
    let segment = checked_segment(message.segment)?;
    let indicators = message
        .indicators
        .as_ref()
        .ok_or_else(|| invalid("the return carries no indicators"))?;
    let submitted_at = message
        .submitted_at
        .as_ref()
        .and_then(platform::time::from_timestamp);
    Ok(ReturnRecord {
        figures: figures(indicators),
        period: period.to_string(),
        revision: message.revision,
        submitted_at,
        enterprise: ReturnEnterprise {
            name: message.name,
            park: Park::from_proto(message.park),
            segment,
            industry_class: message.industry_class,
            registration_date: date(&message.registration_date),
            version: message.enterprise_version,
        },
        uscc: message.uscc,
    })
}

#[cfg(test)]
mod tests {
    use haicheng_proto::common::v1::{Period as PbPeriod, Segment as PbSegment};

    use super::*;

    #[test]
    fn a_return_without_a_valid_period_or_indicators_is_permanent() {
        let good = CensusReturnSubmitted {
            uscc: "91210381MA0Q12343L".into(),
            period: Some(PbPeriod {
                code: "2025Q2".into(),
            }),
            revision: 1,
            indicators: Some(CensusIndicators {
                invention_patents: 2,
                design_patents: 3,
                ..Default::default()
            }),
            registration_date: "2020-02-29".into(),
            segment: PbSegment::Textile as i32,
            ..Default::default()
        };
        let record = return_record(good.clone()).unwrap();
        assert_eq!(record.figures.patents, 5);
        assert_eq!(
            record.enterprise.registration_date,
            NaiveDate::from_ymd_opt(2020, 2, 29)
        );

        let bad_period = CensusReturnSubmitted {
            period: Some(PbPeriod {
                code: "2025-2".into(),
            }),
            ..good.clone()
        };
        assert!(matches!(
            return_record(bad_period),
            Err(HandlerError::Permanent(_))
        ));
        let no_figures = CensusReturnSubmitted {
            indicators: None,
            ..good.clone()
        };
        assert!(matches!(
            return_record(no_figures),
            Err(HandlerError::Permanent(_))
        ));
        let no_segment = CensusReturnSubmitted {
            segment: PbSegment::Unspecified as i32,
            ..good
        };
        assert!(matches!(
            return_record(no_segment),
            Err(HandlerError::Permanent(_))
        ));
    }

    #[test]
    fn a_deregistered_enterprise_is_inactive() {
        let record = enterprise_record(Some(Enterprise {
            uscc: "91210381MA0Q12343L".into(),
            status: EnterpriseStatus::Deregistered as i32,
            segment: PbSegment::Apparel as i32,
            version: 3,
            ..Default::default()
        }))
        .unwrap();
        assert!(!record.active);
        assert!(enterprise_record(None).is_err());
    }
}
