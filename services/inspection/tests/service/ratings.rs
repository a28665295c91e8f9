//! Anonymous ratings: the firm rates its visit once; a department reads aggregates of at
//! least five and can never learn who rated.

use chrono::Duration;
use haicheng_proto::FILE_DESCRIPTOR_SET;
use prost::Message;
use tonic::Code;

use super::*;

/// A recorded (clean) visit of market supervision at `firm`.
async fn recorded_visit(app: &App, firm: &str) -> pb::Visit {
    let day = platform::calendar::china_date(Utc::now()).to_string();
    let created = app
        .create_task(
            "market_supervision",
            task(firm, pb::ItemKind::Triggered, &["MS-T"], &day),
        )
        .await
        .unwrap();
    let visit = app
        .approve("market_supervision", &created.visit.unwrap().id)
        .await
        .unwrap();
    app.client
        .clone()
        .record_result(as_dev(
            "market_supervision",
            pb::RecordResultRequest {
                visit_id: visit.id.clone(),
                code: visit.code.clone(),
                uscc: firm.into(),
                outcome: pb::Outcome::Clean as i32,
                findings: vec![],
                summary: "nothing found".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .visit
        .unwrap()
}

async fn rate(
    app: &App,
    who: &str,
    visit: &pb::Visit,
    s: pb::Satisfaction,
) -> Result<(), tonic::Status> {
    app.client
        .clone()
        .rate_visit(as_dev(
            who,
            pb::RateVisitRequest {
                visit_id: visit.id.clone(),
                satisfaction: s as i32,
                text: format!("{s:?} with the visit"),
            },
        ))
        .await
        .map(|_| ())
}

async fn summary(app: &App) -> Result<pb::GetRatingSummaryResponse, tonic::Status> {
    let year =
        chrono::Datelike::year(&(platform::calendar::china_date(Utc::now()) + Duration::days(1)));
    app.client
        .clone()
        .get_rating_summary(as_dev(
            "commerce",
            pb::GetRatingSummaryRequest {
                department: dept(common::Department::MarketSupervision),
                year,
            },
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn a_department_reads_only_aggregates_of_five_ratings_and_never_who_rated() {
    let app = spawn_app().await;
    app.put_item(
        "market_supervision",
        item("MS-T", pb::ItemKind::Triggered, false),
    )
    .await
    .unwrap();
    app.roster("market_supervision", 2).await;
    let firms: Vec<String> = (0..5).map(|i| app.uscc(i)).collect();
    let mut visits = Vec::new();
    for firm in &firms {
        app.seed(firm, Some(Class::B), false).await;
        visits.push(recorded_visit(&app, firm).await);
    }
    let satisfied = pb::Satisfaction::Satisfied;
    let as_department = rate(&app, "market_supervision", &visits[0], satisfied).await;
    assert_eq!(as_department.unwrap_err().code(), Code::PermissionDenied);
    let by_another = rate(&app, &enterprise(&firms[1]), &visits[0], satisfied).await;
    assert_eq!(by_another.unwrap_err().code(), Code::PermissionDenied);

    for (i, firm) in firms.iter().enumerate().take(4) {
        let s = [
            satisfied,
            pb::Satisfaction::Neutral,
            pb::Satisfaction::Unsatisfied,
        ][i % 3];
        rate(&app, &enterprise(firm), &visits[i], s).await.unwrap();
    }
    // Whether a visit was rated is its firm's to see, never a department's.
    let get = |who: String| {
        let mut client = app.client.clone();
        let visit_id = visits[0].id.clone();
        async move {
            client
                .get_visit(as_dev(&who, pb::GetVisitRequest { visit_id }))
                .await
                .unwrap()
                .into_inner()
                .visit
                .unwrap()
        }
    };
    assert!(get(enterprise(&firms[0])).await.rated);
    assert!(!get("market_supervision".to_string()).await.rated);
    let twice = rate(&app, &enterprise(&firms[0]), &visits[0], satisfied).await;
    assert_eq!(twice.unwrap_err().code(), Code::AlreadyExists);
    let four = summary(&app).await.unwrap_err();
    assert_eq!(four.code(), Code::FailedPrecondition);
    assert!(
        four.message().contains("fewer than 5"),
        "{}",
        four.message()
    );

    rate(&app, &enterprise(&firms[4]), &visits[4], satisfied)
        .await
        .unwrap();
    let five = summary(&app).await.unwrap();
    assert_eq!(
        (five.ratings, five.satisfied, five.neutral, five.unsatisfied),
        (5, 3, 1, 1)
    );
    assert_eq!(five.texts.len(), 5);
    let by_firm = app
        .client
        .clone()
        .get_rating_summary(as_dev(
            &enterprise(&firms[0]),
            pb::GetRatingSummaryRequest::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(by_firm.code(), Code::PermissionDenied);

    // No field, no filter: the contract has nothing that names a firm, a visit or a rater,
    // and the table keeps none.
    let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    let messages: Vec<_> = fds
        .file
        .iter()
        .filter(|f| f.package() == "haicheng.inspection.v1")
        .flat_map(|f| &f.message_type)
        .collect();
    for name in ["GetRatingSummaryRequest", "GetRatingSummaryResponse"] {
        let message = messages.iter().find(|m| m.name() == name).unwrap();
        let names: Vec<&str> = message.field.iter().map(|f| f.name()).collect();
        for forbidden in ["uscc", "visit_id", "rater", "enterprise_name", "rated_by"] {
            assert!(!names.contains(&forbidden), "{name} has {forbidden}");
        }
    }
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'ratings' ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        columns,
        ["departments", "id", "satisfaction", "text", "year"]
    );
    app.stop().await;
}
