//! Progress of a collection from an HTTP API, reported after every page so that a front end (the
//! CLI's progress line) can show items read of the total, the pace and the budgets left — the same
//! for every API source, so it lives apart from any one API's shape.

/// Where a collection reports its progress (the CLI draws a progress line from it).
#[derive(Clone)]
pub struct ProgressSink(pub std::sync::Arc<dyn Fn(&Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// The state of one resource being read, after a page.
#[derive(Debug, Clone)]
pub struct Progress {
    pub repo: String,
    pub resource: &'static str,
    pub pages: usize,
    /// Items read so far in this run.
    pub items: u64,
    /// How many the repository holds, when GitHub says (`totalCount`); an incremental run stops
    /// early, so this is an upper bound.
    pub total: Option<u64>,
    /// Requests made and GraphQL points spent by this run so far.
    pub requests: u64,
    pub points: u64,
    /// What GitHub says is left this hour of each budget, once it has said: GraphQL points, and
    /// REST (`core`) requests, which are counted apart.
    pub graphql_remaining: Option<u64>,
    pub rest_remaining: Option<u64>,
    pub elapsed: std::time::Duration,
    /// The resource is finished.
    pub done: bool,
}

impl Progress {
    /// Time left at the pace so far, when the total is known.
    pub fn eta(&self) -> Option<std::time::Duration> {
        let total = self.total?;
        if self.items == 0 || self.done {
            return None;
        }
        let left = total.saturating_sub(self.items);
        Some(self.elapsed.mul_f64(left as f64 / self.items as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn progress(items: u64, total: Option<u64>, elapsed_s: u64, done: bool) -> Progress {
        Progress {
            repo: "acme/shop".into(),
            resource: "pull_requests",
            pages: 1,
            items,
            total,
            requests: 1,
            points: 1,
            graphql_remaining: None,
            rest_remaining: None,
            elapsed: Duration::from_secs(elapsed_s),
            done,
        }
    }

    #[test]
    fn eta_is_the_time_left_at_the_pace_so_far() {
        // 300 of 1,200 items in 30 s: 900 left at 10 items a second = 90 s.
        assert_eq!(progress(300, Some(1200), 30, false).eta(), Some(Duration::from_secs(90)));
        // More read than GitHub's total (items added while reading): nothing left.
        assert_eq!(progress(1300, Some(1200), 30, false).eta(), Some(Duration::ZERO));
        assert_eq!(progress(0, Some(1200), 30, false).eta(), None, "no pace yet");
        assert_eq!(progress(300, None, 30, false).eta(), None, "no total");
        assert_eq!(progress(1200, Some(1200), 30, true).eta(), None, "finished");
    }
}
