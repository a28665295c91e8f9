//! `haicheng notices watch` end to end against a scripted NoticeService in this process: the
//! real binary prints each notice with its cursor, reconnects from the last cursor when the
//! stream drops, stops on Ctrl-C with exit 0, and gives up at once on a refused token.

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::Stream;
use haicheng_proto::{
    common::v1 as common,
    policy::v1::{
        self as pb,
        notice_service_server::{NoticeService, NoticeServiceServer},
    },
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::TcpListener,
    process::Command,
};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// Answers watches from a script: from the start it sends notices 1 and 2 and then fails the
/// stream; from cursor 2 it sends notice 3 and stays open. Records every cursor asked for.
#[derive(Clone, Default)]
struct Scripted {
    cursors: Arc<Mutex<Vec<String>>>,
}

fn item(cursor: u32) -> Result<pb::WatchNoticesResponse, Status> {
    Ok(pb::WatchNoticesResponse {
        cursor: cursor.to_string(),
        notice: Some(pb::SupportPolicyNotice {
            notice_id: format!("notice-{cursor}"),
            department: common::Department::Finance as i32,
            uscc: "91210381MA0Q12343L".into(),
            transition: Some(pb::ClassTransition {
                from_class: common::EnterpriseClass::B as i32,
                to_class: common::EnterpriseClass::A as i32,
            }),
            kind: "key_support_fund_review".into(),
            text: format!("notice number {cursor}"),
            ..Default::default()
        }),
    })
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchNoticesResponse, Status>> + Send>>;

#[tonic::async_trait]
impl NoticeService for Scripted {
    async fn list_notices(
        &self,
        _: Request<pb::ListNoticesRequest>,
    ) -> Result<Response<pb::ListNoticesResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn acknowledge_notice(
        &self,
        _: Request<pb::AcknowledgeNoticeRequest>,
    ) -> Result<Response<pb::AcknowledgeNoticeResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    type WatchNoticesStream = WatchStream;

    async fn watch_notices(
        &self,
        request: Request<pb::WatchNoticesRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if token != Some("Bearer dev-finance") {
            return Err(Status::unauthenticated("unknown token"));
        }
        let cursor = request.into_inner().cursor;
        self.cursors.lock().unwrap().push(cursor.clone());
        let stream: WatchStream = match cursor.as_str() {
            "" => Box::pin(tokio_stream::iter([
                item(1),
                item(2),
                Err(Status::unavailable("the service is restarting")),
            ])),
            "2" => Box::pin(futures::StreamExt::chain(
                tokio_stream::iter([item(3)]),
                futures::stream::pending(),
            )),
            other => return Err(Status::invalid_argument(format!("cursor {other:?}"))),
        };
        Ok(Response::new(stream))
    }
}

async fn serve(service: Scripted) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(NoticeServiceServer::new(service))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    address
}

fn watch(address: &str, token: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_haicheng"));
    command
        .args([
            "notices",
            "watch",
            "-o",
            "json",
            "--classification",
            address,
        ])
        .env("HAICHENG_TOKEN", token)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn a_dropped_watch_resumes_from_the_last_cursor_and_ctrl_c_ends_it() {
    let service = Scripted::default();
    let address = serve(service.clone()).await;
    let mut child = watch(&address, "dev-finance").spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("a notice within 30 s")
            .unwrap()
            .expect("the watch is still running");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value["notice"]["noticeId"],
            format!("notice-{}", value["cursor"].as_str().unwrap())
        );
        seen.push(value["cursor"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, ["1", "2", "3"], "each notice once, in order");
    assert_eq!(*service.cursors.lock().unwrap(), ["", "2"]);

    platform::process::signal(child.id().expect("running"), libc::SIGINT).unwrap();
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("Ctrl-C ends the watch")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the watch dropped (UNAVAILABLE: the service is restarting); reconnecting from cursor \"2\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_refused_token_ends_the_watch_with_exit_1() {
    let service = Scripted::default();
    let address = serve(service.clone()).await;
    let output = tokio::time::timeout(Duration::from_secs(30), watch(&address, "dev-tax").output())
        .await
        .expect("no retrying a refusal")
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("UNAUTHENTICATED"), "{stderr}");
    assert!(service.cursors.lock().unwrap().is_empty());
}
