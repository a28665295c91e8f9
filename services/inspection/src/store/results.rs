//! Results against a valid code, their publication, and ratings kept apart from their visits.

use chrono::{DateTime, Utc};
use platform::auth::Department;
use uuid::Uuid;

use super::{
    Store, StoreError, facts,
    items::all_items,
    placement::place_tasks,
    rows::parse,
    visits::{locked_visit, require_part, save_visit},
};
use crate::{
    config::Rules,
    domain::{
        code::{
            ResultInput, closes_rectification, decide_publish, decide_result, rectification_due,
        },
        rating::{Satisfaction, Summary, decide_rating, summarize},
        visit::{Task, VisitView},
    },
    events,
};

impl Store {
    /// Records a result (ResultRecorded): findings open a rectification and re-check tasks;
    /// a clean re-check closes the firm's rectifications. The firm's standing follows.
    pub async fn record_result(
        &self,
        id: Uuid,
        input: ResultInput,
        caller: Option<Department>,
        caller_name: &str,
        rules: &Rules,
        now: DateTime<Utc>,
    ) -> Result<(VisitView, Vec<Task>), StoreError> {
        let mut tx = self.pool.begin().await?;
        let visit = locked_visit(&mut tx, id).await?;
        require_part(&visit, caller, caller_name)?;
        let (recorded, rechecks) =
            decide_result(&visit, input, now, &rules.limits, &rules.calendar)?;
        save_visit(&mut tx, &recorded).await?;
        let result = recorded.result.as_ref();
        if let Some(latest) = result.and_then(rectification_due) {
            sqlx::query!(
                "INSERT INTO rectifications (visit_id, uscc, rectify_by) VALUES ($1, $2, $3)",
                recorded.id,
                recorded.uscc,
                latest
            )
            .execute(&mut *tx)
            .await?;
        }
        if result.is_some_and(|r| closes_rectification(&recorded, r.outcome)) {
            sqlx::query!(
                "UPDATE rectifications SET closed = true WHERE uscc = $1 AND visit_id <> $2",
                recorded.uscc,
                recorded.id
            )
            .execute(&mut *tx)
            .await?;
        }
        let items = all_items(&mut tx).await?;
        let placed = place_tasks(self, &mut tx, rechecks, rules, &items).await?;
        facts::refresh_standing(self, &mut tx, &recorded.uscc, now).await?;
        let view = VisitView::of(recorded, &items);
        self.outbox
            .enqueue(&mut tx, events::result_recorded(&view))
            .await?;
        tx.commit().await?;
        Ok((view, placed.into_iter().map(|(t, _)| t).collect()))
    }

    /// Publishes a recorded result (ResultPublished).
    pub async fn publish_result(
        &self,
        id: Uuid,
        caller: Option<Department>,
        caller_name: &str,
        now: DateTime<Utc>,
    ) -> Result<VisitView, StoreError> {
        let mut tx = self.pool.begin().await?;
        let visit = locked_visit(&mut tx, id).await?;
        require_part(&visit, caller, caller_name)?;
        let published = decide_publish(&visit, now)?;
        save_visit(&mut tx, &published).await?;
        let view = VisitView::of(published, &all_items(&mut tx).await?);
        self.outbox
            .enqueue(&mut tx, events::result_published(&view))
            .await?;
        tx.commit().await?;
        Ok(view)
    }

    /// The firm rates its visit once; the rating is stored apart from it (no event).
    pub async fn rate(
        &self,
        id: Uuid,
        uscc: &str,
        satisfaction: Satisfaction,
        text: String,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut visit = locked_visit(&mut tx, id).await?;
        let rating = decide_rating(&visit, uscc, satisfaction, text)?;
        let departments: Vec<String> = rating
            .departments
            .iter()
            .map(|d| d.as_str().to_string())
            .collect();
        sqlx::query!(
            "INSERT INTO ratings (id, year, departments, satisfaction, text) VALUES ($1, $2, $3, $4, $5)",
            Uuid::new_v4(),
            rating.year,
            &departments,
            <&str>::from(rating.satisfaction),
            rating.text
        )
        .execute(&mut *tx)
        .await?;
        visit.rated = true;
        save_visit(&mut tx, &visit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A department's ratings of a year, aggregated (refused below the minimum).
    pub async fn rating_summary(
        &self,
        department: Department,
        year: i32,
        rules: &Rules,
    ) -> Result<Summary, StoreError> {
        let rows = sqlx::query!(
            "SELECT satisfaction, text FROM ratings WHERE year = $1 AND $2 = ANY(departments)",
            year,
            department.as_str()
        )
        .fetch_all(&self.pool)
        .await?;
        let ratings = rows
            .into_iter()
            .map(|r| {
                Ok((
                    parse::<Satisfaction>("satisfaction", &r.satisfaction)?,
                    r.text,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(summarize(
            department,
            year,
            &ratings,
            rules.limits.min_ratings_shown,
        )?)
    }
}
