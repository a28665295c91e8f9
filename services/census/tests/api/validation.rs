//! Every rule, one case each: the request is refused with INVALID_ARGUMENT and exactly the
//! field violations the rule names; nothing is stored.

use haicheng_proto::{census::v1 as pb, common::v1 as common};

use crate::{
    COMMERCE, good_indicators, invalid_fields, new_uscc, register, registration, spawn, submission,
};

type Change = fn(&mut pb::SubmitReturnRequest);

/// (rule, change to a good submission, the fields that must be reported).
const RETURN_CASES: &[(&str, Change, &[&str])] = &[
    (
        "uscc check character",
        |r| {
            let other = if r.uscc.ends_with('0') { "1" } else { "0" };
            r.uscc.replace_range(17.., other);
        },
        &["uscc"],
    ),
    (
        "uscc organisation-code check",
        |r| r.uscc.replace_range(16..17, "Y"),
        &["uscc"],
    ),
    ("uscc length", |r| r.uscc.truncate(17), &["uscc"]),
    ("period missing", |r| r.period = None, &["period"]),
    (
        "period format",
        |r| r.period = crate::period("2025Q5"),
        &["period"],
    ),
    (
        "client request id required",
        |r| r.client_request_id.clear(),
        &["client_request_id"],
    ),
    (
        "indicators required",
        |r| r.indicators = None,
        &["indicators"],
    ),
    (
        "negative employees",
        |r| {
            let i = r.indicators.as_mut().unwrap();
            i.employees_total = -1;
            i.production_staff = 0;
            i.rd_technical_staff = 0;
            i.management_sales_staff = 0;
            i.college_educated_staff = 0;
        },
        &["indicators.employees_total"],
    ),
    (
        "negative R&D spend",
        |r| r.indicators.as_mut().unwrap().rd_spend_fen = -5,
        &["indicators.rd_spend_fen"],
    ),
    (
        "negative revenue",
        |r| {
            let i = r.indicators.as_mut().unwrap();
            i.revenue_fen = -1;
            i.rd_spend_fen = 0;
        },
        &["indicators.revenue_fen"],
    ),
    (
        "negative output",
        |r| r.indicators.as_mut().unwrap().industrial_output_fen = -1,
        &["indicators.industrial_output_fen"],
    ),
    (
        "negative tax",
        |r| r.indicators.as_mut().unwrap().tax_paid_fen = -1,
        &["indicators.tax_paid_fen"],
    ),
    (
        "negative export sales",
        |r| r.indicators.as_mut().unwrap().export_sales_fen = -1,
        &["indicators.export_sales_fen"],
    ),
    (
        "negative equipment value",
        |r| r.indicators.as_mut().unwrap().equipment_value_fen = -1,
        &["indicators.equipment_value_fen"],
    ),
    (
        "negative invention patents",
        |r| r.indicators.as_mut().unwrap().invention_patents = -1,
        &["indicators.invention_patents"],
    ),
    (
        "negative utility model patents",
        |r| r.indicators.as_mut().unwrap().utility_model_patents = -1,
        &["indicators.utility_model_patents"],
    ),
    (
        "negative design patents",
        |r| r.indicators.as_mut().unwrap().design_patents = -1,
        &["indicators.design_patents"],
    ),
    (
        "negative land",
        |r| r.indicators.as_mut().unwrap().land_used_centi_mu = -1,
        &["indicators.land_used_centi_mu"],
    ),
    (
        "negative energy",
        |r| r.indicators.as_mut().unwrap().energy_use_tce = Some(-1.0),
        &["indicators.energy_use_tce"],
    ),
    (
        "production staff above total",
        |r| r.indicators.as_mut().unwrap().production_staff = 121,
        &["indicators.production_staff"],
    ),
    (
        "R&D staff above total",
        |r| r.indicators.as_mut().unwrap().rd_technical_staff = 121,
        &["indicators.rd_technical_staff"],
    ),
    (
        "management and sales above total",
        |r| r.indicators.as_mut().unwrap().management_sales_staff = 121,
        &["indicators.management_sales_staff"],
    ),
    (
        "college educated above total",
        |r| r.indicators.as_mut().unwrap().college_educated_staff = 121,
        &["indicators.college_educated_staff"],
    ),
    (
        "labour groups together above total",
        |r| r.indicators.as_mut().unwrap().production_staff = 81,
        &["indicators.employees_total"],
    ),
    (
        "automation share above 100 %",
        |r| r.indicators.as_mut().unwrap().automation_share_percent = 100.01,
        &["indicators.automation_share_percent"],
    ),
    (
        "automation share negative",
        |r| r.indicators.as_mut().unwrap().automation_share_percent = -0.5,
        &["indicators.automation_share_percent"],
    ),
    (
        "equipment level undefined",
        |r| r.indicators.as_mut().unwrap().equipment_level = 9,
        &["indicators.equipment_level"],
    ),
    (
        "R&D spend above revenue without the flag",
        |r| {
            let i = r.indicators.as_mut().unwrap();
            i.rd_spend_fen = i.revenue_fen + 1;
        },
        &["indicators.rd_spend_fen"],
    ),
    (
        "source of an unknown indicator",
        |r| {
            r.sources
                .as_mut()
                .unwrap()
                .by_indicator
                .insert("profit_fen".into(), common::FigureSource::Tax as i32);
        },
        &["sources.by_indicator[profit_fen]"],
    ),
    (
        "undefined figure source",
        |r| {
            r.sources
                .as_mut()
                .unwrap()
                .by_indicator
                .insert("land_used_centi_mu".into(), 77);
        },
        &["sources.by_indicator[land_used_centi_mu]"],
    ),
    (
        "several rules at once, each reported",
        |r| {
            r.period = crate::period("25");
            let i = r.indicators.as_mut().unwrap();
            i.tax_paid_fen = -1;
            i.automation_share_percent = 101.0;
        },
        &[
            "period",
            "indicators.tax_paid_fen",
            "indicators.automation_share_percent",
        ],
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn each_broken_rule_of_a_return_is_its_own_field_violation_and_nothing_is_stored() {
    let census = spawn().await;
    let mut client = census.client(COMMERCE);
    let uscc = new_uscc();
    register(&mut client, &uscc).await;

    for (rule, change, expected) in RETURN_CASES {
        let mut request = submission(&uscc, "2025", good_indicators());
        change(&mut request);
        let status = client.submit_return(request).await.expect_err(rule);
        let mut fields = invalid_fields(&status);
        fields.sort();
        let mut expected: Vec<String> = expected.iter().map(|f| f.to_string()).collect();
        expected.sort();
        assert_eq!(fields, expected, "{rule}: {}", status.message());
    }

    let pool = census.pool();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM census_returns")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "a refused return left a row");
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_flag_admits_rd_spend_above_revenue() {
    let census = spawn().await;
    let mut client = census.client(COMMERCE);
    let uscc = new_uscc();
    register(&mut client, &uscc).await;
    let mut indicators = good_indicators();
    indicators.rd_spend_fen = indicators.revenue_fen * 2;
    indicators.rd_exceeds_revenue_flag = true;
    client
        .submit_return(submission(&uscc, "2025", indicators))
        .await
        .expect("a flagged return is accepted");
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_rd_factor_moves_the_limit() {
    let census = crate::spawn_with(&[("CENSUS_RD_REVENUE_FACTOR", "3")]).await;
    let mut client = census.client(COMMERCE);
    let uscc = new_uscc();
    register(&mut client, &uscc).await;
    let mut indicators = good_indicators();
    indicators.rd_spend_fen = indicators.revenue_fen * 2;
    client
        .submit_return(submission(&uscc, "2025", indicators))
        .await
        .expect("within three times revenue");
    indicators.rd_spend_fen = indicators.revenue_fen * 3 + 1;
    let status = client
        .submit_return(submission(&uscc, "2025", indicators))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&status), ["indicators.rd_spend_fen"]);
    census.stop().await;
}

type RegistrationChange = fn(&mut pb::RegisterEnterpriseRequest);

const REGISTRATION_CASES: &[(&str, RegistrationChange, &[&str])] = &[
    (
        "uscc lower case",
        |r| r.uscc = "91210381ma0q12343l".into(),
        &["uscc"],
    ),
    (
        "uscc with a letter GB 32100 leaves out",
        |r| r.uscc.replace_range(8..9, "I"),
        &["uscc"],
    ),
    (
        "uscc of an unknown authority",
        |r| r.uscc.replace_range(0..1, "B"),
        &["uscc"],
    ),
    ("name required", |r| r.name = "   ".into(), &["name"]),
    (
        "legal representative required",
        |r| r.legal_representative.clear(),
        &["legal_representative"],
    ),
    (
        "park required",
        |r| r.park = common::Park::Unspecified as i32,
        &["park"],
    ),
    ("park undefined", |r| r.park = 12, &["park"]),
    (
        "industry class outside the cluster",
        |r| r.industry_class = "2611".into(),
        &["industry_class"],
    ),
    (
        "industry class malformed",
        |r| r.industry_class = "C1922".into(),
        &["industry_class"],
    ),
    ("size required", |r| r.size = 0, &["size"]),
    (
        "registration date malformed",
        |r| r.registration_date = "2015/04/01".into(),
        &["registration_date"],
    ),
    (
        "registration date impossible",
        |r| r.registration_date = "2015-02-30".into(),
        &["registration_date"],
    ),
    (
        "registration date in the future",
        |r| r.registration_date = "2999-01-01".into(),
        &["registration_date"],
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn each_bad_registry_field_is_its_own_field_violation() {
    let census = spawn().await;
    let mut client = census.client(COMMERCE);
    for (rule, change, expected) in REGISTRATION_CASES {
        let mut request = registration(&new_uscc());
        change(&mut request);
        let status = client.register_enterprise(request).await.expect_err(rule);
        assert_eq!(
            invalid_fields(&status),
            *expected,
            "{rule}: {}",
            status.message()
        );
    }
    let pool = census.pool();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM enterprises")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_in_reads_is_invalid_argument_not_a_panic() {
    let census = spawn().await;
    let mut client = census.client(COMMERCE);
    let status = client
        .get_enterprise_file(pb::GetEnterpriseFileRequest {
            uscc: "not-a-uscc".into(),
            as_of: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: -5,
            }),
            all_revisions: false,
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&status), ["uscc", "as_of"]);
    let status = client
        .list_enterprises(pb::ListEnterprisesRequest {
            park: 42,
            industry_class: "12".into(),
            page_size: -1,
            page_token: "%%%".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        invalid_fields(&status),
        ["industry_class", "park", "page_size", "page_token"]
    );
    let status = client
        .get_statistics(pb::GetStatisticsRequest {
            period: None,
            group_by: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&status), ["period", "group_by"]);
    census.stop().await;
}
