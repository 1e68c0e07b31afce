//! Request metrics with their handles resolved once.
//!
//! Every Data API request counts into `lauradb_http_requests_total{action,
//! status}` and is timed in `lauradb_http_request_seconds{action}`. The
//! `metrics` macros look a metric up in the recorder's registry on every
//! call (hashing its name and labels under a lock); at tens of thousands of
//! requests a second that was about 1% of the router's CPU. The handles of
//! every action's success counter and histogram are therefore registered
//! when the router starts, and a request only bumps atomics. Errors, rare
//! and with many status codes, still go through the registry.
//!
//! Handles belong to the recorder installed when they were made: the
//! binaries install theirs before they build a router.

use std::collections::HashMap;
use std::time::Duration;

use lauradb_engine::dataapi::Action;
use metrics::{Counter, Histogram};

/// The label of requests for an action that does not exist.
const UNKNOWN_ACTION: &str = "unknown";

/// Pre-registered handles for one action.
struct ActionMetrics {
    label: &'static str,
    succeeded: Counter,
    seconds: Histogram,
}

impl ActionMetrics {
    fn register(label: &'static str) -> ActionMetrics {
        ActionMetrics {
            label,
            succeeded: metrics::counter!("lauradb_http_requests_total", "action" => label, "status" => "200"),
            seconds: metrics::histogram!("lauradb_http_request_seconds", "action" => label),
        }
    }
}

/// The router's request metrics, one entry per action.
pub(super) struct RequestMetrics {
    by_action: HashMap<&'static str, ActionMetrics>,
    unknown: ActionMetrics,
}

impl RequestMetrics {
    /// Registers the handles of every action with the installed recorder.
    pub(super) fn register() -> RequestMetrics {
        RequestMetrics {
            by_action: Action::all()
                .map(|action| (action.name(), ActionMetrics::register(action.name())))
                .collect(),
            unknown: ActionMetrics::register(UNKNOWN_ACTION),
        }
    }

    /// Counts and times one request for the action named `action` (as it
    /// appeared in the URL) that was answered with `status`.
    pub(super) fn record(&self, action: &str, status: u16, elapsed: Duration) {
        let metrics = self.by_action.get(action).unwrap_or(&self.unknown);
        if status == 200 {
            metrics.succeeded.increment(1);
        } else {
            metrics::counter!("lauradb_http_requests_total", "action" => metrics.label, "status" => status.to_string())
                .increment(1);
        }
        metrics.seconds.record(elapsed.as_secs_f64());
    }
}
