//! Listing with filters and stable page tokens; statistics over the latest revisions.

use haicheng_proto::{census::v1 as pb, common::v1 as common};

use crate::{
    COMMERCE, Client, FINANCE, good_indicators, new_uscc, registration, spawn, submission,
};

async fn register_as(client: &mut Client, uscc: &str, name: &str, park: common::Park, class: &str) {
    let mut request = registration(uscc);
    request.name = name.into();
    request.park = park as i32;
    request.industry_class = class.into();
    client.register_enterprise(request).await.unwrap();
}

/// Every USCC the list returns for `request`, following the page tokens.
async fn all_pages(client: &mut Client, mut request: pb::ListEnterprisesRequest) -> Vec<String> {
    let mut usccs = Vec::new();
    loop {
        let page = client
            .list_enterprises(request.clone())
            .await
            .unwrap()
            .into_inner();
        assert!(page.enterprises.len() <= 3.max(request.page_size as usize));
        usccs.extend(page.enterprises.into_iter().map(|e| e.uscc));
        if page.next_page_token.is_empty() {
            return usccs;
        }
        request.page_token = page.next_page_token;
    }
}

const SETUP: [(&str, common::Park, &str); 7] = [
    ("Nantai Luggage Works", common::Park::Nantai, "1922"),
    ("Nantai Bag Trading", common::Park::Nantai, "5139"),
    ("Ganwang Cotton Mill", common::Park::Ganwang, "1711"),
    ("Ganwang Dyeing", common::Park::Ganwang, "1713"),
    ("Xiliu Fashion", common::Park::Xiliu, "1819"),
    ("Zhongxiao Trims", common::Park::Zhongxiao, "1830"),
    ("Xiliu LUGGAGE Outlet", common::Park::Xiliu, "1922"),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_list_filters_and_its_pages_stay_stable_while_enterprises_are_added() {
    let census = spawn().await;
    let mut commerce = census.client(COMMERCE);
    let usccs: Vec<String> = SETUP.iter().map(|_| new_uscc()).collect();
    for (uscc, (name, park, class)) in usccs.iter().zip(SETUP) {
        register_as(&mut commerce, uscc, name, park, class).await;
    }
    // "Ganwang Dyeing" closes.
    commerce
        .deregister_enterprise(pb::DeregisterEnterpriseRequest {
            uscc: usccs[3].clone(),
            expected_version: 1,
            reason: "closed".into(),
        })
        .await
        .unwrap();
    let set = |indices: &[usize]| {
        let mut v: Vec<String> = indices.iter().map(|i| usccs[*i].clone()).collect();
        v.sort();
        v
    };

    let mut finance = census.client(FINANCE);
    let first = finance
        .list_enterprises(pb::ListEnterprisesRequest {
            page_size: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.enterprises.len(), 3);
    let cursor = first.enterprises[2].uscc.clone();
    // An enterprise added before the cursor while a reader pages does not shift later pages.
    let early = std::iter::repeat_with(new_uscc)
        .find(|u| *u < cursor)
        .unwrap();
    register_as(
        &mut commerce,
        &early,
        "Late Arrival",
        common::Park::Xiliu,
        "1711",
    )
    .await;
    let mut seen: Vec<String> = first.enterprises.iter().map(|e| e.uscc.clone()).collect();
    seen.extend(
        all_pages(
            &mut finance,
            pb::ListEnterprisesRequest {
                page_size: 3,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!(
        seen,
        set(&[0, 1, 2, 3, 4, 5, 6]),
        "every enterprise once, in USCC order"
    );

    let cases: Vec<(pb::ListEnterprisesRequest, Vec<String>)> = vec![
        (
            pb::ListEnterprisesRequest {
                park: common::Park::Nantai as i32,
                ..Default::default()
            },
            set(&[0, 1]),
        ),
        (
            pb::ListEnterprisesRequest {
                segment: common::Segment::LuggageLeather as i32,
                ..Default::default()
            },
            set(&[0, 6]),
        ),
        (
            pb::ListEnterprisesRequest {
                industry_class: "1711".into(),
                ..Default::default()
            },
            {
                let mut v = set(&[2]);
                v.push(early.clone());
                v.sort();
                v
            },
        ),
        (
            pb::ListEnterprisesRequest {
                status: pb::EnterpriseStatus::Deregistered as i32,
                ..Default::default()
            },
            set(&[3]),
        ),
        (
            pb::ListEnterprisesRequest {
                name_contains: "luggage".into(),
                ..Default::default()
            },
            set(&[0, 6]),
        ),
        (
            pb::ListEnterprisesRequest {
                park: common::Park::Ganwang as i32,
                status: pb::EnterpriseStatus::Active as i32,
                page_size: 1,
                ..Default::default()
            },
            set(&[2]),
        ),
    ];
    for (request, expected) in cases {
        let mut found = all_pages(&mut finance, request.clone()).await;
        found.sort();
        assert_eq!(found, expected, "{request:?}");
    }
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn statistics_sum_the_latest_revision_of_each_enterprise_by_park_and_by_segment() {
    let census = spawn().await;
    let mut commerce = census.client(COMMERCE);
    let (a, b, c) = (new_uscc(), new_uscc(), new_uscc());
    register_as(&mut commerce, &a, "A", common::Park::Nantai, "1922").await;
    register_as(&mut commerce, &b, "B", common::Park::Nantai, "1922").await;
    register_as(&mut commerce, &c, "C", common::Park::Ganwang, "1711").await;
    let with = |employees: i64, tax: i64| {
        let mut i = good_indicators();
        i.employees_total = employees;
        i.production_staff = employees / 2;
        i.rd_technical_staff = 0;
        i.management_sales_staff = 0;
        i.college_educated_staff = 0;
        i.tax_paid_fen = tax;
        i
    };
    for (uscc, period, indicators) in [
        (&a, "2025", with(100, 1_000)),
        (&a, "2025", with(110, 1_100)), // a correction: only this one counts
        (&b, "2025", with(50, 500)),
        (&c, "2025", with(200, 2_000)),
        (&c, "2024", with(999, 9_999)), // another period
    ] {
        commerce
            .submit_return(submission(uscc, period, indicators))
            .await
            .unwrap();
    }

    let mut finance = census.client(FINANCE);
    let by = |group_by: pb::StatisticsGrouping| pb::GetStatisticsRequest {
        period: crate::period("2025"),
        group_by: group_by as i32,
    };
    let parks = finance
        .get_statistics(by(pb::StatisticsGrouping::Park))
        .await
        .unwrap()
        .into_inner();
    let summary: Vec<(i32, i64, i64, i64, i64)> = parks
        .rows
        .iter()
        .map(|r| (r.park, r.enterprises, r.employees, r.tax_fen, r.patents))
        .collect();
    assert_eq!(
        summary,
        [
            (common::Park::Xiliu as i32, 0, 0, 0, 0),
            (common::Park::Nantai as i32, 2, 160, 1_600, 48),
            (common::Park::Ganwang as i32, 1, 200, 2_000, 24),
            (common::Park::Zhongxiao as i32, 0, 0, 0, 0),
        ]
    );
    let total = parks.total.unwrap();
    assert_eq!(
        (total.enterprises, total.employees, total.tax_fen),
        (3, 360, 3_600)
    );
    let indicators = good_indicators();
    assert_eq!(total.output_fen, 3 * indicators.industrial_output_fen);
    assert_eq!(total.export_fen, 3 * indicators.export_sales_fen);
    assert_eq!(total.rd_spend_fen, 3 * indicators.rd_spend_fen);

    let segments = finance
        .get_statistics(by(pb::StatisticsGrouping::Segment))
        .await
        .unwrap()
        .into_inner();
    let summary: Vec<(i32, i64, i64)> = segments
        .rows
        .iter()
        .map(|r| (r.segment, r.enterprises, r.employees))
        .collect();
    assert_eq!(
        summary,
        [
            (common::Segment::Textile as i32, 1, 200),
            (common::Segment::Apparel as i32, 0, 0),
            (common::Segment::LuggageLeather as i32, 2, 160),
            (common::Segment::Trade as i32, 0, 0),
        ]
    );
    assert_eq!(segments.period.unwrap().code, "2025");
    census.stop().await;
}
