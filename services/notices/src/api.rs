//! NoticeService over gRPC: the caller's own department only, from its credentials.
//!
//! A caller without a department (a service account) is PERMISSION_DENIED: notices are
//! addressed to departments. Another department's notice is NOT_FOUND, never
//! PERMISSION_DENIED, so that a department cannot learn which notices others received.

use haicheng_proto::policy::v1::{
    AcknowledgeNoticeRequest, AcknowledgeNoticeResponse, ListNoticesRequest, ListNoticesResponse,
    WatchNoticesRequest, notice_service_server::NoticeService,
};
use platform::{ApiError, Principal, auth::Department};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::{
    NoticeSettings, filter,
    model::{self, Cursor},
    store::{NoticeStore, StoreError},
    watch::{Wakeups, Watch, WatchStream},
};

/// The NoticeService implementation.
pub struct NoticeApi {
    store: NoticeStore,
    wakeups: Wakeups,
    settings: NoticeSettings,
    /// Ends open watch streams when the server begins to shut down; the drain waits for them.
    shutdown: CancellationToken,
}

impl NoticeApi {
    pub(super) fn new(
        store: NoticeStore,
        wakeups: Wakeups,
        settings: NoticeSettings,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            store,
            wakeups,
            settings,
            shutdown,
        }
    }
}

/// The one place a store error becomes a gRPC status.
impl From<StoreError> for Status {
    fn from(err: StoreError) -> Self {
        match err {
            // UNAVAILABLE when the database cannot be reached, else INTERNAL.
            StoreError::Database(err) => ApiError::from(err).into(),
            corrupt @ StoreError::Corrupt { .. } => {
                ApiError::Internal(anyhow::Error::new(corrupt)).into()
            }
        }
    }
}

/// The caller's department; PERMISSION_DENIED for a principal that is not a department.
fn department_of<T>(request: &Request<T>) -> Result<(Department, String), Status> {
    let principal = Principal::of(request)?;
    let department = principal.department().ok_or_else(|| {
        ApiError::PermissionDenied(format!(
            "{} is not a department; notices are addressed to departments",
            principal.identity
        ))
    })?;
    Ok((department, principal.identity.to_string()))
}

#[tonic::async_trait]
impl NoticeService for NoticeApi {
    #[tracing::instrument(skip_all, fields(department))]
    async fn list_notices(
        &self,
        request: Request<ListNoticesRequest>,
    ) -> Result<Response<ListNoticesResponse>, Status> {
        let (department, _) = department_of(&request)?;
        tracing::Span::current().record("department", department.as_str());
        let query = filter::query(request.get_ref())?;
        let page_size = query.page_size;
        let mut entries = self
            .store
            .list(
                department,
                &query.filter,
                query.before,
                i64::from(page_size) + 1,
            )
            .await?;
        let next_page_token = if entries.len() > page_size as usize {
            entries.truncate(page_size as usize);
            entries
                .last()
                .map(|e| filter::next_page_token(&query.filter, e.cursor))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListNoticesResponse {
            notices: entries.into_iter().map(|e| e.into_proto()).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(department, notice_id))]
    async fn acknowledge_notice(
        &self,
        request: Request<AcknowledgeNoticeRequest>,
    ) -> Result<Response<AcknowledgeNoticeResponse>, Status> {
        let (department, principal) = department_of(&request)?;
        let notice_id = request.into_inner().notice_id;
        if let Some(problem) = model::notice_id_problem(&notice_id) {
            return Err(ApiError::invalid("notice_id", problem).into());
        }
        let span = tracing::Span::current();
        span.record("department", department.as_str());
        span.record("notice_id", notice_id.as_str());
        let entry = self
            .store
            .acknowledge(department, &notice_id, &principal)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("notice {notice_id}")))?;
        let reply = AcknowledgeNoticeResponse {
            notice: Some(entry.into_proto()),
        };
        let detail = serde_json::json!({ "notice_id": notice_id });
        Ok(platform::audit::subject(Response::new(reply), None, detail))
    }

    type WatchNoticesStream = WatchStream;

    #[tracing::instrument(skip_all, fields(department))]
    async fn watch_notices(
        &self,
        request: Request<WatchNoticesRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let (department, _) = department_of(&request)?;
        tracing::Span::current().record("department", department.as_str());
        let cursor = Cursor::parse(&request.get_ref().cursor)
            .ok_or_else(|| ApiError::invalid("cursor", "not a cursor this service issued"))?;
        if self.shutdown.is_cancelled() {
            return Err(Status::unavailable(
                "shutting down; watch again (another replica) from the same cursor",
            ));
        }
        let watch = Watch {
            store: self.store.clone(),
            department,
            cursor,
            wakeups: self.wakeups.clone(),
            poll: self.settings.watch_poll,
            shutdown: self.shutdown.clone(),
        };
        Ok(Response::new(watch.into_stream()))
    }
}
