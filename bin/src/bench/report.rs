//! Results: one row per level, printed as a table and written as JSON.
//!
//! Throughput is successful operations per second of the measured window;
//! latencies are percentiles of successful operations in milliseconds;
//! errors are failed operations (non-2xx, transport errors, timeouts, a
//! read that found nothing) in the window — never dropped: they have their
//! own column, and the first error message is kept.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The outcome of one level (one workload, one system, one client count).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelResult {
    pub workload: String,
    pub target: String,
    pub clients: usize,
    pub seconds: f64,
    pub ops: u64,
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub warmup_errors: u64,
    pub first_error: Option<String>,
}

impl LevelResult {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        workload: &str,
        target: &str,
        clients: usize,
        measured: Duration,
        ops: u64,
        errors: u64,
        warmup_errors: u64,
        first_error: Option<String>,
        micros: &Histogram<u64>,
    ) -> LevelResult {
        let ms = |q: f64| {
            if micros.is_empty() {
                0.0
            } else {
                micros.value_at_quantile(q) as f64 / 1000.0
            }
        };
        let seconds = measured.as_secs_f64();
        LevelResult {
            workload: workload.to_string(),
            target: target.to_string(),
            clients,
            seconds,
            ops,
            ops_per_sec: if seconds > 0.0 {
                ops as f64 / seconds
            } else {
                0.0
            },
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: if micros.is_empty() {
                0.0
            } else {
                micros.max() as f64 / 1000.0
            },
            errors,
            warmup_errors,
            first_error,
        }
    }
}

/// The run's settings, written beside the results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    pub url: String,
    pub databases: usize,
    pub keys: u64,
    pub key_bytes: usize,
    pub value_bytes: usize,
    pub seconds: u64,
    pub warmup_seconds: u64,
}

const HEADER: [&str; 9] = [
    "workload", "target", "clients", "ops/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors",
];

/// A latency in milliseconds with three significant digits or so.
pub fn format_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// The results as an aligned text table (text left, numbers right).
pub fn table(results: &[LevelResult]) -> String {
    let rows: Vec<[String; 9]> = results
        .iter()
        .map(|r| {
            [
                r.workload.clone(),
                r.target.clone(),
                r.clients.to_string(),
                format!("{:.0}", r.ops_per_sec),
                format_ms(r.p50_ms),
                format_ms(r.p90_ms),
                format_ms(r.p99_ms),
                format_ms(r.p999_ms),
                r.errors.to_string(),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < 2 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(&HEADER.map(String::from));
    for row in &rows {
        out += &line(row);
    }
    out
}

/// The results as a JSON document: `{"run": {...}, "results": [...]}`.
pub fn json(run: &RunInfo, results: &[LevelResult]) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        run: &'a RunInfo,
        results: &'a [LevelResult],
    }
    serde_json::to_string_pretty(&Doc { run, results }).expect("results serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::runner::new_histogram;

    fn sample() -> LevelResult {
        let mut h = new_histogram();
        for micros in 1..=1000 {
            h.record(micros * 10).unwrap(); // 0.01 ms ..= 10 ms
        }
        LevelResult::new(
            "ycsb-a",
            "lauradb",
            16,
            Duration::from_secs(2),
            1000,
            3,
            1,
            Some("HTTP 503".into()),
            &h,
        )
    }

    #[test]
    fn percentiles_and_rate_come_from_the_histogram() {
        let r = sample();
        assert_eq!(r.ops_per_sec, 500.0);
        assert!((r.p50_ms - 5.0).abs() < 0.01, "{}", r.p50_ms);
        assert!((r.p90_ms - 9.0).abs() < 0.01, "{}", r.p90_ms);
        assert!((r.p99_ms - 9.9).abs() < 0.01, "{}", r.p99_ms);
        assert!((r.max_ms - 10.0).abs() < 0.01, "{}", r.max_ms);
        let empty = LevelResult::new(
            "read",
            "etcd",
            1,
            Duration::from_secs(1),
            0,
            5,
            0,
            None,
            &new_histogram(),
        );
        assert_eq!(
            (empty.ops_per_sec, empty.p99_ms, empty.errors),
            (0.0, 0.0, 5)
        );
    }

    #[test]
    fn table_is_aligned_with_errors_column() {
        let text = table(&[sample()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("workload  target   clients  ops/s  p50 ms"));
        assert!(lines[0].ends_with("p99.9 ms  errors"));
        assert!(lines[1].starts_with("ycsb-a    lauradb       16    500    5.00"));
        assert!(lines[1].ends_with("  3"), "{}", lines[1]);
    }

    #[test]
    fn milliseconds_keep_about_three_digits() {
        assert_eq!(format_ms(0.123), "0.12");
        assert_eq!(format_ms(12.34), "12.3");
        assert_eq!(format_ms(123.4), "123");
    }

    #[test]
    fn json_round_trips() {
        let run = RunInfo {
            url: "http://127.0.0.1:8080".into(),
            databases: 1,
            keys: 10_000,
            key_bytes: 8,
            value_bytes: 256,
            seconds: 2,
            warmup_seconds: 0,
        };
        let doc: serde_json::Value = serde_json::from_str(&json(&run, &[sample()])).unwrap();
        assert_eq!(doc["run"]["keys"], 10_000);
        let row = &doc["results"][0];
        assert_eq!(row["workload"], "ycsb-a");
        assert_eq!(row["clients"], 16);
        assert_eq!(row["ops"], 1000);
        assert_eq!(row["errors"], 3);
        assert_eq!(row["warmup_errors"], 1);
        assert_eq!(row["first_error"], "HTTP 503");
    }
}
