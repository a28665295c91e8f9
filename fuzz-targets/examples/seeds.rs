//! Writes the seed corpus of every target to `fuzz/corpus/<target>/seed-*` (small files, a
//! few per target, committed): `cargo run -p fuzz-targets --example seeds`. libFuzzer grows
//! its own corpus from them in the same folders; only the seeds are committed.

use std::path::Path;

use fuzz_targets::generate::{Messages, Rng};

const CSV: &str = "# census import\n\
uscc,period,employees_total,production_staff,rd_technical_staff,management_sales_staff,college_educated_staff,rd_spend_fen,revenue_fen,industrial_output_fen,tax_paid_fen,export_sales_fen,equipment_value_fen,automation_share_percent,invention_patents,utility_model_patents,design_patents,land_used_centi_mu,equipment_level,energy_use_tce,rd_exceeds_revenue_flag,sources,client_request_id\n\
91210381MA0Q12343L,2025,10,5,1,2,3,100,1000,900,50,0,300,12.5,0,1,2,150,DOMESTIC_ADVANCED,640,no,tax_paid_fen=TAX;land_used_centi_mu=LAND_REGISTRY,r-1\n\
91210381MA0Q12343L,2025Q3,10,5,1,2,3,100,1000,900,50,0,300,101,0,1,2,150,,,,,\n";

const RETURN: &str = r#"{"indicators":{"employees_total":120,"production_staff":80,"rd_technical_staff":12,"management_sales_staff":28,"college_educated_staff":30,"rd_spend_fen":150000000,"revenue_fen":4800000000,"industrial_output_fen":4500000000,"tax_paid_fen":210000000,"export_sales_fen":900000000,"equipment_value_fen":1200000000,"automation_share_percent":42.5,"equipment_level":"DOMESTIC_ADVANCED","invention_patents":2,"utility_model_patents":7,"design_patents":15,"land_used_centi_mu":3120,"energy_use_tce":640,"rd_exceeds_revenue_flag":false},"sources":{"tax_paid_fen":"TAX","land_used_centi_mu":"LAND_REGISTRY"}}"#;

/// The CloudEvents headers of a census event, in the target's format (0xFF between entries,
/// each a key selector byte and the value).
fn headers() -> Vec<u8> {
    let entries: [(u8, &str); 7] = [
        (0, "1.0"),
        (1, "0190b3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d"),
        (2, "haicheng.census.v1.CensusReturnSubmitted"),
        (3, "census"),
        (4, "91210381MA0Q12343L"),
        (5, "2025-06-30T08:15:42.123456789+00:00"),
        (7, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    ];
    let mut out = Vec::new();
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(0xFF);
        }
        out.push(*key);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// The consumers' event types, in the selector order of `bus::consumer_payloads`.
const EVENTS: [&str; 17] = [
    "haicheng.census.v1.EnterpriseRegistered",
    "haicheng.census.v1.EnterpriseUpdated",
    "haicheng.census.v1.CensusReturnSubmitted",
    "haicheng.census.v1.EnterpriseRegistered",
    "haicheng.census.v1.CensusReturnSubmitted",
    "haicheng.classification.v1.EnterpriseClassified",
    "haicheng.census.v1.EnterpriseUpdated",
    "haicheng.census.v1.CensusReturnSubmitted",
    "haicheng.census.v1.EnterpriseRegistered",
    "haicheng.classification.v1.EnterpriseClassified",
    "haicheng.classification.v1.PeriodPublished",
    "haicheng.classification.v1.PeriodFinalized",
    "haicheng.land.v1.CommitmentEvaluated",
    "haicheng.land.v1.GrantTakenBack",
    "haicheng.fair.v1.RegistrationConfirmed",
    "haicheng.fair.v1.RegistrationCancelled",
    "haicheng.census.v1.EnterpriseUpdated",
];

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let messages = Messages::new();
    let mut rng = Rng::new(7);
    let mut seeds: Vec<(&str, Vec<Vec<u8>>)> = Vec::new();
    let requests = [
        (
            "census_requests",
            fuzz_targets::requests::census::request_names(),
        ),
        (
            "classification_requests",
            fuzz_targets::requests::classification::request_names(),
        ),
        (
            "land_parcel_requests",
            fuzz_targets::requests::land_parcel::request_names(),
        ),
        (
            "trade_fair_requests",
            fuzz_targets::requests::trade_fair::request_names(),
        ),
        (
            "support_requests",
            fuzz_targets::requests::support::request_names(),
        ),
        (
            "inspection_requests",
            fuzz_targets::requests::inspection::request_names(),
        ),
    ];
    for (target, names) in &requests {
        let inputs = (0..names.len())
            .map(|i| {
                let mut input = vec![i as u8];
                input.extend(messages.encoded(&names[i], &mut rng));
                input
            })
            .collect();
        seeds.push((target, inputs));
    }
    let events = (0..EVENTS.len())
        .map(|i| {
            let mut input = vec![i as u8];
            input.extend(messages.encoded(EVENTS[i], &mut rng));
            input
        })
        .collect();
    seeds.push(("consumer_payloads", events));
    let text = |items: &[&str]| items.iter().map(|s| s.as_bytes().to_vec()).collect();
    seeds.push(("census_csv", text(&[CSV])));
    seeds.push(("return_file", text(&[RETURN])));
    seeds.push(("period", text(&["2025", "2025Q3", "1999Q0"])));
    seeds.push(("uscc", text(&["91210381MA0Q12343L", "91210381MA0Q1234"])));
    seeds.push(("retention_span", text(&["14d", "36h", " 90m ", "45s"])));
    seeds.push((
        "auth_tokens",
        text(&[
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef=service:census-import:census.write;\
             Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A=department:commerce:census.read,classification.admin",
            "dev-commerce",
        ]),
    ));
    seeds.push((
        "page_tokens",
        text(&[
            "eyJhZnRlciI6IjkxMjEwMzgxTUEwUTEyMzQzTCJ9",
            "IjAxOTBiM2M0LTVlNmYtN2E4Yi05YzBkLTFlMmYzYTRiNWM2ZCI",
            "WzE3MTk3MzQ0MDAwMDAwMDAsIjAxOTBiM2M0LTVlNmYtN2E4Yi05YzBkLTFlMmYzYTRiNWM2ZCJd",
            "MTI",
        ]),
    ));
    seeds.push(("cloudevents", vec![headers()]));
    for (target, inputs) in seeds {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        for (i, input) in inputs.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), input)?;
        }
    }
    Ok(())
}
