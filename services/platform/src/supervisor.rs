//! The supervisor of a service's background work: the outbox relay, the consumers and every
//! task a service starts with [`Platform::spawn`](crate::Platform::spawn).
//!
//! Each task runs until the platform asks it to stop. One that ends earlier, by returning or
//! by panicking, is a failure of the whole process: [`Platform::serve`](crate::Platform::serve)
//! then reports NOT_SERVING, shuts the rest down in order and returns an error, so the
//! process exits non-zero and whoever runs it (Kubernetes, `haicheng dev`) restarts it.
//! Nothing is restarted inside the process: a process that lost its relay but still answers
//! SERVING would be worse than one that restarts.

use std::{collections::HashMap, fmt, future::Future, time::Duration};

use tokio::task::{Id, JoinError, JoinSet};

/// The running background tasks, each under a name for the reports.
#[derive(Default)]
pub struct Supervisor {
    tasks: JoinSet<anyhow::Result<()>>,
    names: HashMap<Id, String>,
}

/// How one task ended.
#[derive(Debug)]
pub struct TaskExit {
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    /// The task returned normally.
    Returned,
    /// The task returned an error.
    Failed(anyhow::Error),
    /// The task panicked, with this message.
    Panicked(String),
    /// The task did not stop in time after it was asked to, and was aborted.
    Aborted,
}

impl TaskExit {
    /// Whether the task ended badly even if it was asked to stop.
    pub fn is_failure(&self) -> bool {
        !matches!(self.outcome, Outcome::Returned)
    }
}

impl fmt::Display for TaskExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match &self.outcome {
            Outcome::Returned => write!(f, "background task {name} ended"),
            Outcome::Failed(err) => write!(f, "background task {name} failed: {err:#}"),
            Outcome::Panicked(message) => write!(f, "background task {name} panicked: {message}"),
            Outcome::Aborted => write!(f, "background task {name} did not stop in time"),
        }
    }
}

impl Supervisor {
    /// Runs `task` under `name`.
    pub fn spawn(
        &mut self,
        name: impl Into<String>,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        let handle = self.tasks.spawn(task);
        self.names.insert(handle.id(), name.into());
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The next task to end; `None` at once when none runs.
    pub async fn next_exit(&mut self) -> Option<TaskExit> {
        let joined = self.tasks.join_next_with_id().await?;
        Some(match joined {
            Ok((id, Ok(()))) => self.exit(id, Outcome::Returned),
            Ok((id, Err(err))) => self.exit(id, Outcome::Failed(err)),
            Err(err) => {
                let id = err.id();
                self.exit(id, outcome_of(err))
            }
        })
    }

    /// Waits up to `limit` for every task to end (after they were asked to stop), aborts the
    /// ones still running, and returns how each ended.
    pub async fn join_all(&mut self, limit: Duration) -> Vec<TaskExit> {
        let mut exits = Vec::new();
        let deadline = tokio::time::Instant::now() + limit;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.next_exit()).await {
                Ok(Some(exit)) => exits.push(exit),
                Ok(None) => break,
                Err(_) => {
                    self.tasks.abort_all();
                    while let Some(exit) = self.next_exit().await {
                        exits.push(exit);
                    }
                }
            }
        }
        exits
    }

    fn exit(&mut self, id: Id, outcome: Outcome) -> TaskExit {
        let name = self
            .names
            .remove(&id)
            .unwrap_or_else(|| format!("task {id}"));
        TaskExit { name, outcome }
    }
}

fn outcome_of(err: JoinError) -> Outcome {
    if err.is_cancelled() {
        return Outcome::Aborted;
    }
    let payload = err.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_string());
    Outcome::Panicked(message)
}

/// A readable name for a task from the type of its future: `classification::reranker::
/// Reranker::run` for the future of `reranker.run(stop)`.
pub fn name_of<Fut>() -> String {
    let name = std::any::type_name::<Fut>();
    name.trim_end_matches("::{{closure}}").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_way_a_task_ends_is_reported_under_its_name() {
        let mut supervisor = Supervisor::default();
        supervisor.spawn("returns", async { Ok(()) });
        let mut exits = Vec::new();
        exits.push(supervisor.next_exit().await.unwrap());
        supervisor.spawn("fails", async { Err(anyhow::anyhow!("broker gone")) });
        exits.push(supervisor.next_exit().await.unwrap());
        supervisor.spawn("panics", async { panic!("index out of range") });
        exits.push(supervisor.next_exit().await.unwrap());
        let reports: Vec<String> = exits.iter().map(ToString::to_string).collect();
        assert_eq!(
            reports,
            [
                "background task returns ended",
                "background task fails failed: broker gone",
                "background task panics panicked: index out of range",
            ]
        );
        assert!(supervisor.next_exit().await.is_none());
    }

    #[tokio::test]
    async fn a_task_that_does_not_stop_is_aborted_at_the_limit() {
        let mut supervisor = Supervisor::default();
        supervisor.spawn("stops", async { Ok(()) });
        supervisor.spawn("hangs", std::future::pending());
        let exits = supervisor.join_all(Duration::from_millis(100)).await;
        let mut outcomes: Vec<(String, bool)> = exits
            .iter()
            .map(|e| (e.name.clone(), e.is_failure()))
            .collect();
        outcomes.sort();
        assert_eq!(
            outcomes,
            [("hangs".to_string(), true), ("stops".to_string(), false)]
        );
    }

    #[test]
    fn a_future_is_named_after_its_function() {
        async fn listen() {}
        fn future_of<F: Future>(_: F) -> String {
            name_of::<F>()
        }
        assert!(
            future_of(listen()).ends_with("tests::a_future_is_named_after_its_function::listen")
        );
    }
}
