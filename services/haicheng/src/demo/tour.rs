//! The tour `haicheng dev` prints once the platform is up: the demo firms and the parcel it is
//! about, and its commands, each of which shows what its comment announces on a first start
//! (the lists it suggests are filtered to the tour's firm, parcel or kind of notice, so the
//! thousand demo notices do not bury them).

use super::{DemoCensus, census, land};

/// A firm of the data set for the tour: graded (registered long ago, no veto flag), so a
/// strong correction moves it up.
pub fn tour_firm(seed: u64) -> String {
    census(seed)
        .enterprises
        .into_iter()
        .find(|e| {
            e.registration_date.as_str() < "2020"
                && !(e.safety_violation || e.environmental_violation || e.tax_credit_violation)
        })
        .map(|e| e.uscc)
        .unwrap_or_default()
}

/// The firm that objects in the tour: graded like [`tour_firm`] (and not it), with the
/// lowest 2025 tax per mu, so it is ranked into C and has something to object to.
pub fn objecting_firm(seed: u64) -> String {
    let data = census(seed);
    let tour = tour_firm(seed);
    let graded: std::collections::HashSet<&str> = data
        .enterprises
        .iter()
        .filter(|e| {
            e.registration_date.as_str() < "2020"
                && !(e.safety_violation || e.environmental_violation || e.tax_credit_violation)
                && e.uscc != tour
        })
        .map(|e| e.uscc.as_str())
        .collect();
    data.returns
        .iter()
        .filter(|r| r.period.as_ref().is_some_and(|p| p.code == "2025"))
        .filter(|r| graded.contains(r.uscc.as_str()))
        .filter_map(|r| {
            let figures = r.indicators.as_ref()?;
            let land = figures.land_used_centi_mu.max(1) as f64;
            Some((figures.tax_paid_fen as f64 / land, &r.uscc))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, uscc)| uscc.clone())
        .unwrap_or_default()
}

/// A demo grant for the tour: its parcel and its holder. Granted with commitments above the
/// firm's latest figures, so its latest evaluation is short and natural resources has its
/// notice.
pub fn tour_grant(census: &DemoCensus) -> (String, String) {
    let land = land::plan(census);
    land.grants
        .iter()
        .find(|g| land::is_short(census, g))
        .map(|g| (g.parcel.id.clone(), g.grant.uscc.clone()))
        .unwrap_or_default()
}

/// What the tour is about, drawn from the demo data of one seed.
pub struct Tour {
    /// The firm whose correction moves it into class A.
    pub firm: String,
    /// The land parcel short of its commitments, and its holder.
    pub parcel: String,
    pub holder: String,
    /// The firm that objects to its published class.
    pub objector: String,
    /// The support round the demo finalized (known once the demo is loaded).
    pub round: Option<String>,
    /// The visit the demo carried through (known once the demo is loaded).
    pub visit: Option<super::inspection::DemoVisit>,
}

impl Tour {
    pub fn of(seed: u64) -> Self {
        let (parcel, holder) = tour_grant(&census(seed));
        Self {
            firm: tour_firm(seed),
            parcel,
            holder,
            objector: objecting_firm(seed),
            round: None,
            visit: None,
        }
    }

    /// The tour with the joint visit the demo carried through.
    pub fn with_visit(self, visit: Option<super::inspection::DemoVisit>) -> Self {
        Self { visit, ..self }
    }

    /// The inspection lines: a department's item list, this year's plans with the joint-visit
    /// rate and the visits saved, the visit the demo carried through as its firm sees it (items,
    /// legal basis, inspectors, code, the finding), the tour firm's tier, the ratings (too few
    /// to show), and visits per firm against the caps.
    fn inspection_lines(&self) -> Vec<String> {
        let firm = &self.firm;
        let year = super::inspection::year();
        let this_year = chrono::Datelike::year(&platform::calendar::china_date(chrono::Utc::now()));
        let (visit, holder) = match &self.visit {
            Some(v) => (v.visit.clone(), v.uscc.clone()),
            None => ("VISIT_ID".to_string(), "FIRM_USCC".to_string()),
        };
        vec![
            "haicheng inspection items --department market_supervision --token dev-market-supervision   (market supervision's list: items, legal basis, kind, safety)".to_string(),
            format!("haicheng inspection plan report --year {year} --token dev-commerce   (three departments' plans: on-site tasks, visits after merging, the joint-visit rate, visits saved)"),
            format!("haicheng inspection visits --department market_supervision --year {this_year} --state recorded --token dev-market-supervision   (the visit due today on a complaint that the demo approved and recorded: a result waits for its visit's day)"),
            format!("haicheng inspection visit {visit} --token dev-enterprise-{holder}   (as its firm sees it: items, legal basis, inspectors, the code, the finding and its deadline)"),
            format!("haicheng inspection tier {firm} --token dev-market-supervision   (after the submit above: class A in force, tier A; white-listed, so no routine visit on a non-safety item, unless a veto or a land shortfall)"),
            format!("haicheng inspection ratings --department market_supervision --year {year} --token dev-market-supervision   (refused: fewer than 5 ratings are never shown)"),
            format!("haicheng inspection counts --year {year} --token dev-commerce   (visits per firm against the caps, a joint visit once)"),
        ]
    }

    /// The tour with the id of the support round the demo finalized.
    pub fn with_round(self, round: Option<String>) -> Self {
        Self { round, ..self }
    }

    /// The support lines: the policies, the demo round's list, the calculator for the tour
    /// firm, finance's orders and paying one, the key-support round the tour firm joins once
    /// class A, and the firm's own benefits with its own token.
    fn support_lines(&self) -> Vec<String> {
        use super::support::{KEY_SUPPORT, ROUND_POLICY};
        let firm = &self.firm;
        let year = platform::calendar::china_date(chrono::Utc::now()).format("%Y");
        let (round, about) = match &self.round {
            Some(round) => (
                round.as_str(),
                format!(
                    "the {ROUND_POLICY} list the demo finalized: the budget runs out before the last firms"
                ),
            ),
            None => (
                "ROUND_ID",
                format!(
                    "the ROUND of an order of `policy payments --policy {ROUND_POLICY}`: its list"
                ),
            ),
        };
        vec![
            "haicheng policy list --token dev-finance   (the demo's support policies: key support, R&D subsidy, training)".to_string(),
            format!("haicheng policy show {ROUND_POLICY} --token dev-finance   (its conditions, benefit, budget and what was ordered)"),
            format!("haicheng policy round show {round} --token dev-finance   ({about})"),
            format!("haicheng policy check {KEY_SUPPORT} --uscc {firm} --token dev-enterprise-{firm}   (the calculator, after the submit above: each condition met or not, value and gap)"),
            format!("haicheng policy payments --policy {ROUND_POLICY} --state ordered --token dev-finance   (finance's payment orders)"),
            "haicheng policy pay ORDER_ID --voucher PZ-0001 --token dev-finance   (an ORDER that payments printed: paid, with its voucher)".to_string(),
            format!("haicheng policy round run {KEY_SUPPORT} --token dev-commerce   (after the submit above: the tour firm, now class A, is on the list)"),
            "haicheng policy round finalize ROUND_ID --token dev-commerce   (the round that run printed; no publicity window in development)".to_string(),
            format!("haicheng policy benefits --uscc {firm} --year {year} --token dev-enterprise-{firm}   (the firm's own benefits, with its own token)"),
        ]
    }

    /// The commands the banner suggests, in order. A list of notices is filtered to what its
    /// comment announces: the demo load alone sends about a thousand. A test parses each.
    pub fn lines(&self) -> Vec<String> {
        let Self {
            firm,
            parcel,
            holder,
            objector,
            round: _,
            visit: _,
        } = self;
        let mut lines = vec![
            "haicheng health".to_string(),
            "haicheng enterprise list --park nantai --token dev-commerce".to_string(),
            format!("haicheng enterprise show {firm} --token dev-commerce"),
            "haicheng class distribution --token dev-commerce".to_string(),
            format!("haicheng class explain {firm} --token dev-finance"),
            "haicheng notices watch --token dev-finance          (in a second terminal; Ctrl-C ends it)".to_string(),
            format!("haicheng census submit --uscc {firm} --period 2025 --request-id tour-1 --file services/haicheng/samples/return.json --token dev-commerce"),
            format!("haicheng class show {firm} --token dev-commerce     (a moment later: its new class)"),
            format!("haicheng notices list --uscc {firm} --token dev-finance   (about 30 s after the submit, once the period settled: the firm's notices, newest first)"),
            "haicheng land parcels --token dev-park-committee         (the Xiliu committee sees its own park)".to_string(),
            format!("haicheng land parcel {parcel} --token dev-natural-resources   (a grant short of its commitments)"),
            format!("haicheng notices list --kind land_commitment_shortfall --uscc {holder} --token dev-natural-resources   (that grant's shortfall notice)"),
            "haicheng notices list --kind land_commitment_shortfall --token dev-natural-resources   (every grant short of its commitments)".to_string(),
            "haicheng land parcel DEMO-XL-010 --token dev-natural-resources   (idle land: its idle fee order and take-back review)".to_string(),
            "haicheng fair list --external --open --token dev-commerce   (external fairs taking registrations)".to_string(),
            format!("haicheng fair invitations --uscc {firm} --token dev-commerce   (after the submit above: invited, as a new class-A firm)"),
            "haicheng class publish --period 2025 --token dev-commerce   (publishes the ranking; objections open for 5 working days)".to_string(),
            format!("haicheng class show {firm} --period 2025 --published --token dev-commerce   (the class as published: later returns move only the current one)"),
            format!("haicheng objection file --period 2025 --uscc {objector} --reason \"export sales were left out of the return\" --evidence customs-2025-0815 --class B --token dev-enterprise-{objector}   (the firm objects itself)"),
            "haicheng objection list --period 2025 --token dev-commerce".to_string(),
            "haicheng objection decide --id 1 --uphold B --reason \"customs declarations confirm the exports\" --token dev-commerce   (the id that objection file printed; an override, its notices at once)".to_string(),
            format!("haicheng class show {objector} --period 2025 --token dev-commerce   (B, overridden with the decision's reason)"),
            "haicheng class finalize --period 2025 --token dev-commerce   (the final list: refused while the objection window is open, naming its deadline; once it has closed, the published list with the upheld B)".to_string(),
            format!("haicheng class show {objector} --period 2025 --view final --token dev-commerce   (once finalized: B in the final list, which support's rounds read)"),
            "haicheng class publish --period 2024 --objection-days 0 --token dev-commerce   (a rehearsal of the final list, development mode only: no objection window, so 2024 can be finalized at once; elsewhere a publication may give more time, never less)".to_string(),
            "haicheng class finalize --period 2024 --token dev-commerce   (PeriodFinalized: 2024's final list, the published one as no objection was upheld)".to_string(),
            "haicheng class distribution --period 2024 --view final --token dev-commerce   (the final list's classes, which support's rounds of 2024 read)".to_string(),
            format!("haicheng fair apply FAIR_ID {objector} --token dev-commerce   (FAIR_ID: the Xiliu fabric and accessories fair of `fair list`)"),
            format!("haicheng fair breach FAIR_ID {objector} --kind leaving-early --evidence \"stand empty on the second day\" --reference SW-2027-031 --token dev-commerce   (bars the firm from the next 4 sessions of that kind; market supervision gets a notice)"),
            format!("haicheng fair breaches --uscc {objector} --token dev-commerce   (the breach and the sessions it bars)"),
        ];
        // After the submit (which lifts the tour firm into class A) and the fair lines.
        let at = lines
            .iter()
            .position(|l| l.contains("class publish"))
            .unwrap_or(lines.len());
        lines.splice(at..at, self.support_lines());
        let at = lines
            .iter()
            .position(|l| l.contains("class publish"))
            .unwrap_or(lines.len());
        lines.splice(at..at, self.inspection_lines());
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;

    /// A tour line as the shell splits it: words, double quotes keeping spaces; the comment
    /// in parentheses after two spaces left out.
    fn shell_words(line: &str) -> Vec<String> {
        let command = line.split("  (").next().unwrap_or(line);
        let (mut words, mut word, mut quoted) = (Vec::new(), String::new(), false);
        for c in command.chars() {
            match c {
                '"' => quoted = !quoted,
                c if c.is_whitespace() && !quoted => {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        words
    }

    #[test]
    fn every_tour_line_parses_as_printed() {
        use clap::Parser;
        let seed = demo::DEFAULT_SEED;
        let firm = tour_firm(seed);
        let objector = objecting_firm(seed);
        assert!(
            platform::uscc::Uscc::parse(&objector).is_ok(),
            "{objector:?}"
        );
        assert_ne!(firm, objector);
        let parcel = tour_grant(&demo::census(seed)).0;
        let tour = Tour::of(seed);
        assert_eq!((&tour.firm, &tour.parcel), (&firm, &parcel));
        let lines = tour.lines();
        assert!(lines.iter().any(|l| l.contains("class publish")));
        assert!(lines.iter().any(|l| l.contains("objection decide")));
        assert!(
            lines
                .iter()
                .any(|l| l.contains("policy round show ROUND_ID"))
        );
        let with_round = Tour::of(seed).with_round(Some("r-1".into())).lines();
        assert!(
            with_round
                .iter()
                .any(|l| l.contains("policy round show r-1 "))
        );
        let visit = super::super::inspection::DemoVisit {
            visit: "v-1".into(),
            uscc: firm.clone(),
        };
        let with_visit = Tour::of(seed).with_visit(Some(visit)).lines();
        assert!(with_visit.iter().any(|l| l.contains(&format!(
            "inspection visit v-1 --token dev-enterprise-{firm} "
        ))));
        assert!(lines.iter().any(|l| l.contains("inspection plan report")));
        for line in lines.iter().chain(&with_round).chain(&with_visit) {
            let words = shell_words(line);
            if line.starts_with("haicheng policy") || line.starts_with("haicheng inspection") {
                assert!(words.iter().any(|w| w == "--token"), "{line}");
            }
            assert_eq!(words[0], "haicheng", "{line}");
            if let Err(err) = crate::Cli::try_parse_from(&words) {
                panic!("{line}\n{err}");
            }
        }
    }

    /// The demo load alone sends about a thousand notices: a list of them in the tour names
    /// the firm or the kind it is about, or it shows a page of others.
    #[test]
    fn every_notice_list_of_the_tour_is_filtered_to_what_it_announces() {
        let tour = Tour::of(demo::DEFAULT_SEED);
        let lists: Vec<String> = tour
            .lines()
            .into_iter()
            .filter(|l| l.contains("notices list"))
            .collect();
        assert_eq!(lists.len(), 3, "{lists:?}");
        assert!(
            lists[0].contains(&format!("--uscc {}", tour.firm)),
            "{}",
            lists[0]
        );
        assert!(
            lists[1].contains(&format!("--uscc {}", tour.holder))
                && lists[1].contains("--kind land_commitment_shortfall"),
            "{}",
            lists[1]
        );
        assert!(
            lists[2].contains("--kind land_commitment_shortfall"),
            "{}",
            lists[2]
        );
    }

    /// The tour's objecting firm, ranked from the demo data with the default model as the
    /// service does, is in class C in 2025: its objection has something to ask for.
    #[test]
    fn the_objecting_firm_is_ranked_into_c() {
        use classification::domain::{Class, Figures, Firm, Model, Period, Segment, classify};
        let seed = demo::DEFAULT_SEED;
        let data = demo::census(seed);
        let objector = objecting_firm(seed);
        let registered: std::collections::HashMap<&str, _> = data
            .enterprises
            .iter()
            .map(|e| (e.uscc.as_str(), e))
            .collect();
        // Census assigns the segment from the industry class (C17, C18, C19, 513x).
        let segment = |class: &str| match &class[..2] {
            "17" => Segment::Textile,
            "18" => Segment::Apparel,
            "19" => Segment::LuggageLeather,
            _ => Segment::Trade,
        };
        let firms: Vec<Firm> = data
            .returns
            .iter()
            .filter(|r| r.period.as_ref().is_some_and(|p| p.code == "2025"))
            .map(|r| {
                let e = registered[r.uscc.as_str()];
                let i = r.indicators.unwrap_or_default();
                Firm {
                    uscc: r.uscc.clone(),
                    segment: segment(&e.industry_class),
                    industry_class: e.industry_class.clone(),
                    registration_date: chrono::NaiveDate::parse_from_str(
                        &e.registration_date,
                        "%Y-%m-%d",
                    )
                    .ok(),
                    active: true,
                    vetoed: e.safety_violation
                        || e.environmental_violation
                        || e.tax_credit_violation,
                    figures: Figures {
                        employees_total: i.employees_total,
                        rd_spend_fen: i.rd_spend_fen,
                        revenue_fen: i.revenue_fen,
                        industrial_output_fen: i.industrial_output_fen,
                        tax_paid_fen: i.tax_paid_fen,
                        export_sales_fen: i.export_sales_fen,
                        automation_share_percent: i.automation_share_percent,
                        patents: i.invention_patents + i.utility_model_patents + i.design_patents,
                        land_used_centi_mu: i.land_used_centi_mu,
                        energy_use_tce: i.energy_use_tce,
                    },
                }
            })
            .collect();
        let result = classify(&Model::default(), &Period::parse("2025").unwrap(), &firms);
        let at = firms.iter().position(|f| f.uscc == objector).unwrap();
        assert_eq!(result.evaluations[at].class, Some(Class::C), "{objector}");
    }
}
