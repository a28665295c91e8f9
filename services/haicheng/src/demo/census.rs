//! The census part of the demo data set: about 1,200 enterprises of the four parks with
//! census returns for two years, generated deterministically from a seed, so every newcomer
//! sees the same cluster.
//!
//! Figures follow plausible spreads (log-normal sizes, productivity and tax rates varying by
//! segment and firm) so that classes and notices mean something: a few firms carry a veto
//! flag, some registered under three years ago are deferred.

use haicheng_proto::{
    census::v1::{
        CensusIndicators, EnterpriseSize, EquipmentLevel, FigureSources, ImportReturnsRow,
        RegisterEnterpriseRequest,
    },
    common::v1::{FigureSource, Park, Period},
};
use platform::uscc::{ALPHABET, Uscc};
use rand::{Rng, SeedableRng, seq::IndexedRandom};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

/// The census periods the demo returns cover.
pub const PERIODS: [&str; 2] = ["2024", "2025"];

/// Everything the census needs: registrations first, then returns.
pub struct DemoCensus {
    pub enterprises: Vec<RegisterEnterpriseRequest>,
    pub returns: Vec<ImportReturnsRow>,
}

/// Industry classes by park, weighted towards each park's focus (DOMAIN.md, 一区四园).
fn classes_of(park: Park) -> &'static [&'static str] {
    match park {
        Park::Xiliu => &[
            "1811", "1819", "1821", "1829", "1830", "5131", "5132", "5133", "5139", "1811", "1819",
        ],
        Park::Nantai => &[
            "1922", "1922", "1922", "1921", "1923", "1929", "1951", "5133",
        ],
        Park::Ganwang => &[
            "1711", "1712", "1713", "1721", "1751", "1752", "1761", "1762",
        ],
        Park::Zhongxiao => &[
            "1830", "1781", "1782", "1789", "1741", "1742", "1771", "1829",
        ],
        Park::Unspecified => &[],
    }
}

const PARKS: [(Park, usize); 4] = [
    (Park::Xiliu, 480),
    (Park::Nantai, 260),
    (Park::Ganwang, 230),
    (Park::Zhongxiao, 230),
];
const NAME_PARTS: [&str; 20] = [
    "鑫", "恒", "华", "兴", "盛", "达", "瑞", "丰", "隆", "泰", "昌", "源", "宏", "祥", "利", "新",
    "锦", "海", "辽", "鞍",
];
const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "孙", "马",
];
const GIVEN: [&str; 12] = [
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰",
];

/// Generates the census part of the demo data set for `seed`.
pub fn census(seed: u64) -> DemoCensus {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = std::collections::HashSet::new();
    let mut enterprises = Vec::new();
    let mut returns = Vec::new();
    for (park, count) in PARKS {
        for _ in 0..count {
            let uscc = loop {
                let body: String = (0..8)
                    .map(|_| ALPHABET[rng.random_range(0..31)] as char)
                    .collect();
                let Ok(uscc) = Uscc::complete(&format!("91210381{body}")) else {
                    continue;
                };
                if seen.insert(uscc.clone()) {
                    break uscc;
                }
            };
            let industry_class = *classes_of(park)
                .choose(&mut rng)
                .expect("every park has classes");
            let firm = Firm::draw(&mut rng, industry_class);
            enterprises.push(firm.registration(&mut rng, &uscc, park, industry_class));
            for (index, period) in PERIODS.iter().enumerate() {
                // A firm registered during or after the year has no return for it.
                if firm.registered_year >= period.parse::<i32>().unwrap_or(0) {
                    continue;
                }
                let row_number = returns.len() as i64 + 1;
                returns.push(firm.census_return(&mut rng, &uscc, period, index, row_number));
            }
        }
    }
    DemoCensus {
        enterprises,
        returns,
    }
}

/// The hidden traits of one firm, from which its figures follow.
struct Firm {
    employees: f64,
    /// Revenue per employee, yuan.
    productivity: f64,
    tax_rate: f64,
    rd_rate: f64,
    export_share: f64,
    automation: f64,
    /// Employees per mu of land.
    density: f64,
    registered_year: i32,
    trade: bool,
}

impl Firm {
    fn draw(rng: &mut ChaCha8Rng, industry_class: &str) -> Self {
        let trade = industry_class.starts_with('5');
        let lognormal =
            |median: f64, sigma: f64| LogNormal::new(median.ln(), sigma).expect("valid log-normal");
        Self {
            employees: lognormal(if trade { 12.0 } else { 60.0 }, 0.9)
                .sample(rng)
                .clamp(3.0, 3_000.0),
            productivity: lognormal(if trade { 600_000.0 } else { 320_000.0 }, 0.5).sample(rng),
            tax_rate: lognormal(0.035, 0.45).sample(rng).min(0.15),
            rd_rate: if rng.random_bool(0.3) {
                0.0
            } else {
                lognormal(0.012, 0.7).sample(rng).min(0.2)
            },
            export_share: if rng.random_bool(0.5) {
                0.0
            } else {
                rng.random_range(0.05..0.7)
            },
            automation: rng.random_range(5.0..90.0),
            density: lognormal(if trade { 8.0 } else { 3.0 }, 0.5).sample(rng),
            registered_year: if rng.random_bool(0.12) {
                rng.random_range(2023..=2025)
            } else {
                rng.random_range(1995..2023)
            },
            trade,
        }
    }

    fn registration(
        &self,
        rng: &mut ChaCha8Rng,
        uscc: &Uscc,
        park: Park,
        industry_class: &str,
    ) -> RegisterEnterpriseRequest {
        let name_part = |rng: &mut ChaCha8Rng| *NAME_PARTS.choose(rng).expect("parts");
        let kind = match &industry_class[..2] {
            "17" => "纺织",
            "18" => "服饰",
            "19" => "箱包皮具",
            _ => "商贸",
        };
        let size = match self.employees as i64 {
            n if n >= 1000 => EnterpriseSize::Large,
            n if n >= 300 => EnterpriseSize::Medium,
            n if n >= 20 => EnterpriseSize::Small,
            _ => EnterpriseSize::Micro,
        };
        RegisterEnterpriseRequest {
            uscc: uscc.to_string(),
            name: format!("海城市{}{}{}有限公司", name_part(rng), name_part(rng), kind),
            legal_representative: format!(
                "{}{}",
                SURNAMES.choose(rng).expect("s"),
                GIVEN.choose(rng).expect("g")
            ),
            park: park as i32,
            industry_class: industry_class.to_string(),
            size: size as i32,
            registration_date: format!(
                "{}-{:02}-{:02}",
                self.registered_year,
                rng.random_range(1..=12),
                rng.random_range(1..=28)
            ),
            safety_violation: rng.random_bool(0.01),
            environmental_violation: rng.random_bool(0.015),
            tax_credit_violation: rng.random_bool(0.01),
        }
    }

    fn census_return(
        &self,
        rng: &mut ChaCha8Rng,
        uscc: &Uscc,
        period: &str,
        index: usize,
        row_number: i64,
    ) -> ImportReturnsRow {
        // Each year drifts from the firm's traits, so classes move between the periods.
        let drift =
            |rng: &mut ChaCha8Rng| 1.0 + rng.random_range(-0.15..0.2) * (index as f64 + 0.5);
        let employees = (self.employees * drift(rng)).round().max(1.0) as i64;
        let revenue_yuan = employees as f64 * self.productivity * drift(rng);
        let fen = |yuan: f64| (yuan * 100.0).round() as i64;
        let production = (employees as f64 * if self.trade { 0.2 } else { 0.72 }) as i64;
        let rd_staff = (employees as f64 * self.rd_rate * 6.0).min(employees as f64 * 0.2) as i64;
        let management = ((employees - production - rd_staff) as f64 * 0.8) as i64;
        let land_mu = (employees as f64 / self.density).max(0.5);
        let mut by_indicator = std::collections::HashMap::new();
        by_indicator.insert("tax_paid_fen".to_string(), FigureSource::Tax as i32);
        by_indicator.insert(
            "land_used_centi_mu".to_string(),
            FigureSource::LandRegistry as i32,
        );
        by_indicator.insert(
            "employees_total".to_string(),
            FigureSource::Statistics as i32,
        );
        ImportReturnsRow {
            row_number,
            client_request_id: format!("demo-{uscc}-{period}"),
            uscc: uscc.to_string(),
            period: Some(Period {
                code: period.to_string(),
            }),
            indicators: Some(CensusIndicators {
                employees_total: employees,
                production_staff: production,
                rd_technical_staff: rd_staff,
                management_sales_staff: management.max(0),
                college_educated_staff: (employees as f64 * rng.random_range(0.05..0.35)) as i64,
                rd_spend_fen: fen(revenue_yuan * self.rd_rate),
                revenue_fen: fen(revenue_yuan),
                industrial_output_fen: if self.trade {
                    0
                } else {
                    fen(revenue_yuan * rng.random_range(0.9..1.15))
                },
                tax_paid_fen: fen(revenue_yuan * self.tax_rate * drift(rng)),
                export_sales_fen: fen(revenue_yuan * self.export_share),
                equipment_value_fen: if self.trade {
                    0
                } else {
                    fen(revenue_yuan * rng.random_range(0.1..0.6))
                },
                automation_share_percent: if self.trade {
                    0.0
                } else {
                    (self.automation * drift(rng)).min(100.0)
                },
                equipment_level: if self.trade {
                    EquipmentLevel::Unspecified
                } else {
                    *[
                        EquipmentLevel::InternationalAdvanced,
                        EquipmentLevel::DomesticAdvanced,
                        EquipmentLevel::DomesticAverage,
                        EquipmentLevel::Outdated,
                    ]
                    .choose(rng)
                    .expect("levels")
                } as i32,
                invention_patents: (self.rd_rate * 200.0 * rng.random_range(0.0..1.5)) as i64,
                utility_model_patents: (self.rd_rate * 600.0 * rng.random_range(0.0..1.5)) as i64,
                design_patents: rng.random_range(0..4),
                land_used_centi_mu: (land_mu * 100.0).round() as i64,
                energy_use_tce: (!self.trade)
                    .then(|| (revenue_yuan / 1e4 * rng.random_range(0.02..0.2)).round()),
                rd_exceeds_revenue_flag: false,
            }),
            sources: Some(FigureSources { by_indicator }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::DEFAULT_SEED;

    #[test]
    fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
        let (a, b, c) = (census(7), census(7), census(8));
        assert_eq!(a.enterprises, b.enterprises);
        assert_eq!(a.returns, b.returns);
        assert_ne!(a.enterprises, c.enterprises);
    }

    #[test]
    fn about_1200_enterprises_with_valid_usccs_in_every_park() {
        let data = census(DEFAULT_SEED);
        assert_eq!(data.enterprises.len(), 1200);
        assert!(
            data.enterprises
                .iter()
                .all(|e| Uscc::parse(&e.uscc).is_ok())
        );
        for park in [Park::Xiliu, Park::Nantai, Park::Ganwang, Park::Zhongxiao] {
            assert!(
                data.enterprises.iter().any(|e| e.park == park as i32),
                "{park:?}"
            );
        }
        // Most firms report both years; young firms fewer.
        assert!(data.returns.len() > 2 * 1000, "{}", data.returns.len());
    }
}

#[cfg(test)]
mod census_rules {
    use census::{convert, domain::Rules};
    use platform::Violations;

    use super::*;
    use crate::demo::DEFAULT_SEED;

    #[test]
    fn every_generated_record_passes_the_census_rules() {
        let data = census(DEFAULT_SEED);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
        for enterprise in &data.enterprises {
            let mut violations = Violations::new();
            convert::register_input(enterprise).check(today, &mut violations);
            assert!(
                violations.is_empty(),
                "{}: {:?}",
                enterprise.uscc,
                violations.as_slice()
            );
        }
        for row in &data.returns {
            let mut violations = Violations::new();
            let input = convert::ReturnMessage::of_row(row).input(&mut violations);
            input.check(&Rules::default(), &mut violations);
            assert!(
                violations.is_empty(),
                "{} {:?}: {:?}",
                row.uscc,
                row.period,
                violations.as_slice()
            );
        }
    }
}
