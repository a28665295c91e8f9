//! Test data: valid USCCs by the hundred thousand, registered straight into the census's
//! tables (registering 100,000 firms through the API would take longer than the benchmark),
//! and the figures of a plausible return.

use haicheng_proto::census::v1::CensusIndicators;
use platform::uscc::{ALPHABET, Uscc};
use sqlx::PgPool;

/// Land of every firm, in hundredths of a mu: 50 mu.
const LAND_CENTI_MU: i64 = 5_000;

/// `count` valid USCCs (up to a million) with a random two-character tag of this run.
pub fn usccs(count: usize) -> Vec<String> {
    assert!(count <= 1_000_000, "six digits of number");
    let random = uuid::Uuid::new_v4().as_u128();
    let tag: String = (0..2)
        .map(|i| ALPHABET[((random >> (i * 8)) % ALPHABET.len() as u128) as usize] as char)
        .collect();
    (0..count)
        .map(|i| {
            Uscc::complete(&format!("91210381{tag}{i:06}"))
                .expect("a valid prefix")
                .to_string()
        })
        .collect()
}

/// Registers `usccs` as active textile firms (class 1711, Ganwang park), version 1, as the
/// census's own RegisterEnterprise would store them (without their outbox rows).
pub async fn register(pool: &PgPool, usccs: &[String]) -> anyhow::Result<()> {
    for chunk in usccs.chunks(20_000) {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO enterprises (uscc, current_version, created_at)
             SELECT u, 1, clock_timestamp() FROM unnest($1::text[]) AS u",
        )
        .bind(chunk)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO enterprise_versions (uscc, version, name, legal_representative, park,
                industry_class, segment, size, registration_date, status, deregistration_reason,
                safety_violation, environmental_violation, tax_credit_violation, recorded_at,
                recorded_by)
             SELECT u, 1, '海城基准纺织' || u || '有限公司', '王伟', 'GANWANG', '1711', 'TEXTILE',
                'SMALL', DATE '2010-05-01', 'ACTIVE', NULL, false, false, false,
                clock_timestamp(), 'bench'
             FROM unnest($1::text[]) AS u",
        )
        .bind(chunk)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The figures of firm number `i`: all plausible, the tax per mu varying with `i`.
pub fn indicators(i: u64) -> CensusIndicators {
    let tax_yuan_per_mu = 1_000 + (i % 997) as i64 * 7;
    CensusIndicators {
        employees_total: 100,
        production_staff: 70,
        rd_technical_staff: 10,
        management_sales_staff: 15,
        college_educated_staff: 20,
        rd_spend_fen: 100_000_000,
        revenue_fen: 5_000_000_000,
        industrial_output_fen: 4_000_000_000,
        tax_paid_fen: tax_yuan_per_mu * LAND_CENTI_MU,
        export_sales_fen: 500_000_000,
        equipment_value_fen: 800_000_000,
        automation_share_percent: 50.0,
        invention_patents: 3,
        land_used_centi_mu: LAND_CENTI_MU,
        energy_use_tce: Some(100.0),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_valid_and_distinct() {
        let codes = super::usccs(2_000);
        for code in &codes {
            assert!(platform::uscc::Uscc::parse(code).is_ok(), "{code}");
        }
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), codes.len());
    }
}
