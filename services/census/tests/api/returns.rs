//! Returns: idempotent submission, revisions, as-of reads, and the audit of every file read.

use haicheng_proto::census::v1 as pb;
use tonic::Code;

use crate::{COMMERCE, FINANCE, good_indicators, new_uscc, register, spawn, submission};

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_submission_returns_the_stored_revision_and_a_reused_id_with_other_content_is_refused()
 {
    let census = spawn().await;
    let mut client = census.client(COMMERCE);
    let uscc = new_uscc();
    register(&mut client, &uscc).await;

    let request = submission(&uscc, "2025Q2", good_indicators());
    let first = client
        .submit_return(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!first.duplicate);
    let stored = first.census_return.unwrap();
    assert_eq!(stored.revision, 1);
    assert_eq!(stored.submitted_by, "department:commerce");

    let again = client
        .submit_return(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(
        again.census_return.unwrap(),
        stored,
        "the original revision comes back"
    );

    let mut other = request.clone();
    other.indicators.as_mut().unwrap().tax_paid_fen += 1;
    let status = client.submit_return(other).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(
        status.message().contains(&request.client_request_id),
        "{}",
        status.message()
    );

    let unknown = new_uscc();
    let status = client
        .submit_return(submission(&unknown, "2025Q2", good_indicators()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().contains(&unknown), "{}", status.message());

    let pool = census.pool();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM census_returns")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_repeats_of_one_submission_store_it_once() {
    let census = spawn().await;
    let mut client = census.client(COMMERCE);
    let uscc = new_uscc();
    register(&mut client, &uscc).await;
    let request = submission(&uscc, "2025", good_indicators());
    let calls = (0..8).map(|_| {
        let mut client = client.clone();
        let request = request.clone();
        tokio::spawn(async move { client.submit_return(request).await })
    });
    let mut duplicates = 0;
    for call in calls {
        let reply = call
            .await
            .unwrap()
            .expect("every repeat succeeds")
            .into_inner();
        assert_eq!(reply.census_return.unwrap().revision, 1);
        duplicates += reply.duplicate as usize;
    }
    assert_eq!(duplicates, 7);
    census.stop().await;
}

fn file_request(
    uscc: &str,
    as_of: Option<prost_types::Timestamp>,
    all: bool,
) -> pb::GetEnterpriseFileRequest {
    pb::GetEnterpriseFileRequest {
        uscc: uscc.into(),
        as_of,
        all_revisions: all,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn corrections_are_new_revisions_and_the_file_reads_as_it_was_known_at_any_time() {
    let census = spawn().await;
    let mut client = census.client(COMMERCE);
    let uscc = new_uscc();
    let registered = register(&mut client, &uscc).await;

    let mut indicators = good_indicators();
    let mut times = Vec::new();
    for (revision, employees) in [(1, 120), (2, 125), (3, 131)] {
        indicators.employees_total = employees;
        let reply = client
            .submit_return(submission(&uscc, "2024", indicators))
            .await
            .unwrap()
            .into_inner();
        let stored = reply.census_return.unwrap();
        assert_eq!(stored.revision, revision);
        times.push(stored.submitted_at.unwrap());
        if revision == 1 {
            // The registry changes between the first and second revision.
            let mut change = pb::UpdateEnterpriseRequest {
                uscc: uscc.clone(),
                expected_version: 1,
                name: registered.name.clone(),
                legal_representative: "李娜".into(),
                park: registered.park,
                industry_class: registered.industry_class.clone(),
                size: registered.size,
                registration_date: registered.registration_date.clone(),
                ..Default::default()
            };
            change.tax_credit_violation = true;
            client.update_enterprise(change).await.unwrap();
        }
    }
    // Another period, after all of that.
    client
        .submit_return(submission(&uscc, "2025Q1", good_indicators()))
        .await
        .unwrap();

    let read = |as_of: Option<prost_types::Timestamp>, all: bool| {
        let mut client = client.clone();
        let uscc = uscc.clone();
        async move {
            client
                .get_enterprise_file(file_request(&uscc, as_of, all))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let employees = |file: &pb::GetEnterpriseFileResponse| -> Vec<(String, i64, i64)> {
        file.returns
            .iter()
            .map(|r| {
                (
                    r.period.clone().unwrap().code,
                    r.revision,
                    r.indicators.as_ref().unwrap().employees_total,
                )
            })
            .collect()
    };

    let at_first = read(Some(times[0]), false).await;
    assert_eq!(employees(&at_first), [("2024".to_string(), 1, 120)]);
    let enterprise = at_first.enterprise.unwrap();
    assert_eq!(enterprise.version, 1);
    assert_eq!(enterprise.legal_representative, "王海");

    let at_second = read(Some(times[1]), false).await;
    assert_eq!(employees(&at_second), [("2024".to_string(), 2, 125)]);
    let enterprise = at_second.enterprise.unwrap();
    assert_eq!(enterprise.version, 2);
    assert!(enterprise.tax_credit_violation);

    let now = read(None, false).await;
    assert_eq!(
        employees(&now),
        [("2024".to_string(), 3, 131), ("2025Q1".to_string(), 1, 120)]
    );
    let every = read(None, true).await;
    assert_eq!(
        employees(&every),
        [
            ("2024".to_string(), 1, 120),
            ("2024".to_string(), 2, 125),
            ("2024".to_string(), 3, 131),
            ("2025Q1".to_string(), 1, 120)
        ]
    );
    let every_at_second = read(Some(times[1]), true).await;
    assert_eq!(every_at_second.returns.len(), 2);

    let before = prost_types::Timestamp {
        seconds: registered.created_at.unwrap().seconds - 3600,
        nanos: 0,
    };
    let status = client
        .get_enterprise_file(file_request(&uscc, Some(before), false))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "no file before registration");
    census.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_file_read_is_audited_with_the_reader_the_file_and_the_view() {
    let census = spawn().await;
    let mut commerce = census.client(COMMERCE);
    let uscc = new_uscc();
    let registered = register(&mut commerce, &uscc).await;

    let mut finance = census.client(FINANCE);
    finance
        .get_enterprise_file(file_request(&uscc, None, false))
        .await
        .unwrap();
    finance
        .get_enterprise_file(file_request(&uscc, registered.created_at, true))
        .await
        .unwrap();
    let status = finance
        .get_enterprise_file(file_request(&new_uscc(), None, false))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let pool = census.pool();
    let rows: Vec<(String, String, Option<chrono::DateTime<chrono::Utc>>, bool)> =
        sqlx::query_as("SELECT reader, uscc, as_of, all_revisions FROM file_reads ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let created = registered
        .created_at
        .as_ref()
        .and_then(platform::time::from_timestamp);
    assert_eq!(
        rows,
        [
            ("department:finance".to_string(), uscc.clone(), None, false),
            (
                "department:finance".to_string(),
                uscc.clone(),
                created,
                true
            ),
        ]
    );
    census.stop().await;
}
