//! The notice store against a real PostgreSQL and broker: notices produced onto
//! `haicheng.policy.notices.v1`, consumed through the inbox, served over a real socket.
//!
//! Each test hosts the store alone in a process of its own making ([`run`], started by
//! `testkit::spawn`): a database and a topic prefix of its own, so it sees only its own
//! notices.

use std::{collections::HashSet, time::Duration};

use chrono::Utc;
use haicheng_proto::{
    common::v1::Department,
    policy::v1::{
        AcknowledgeNoticeRequest, ListNoticesRequest, NoticeEntry, NoticeState,
        SupportPolicyNotice, WatchNoticesRequest, WatchNoticesResponse,
        notice_service_client::NoticeServiceClient,
    },
    topics::POLICY_NOTICES,
};
use notices::{NoticeSettings, SERVICE_NAME};
use platform::{
    AccessPolicy, ConfigError, Platform, PlatformConfig, ServiceSpec,
    bus::{CloudEvent, Producer},
    time::to_timestamp,
};
use prost::Message;
use sqlx::PgPool;
use testkit::{
    Service, assert_exhausted_with_retry, jwt::TestIssuer, stack, wait_until, with_token as authed,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status, Streaming, service::RoutesBuilder, transport::Channel};
use uuid::Uuid;

/// Generous: a new consumer group joins the broker before it reads.
const ARRIVAL: Duration = Duration::from_secs(60);

type Client = NoticeServiceClient<Channel>;

/// A process that hosts the notice store and nothing else.
static SPEC: ServiceSpec = ServiceSpec {
    name: "notices-test-host",
    grpc_services: &[SERVICE_NAME],
    descriptor_set: haicheng_proto::FILE_DESCRIPTOR_SET,
    migrations: &notices::MIGRATIONS,
    consumes: &[("notices", &[POLICY_NOTICES])],
    produces: &[],
    vars: &[notices::vars::ALL],
};

/// The host's configuration: the platform's and the store's.
struct HostConfig {
    platform: PlatformConfig,
    notices: NoticeSettings,
}

impl HostConfig {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            platform: PlatformConfig::from_lookup(SPEC.name, 0, &lookup)?,
            notices: NoticeSettings::from_lookup(&lookup)?,
        })
    }
}

/// The host's `run`, wired as the notices crate says a host wires it.
async fn run(
    config: HostConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut platform = Platform::start(&SPEC, config.platform, shutdown).await?;
    let service = notices::start(&mut platform, config.notices)?;
    let policy = notices::access_rules(AccessPolicy::new(platform.config.tokens.clone()));
    let mut routes = RoutesBuilder::default();
    routes.add_service(service);
    platform.serve(listener, routes, policy).await
}

/// The notice store served in-process on port 0, with a database of its own.
struct Server {
    client: Client,
    pool: PgPool,
    producer: Producer,
    /// The notices topic of this test's host.
    topic: String,
    service: Service,
    /// Prefix of this test's notice ids.
    run: String,
}

struct Options {
    overdue_after: Duration,
    /// `AUTH_TOKENS`; the development tokens when `None`.
    tokens: Option<&'static str>,
    /// More variables (limits).
    vars: &'static [(&'static str, &'static str)],
    /// A JWT issuer's variables (`TestIssuer::vars`), if JWTs are to be accepted.
    jwt: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            overdue_after: Duration::from_secs(7 * 24 * 3600),
            tokens: None,
            vars: &[],
            jwt: Vec::new(),
        }
    }
}

async fn start(options: Options) -> Server {
    platform::telemetry::init_for_tests();
    let overdue_ms = options.overdue_after.as_millis().to_string();
    let mut vars = vec![
        ("NOTICE_OVERDUE_AFTER_MS", overdue_ms.as_str()),
        // An hour: a watch that sees a new notice in time was woken by NOTIFY, not the poll.
        ("NOTICE_WATCH_POLL_MS", "3600000"),
    ];
    if let Some(tokens) = options.tokens {
        vars.push(("AUTH_TOKENS", tokens));
    }
    vars.extend_from_slice(options.vars);
    vars.extend(options.jwt.iter().map(|(k, v)| (*k, v.as_str())));
    let service = testkit::spawn(HostConfig::from_lookup, run, &vars).await;
    Server {
        client: NoticeServiceClient::new(service.channel.clone()),
        pool: service.pool.clone(),
        producer: Producer::new(&stack().kafka_bootstrap, Duration::from_secs(10)).unwrap(),
        topic: service.topic(POLICY_NOTICES),
        service,
        run: format!("test-{}", &Uuid::new_v4().simple().to_string()[..12]),
    }
}

fn event(department: Department) -> CloudEvent {
    testkit::cloud_event::<SupportPolicyNotice>("notices-tests", department.as_str_name())
}

impl Server {
    /// A notice of this test, issued now, with no due time of its own.
    fn notice(&self, label: &str, department: Department) -> SupportPolicyNotice {
        SupportPolicyNotice {
            notice_id: self.id(label),
            department: department as i32,
            uscc: "91210381MA0Q12343L".into(),
            kind: "key_support_fund_review".into(),
            text: format!("notice {label}"),
            source: "notices-tests".into(),
            issued_at: Some(to_timestamp(Utc::now())),
            ..Default::default()
        }
    }

    fn id(&self, label: &str) -> String {
        format!("{}-{label}", self.run)
    }

    fn ours(&self, notice_id: &str) -> bool {
        notice_id.starts_with(&format!("{}-", self.run))
    }

    async fn send_as(&self, event: &CloudEvent, notice: &SupportPolicyNotice) {
        let key = event.subject.clone();
        self.producer
            .send(&self.topic, &key, &notice.encode_to_vec(), event)
            .await
            .expect("produce");
    }

    /// Publishes `notice` as a new event, keyed by its department as producers do.
    async fn send(&self, notice: &SupportPolicyNotice) {
        self.send_as(&event(notice.department()), notice).await;
    }

    /// Every notice of this test that `token`'s department lists in `state`, paging through.
    async fn list(&self, token: &str, state: NoticeState) -> Vec<NoticeEntry> {
        let mut client = self.client.clone();
        let mut found = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_notices(authed(
                    token,
                    ListNoticesRequest {
                        state: state as i32,
                        page_size: 7,
                        page_token,
                        ..Default::default()
                    },
                ))
                .await
                .unwrap()
                .into_inner();
            found.extend(
                page.notices
                    .into_iter()
                    .filter(|e| self.ours(&e.notice.as_ref().unwrap().notice_id)),
            );
            if page.next_page_token.is_empty() {
                return found;
            }
            page_token = page.next_page_token;
        }
    }

    async fn entry(&self, token: &str, notice_id: &str) -> Option<NoticeEntry> {
        self.list(token, NoticeState::Unspecified)
            .await
            .into_iter()
            .find(|e| e.notice.as_ref().unwrap().notice_id == notice_id)
    }

    /// Waits until `token`'s department lists every one of `ids`.
    async fn arrived(&self, token: &str, ids: &[impl AsRef<str>]) -> bool {
        wait_until(ARRIVAL, || async {
            let listed: HashSet<String> = self
                .list(token, NoticeState::Unspecified)
                .await
                .into_iter()
                .map(|e| e.notice.unwrap().notice_id)
                .collect();
            ids.iter().all(|id| listed.contains(id.as_ref()))
        })
        .await
    }

    async fn acknowledge(&self, token: &str, notice_id: &str) -> Result<NoticeEntry, Status> {
        let mut client = self.client.clone();
        client
            .acknowledge_notice(authed(
                token,
                AcknowledgeNoticeRequest {
                    notice_id: notice_id.into(),
                },
            ))
            .await
            .map(|r| r.into_inner().notice.unwrap())
    }

    async fn watch(
        &self,
        token: &str,
        cursor: &str,
    ) -> Result<Streaming<WatchNoticesResponse>, Status> {
        let mut client = self.client.clone();
        client
            .watch_notices(authed(
                token,
                WatchNoticesRequest {
                    cursor: cursor.into(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(30), self.service.stop())
            .await
            .expect("the server stops within 30 s");
    }
}

/// Reads `stream` into `seen` until it has every one of `ids`.
async fn read_until(
    stream: &mut Streaming<WatchNoticesResponse>,
    seen: &mut Vec<WatchNoticesResponse>,
    ids: &[impl AsRef<str>],
) {
    let has_all = |seen: &[WatchNoticesResponse]| {
        ids.iter().all(|id| {
            seen.iter()
                .any(|item| item.notice.as_ref().unwrap().notice_id == id.as_ref())
        })
    };
    while !has_all(seen) {
        let item = tokio::time::timeout(ARRIVAL, stream.message())
            .await
            .expect("a notice within the time allowed")
            .expect("the stream stays healthy")
            .expect("the stream stays open");
        seen.push(item);
    }
}

fn ids(server: &Server, prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| server.id(&format!("{prefix}{i}")))
        .collect()
}

async fn send_all(server: &Server, ids: &[String], department: Department) {
    for id in ids {
        let mut notice = server.notice("x", department);
        notice.notice_id = id.clone();
        server.send(&notice).await;
    }
}

/// Machine accounts' tokens (32 random bytes each, base64url); tax's is configured by its
/// digest, as a deployment does, the others raw (hashed at start).
const FINANCE_TOKEN: &str = "Fn3Kq8Wm1Hb6Nc9Vz4Lp7Rd2Gs5Jf0Ye3Ua8Oi1Ek6Qw";
const TAX_TOKEN: &str = "Tx5Kq9Wm2Hb7Nc4Vz1Lp8Rd3Gs6Jf0Ye5Ua9Oi2Ek7Qw";
const ROBOT_TOKEN: &str = "Rb7Kq1Wm4Hb9Nc2Vz6Lp3Rd8Gs0Jf5Ye7Ua1Oi4Ek9Qw";
const ISOLATION_TOKENS: &str = "Fn3Kq8Wm1Hb6Nc9Vz4Lp7Rd2Gs5Jf0Ye3Ua8Oi1Ek6Qw=department:finance:notices.read,notices.ack;\
     sha256:5972dd5bda33a5bf7e201dd1d1619c5ba9ea6eb931092d9e7e602c205834ccdc=department:tax:notices.read,notices.ack;\
     Rb7Kq1Wm4Hb9Nc2Vz6Lp3Rd8Gs0Jf5Ye7Ua1Oi4Ek9Qw=service:robot:notices.read,notices.ack";

#[tokio::test(flavor = "multi_thread")]
async fn finance_cannot_list_or_acknowledge_tax_notices() {
    let s = start(Options {
        tokens: Some(ISOLATION_TOKENS),
        ..Default::default()
    })
    .await;
    let tax = s.notice("tax", Department::Tax);
    let finance = s.notice("finance", Department::Finance);
    s.send(&tax).await;
    s.send(&finance).await;
    assert!(s.arrived(TAX_TOKEN, &[&tax.notice_id]).await);
    assert!(s.arrived(FINANCE_TOKEN, &[&finance.notice_id]).await);

    let listed: Vec<String> = s
        .list(FINANCE_TOKEN, NoticeState::Unspecified)
        .await
        .into_iter()
        .map(|e| e.notice.unwrap().notice_id)
        .collect();
    assert_eq!(
        listed,
        [finance.notice_id.as_str()],
        "finance sees only its own"
    );

    let refused = s
        .acknowledge(FINANCE_TOKEN, &tax.notice_id)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    let open = s.entry(TAX_TOKEN, &tax.notice_id).await.unwrap();
    assert_eq!(
        open.state(),
        NoticeState::Open,
        "finance's attempt left it open"
    );
    let acked = s.acknowledge(TAX_TOKEN, &tax.notice_id).await.unwrap();
    assert_eq!(acked.state(), NoticeState::Acknowledged);

    // Finance's watch carries finance's notices only.
    let mut stream = s.watch(FINANCE_TOKEN, "").await.unwrap();
    let mut seen = Vec::new();
    read_until(&mut stream, &mut seen, &[&finance.notice_id]).await;
    assert!(
        seen.iter()
            .all(|item| item.notice.as_ref().unwrap().department() == Department::Finance),
        "{seen:?}"
    );
    drop(stream);

    // A service account is no department: it has no notices to see.
    let robot = s
        .client
        .clone()
        .list_notices(authed(ROBOT_TOKEN, ListNoticesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(robot.code(), Code::PermissionDenied, "{robot:?}");
    let robot = s.watch(ROBOT_TOKEN, "").await.unwrap_err();
    assert_eq!(robot.code(), Code::PermissionDenied, "{robot:?}");
    let robot = s
        .acknowledge(ROBOT_TOKEN, &tax.notice_id)
        .await
        .unwrap_err();
    assert_eq!(robot.code(), Code::PermissionDenied, "{robot:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finance_jwt_lists_no_tax_notice() {
    let issuer = TestIssuer::new();
    let s = start(Options {
        tokens: Some(ISOLATION_TOKENS),
        jwt: issuer.vars(),
        ..Default::default()
    })
    .await;
    // Finance as the identity provider vouches for it: a department claim and its scopes.
    let finance_jwt = issuer.department(SPEC.name, "finance", "notices.read notices.ack");
    let tax = s.notice("tax", Department::Tax);
    let finance = s.notice("finance", Department::Finance);
    s.send(&tax).await;
    s.send(&finance).await;
    assert!(s.arrived(TAX_TOKEN, &[&tax.notice_id]).await);
    assert!(s.arrived(&finance_jwt, &[&finance.notice_id]).await);
    let listed: Vec<String> = s
        .list(&finance_jwt, NoticeState::Unspecified)
        .await
        .into_iter()
        .map(|e| e.notice.unwrap().notice_id)
        .collect();
    assert_eq!(listed, [finance.notice_id.as_str()], "no tax notice");
    let refused = s
        .acknowledge(&finance_jwt, &tax.notice_id)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    // A finance JWT meant for another service is refused here.
    let elsewhere = issuer.department("census", "finance", "notices.read");
    let err = s
        .client
        .clone()
        .list_notices(authed(&elsewhere, ListNoticesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_notice_delivered_twice_is_stored_once() {
    let s = start(Options::default()).await;
    let notice = s.notice("twice", Department::Commerce);
    let delivery = event(Department::Commerce);
    s.send_as(&delivery, &notice).await; // delivered ...
    s.send_as(&delivery, &notice).await; // ... twice (same ce_id)
    s.send(&notice).await; // republished by its producer under a new event id
    let marker = s.notice("marker", Department::Commerce);
    s.send(&marker).await; // same key, same partition: behind the copies
    assert!(s.arrived("dev-commerce", &[&marker.notice_id]).await);

    let listed = s.list("dev-commerce", NoticeState::Unspecified).await;
    let copies = listed
        .iter()
        .filter(|e| e.notice.as_ref().unwrap().notice_id == notice.notice_id)
        .count();
    assert_eq!(copies, 1);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM notices WHERE notice_id = $1")
        .bind(&notice.notice_id)
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledging_twice_keeps_the_first_time_and_principal() {
    let s = start(Options::default()).await;
    let notice = s.notice("ack", Department::MarketSupervision);
    s.send(&notice).await;
    assert!(
        s.arrived("dev-market-supervision", &[&notice.notice_id])
            .await
    );

    let first = s
        .acknowledge("dev-market-supervision", &notice.notice_id)
        .await
        .unwrap();
    assert_eq!(first.state(), NoticeState::Acknowledged);
    assert_eq!(first.acknowledged_by, "department:market_supervision");
    assert!(first.acknowledged_at.is_some());
    // The clock has moved on, so a second acknowledgement that overwrote the first would
    // carry a later time.
    let first_at = first
        .acknowledged_at
        .as_ref()
        .and_then(platform::time::from_timestamp);
    let later = wait_until(ARRIVAL, || async {
        sqlx::query_scalar::<_, bool>("SELECT clock_timestamp() > $1")
            .bind(first_at)
            .fetch_one(&s.pool)
            .await
            .unwrap_or(false)
    })
    .await;
    assert!(later, "the database clock advanced");
    let second = s
        .acknowledge("dev-market-supervision", &notice.notice_id)
        .await
        .unwrap();
    assert_eq!(second, first, "the same acknowledgement, time included");

    let acknowledged = s
        .list("dev-market-supervision", NoticeState::Acknowledged)
        .await;
    assert_eq!(acknowledged.len(), 1);
    assert_eq!(acknowledged[0], first);
    assert!(
        s.list("dev-market-supervision", NoticeState::Open)
            .await
            .is_empty()
    );
    let unknown = s
        .acknowledge("dev-market-supervision", &s.id("never-sent"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_cut_and_resumed_from_its_cursor_misses_and_repeats_nothing() {
    let s = start(Options::default()).await;
    let token = "dev-natural-resources";
    let department = Department::NaturalResources;
    let before = ids(&s, "before-", 5);
    let during = ids(&s, "during-", 5);
    let cut = ids(&s, "cut-", 5);
    let after = ids(&s, "after-", 5);

    send_all(&s, &before, department).await;
    let mut first = s.watch(token, "").await.unwrap();
    let mut seen = Vec::new();
    read_until(&mut first, &mut seen, &before).await;
    send_all(&s, &during, department).await;
    read_until(&mut first, &mut seen, &during[..2]).await;
    drop(first); // cut off mid-stream; the rest of `during` may be in flight
    let last = seen.last().unwrap().cursor.clone();

    send_all(&s, &cut, department).await; // while nobody watches
    let mut second = s.watch(token, &last).await.unwrap();
    read_until(&mut second, &mut seen, &[&during[..], &cut[..]].concat()).await;
    send_all(&s, &after, department).await; // to a stream already caught up
    read_until(&mut second, &mut seen, &after).await;

    let all_ours: Vec<&String> = [&before, &during, &cut, &after]
        .into_iter()
        .flatten()
        .collect();
    for id in &all_ours {
        let times = seen
            .iter()
            .filter(|i| &&i.notice.as_ref().unwrap().notice_id == id)
            .count();
        assert_eq!(times, 1, "{id} seen {times} times");
    }
    let mut unique = HashSet::new();
    assert!(
        seen.iter()
            .all(|i| unique.insert(i.notice.as_ref().unwrap().notice_id.clone())),
        "no notice (of any test) repeats across the cut"
    );

    // Without gaps: a watch from the start reads exactly what the two did, in the same order.
    let mut replay = s.watch(token, "").await.unwrap();
    let mut again = Vec::new();
    while again.len() < seen.len() {
        let item = tokio::time::timeout(ARRIVAL, replay.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        again.push(item);
    }
    assert_eq!(again, seen);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unacknowledged_notices_turn_overdue_after_the_configured_time() {
    let overdue_after = Duration::from_secs(3);
    let s = start(Options {
        overdue_after,
        ..Default::default()
    })
    .await;
    let token = "dev-human-resources";
    let department = Department::HumanResources;
    let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
    let mut old = s.notice("old", department);
    old.issued_at = Some(to_timestamp(an_hour_ago));
    let mut old_acked = s.notice("old-acked", department);
    old_acked.issued_at = Some(to_timestamp(an_hour_ago));
    let mut own_deadline = s.notice("own-deadline", department);
    own_deadline.issued_at = Some(to_timestamp(an_hour_ago));
    own_deadline.due_at = Some(to_timestamp(Utc::now() + chrono::Duration::hours(1)));
    let fresh_issued = Utc::now();
    let mut fresh = s.notice("fresh", department);
    fresh.issued_at = Some(to_timestamp(fresh_issued));
    for notice in [&old, &old_acked, &own_deadline, &fresh] {
        s.send(notice).await;
    }
    let all = [&old, &old_acked, &own_deadline, &fresh].map(|n| n.notice_id.clone());
    assert!(s.arrived(token, &all).await);
    s.acknowledge(token, &old_acked.notice_id).await.unwrap();

    let state = |entries: &[NoticeEntry], id: &str| {
        entries
            .iter()
            .find(|e| e.notice.as_ref().unwrap().notice_id == id)
            .map(|e| e.state())
    };
    let listed = s.list(token, NoticeState::Unspecified).await;
    let looked_at = Utc::now();
    assert_eq!(state(&listed, &old.notice_id), Some(NoticeState::Overdue));
    assert_eq!(
        state(&listed, &old_acked.notice_id),
        Some(NoticeState::Acknowledged)
    );
    assert_eq!(
        state(&listed, &own_deadline.notice_id),
        Some(NoticeState::Open)
    );
    if looked_at < fresh_issued + chrono::Duration::from_std(overdue_after).unwrap() {
        assert_eq!(state(&listed, &fresh.notice_id), Some(NoticeState::Open));
    }
    let fresh_entry = listed
        .iter()
        .find(|e| e.notice.as_ref().unwrap().notice_id == fresh.notice_id)
        .unwrap();
    let due = fresh_entry.notice.as_ref().unwrap().due_at.unwrap();
    let expected = fresh_issued + chrono::Duration::from_std(overdue_after).unwrap();
    assert!(
        (due.seconds - expected.timestamp()).abs() <= 1,
        "due_at is issued_at + overdue_after"
    );

    assert!(
        wait_until(Duration::from_secs(20), || async {
            let overdue = s.list(token, NoticeState::Overdue).await;
            state(&overdue, &fresh.notice_id) == Some(NoticeState::Overdue)
        })
        .await,
        "the fresh notice turns overdue"
    );
    let overdue: HashSet<String> = s
        .list(token, NoticeState::Overdue)
        .await
        .into_iter()
        .map(|e| e.notice.unwrap().notice_id)
        .collect();
    assert_eq!(
        overdue,
        HashSet::from([old.notice_id.clone(), fresh.notice_id.clone()])
    );
    // What the gauge `notices.overdue` reports, by department.
    let counted = notices::overdue::count_by_department(&s.pool, overdue_after)
        .await
        .unwrap();
    assert_eq!(
        counted,
        std::collections::BTreeMap::from([("human_resources".to_string(), 2)])
    );
    // Acknowledging an overdue notice is still allowed, and settles it.
    let settled = s.acknowledge(token, &old.notice_id).await.unwrap();
    assert_eq!(settled.state(), NoticeState::Acknowledged);
    let counted = notices::overdue::count_by_department(&s.pool, overdue_after)
        .await
        .unwrap();
    assert_eq!(
        counted,
        std::collections::BTreeMap::from([("human_resources".to_string(), 1)])
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_invalid_argument_naming_the_field() {
    let s = start(Options::default()).await;
    let mut client = s.client.clone();
    let invalid = |status: Status, field: &str| {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(field), "{status:?}");
    };
    for cursor in ["42", "n1.x", "n1.-1"] {
        invalid(s.watch("dev-finance", cursor).await.unwrap_err(), "cursor");
    }
    for id in ["", "has space", &"x".repeat(200)] {
        invalid(
            s.acknowledge("dev-finance", id).await.unwrap_err(),
            "notice_id",
        );
    }
    let list = |request: ListNoticesRequest| {
        let mut client = client.clone();
        async move {
            client
                .list_notices(authed("dev-finance", request))
                .await
                .unwrap_err()
        }
    };
    invalid(
        list(ListNoticesRequest {
            state: 42,
            ..Default::default()
        })
        .await,
        "state",
    );
    invalid(
        list(ListNoticesRequest {
            page_size: -1,
            ..Default::default()
        })
        .await,
        "page_size",
    );
    invalid(
        list(ListNoticesRequest {
            page_token: "garbage!".into(),
            ..Default::default()
        })
        .await,
        "page_token",
    );
    // Scopes: the import service account may not read notices at all.
    let denied = client
        .list_notices(authed("dev-census-import", ListNoticesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_streams_end_cleanly_when_the_server_shuts_down() {
    let s = start(Options::default()).await;
    let notice = s.notice("last", Department::Commerce);
    s.send(&notice).await;
    let mut stream = s.watch("dev-commerce", "").await.unwrap();
    read_until(&mut stream, &mut Vec::new(), &[&notice.notice_id]).await;

    s.service.begin_shutdown();
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the stream ends promptly");
    assert!(
        matches!(end, Ok(None)),
        "a clean end, not an error: {end:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_department_at_its_watch_cap_or_rate_is_refused_with_retry_info_while_another_is_served()
{
    let s = start(Options {
        vars: &[
            ("WATCH_STREAMS_PER_PRINCIPAL", "2"),
            ("WATCH_STREAMS_MAX", "3"),
            // One acknowledgement an hour: the second within the test is over the limit.
            ("RATE_LIMIT_WRITES", "1/h,1"),
        ],
        ..Options::default()
    })
    .await;

    // The watch cap: two streams per department, three in the process.
    let first = s.watch("dev-finance", "").await.unwrap();
    let _second = s.watch("dev-finance", "").await.unwrap();
    assert_exhausted_with_retry(&s.watch("dev-finance", "").await.unwrap_err());
    let mut tax = s.watch("dev-tax", "").await.expect("tax is served");
    let notice = s.notice("for-tax", Department::Tax);
    s.send(&notice).await;
    read_until(&mut tax, &mut Vec::new(), &[&notice.notice_id]).await;
    let full = s.watch("dev-commerce", "").await.unwrap_err();
    assert_exhausted_with_retry(&full);
    // Finance's client goes away: its slot comes back, without the server's stream ending.
    drop(first);
    let commerce_served = wait_until(Duration::from_secs(10), || async {
        s.watch("dev-commerce", "").await.is_ok()
    })
    .await;
    assert!(commerce_served, "a dropped stream gave its slot back");

    // The rate: finance's second acknowledgement is refused, tax's first is answered.
    let missing = s.id("missing");
    let answered = s.acknowledge("dev-finance", &missing).await.unwrap_err();
    assert_eq!(answered.code(), Code::NotFound, "{answered:?}");
    let refused = s.acknowledge("dev-finance", &missing).await.unwrap_err();
    assert_exhausted_with_retry(&refused);
    assert!(refused.message().contains("writes"), "{refused:?}");
    let answered = s.acknowledge("dev-tax", &missing).await.unwrap_err();
    assert_eq!(
        answered.code(),
        Code::NotFound,
        "tax is served: {answered:?}"
    );
    drop((_second, tax));
    s.stop().await;
}

/// Every page of `request` (its filters repeated with each page token), as notice ids.
async fn list_filtered(s: &Server, request: ListNoticesRequest) -> Vec<String> {
    let mut client = s.client.clone();
    let mut ids = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_notices(authed(
                "dev-finance",
                ListNoticesRequest {
                    page_token,
                    ..request.clone()
                },
            ))
            .await
            .unwrap_or_else(|status| panic!("{request:?}: {status:?}"))
            .into_inner();
        ids.extend(
            page.notices
                .into_iter()
                .map(|e| e.notice.unwrap().notice_id)
                .filter(|id| s.ours(id)),
        );
        if page.next_page_token.is_empty() {
            return ids;
        }
        page_token = page.next_page_token;
    }
}

/// Period, USCC, rule, kind and state filter and combine; a filtered list pages through its
/// own notices only; a page token sent with other filters and a bad USCC or period are
/// INVALID_ARGUMENT naming the field.
#[tokio::test(flavor = "multi_thread")]
async fn notices_are_found_by_period_uscc_rule_kind_and_state() {
    let s = start(Options::default()).await;
    let (firm, other_firm) = (testkit::new_uscc(), testkit::new_uscc());
    let mut sent = Vec::new();
    // 2 periods x 2 firms x 2 rules, with the kind following the rule; a tax notice too.
    for period in ["2024", "2025Q3"] {
        for uscc in [&firm, &other_firm] {
            for (rule, kind) in [
                ("finance-entering-a", "key_support_fund_review"),
                ("finance-leaving-a", "support_fund_recovery"),
            ] {
                let mut notice = s.notice(&format!("{period}-{uscc}-{rule}"), Department::Finance);
                notice.period = testkit::period(period);
                notice.uscc = uscc.clone();
                notice.rule_id = rule.into();
                notice.kind = kind.into();
                s.send(&notice).await;
                sent.push(notice);
            }
        }
    }
    let mut tax = s.notice("tax", Department::Tax);
    tax.uscc = firm.clone();
    s.send(&tax).await;
    let ids: Vec<&str> = sent.iter().map(|n| n.notice_id.as_str()).collect();
    assert!(s.arrived("dev-finance", &ids).await);
    let acknowledged = &sent[0];
    s.acknowledge("dev-finance", &acknowledged.notice_id)
        .await
        .unwrap();

    // The expected answer of a filter, computed from what was sent (newest first).
    let expect = |keep: &dyn Fn(&SupportPolicyNotice) -> bool| -> Vec<String> {
        sent.iter()
            .rev()
            .filter(|n| keep(n))
            .map(|n| n.notice_id.clone())
            .collect()
    };
    let period = testkit::period;
    let code = |n: &SupportPolicyNotice| n.period.as_ref().unwrap().code.clone();
    let cases: Vec<(ListNoticesRequest, Vec<String>)> = vec![
        (
            ListNoticesRequest {
                period: period("2025Q3"),
                ..Default::default()
            },
            expect(&|n| code(n) == "2025Q3"),
        ),
        (
            ListNoticesRequest {
                uscc: firm.clone(),
                ..Default::default()
            },
            expect(&|n| n.uscc == firm),
        ),
        (
            ListNoticesRequest {
                rule_id: "finance-leaving-a".into(),
                ..Default::default()
            },
            expect(&|n| n.rule_id == "finance-leaving-a"),
        ),
        (
            ListNoticesRequest {
                kind: "key_support_fund_review".into(),
                ..Default::default()
            },
            expect(&|n| n.kind == "key_support_fund_review"),
        ),
        (
            ListNoticesRequest {
                period: period("2024"),
                uscc: firm.clone(),
                rule_id: "finance-entering-a".into(),
                state: NoticeState::Open as i32,
                ..Default::default()
            },
            // The one notice of those three filters is acknowledged: none open.
            Vec::new(),
        ),
        (
            ListNoticesRequest {
                period: period("2024"),
                uscc: firm.clone(),
                state: NoticeState::Acknowledged as i32,
                ..Default::default()
            },
            vec![acknowledged.notice_id.clone()],
        ),
        (
            ListNoticesRequest {
                period: period("2023"),
                ..Default::default()
            },
            Vec::new(),
        ),
    ];
    for (request, expected) in cases {
        // One notice a page: the filters have to hold on every page.
        let paged = ListNoticesRequest {
            page_size: 1,
            ..request.clone()
        };
        assert_eq!(list_filtered(&s, paged).await, expected, "{request:?}");
    }

    // A token belongs to its filters.
    let first = s
        .client
        .clone()
        .list_notices(authed(
            "dev-finance",
            ListNoticesRequest {
                uscc: firm.clone(),
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.next_page_token.is_empty());
    let mut client = s.client.clone();
    let mut invalid = async |request: ListNoticesRequest, field: &str| {
        let status = client
            .list_notices(authed("dev-finance", request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(field), "{field}: {status:?}");
    };
    invalid(
        ListNoticesRequest {
            uscc: other_firm.clone(),
            page_size: 1,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        },
        "page_token",
    )
    .await;
    invalid(
        ListNoticesRequest {
            uscc: "91210381MA0Q1234".into(),
            ..Default::default()
        },
        "uscc",
    )
    .await;
    invalid(
        ListNoticesRequest {
            period: period("2025Q5"),
            ..Default::default()
        },
        "period",
    )
    .await;
    invalid(
        ListNoticesRequest {
            rule_id: "two words".into(),
            ..Default::default()
        },
        "rule_id",
    )
    .await;
    // An enterprise is no department: notices are not its to read.
    let token = platform::auth::TokenTable::development_enterprise_token(&firm);
    let status = s
        .client
        .clone()
        .list_notices(authed(
            &token,
            ListNoticesRequest {
                uscc: firm.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    s.stop().await;
}

/// Every notice list, watch and acknowledgement leaves an audit row naming the department,
/// as does a refused call; the acknowledgement names its notice.
#[tokio::test(flavor = "multi_thread")]
async fn notice_lists_watches_acknowledgements_and_refusals_are_audited() {
    let server = start(Options::default()).await;
    let mut client = server.client.clone();
    client
        .list_notices(authed("dev-finance", ListNoticesRequest::default()))
        .await
        .unwrap();
    let _watch = client
        .watch_notices(authed("dev-finance", WatchNoticesRequest::default()))
        .await
        .unwrap();
    let missing = server.id("missing");
    let status = client
        .acknowledge_notice(authed(
            "dev-tax",
            AcknowledgeNoticeRequest {
                notice_id: missing.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .list_notices(authed("forged", ListNoticesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    type Row = (String, String, String, serde_json::Value);
    let rows = || async {
        sqlx::query_as::<_, Row>(
            "SELECT method, principal, code, detail FROM audit_log ORDER BY id",
        )
        .fetch_all(&server.pool)
        .await
        .unwrap()
    };
    assert!(
        wait_until(Duration::from_secs(10), || async {
            rows().await.len() >= 4
        })
        .await,
        "{:?}",
        rows().await
    );
    let rows = rows().await;
    let method = |name: &str| format!("/{SERVICE_NAME}/{name}");
    let summary: Vec<(String, &str, &str)> = rows
        .iter()
        .map(|(m, p, c, _)| (m.clone(), p.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (method("ListNotices"), "department:finance", "OK"),
            (method("WatchNotices"), "department:finance", "OK"),
            (method("AcknowledgeNotice"), "department:tax", "NOT_FOUND"),
            (method("ListNotices"), "anonymous", "UNAUTHENTICATED"),
        ]
    );
    server.service.stop().await;
}
