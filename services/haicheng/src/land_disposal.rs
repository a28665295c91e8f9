//! `haicheng land …` for idle land and its end (natural resources), low-efficiency land and
//! long-term leases:
//!
//! - `land idle-pass [--on DATE]`: runs the idle pass now, or as of another day;
//! - `land idle-fee GRANT_ID (--paid | --waive REASON)`: records an ordered idle fee;
//! - `land take-back GRANT_ID --reason R --document NUMBER`: takes a grant under review back;
//! - `land low-efficiency [--park P]`: grants flagged low-efficiency, for redevelopment;
//! - `land renew GRANT_ID --years N --yearly-rent-fen F`: renews a long-term lease.

use clap::Args;
use haicheng_proto::{common::v1 as common, land::v1 as pb};

use crate::{
    client::{self, call},
    enterprise::more_hint,
    enums,
    errors::CliError,
    output::{self, Format, Table, hundredths},
};

use crate::land::{Client, render_grant};

#[derive(Args)]
pub struct IdleFeeArgs {
    /// Grant id.
    grant_id: String,
    /// The fee was paid.
    #[arg(long, conflicts_with = "waive", required_unless_present = "waive")]
    paid: bool,
    /// The fee is waived, for this reason.
    #[arg(long)]
    waive: Option<String>,
}

#[derive(Args)]
pub struct TakeBackArgs {
    /// Grant id (under take-back review).
    grant_id: String,
    /// The decision's reason.
    #[arg(long)]
    reason: String,
    /// The decision's document number.
    #[arg(long)]
    document: String,
}

#[derive(Args)]
pub struct LowEfficiencyArgs {
    /// Only this park: XILIU, NANTAI, GANWANG, ZHONGXIAO.
    #[arg(long, value_parser = enums::parse::<common::Park>)]
    park: Option<common::Park>,
    #[command(flatten)]
    paging: client::Paging,
}

#[derive(Args)]
pub struct RenewArgs {
    /// Grant id (a long-term lease).
    grant_id: String,
    /// Years of the renewal.
    #[arg(long)]
    years: i32,
    /// Yearly rent of the renewal, fen.
    #[arg(long)]
    yearly_rent_fen: i64,
}

/// `land idle-pass [--on DATE]`.
pub async fn idle_pass(
    mut service: Client,
    on: Option<String>,
    format: Format,
) -> Result<(), CliError> {
    let reply = service
        .run_idle_pass(call(pb::RunIdlePassRequest {
            on: on.unwrap_or_default(),
        }))
        .await?
        .into_inner();
    output::emit(&match format {
        Format::Json => output::json(&reply),
        Format::Table => format!(
            "flagged idle (fee ordered): {}\nunder take-back review: {}\n",
            reply.flagged_idle, reply.take_back_review
        ),
    });
    Ok(())
}

/// `land idle-fee GRANT_ID (--paid | --waive REASON)`.
pub async fn idle_fee(
    mut service: Client,
    args: IdleFeeArgs,
    format: Format,
) -> Result<(), CliError> {
    let (outcome, waiver_reason) = match args.waive {
        Some(reason) => (pb::IdleFeeStatus::Waived, reason),
        None => (pb::IdleFeeStatus::Paid, String::new()),
    };
    let reply = service
        .record_idle_fee(call(pb::RecordIdleFeeRequest {
            grant_id: args.grant_id.trim().to_string(),
            expected_version: 0,
            outcome: outcome as i32,
            waiver_reason,
        }))
        .await?
        .into_inner();
    emit_grant(&reply, reply.grant.as_ref(), format);
    Ok(())
}

/// `land take-back GRANT_ID --reason R --document NUMBER`.
pub async fn take_back(
    mut service: Client,
    args: TakeBackArgs,
    format: Format,
) -> Result<(), CliError> {
    let reply = service
        .take_back_grant(call(pb::TakeBackGrantRequest {
            grant_id: args.grant_id.trim().to_string(),
            expected_version: 0,
            reason: args.reason,
            document_number: args.document,
        }))
        .await?
        .into_inner();
    emit_grant(&reply, reply.grant.as_ref(), format);
    Ok(())
}

/// `land renew GRANT_ID --years N --yearly-rent-fen F`.
pub async fn renew(mut service: Client, args: RenewArgs, format: Format) -> Result<(), CliError> {
    let reply = service
        .renew_lease(call(pb::RenewLeaseRequest {
            grant_id: args.grant_id.trim().to_string(),
            expected_version: 0,
            years: args.years,
            yearly_rent_fen: args.yearly_rent_fen,
        }))
        .await?
        .into_inner();
    emit_grant(&reply, reply.grant.as_ref(), format);
    Ok(())
}

fn emit_grant<M: serde::Serialize>(reply: &M, grant: Option<&pb::Grant>, format: Format) {
    output::emit(&match format {
        Format::Json => output::json(reply),
        Format::Table => render_grant(&grant.cloned().unwrap_or_default()),
    });
}

/// `land low-efficiency [--park P]`: one page, or every page with `--all`.
pub async fn low_efficiency(
    service: Client,
    list: LowEfficiencyArgs,
    format: Format,
) -> Result<(), CliError> {
    let (grants, next_page_token) = client::pages(
        list.paging.all,
        list.paging.page_token.clone(),
        "grants",
        |token| {
            let mut service = service.clone();
            let request = call(pb::ListLowEfficiencyGrantsRequest {
                park: list.park.map_or(0, |p| p as i32),
                page_size: list.paging.page_size.unwrap_or(0),
                page_token: token,
            });
            async move {
                let page = service
                    .list_low_efficiency_grants(request)
                    .await?
                    .into_inner();
                Ok((page.grants, page.next_page_token))
            }
        },
    )
    .await?;
    match format {
        Format::Json => output::emit(&output::json(&pb::ListLowEfficiencyGrantsResponse {
            grants,
            next_page_token,
        })),
        Format::Table => {
            let mut table = Table::new(&["grant", "parcel", "holder", "mode", "price (yuan)"]);
            for g in &grants {
                let supply = g.supply.unwrap_or_default();
                table.row(vec![
                    g.id.clone(),
                    g.parcel_id.clone(),
                    g.uscc.clone(),
                    enums::short::<pb::SupplyMode>(supply.mode),
                    hundredths(supply.price_fen),
                ]);
            }
            output::emit(&table.render());
            more_hint(&next_page_token);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    fn parses(line: &str) -> bool {
        crate::Cli::try_parse_from(line.split_whitespace()).is_ok()
    }

    #[test]
    fn a_fee_is_paid_or_waived_with_a_reason_never_both_nor_neither() {
        assert!(parses("haicheng land idle-fee G1 --paid"));
        assert!(parses("haicheng land idle-fee G1 --waive delayed"));
        assert!(!parses("haicheng land idle-fee G1 --paid --waive delayed"));
        assert!(!parses("haicheng land idle-fee G1"));
        assert!(parses(
            "haicheng land take-back G1 --reason idle --document D-1"
        ));
        assert!(!parses("haicheng land take-back G1 --reason idle"));
        assert!(parses("haicheng land idle-pass --on 2027-03-01"));
        assert!(parses("haicheng land low-efficiency --park nantai"));
        assert!(parses(
            "haicheng land renew G1 --years 5 --yearly-rent-fen 100"
        ));
    }
}
