//! Census returns (普查表): the indicators of one enterprise for one period, where each
//! figure comes from, and the rules a return must keep (DOMAIN.md). A correction is a new
//! revision; nothing is overwritten.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use platform::Violations;

use super::{Period, Uscc};

/// Longest client request id accepted, in characters.
pub const MAX_REQUEST_ID_CHARS: usize = 200;

/// Grade of the production equipment (装备水平).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EquipmentLevel {
    #[default]
    NotReported,
    /// Internationally advanced (国际先进).
    InternationalAdvanced,
    /// Domestically advanced (国内先进).
    DomesticAdvanced,
    /// Domestic average (国内一般).
    DomesticAverage,
    /// Outdated (落后).
    Outdated,
}

impl EquipmentLevel {
    pub const ALL: [EquipmentLevel; 5] = [
        EquipmentLevel::NotReported,
        EquipmentLevel::InternationalAdvanced,
        EquipmentLevel::DomesticAdvanced,
        EquipmentLevel::DomesticAverage,
        EquipmentLevel::Outdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EquipmentLevel::NotReported => "NOT_REPORTED",
            EquipmentLevel::InternationalAdvanced => "INTERNATIONAL_ADVANCED",
            EquipmentLevel::DomesticAdvanced => "DOMESTIC_ADVANCED",
            EquipmentLevel::DomesticAverage => "DOMESTIC_AVERAGE",
            EquipmentLevel::Outdated => "OUTDATED",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == code)
    }
}

/// Where a figure comes from. Data another department already holds is not collected
/// again (数据共享), so each figure records its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FigureSource {
    /// Reported by the enterprise itself; the default.
    SelfReported,
    /// Taken from the tax authority (税务).
    Tax,
    /// Taken from the statistics bureau (统计).
    Statistics,
    /// Taken from the land registry (不动产登记).
    LandRegistry,
}

impl FigureSource {
    pub const ALL: [FigureSource; 4] = [
        FigureSource::SelfReported,
        FigureSource::Tax,
        FigureSource::Statistics,
        FigureSource::LandRegistry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FigureSource::SelfReported => "SELF_REPORTED",
            FigureSource::Tax => "TAX",
            FigureSource::Statistics => "STATISTICS",
            FigureSource::LandRegistry => "LAND_REGISTRY",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == code)
    }
}

/// The figures of one return. Money in fen (0.01 yuan), areas in hundredths of a mu.
/// Values arrive unchecked; [`Indicators::check`] applies the rules.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Indicators {
    /// Employees at the end of the period; the labour structure below is part of it.
    pub employees_total: i64,
    pub production_staff: i64,
    pub rd_technical_staff: i64,
    pub management_sales_staff: i64,
    /// With at least a college degree (大专及以上); a cut across the three groups above.
    pub college_educated_staff: i64,
    pub rd_spend_fen: i64,
    /// Revenue of the main business (主营业务收入).
    pub revenue_fen: i64,
    pub industrial_output_fen: i64,
    pub tax_paid_fen: i64,
    pub export_sales_fen: i64,
    pub equipment_value_fen: i64,
    /// Share of automated or CNC equipment, percent.
    pub automation_share_percent: f64,
    pub equipment_level: EquipmentLevel,
    pub invention_patents: i64,
    pub utility_model_patents: i64,
    pub design_patents: i64,
    pub land_used_centi_mu: i64,
    /// Tonnes of standard coal equivalent, where known.
    pub energy_use_tce: Option<f64>,
    /// The submitter confirms that R&D spend above the configured multiple of revenue is right.
    pub rd_exceeds_revenue_flag: bool,
}

/// The indicators a figure source may be given for: every figure of a return.
pub const INDICATOR_NAMES: [&str; 18] = [
    "employees_total",
    "production_staff",
    "rd_technical_staff",
    "management_sales_staff",
    "college_educated_staff",
    "rd_spend_fen",
    "revenue_fen",
    "industrial_output_fen",
    "tax_paid_fen",
    "export_sales_fen",
    "equipment_value_fen",
    "automation_share_percent",
    "equipment_level",
    "invention_patents",
    "utility_model_patents",
    "design_patents",
    "land_used_centi_mu",
    "energy_use_tce",
];

/// The local choices the rules depend on (configuration, not code).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rules {
    /// R&D spend may exceed revenue times this factor only with the submitter's flag.
    pub rd_revenue_factor: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            rd_revenue_factor: 1.0,
        }
    }
}

impl Indicators {
    /// The counts and amounts that must never be negative, by field name.
    fn non_negative(&self) -> [(&'static str, i64); 15] {
        [
            ("employees_total", self.employees_total),
            ("production_staff", self.production_staff),
            ("rd_technical_staff", self.rd_technical_staff),
            ("management_sales_staff", self.management_sales_staff),
            ("college_educated_staff", self.college_educated_staff),
            ("rd_spend_fen", self.rd_spend_fen),
            ("revenue_fen", self.revenue_fen),
            ("industrial_output_fen", self.industrial_output_fen),
            ("tax_paid_fen", self.tax_paid_fen),
            ("export_sales_fen", self.export_sales_fen),
            ("equipment_value_fen", self.equipment_value_fen),
            ("invention_patents", self.invention_patents),
            ("utility_model_patents", self.utility_model_patents),
            ("design_patents", self.design_patents),
            ("land_used_centi_mu", self.land_used_centi_mu),
        ]
    }

    /// Adds one violation per broken rule, each on its own field (`indicators.<name>`).
    pub fn check(&self, rules: &Rules, violations: &mut Violations) {
        let field = |name: &str| format!("indicators.{name}");
        for (name, value) in self.non_negative() {
            violations.check(
                value >= 0,
                field(name),
                format!("must not be negative (found {value})"),
            );
        }

        // The labour structure: each part, and the disjoint groups together, within the total.
        let total = self.employees_total;
        if total >= 0 {
            for (name, part) in [
                ("production_staff", self.production_staff),
                ("rd_technical_staff", self.rd_technical_staff),
                ("management_sales_staff", self.management_sales_staff),
                ("college_educated_staff", self.college_educated_staff),
            ] {
                violations.check(
                    part < 0 || part <= total,
                    field(name),
                    format!("{part} exceeds employees_total {total}"),
                );
            }
            let groups = [
                self.production_staff,
                self.rd_technical_staff,
                self.management_sales_staff,
            ];
            if groups.iter().all(|g| (0..=total).contains(g)) {
                let sum: i128 = groups.iter().map(|g| *g as i128).sum();
                violations.check(
                    sum <= total as i128,
                    field("employees_total"),
                    format!(
                        "{total} is less than production, R&D/technical and management/sales staff together ({sum})"
                    ),
                );
            }
        }

        let share = self.automation_share_percent;
        violations.check(
            share.is_finite() && (0.0..=100.0).contains(&share),
            field("automation_share_percent"),
            format!("must be a percentage from 0 to 100 (found {share})"),
        );
        if let Some(energy) = self.energy_use_tce {
            violations.check(
                energy.is_finite() && energy >= 0.0,
                field("energy_use_tce"),
                format!("must not be negative (found {energy})"),
            );
        }

        let (rd, revenue) = (self.rd_spend_fen, self.revenue_fen);
        if rd >= 0 && revenue >= 0 && !self.rd_exceeds_revenue_flag {
            let factor = rules.rd_revenue_factor;
            violations.check(
                rd as f64 <= factor * revenue as f64,
                field("rd_spend_fen"),
                format!(
                    "{rd} exceeds {factor} × revenue_fen ({revenue}); set rd_exceeds_revenue_flag to confirm it"
                ),
            );
        }
    }
}

/// The source of each figure that is not self-reported. Kept in this one canonical form
/// (self-reported entries dropped), so two submissions that mean the same compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources(BTreeMap<String, FigureSource>);

impl Sources {
    /// Checks the entries as sent: each key must name an indicator, each source must be known
    /// (`None` stands for a number the contract does not define).
    pub fn check<'a>(
        entries: impl IntoIterator<Item = (&'a str, Option<FigureSource>)>,
        violations: &mut Violations,
    ) -> Sources {
        let mut map = BTreeMap::new();
        for (name, source) in entries {
            let field = format!("sources.by_indicator[{name}]");
            if !INDICATOR_NAMES.contains(&name) {
                violations.add(field, format!("{name:?} is not an indicator"));
                continue;
            }
            match source {
                None => violations.add(field, "unknown figure source"),
                Some(FigureSource::SelfReported) => {}
                Some(source) => {
                    map.insert(name.to_string(), source);
                }
            }
        }
        Sources(map)
    }

    /// The source of `indicator` (self-reported unless recorded otherwise).
    pub fn of(&self, indicator: &str) -> FigureSource {
        self.0
            .get(indicator)
            .copied()
            .unwrap_or(FigureSource::SelfReported)
    }

    /// The entries that are not self-reported, by indicator name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, FigureSource)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Rebuilds stored sources; unknown names or sources are dropped (they were checked on the way in).
    pub fn from_stored(entries: BTreeMap<String, String>) -> Self {
        Sources(
            entries
                .into_iter()
                .filter_map(|(k, v)| Some((k, FigureSource::parse(&v)?)))
                .filter(|(_, s)| *s != FigureSource::SelfReported)
                .collect(),
        )
    }

    /// The form stored in the database: indicator name → source name.
    pub fn to_stored(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().to_string()))
            .collect()
    }
}

/// What a submission says: the enterprise, the period, the figures and their sources.
/// Two submissions with equal content are the same submission.
#[derive(Clone, Debug, PartialEq)]
pub struct ReturnContent {
    pub uscc: Uscc,
    pub period: Period,
    pub indicators: Indicators,
    pub sources: Sources,
}

/// A submission as it arrives, before any check. `period` and `indicators` are `None` when
/// the message left them out.
#[derive(Clone, Debug)]
pub struct ReturnInput<'a> {
    pub client_request_id: &'a str,
    pub uscc: &'a str,
    pub period: Option<&'a str>,
    pub indicators: Option<Indicators>,
    pub sources: Sources,
}

/// A checked submission: the idempotency key and the content.
#[derive(Clone, Debug, PartialEq)]
pub struct Submission {
    pub client_request_id: String,
    pub content: ReturnContent,
}

impl ReturnInput<'_> {
    /// Checks every field and rule; `None` if anything was wrong (each in `violations`).
    pub fn check(self, rules: &Rules, violations: &mut Violations) -> Option<Submission> {
        let client_request_id = request_id(self.client_request_id, violations);
        let uscc = violations.uscc("uscc", self.uscc);
        let period = match self.period {
            None => {
                violations.add("period", "is required");
                None
            }
            Some(code) => violations.period("period", code),
        };
        match &self.indicators {
            None => violations.add("indicators", "are required"),
            Some(indicators) => indicators.check(rules, violations),
        }
        if !violations.is_empty() {
            return None;
        }
        Some(Submission {
            client_request_id: client_request_id?,
            content: ReturnContent {
                uscc: uscc?,
                period: period?,
                indicators: self.indicators?,
                sources: self.sources,
            },
        })
    }
}

fn request_id(value: &str, violations: &mut Violations) -> Option<String> {
    let field = "client_request_id";
    if value.trim().is_empty() {
        violations.add(field, "is required");
        None
    } else if value.chars().any(char::is_control) || value.trim() != value {
        violations.add(
            field,
            "must not contain control characters or surrounding spaces",
        );
        None
    } else if value.chars().count() > MAX_REQUEST_ID_CHARS {
        violations.add(
            field,
            format!("must be at most {MAX_REQUEST_ID_CHARS} characters"),
        );
        None
    } else {
        Some(value.to_string())
    }
}

/// One stored revision of a return.
#[derive(Clone, Debug, PartialEq)]
pub struct CensusReturn {
    pub content: ReturnContent,
    /// 1 for the first return of (uscc, period), one more for each correction.
    pub revision: i64,
    pub client_request_id: String,
    pub submitted_at: DateTime<Utc>,
    /// Principal that submitted it (`department:commerce`, `service:census-import`).
    pub submitted_by: String,
    /// Version of the enterprise record the return was checked against.
    pub enterprise_version: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A return that keeps every rule: 100 staff in three groups, modest R&D.
    pub fn good() -> Indicators {
        Indicators {
            employees_total: 100,
            production_staff: 70,
            rd_technical_staff: 10,
            management_sales_staff: 20,
            college_educated_staff: 25,
            rd_spend_fen: 5_000_000,
            revenue_fen: 1_000_000_000,
            industrial_output_fen: 900_000_000,
            tax_paid_fen: 40_000_000,
            export_sales_fen: 200_000_000,
            equipment_value_fen: 300_000_000,
            automation_share_percent: 35.5,
            equipment_level: EquipmentLevel::DomesticAdvanced,
            invention_patents: 1,
            utility_model_patents: 4,
            design_patents: 12,
            land_used_centi_mu: 2_550,
            energy_use_tce: Some(310.5),
            rd_exceeds_revenue_flag: false,
        }
    }

    fn broken(change: impl FnOnce(&mut Indicators), rules: &Rules) -> Vec<String> {
        let mut indicators = good();
        change(&mut indicators);
        let mut violations = Violations::new();
        indicators.check(rules, &mut violations);
        violations
            .as_slice()
            .iter()
            .map(|v| v.field.clone())
            .collect()
    }

    #[test]
    fn a_good_return_breaks_no_rule() {
        assert!(broken(|_| {}, &Rules::default()).is_empty());
    }

    #[test]
    fn each_rule_is_reported_on_its_own_field() {
        let rules = Rules::default();
        type Case = (
            &'static str,
            Box<dyn FnOnce(&mut Indicators)>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "negative tax",
                Box::new(|i| i.tax_paid_fen = -1),
                vec!["indicators.tax_paid_fen"],
            ),
            (
                "negative patents",
                Box::new(|i| i.design_patents = -3),
                vec!["indicators.design_patents"],
            ),
            (
                "production staff above total",
                Box::new(|i| i.production_staff = 101),
                vec!["indicators.production_staff"],
            ),
            (
                "college educated above total",
                Box::new(|i| i.college_educated_staff = 101),
                vec!["indicators.college_educated_staff"],
            ),
            (
                "groups together above total",
                Box::new(|i| i.management_sales_staff = 25),
                vec!["indicators.employees_total"],
            ),
            (
                "automation share above 100",
                Box::new(|i| i.automation_share_percent = 100.5),
                vec!["indicators.automation_share_percent"],
            ),
            (
                "automation share not a number",
                Box::new(|i| i.automation_share_percent = f64::NAN),
                vec!["indicators.automation_share_percent"],
            ),
            (
                "negative energy",
                Box::new(|i| i.energy_use_tce = Some(-0.1)),
                vec!["indicators.energy_use_tce"],
            ),
            (
                "R&D above revenue without the flag",
                Box::new(|i| i.rd_spend_fen = i.revenue_fen + 1),
                vec!["indicators.rd_spend_fen"],
            ),
        ];
        for (name, change, expected) in cases {
            assert_eq!(broken(change, &rules), expected, "{name}");
        }
    }

    #[test]
    fn the_flag_or_a_larger_factor_admits_high_rd_spend() {
        let high = |i: &mut Indicators| i.rd_spend_fen = i.revenue_fen * 2;
        assert_eq!(broken(high, &Rules::default()), ["indicators.rd_spend_fen"]);
        assert!(
            broken(
                |i| {
                    high(i);
                    i.rd_exceeds_revenue_flag = true;
                },
                &Rules::default()
            )
            .is_empty()
        );
        assert!(
            broken(
                high,
                &Rules {
                    rd_revenue_factor: 2.0
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn sources_keep_one_canonical_form() {
        let mut violations = Violations::new();
        let explicit = Sources::check(
            [
                ("tax_paid_fen", Some(FigureSource::Tax)),
                ("revenue_fen", Some(FigureSource::SelfReported)),
            ],
            &mut violations,
        );
        let minimal = Sources::check([("tax_paid_fen", Some(FigureSource::Tax))], &mut violations);
        assert!(violations.is_empty());
        assert_eq!(explicit, minimal);
        assert_eq!(explicit.of("revenue_fen"), FigureSource::SelfReported);
        Sources::check(
            [
                ("profit_fen", Some(FigureSource::Tax)),
                ("tax_paid_fen", None),
            ],
            &mut violations,
        );
        let fields: Vec<&str> = violations
            .as_slice()
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "sources.by_indicator[profit_fen]",
                "sources.by_indicator[tax_paid_fen]"
            ]
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// Indicators that keep every rule: three groups within the total, each part within
        /// it, a share from 0 to 100, R&D within revenue.
        fn consistent() -> impl Strategy<Value = Indicators> {
            (
                0..10_000i64,
                0..=100u32,
                0..=100u32,
                0..=100u32,
                0..=100u32,
                0.0..=100.0f64,
                0..1_000_000_000i64,
            )
                .prop_map(|(total, p, r, m, c, share, revenue)| {
                    // Shares of the total, the three groups together at most all of it.
                    let part = |percent: u32| total * i64::from(percent) / 300;
                    Indicators {
                        employees_total: total,
                        production_staff: part(p),
                        rd_technical_staff: part(r),
                        management_sales_staff: part(m),
                        college_educated_staff: total * i64::from(c) / 100,
                        automation_share_percent: share,
                        revenue_fen: revenue,
                        rd_spend_fen: revenue / 2,
                        ..good()
                    }
                })
        }

        fn fields(indicators: &Indicators, rules: &Rules) -> Vec<String> {
            let mut violations = Violations::new();
            indicators.check(rules, &mut violations);
            violations
                .as_slice()
                .iter()
                .map(|v| v.field.clone())
                .collect()
        }

        proptest! {
            #[test]
            fn consistent_indicators_break_no_rule(indicators in consistent()) {
                prop_assert!(fields(&indicators, &Rules::default()).is_empty());
            }

            /// A negative count or amount is reported on its own field, whatever else the
            /// return says.
            #[test]
            fn a_negative_figure_is_reported_on_its_field(
                indicators in consistent(),
                which in 0..15usize,
                value in i64::MIN..0,
            ) {
                let mut broken = indicators;
                let name = broken.non_negative()[which].0;
                let slot = match which {
                    0 => &mut broken.employees_total,
                    1 => &mut broken.production_staff,
                    2 => &mut broken.rd_technical_staff,
                    3 => &mut broken.management_sales_staff,
                    4 => &mut broken.college_educated_staff,
                    5 => &mut broken.rd_spend_fen,
                    6 => &mut broken.revenue_fen,
                    7 => &mut broken.industrial_output_fen,
                    8 => &mut broken.tax_paid_fen,
                    9 => &mut broken.export_sales_fen,
                    10 => &mut broken.equipment_value_fen,
                    11 => &mut broken.invention_patents,
                    12 => &mut broken.utility_model_patents,
                    13 => &mut broken.design_patents,
                    _ => &mut broken.land_used_centi_mu,
                };
                *slot = value;
                let found = fields(&broken, &Rules::default());
                prop_assert!(found.contains(&format!("indicators.{name}")), "{:?}", found);
            }
        }
    }
}
