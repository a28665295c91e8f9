//! `haicheng.audit.v1.AuditService`: the service's audit records, newest first, filtered by
//! principal, USCC and time, paged by id. Every service serves it through the platform.

use chrono::{DateTime, Utc};
use haicheng_proto::audit::v1::{
    AuditRecord, ListAuditRecordsRequest, ListAuditRecordsResponse, audit_service_server,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::{
    ApiError, Violations, paging,
    time::{from_timestamp, to_timestamp},
    uscc::Uscc,
};

pub use audit_service_server::{AuditServiceServer, SERVICE_NAME};

/// The one method's path, for the access rule.
pub const LIST_AUDIT_RECORDS: &str = "/haicheng.audit.v1.AuditService/ListAuditRecords";

/// The audit records of one service database.
#[derive(Clone)]
pub struct AuditApi {
    pool: PgPool,
}

impl AuditApi {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// A page token: the last id served and the filters it was served for.
#[derive(Serialize, Deserialize, PartialEq)]
struct Cursor {
    before_id: i64,
    filters: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: DateTime<Utc>,
    service: String,
    method: String,
    principal: String,
    peer: Option<String>,
    code: String,
    uscc: Option<String>,
    detail: Value,
}

#[tonic::async_trait]
impl audit_service_server::AuditService for AuditApi {
    async fn list_audit_records(
        &self,
        request: Request<ListAuditRecordsRequest>,
    ) -> Result<Response<ListAuditRecordsResponse>, Status> {
        let req = request.into_inner();
        let mut violations = Violations::new();
        if !req.uscc.is_empty() {
            violations.check(Uscc::parse(&req.uscc).is_ok(), "uscc", "not a valid USCC");
        }
        let since = req.since.as_ref().map(from_timestamp);
        let until = req.until.as_ref().map(from_timestamp);
        violations.check(!matches!(since, Some(None)), "since", "not a valid time");
        violations.check(!matches!(until, Some(None)), "until", "not a valid time");
        let (since, until) = (since.flatten(), until.flatten());
        if let (Some(since), Some(until)) = (since, until) {
            violations.check(since < until, "until", "must be after since");
        }
        violations.finish()?;
        let size = paging::page_size(req.page_size)?;
        let filters = format!("{}|{}|{since:?}|{until:?}", req.principal, req.uscc);
        let cursor: Option<Cursor> = paging::decode_token(&req.page_token)?;
        if cursor.as_ref().is_some_and(|c| c.filters != filters) {
            return Err(ApiError::invalid("page_token", "issued for other filters").into());
        }
        let rows: Vec<Row> = sqlx::query_as!(
            Row,
            "SELECT id, at, service, method, principal, peer, code, uscc, detail
             FROM audit_log
             WHERE ($1 = '' OR principal = $1)
               AND ($2 = '' OR uscc = $2)
               AND ($3::timestamptz IS NULL OR at >= $3)
               AND ($4::timestamptz IS NULL OR at < $4)
               AND ($5::bigint IS NULL OR id < $5)
             ORDER BY id DESC
             LIMIT $6",
            req.principal,
            req.uscc,
            since,
            until,
            cursor.map(|c| c.before_id),
            i64::from(size) + 1,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(ApiError::from)?;
        let more = rows.len() > size as usize;
        let records: Vec<AuditRecord> = rows
            .into_iter()
            .take(size as usize)
            .map(|r| AuditRecord {
                id: r.id,
                at: Some(to_timestamp(r.at)),
                service: r.service,
                method: r.method,
                principal: r.principal,
                peer: r.peer.unwrap_or_default(),
                code: r.code,
                uscc: r.uscc.unwrap_or_default(),
                detail_json: r.detail.to_string(),
            })
            .collect();
        let next_page_token = match records.last() {
            Some(last) if more => paging::encode_token(&Cursor {
                before_id: last.id,
                filters,
            }),
            _ => String::new(),
        };
        Ok(Response::new(ListAuditRecordsResponse {
            records,
            next_page_token,
        }))
    }
}
