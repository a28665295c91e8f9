//! `haicheng class …`: the classes the classification service placed enterprises in.
//!
//! - `class show USCC [--period P]`: the class in force, score, rank and the per-indicator
//!   breakdown;
//! - `class list [--class A|B|C] [--park P] [--segment S] [--period P] [--page-size N]
//!   [--page-token T] [--all]`: classifications ordered by segment then rank;
//! - `class explain USCC [--period P]`: each indicator's contribution, the gap to the next
//!   class up (per indicator, the value that would close it alone) and the reasons in words;
//! - `class distribution [--period P]`: counts per class by park and segment;
//! - `class publish --period P [--note TEXT]`: publishes a period's ranking (commerce only,
//!   [`crate::publication`]);
//! - `class finalize --period P`: makes a published period's final list once its objection
//!   window has closed and every objection is decided (commerce only).
//!
//! Without `--period` the latest classified period is meant. `--published` (or `--view
//! published`) reads the ranking as published instead of the current one (the latest
//! published period without `--period`); `--view final` the final list.
//! Needs `classification.read` (every department's development token has it).

use clap::{Args, Subcommand};
use haicheng_proto::{classification::v1 as pb, common::v1 as common};

use crate::{
    Context,
    client::{self, call},
    enterprise::more_hint,
    enums,
    errors::CliError,
    output::{self, Format, Table, number},
    publication::{self, FinalizeArgs, PublishArgs},
};

#[derive(Subcommand)]
pub enum ClassCommand {
    /// The class of one enterprise, with its score breakdown.
    Show(TargetArgs),
    /// Classifications, filtered, ordered by segment then rank.
    List(ListArgs),
    /// Why an enterprise has its class, and what would lift it into the next one.
    Explain(TargetArgs),
    /// Counts per class by park and segment.
    Distribution(PeriodArgs),
    /// Publishes a period's ranking (公示) as a snapshot and sends its notices; commerce only.
    Publish(PublishArgs),
    /// Makes a published period's final list (最终结果): the published ranking amended by the
    /// upheld objections, once the objection window has closed; commerce only.
    Finalize(FinalizeArgs),
}

/// Which ranking a read answers from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    /// The classes in force now.
    Current,
    /// The ranking as published (公示).
    Published,
    /// The final list: the published ranking amended by the upheld objections.
    Final,
}

#[derive(Args)]
pub struct TargetArgs {
    /// USCC of the enterprise.
    uscc: String,
    #[command(flatten)]
    period: PeriodArgs,
}

#[derive(Args)]
pub struct PeriodArgs {
    /// Census period (2025 or 2025Q3); the latest classified period when left out.
    #[arg(long)]
    period: Option<String>,
    /// The ranking as published (PublishPeriod) instead of the current one.
    #[arg(long, conflicts_with = "view")]
    published: bool,
    /// The ranking to read: current (the default), published or final.
    #[arg(long, value_enum)]
    view: Option<View>,
}

impl PeriodArgs {
    fn proto(&self) -> Option<common::Period> {
        self.period.as_ref().map(|code| common::Period {
            code: code.trim().to_string(),
        })
    }

    fn view(&self) -> i32 {
        let view = match (self.view, self.published) {
            (Some(view), _) => view,
            (None, true) => View::Published,
            (None, false) => View::Current,
        };
        match view {
            View::Current => pb::ClassView::Current as i32,
            View::Published => pb::ClassView::Published as i32,
            View::Final => pb::ClassView::Final as i32,
        }
    }
}

#[derive(Args)]
pub struct ListArgs {
    /// Only this class: A, B or C (any case).
    #[arg(long = "class", value_parser = enums::parse::<common::EnterpriseClass>)]
    class: Option<common::EnterpriseClass>,
    /// Only this park: XILIU, NANTAI, GANWANG or ZHONGXIAO (any case).
    #[arg(long, value_parser = enums::parse::<common::Park>)]
    park: Option<common::Park>,
    /// Only this segment: TEXTILE, APPAREL, LUGGAGE_LEATHER or TRADE (any case).
    #[arg(long, value_parser = enums::parse::<common::Segment>)]
    segment: Option<common::Segment>,
    #[command(flatten)]
    period: PeriodArgs,
    #[command(flatten)]
    paging: client::Paging,
}

impl ListArgs {
    fn request(&self, page_token: String) -> pb::ListClassesRequest {
        pb::ListClassesRequest {
            enterprise_class: self.class.map_or(0, |c| c as i32),
            park: self.park.map_or(0, |p| p as i32),
            segment: self.segment.map_or(0, |s| s as i32),
            page_size: self.paging.page_size.unwrap_or(0),
            page_token,
            period: self.period.proto(),
            view: self.period.view(),
        }
    }
}

pub async fn run(command: ClassCommand, context: &Context) -> Result<(), CliError> {
    let mut service = context.connect.classification().await?;
    let format = context.format;
    match command {
        ClassCommand::Show(args) => {
            let reply = service
                .get_class(call(pb::GetClassRequest {
                    uscc: args.uscc.trim().to_string(),
                    period: args.period.proto(),
                    view: args.period.view(),
                }))
                .await?
                .into_inner();
            output::emit(&match format {
                Format::Table => render_classification(&reply.classification.unwrap_or_default()),
                Format::Json => output::json(&reply),
            });
        }
        ClassCommand::List(args) => {
            let (classifications, next_page_token) = client::pages(
                args.paging.all,
                args.paging.page_token.clone(),
                "classes",
                |token| {
                    let mut service = service.clone();
                    let request = call(args.request(token));
                    async move {
                        let page = service.list_classes(request).await?.into_inner();
                        Ok((page.classifications, page.next_page_token))
                    }
                },
            )
            .await?;
            match format {
                Format::Table => {
                    output::emit(&render_list(&classifications));
                    more_hint(&next_page_token);
                }
                Format::Json => output::emit(&output::json(&pb::ListClassesResponse {
                    classifications,
                    next_page_token,
                })),
            }
        }
        ClassCommand::Explain(args) => {
            let reply = service
                .explain(call(pb::ExplainRequest {
                    uscc: args.uscc.trim().to_string(),
                    period: args.period.proto(),
                    view: args.period.view(),
                }))
                .await?
                .into_inner();
            output::emit(&match format {
                Format::Table => render_explain(&reply),
                Format::Json => output::json(&reply),
            });
        }
        ClassCommand::Distribution(args) => {
            let reply = service
                .get_distribution(call(pb::GetDistributionRequest {
                    period: args.proto(),
                    view: args.view(),
                }))
                .await?
                .into_inner();
            output::emit(&match format {
                Format::Table => render_distribution(&reply),
                Format::Json => output::json(&reply),
            });
        }
        ClassCommand::Publish(args) => publication::publish(&mut service, &args, format).await?,
        ClassCommand::Finalize(args) => publication::finalize(&mut service, &args, format).await?,
    }
    Ok(())
}

fn class(value: i32) -> String {
    enums::short::<common::EnterpriseClass>(value)
}

/// `3 of 120`, or `-` when not graded.
fn rank(c: &pb::Classification) -> String {
    if c.rank == 0 {
        "-".to_string()
    } else {
        format!("{} of {}", c.rank, c.cohort_size)
    }
}

/// What sets a classification apart: override, veto, reduced model.
fn marks(c: &pb::Classification) -> Vec<String> {
    let mut marks = Vec::new();
    if c.overridden {
        marks.push(format!("override (computed {})", class(c.computed_class)));
    }
    if c.vetoed {
        marks.push("vetoed".to_string());
    }
    if c.reduced_model {
        marks.push("reduced model".to_string());
    }
    marks
}

fn render_classification(c: &pb::Classification) -> String {
    let mut class_text = class(c.enterprise_class);
    let marks = marks(c);
    if !marks.is_empty() {
        class_text.push_str(&format!(" ({})", marks.join(", ")));
    }
    let mut pairs = vec![
        ("uscc", c.uscc.clone()),
        ("name", c.name.clone()),
        ("park", enums::short::<common::Park>(c.park)),
        ("segment", enums::short::<common::Segment>(c.segment)),
        ("period", output::period(c.period.as_ref())),
        ("class", class_text),
        ("grading", enums::short::<pb::Grading>(c.grading)),
        ("score", number(c.score)),
        ("rank", rank(c)),
        ("model version", c.model_version.to_string()),
        ("classified", output::time(c.classified_at.as_ref())),
    ];
    if !c.override_reason.is_empty() {
        pairs.push(("override reason", c.override_reason.clone()));
    }
    let mut out = output::fields(&pairs);
    if !c.breakdown.is_empty() {
        out.push('\n');
        out.push_str(&render_breakdown(&c.breakdown));
    }
    out
}

/// An indicator's unit as the service sent it; "-" from a service too old to send one.
fn unit(text: &str) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text.to_string()
    }
}

fn render_breakdown(scores: &[pb::IndicatorScore]) -> String {
    let mut table = Table::new(&[
        "INDICATOR",
        "VALUE",
        "BENCHMARK",
        "UNIT",
        "WEIGHT",
        "CAP",
        "POINTS",
    ])
    .numeric(&[1, 2, 4, 5, 6]);
    for s in scores {
        table.row(vec![
            enums::short::<pb::Indicator>(s.indicator),
            if s.missing {
                "missing".to_string()
            } else {
                number(s.value)
            },
            number(s.benchmark),
            unit(&s.unit),
            number(s.weight),
            number(s.cap),
            number(s.contribution),
        ]);
    }
    table.render()
}

fn render_list(classifications: &[pb::Classification]) -> String {
    if classifications.is_empty() {
        return "no classifications match\n".to_string();
    }
    let mut table = Table::new(&[
        "SEGMENT", "RANK", "USCC", "NAME", "PARK", "CLASS", "SCORE", "GRADING", "PERIOD", "NOTE",
    ])
    .numeric(&[1, 6]);
    for c in classifications {
        table.row(vec![
            enums::short::<common::Segment>(c.segment),
            rank(c),
            c.uscc.clone(),
            c.name.clone(),
            enums::short::<common::Park>(c.park),
            class(c.enterprise_class),
            number(c.score),
            enums::short::<pb::Grading>(c.grading),
            output::period(c.period.as_ref()),
            marks(c).join(", "),
        ]);
    }
    table.render()
}

fn render_explain(reply: &pb::ExplainResponse) -> String {
    let mut out = match &reply.classification {
        Some(c) => render_classification(c),
        None => String::new(),
    };
    if let Some(gap) = &reply.next_class_gap {
        let boundary = if gap.banded {
            format!("it starts at or below {}", number(gap.boundary_score))
        } else {
            format!("its lowest score is {}", number(gap.boundary_score))
        };
        out.push_str(&format!(
            "\nto reach class {}: {} more points ({boundary})\n",
            class(gap.target_class),
            number(gap.score_gap),
        ));
        let mut table = Table::new(&["INDICATOR", "NOW", "NEEDED", "INCREASE", "UNIT", "ALONE"])
            .numeric(&[1, 2, 3]);
        for i in &gap.indicators {
            table.row(vec![
                enums::short::<pb::Indicator>(i.indicator),
                number(i.current_value),
                number(i.required_value),
                number(i.increase),
                unit(&i.unit),
                if i.reachable {
                    "closes the gap".to_string()
                } else {
                    "capped: not alone".to_string()
                },
            ]);
        }
        out.push_str(&table.render());
    }
    if !reply.notes.is_empty() {
        out.push_str("\nnotes\n");
        for note in &reply.notes {
            out.push_str(&format!("  - {note}\n"));
        }
    }
    out
}

fn render_distribution(reply: &pb::GetDistributionResponse) -> String {
    let mut out = format!(
        "period {}, model version {}\n\n",
        output::period(reply.period.as_ref()),
        reply.model_version
    );
    let mut table = Table::new(&[
        "PARK", "SEGMENT", "A", "B", "C", "DEFERRED", "EXEMPT", "TOTAL",
    ])
    .numeric(&[2, 3, 4, 5, 6, 7]);
    let counts = |r: &pb::DistributionRow| {
        let total = [r.class_a, r.class_b, r.class_c, r.deferred, r.exempt]
            .iter()
            .map(|n| i64::from(*n))
            .sum::<i64>();
        [r.class_a, r.class_b, r.class_c, r.deferred, r.exempt]
            .into_iter()
            .map(|n| n.to_string())
            .chain([total.to_string()])
    };
    for r in &reply.rows {
        let mut cells = vec![
            enums::short::<common::Park>(r.park),
            enums::short::<common::Segment>(r.segment),
        ];
        cells.extend(counts(r));
        table.row(cells);
    }
    if let Some(total) = &reply.total {
        let mut cells = vec!["TOTAL".to_string(), String::new()];
        cells.extend(counts(total));
        table.row(cells);
    }
    out.push_str(&table.render());
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: ClassCommand,
    }

    fn classification() -> pb::Classification {
        pb::Classification {
            uscc: "91210381MA0Q12343L".into(),
            name: "南台箱包".into(),
            park: common::Park::Nantai as i32,
            segment: common::Segment::LuggageLeather as i32,
            period: Some(common::Period {
                code: "2025".into(),
            }),
            enterprise_class: common::EnterpriseClass::B as i32,
            computed_class: common::EnterpriseClass::C as i32,
            grading: pb::Grading::Graded as i32,
            score: 61.234_56,
            rank: 12,
            cohort_size: 40,
            model_version: 2,
            overridden: true,
            override_reason: "objection approved".into(),
            breakdown: vec![pb::IndicatorScore {
                indicator: pb::Indicator::TaxPerMu as i32,
                value: 67_307.692_3,
                benchmark: 50_000.0,
                contribution: 40.384_6,
                weight: 30.0,
                cap: 1.5,
                missing: false,
                unit: "yuan per mu".into(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn list_filters_parse_case_insensitively() {
        let cli = Cli::try_parse_from([
            "class", "list", "--class", "a", "--park", "Ganwang", "--period", "2025", "--all",
        ])
        .unwrap();
        let ClassCommand::List(args) = cli.command else {
            panic!("a list")
        };
        let request = args.request("t".into());
        assert_eq!(request.enterprise_class, common::EnterpriseClass::A as i32);
        assert_eq!(request.park, common::Park::Ganwang as i32);
        assert_eq!(request.period.unwrap().code, "2025");
        assert_eq!(request.page_token, "t");
        assert_eq!(request.view, pb::ClassView::Current as i32);
        assert!(Cli::try_parse_from(["class", "list", "--class", "D"]).is_err());
        let cli = Cli::try_parse_from(["class", "list", "--published"]).unwrap();
        let ClassCommand::List(args) = cli.command else {
            panic!("a list")
        };
        assert_eq!(
            args.request(String::new()).view,
            pb::ClassView::Published as i32
        );
        let cli = Cli::try_parse_from(["class", "list", "--view", "final"]).unwrap();
        let ClassCommand::List(args) = cli.command else {
            panic!("a list")
        };
        assert_eq!(
            args.request(String::new()).view,
            pb::ClassView::Final as i32
        );
        assert!(Cli::try_parse_from(["class", "list", "--view", "final", "--published"]).is_err());
    }

    #[test]
    fn a_class_shows_its_marks_and_breakdown() {
        let text = render_classification(&classification());
        assert!(
            text.contains("class            B (override (computed C))\n"),
            "{text}"
        );
        assert!(text.contains("rank             12 of 40\n"), "{text}");
        assert!(text.contains("score            61.2346\n"), "{text}");
        assert!(
            text.contains("override reason  objection approved\n"),
            "{text}"
        );
        assert!(
            text.contains("\nINDICATOR "),
            "the breakdown follows: {text}"
        );
    }

    #[test]
    fn the_breakdown_is_a_right_aligned_table() {
        let mut missing = classification().breakdown[0].clone();
        missing.indicator = pb::Indicator::OutputPerEnergy as i32;
        missing.missing = true;
        missing.contribution = 0.0;
        missing.unit = "yuan per tonne of standard coal".into();
        let mut old = missing.clone();
        old.unit = String::new();
        let text = render_breakdown(&[classification().breakdown[0].clone(), missing, old]);
        assert_eq!(
            text,
            "INDICATOR               VALUE  BENCHMARK  UNIT                             WEIGHT  CAP   POINTS\n\
             TAX_PER_MU         67307.6923      50000  yuan per mu                          30  1.5  40.3846\n\
             OUTPUT_PER_ENERGY     missing      50000  yuan per tonne of standard coal      30  1.5        0\n\
             OUTPUT_PER_ENERGY     missing      50000  -                                    30  1.5        0\n"
        );
    }

    #[test]
    fn the_distribution_adds_a_total_column_and_row() {
        let row = pb::DistributionRow {
            park: common::Park::Xiliu as i32,
            segment: common::Segment::Apparel as i32,
            class_a: 2,
            class_b: 6,
            class_c: 12,
            deferred: 1,
            exempt: 0,
        };
        let text = render_distribution(&pb::GetDistributionResponse {
            period: Some(common::Period {
                code: "2025".into(),
            }),
            model_version: 1,
            rows: vec![row],
            total: Some(row),
        });
        assert_eq!(
            text,
            "period 2025, model version 1\n\n\
             PARK   SEGMENT  A  B   C  DEFERRED  EXEMPT  TOTAL\n\
             XILIU  APPAREL  2  6  12         1       0     21\n\
             TOTAL           2  6  12         1       0     21\n"
        );
    }

    #[test]
    fn an_enterprise_explanation_prints_its_band() {
        let reply = pb::ExplainResponse {
            classification: Some(classification()),
            next_class_gap: Some(pb::NextClassGap {
                target_class: common::EnterpriseClass::A as i32,
                boundary_score: 75.0,
                score_gap: 13.75,
                indicators: vec![],
                banded: true,
            }),
            notes: vec![],
        };
        let text = render_explain(&reply);
        assert!(
            text.contains("to reach class A: 13.75 more points (it starts at or below 75)\n"),
            "{text}"
        );
    }

    #[test]
    fn explain_prints_the_gap_and_the_notes() {
        let reply = pb::ExplainResponse {
            classification: Some(classification()),
            next_class_gap: Some(pb::NextClassGap {
                target_class: common::EnterpriseClass::A as i32,
                boundary_score: 70.5,
                score_gap: 9.265_44,
                indicators: vec![pb::IndicatorGap {
                    indicator: pb::Indicator::TaxPerMu as i32,
                    current_value: 67_307.69,
                    required_value: 82_000.0,
                    increase: 14_692.31,
                    reachable: true,
                    unit: "yuan per mu".into(),
                }],
                banded: false,
            }),
            notes: vec!["9.27 more points reach class A".into()],
        };
        let text = render_explain(&reply);
        assert!(
            text.contains("to reach class A: 9.2654 more points (its lowest score is 70.5)\n"),
            "{text}"
        );
        assert!(
            text.contains("TAX_PER_MU  67307.69   82000  14692.31  yuan per mu  closes the gap\n"),
            "{text}"
        );
        assert!(
            text.ends_with("notes\n  - 9.27 more points reach class A\n"),
            "{text}"
        );
        let value = serde_json::to_value(&reply).unwrap();
        assert_eq!(value["nextClassGap"]["targetClass"], "ENTERPRISE_CLASS_A");
        assert_eq!(
            value["classification"]["breakdown"][0]["indicator"],
            "INDICATOR_TAX_PER_MU"
        );
        assert_eq!(
            value["classification"]["breakdown"][0]["unit"],
            "yuan per mu"
        );
        assert_eq!(
            value["nextClassGap"]["indicators"][0]["unit"],
            "yuan per mu"
        );
        assert!(
            text.contains("TAX_PER_MU  67307.6923      50000  yuan per mu      30"),
            "the explanation's breakdown shows the unit: {text}"
        );
        assert_eq!(
            value["classification"]["computedClass"],
            "ENTERPRISE_CLASS_C"
        );
    }
}
