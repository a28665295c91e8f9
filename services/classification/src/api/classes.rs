//! The reads of classes: a list request's filters and pages, an explanation's next class,
//! the distribution's totals.

use haicheng_proto::{classification::v1 as pb, common::v1 as common};
use platform::{ApiError, Park, Violations, paging};

use super::{convert, publication};
use crate::{
    domain::{
        Class, Grading, Model, Segment, evaluation::indicators_for, explain, notes::NextClass,
    },
    proto::{park_to_proto, segment_to_proto},
    store::{
        Store,
        classes::{ClassRow, Cursor, DistributionRow, Filter},
        publication::View,
    },
};

/// A page token's cursor: the period, then the listing order (segment, rank, USCC).
type PageCursor = (String, i32, i32, String);

/// A list request read: the view, the period asked for (or the cursor's), the filter, the
/// page size and where the page starts.
pub struct ListQuery {
    pub view: View,
    pub period: Option<String>,
    pub filter: Filter,
    pub limit: u32,
    pub after: Option<Cursor>,
}

pub fn list_query(request: &pb::ListClassesRequest) -> Result<ListQuery, ApiError> {
    let mut violations = Violations::new();
    let class = convert::filter::<common::EnterpriseClass>(
        &mut violations,
        "enterprise_class",
        request.enterprise_class,
    );
    let park = convert::filter::<common::Park>(&mut violations, "park", request.park);
    let segment = convert::filter::<common::Segment>(&mut violations, "segment", request.segment);
    let period = convert::optional_period(&mut violations, "period", request.period.as_ref());
    let view = publication::view(&mut violations, "view", request.view);
    let limit = match paging::page_size(request.page_size) {
        Ok(limit) => Some(limit),
        Err(_) => {
            violations.add("page_size", "must not be negative");
            None
        }
    };
    violations.finish()?;
    let limit = limit.unwrap_or(paging::DEFAULT_PAGE_SIZE);
    let cursor: Option<PageCursor> = paging::decode_token(&request.page_token)?;
    let period = cursor.as_ref().map(|(p, ..)| p.clone()).or(period);
    Ok(ListQuery {
        view,
        period,
        filter: Filter {
            class: class.and_then(Class::from_proto),
            park: park.and_then(Park::from_proto),
            segment: segment.and_then(Segment::from_proto),
        },
        limit,
        after: cursor.map(|(_, segment, rank, uscc)| (segment, rank, uscc)),
    })
}

/// Cuts `rows` (read with one more than `limit`) to the page, and the next page's token.
pub(super) fn next_page_token(rows: &mut Vec<ClassRow>, limit: u32, period: &str) -> String {
    if rows.len() <= limit as usize {
        return String::new();
    }
    rows.truncate(limit as usize);
    rows.last().map_or_else(String::new, |last| {
        paging::encode_token(&(
            period.to_string(),
            segment_to_proto(last.segment),
            last.sort_rank,
            last.uscc.clone(),
        ))
    })
}

/// The class above `row`'s and what it would take to reach it (the boundary in `band` for
/// an enterprise), for a graded firm without a veto.
pub(super) async fn next_class(
    store: &Store,
    view: View,
    row: &ClassRow,
    model: &Model,
    band: Option<f64>,
) -> Result<(NextClass, Option<pb::NextClassGap>), ApiError> {
    let (Grading::Graded, false, Some(target)) = (
        row.grading(),
        row.vetoed,
        row.computed_class().and_then(Class::next_up),
    ) else {
        return Ok((NextClass::None, None));
    };
    let boundary = store
        .boundary_score(view, &row.period, row.segment, target)
        .await
        .map_err(ApiError::from)?;
    let Some(exact) = boundary else {
        return Ok((NextClass::NoPlaces(target), None));
    };
    let boundary = band.map_or(exact, |band| explain::banded_boundary(exact, band));
    let parts = explain::breakdown(
        indicators_for(model, row.reduced_model),
        &row.figures,
        &row.benchmarks(),
    );
    let gaps = explain::gaps(&parts, row.score, boundary);
    let mut gap = convert::gap_to_proto(target, boundary, row.score, &gaps);
    gap.banded = band.is_some();
    let next = match band {
        Some(_) => NextClass::Band(target, boundary),
        None => NextClass::Boundary(target, boundary),
    };
    Ok((next, Some(gap)))
}

/// The distribution's rows with their total.
pub(super) fn distribution(
    period: String,
    rows: Vec<DistributionRow>,
    model_version: i64,
) -> pb::GetDistributionResponse {
    let count = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
    let mut total = pb::DistributionRow::default();
    let rows = rows
        .into_iter()
        .map(|r| {
            total.class_a += count(r.class_a);
            total.class_b += count(r.class_b);
            total.class_c += count(r.class_c);
            total.deferred += count(r.deferred);
            total.exempt += count(r.exempt);
            pb::DistributionRow {
                park: park_to_proto(r.park),
                segment: segment_to_proto(r.segment),
                class_a: count(r.class_a),
                class_b: count(r.class_b),
                class_c: count(r.class_c),
                deferred: count(r.deferred),
                exempt: count(r.exempt),
            }
        })
        .collect();
    pb::GetDistributionResponse {
        period: Some(common::Period { code: period }),
        model_version,
        rows,
        total: Some(total),
    }
}
