//! SVG plots of a run: latency of every operation and throughput over time,
//! with the nemesis's faults shaded — Jepsen's "latency-raw" and "rate"
//! graphs, written by hand so the harness needs no plotting dependency.
//!
//! ```text
//!   latency (log scale)             throughput (ops/s, per second)
//!   ·  ok   ×  info  ∘ fail          ─ ok   ─ info   ─ fail
//!   ░░ fault intervals, labelled
//! ```

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::history::{EventKind, History};
use crate::nemesis::FaultSpan;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 60.0;
const TOP: f64 = 30.0;
const PLOT_W: f64 = WIDTH - LEFT - 20.0;
const PLOT_H: f64 = HEIGHT - TOP - 40.0;

fn color(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Ok => "#2a9d8f",
        EventKind::Info => "#e9c46a",
        EventKind::Fail => "#e76f51",
        EventKind::Invoke => "#888888",
    }
}

/// (completion time in seconds, latency in ms, outcome) for every completed op.
fn completions(history: &History) -> Vec<(f64, f64, EventKind)> {
    let mut open: BTreeMap<u64, u64> = BTreeMap::new();
    let mut out = Vec::new();
    for event in &history.events {
        match event.kind {
            EventKind::Invoke => {
                open.insert(event.process, event.time_nanos);
            }
            kind => {
                if let Some(start) = open.remove(&event.process) {
                    let latency_ms = event.time_nanos.saturating_sub(start) as f64 / 1e6;
                    out.push((event.time_nanos as f64 / 1e9, latency_ms.max(0.01), kind));
                }
            }
        }
    }
    out
}

/// Text made safe for SVG (fault descriptions can carry error messages).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn frame(svg: &mut String, title: &str, duration: f64, faults: &[FaultSpan]) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = write!(
        svg,
        r#"<text x="{LEFT}" y="18" font-size="13">{title}</text>"#
    );
    for fault in faults {
        let x0 = LEFT + fault.start_nanos as f64 / 1e9 / duration * PLOT_W;
        let x1 = LEFT + fault.end_nanos as f64 / 1e9 / duration * PLOT_W;
        let _ = write!(
            svg,
            r##"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{PLOT_H}" fill="#999" fill-opacity="0.18"><title>{}</title></rect>"##,
            (x1 - x0).max(1.0),
            escape(&fault.description)
        );
    }
    let _ = write!(
        svg,
        r#"<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="black"/>"#
    );
    let step = (duration / 10.0).ceil().max(1.0);
    let mut t = 0.0;
    while t <= duration {
        let x = LEFT + t / duration * PLOT_W;
        let _ = write!(
            svg,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{t:.0}s</text>"#,
            TOP + PLOT_H + 14.0
        );
        t += step;
    }
}

fn legend(svg: &mut String) {
    for (i, (label, kind)) in [
        ("ok", EventKind::Ok),
        ("info", EventKind::Info),
        ("fail", EventKind::Fail),
    ]
    .into_iter()
    .enumerate()
    {
        let x = WIDTH - 200.0 + i as f64 * 60.0;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="8" width="10" height="10" fill="{}"/><text x="{}" y="17">{label}</text>"#,
            color(kind),
            x + 14.0
        );
    }
    let _ = write!(
        svg,
        r##"<rect x="{}" y="8" width="10" height="10" fill="#999" fill-opacity="0.3"/><text x="{}" y="17">fault</text>"##,
        WIDTH - 380.0,
        WIDTH - 366.0
    );
}

/// Latency of each operation (log scale), by completion time.
pub fn latency_svg(history: &History, faults: &[FaultSpan]) -> String {
    let points = completions(history);
    let duration = points.iter().map(|p| p.0).fold(1.0_f64, f64::max);
    let max_ms = points.iter().map(|p| p.1).fold(10.0_f64, f64::max);
    let (lo, hi) = (0.1_f64.log10(), max_ms.log10().ceil());
    let y = |ms: f64| TOP + PLOT_H - (ms.max(0.1).log10() - lo) / (hi - lo) * PLOT_H;
    let mut svg = String::new();
    frame(
        &mut svg,
        "latency per operation (ms, log scale)",
        duration,
        faults,
    );
    let mut decade = lo;
    while decade <= hi {
        let ms = 10_f64.powf(decade);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 4.0,
            y(ms) + 4.0,
            if ms < 1.0 {
                format!("{ms:.1}")
            } else {
                format!("{ms:.0}")
            }
        );
        decade += 1.0;
    }
    for (t, ms, kind) in points {
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="{}"/>"#,
            LEFT + t / duration * PLOT_W,
            y(ms),
            color(kind)
        );
    }
    legend(&mut svg);
    svg.push_str("</svg>\n");
    svg
}

/// Completed operations per second, by outcome.
pub fn throughput_svg(history: &History, faults: &[FaultSpan]) -> String {
    let points = completions(history);
    let duration = points.iter().map(|p| p.0).fold(1.0_f64, f64::max);
    let seconds = duration.ceil() as usize + 1;
    let mut buckets: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (t, _, kind) in &points {
        let series = buckets.entry(match kind {
            EventKind::Ok => "ok",
            EventKind::Info => "info",
            _ => "fail",
        });
        series.or_insert_with(|| vec![0.0; seconds])[*t as usize] += 1.0;
    }
    let max_rate = buckets.values().flatten().fold(1.0_f64, |a, b| a.max(*b));
    let y = |rate: f64| TOP + PLOT_H - rate / max_rate * PLOT_H;
    let mut svg = String::new();
    frame(
        &mut svg,
        "throughput (completed operations per second)",
        duration,
        faults,
    );
    for tick in [0.0, max_rate / 2.0, max_rate] {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{tick:.0}</text>"#,
            LEFT - 4.0,
            y(tick) + 4.0
        );
    }
    for (name, series) in &buckets {
        let kind = match *name {
            "ok" => EventKind::Ok,
            "info" => EventKind::Info,
            _ => EventKind::Fail,
        };
        let path: Vec<String> = series
            .iter()
            .enumerate()
            .map(|(second, rate)| {
                format!(
                    "{:.1},{:.1}",
                    LEFT + second as f64 / duration * PLOT_W,
                    y(*rate)
                )
            })
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"#,
            color(kind),
            path.join(" ")
        );
    }
    legend(&mut svg);
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Event;
    use crate::nemesis::Fault;

    fn event(index: u64, nanos: u64, process: u64, kind: EventKind) -> Event {
        Event {
            index,
            time_nanos: nanos,
            process,
            kind,
            f: "write".into(),
            key: Some("k".into()),
            value: serde_json::json!(1),
            error: None,
        }
    }

    #[test]
    fn plots_every_completion_and_every_fault() {
        let history = History {
            events: vec![
                event(0, 0, 0, EventKind::Invoke),
                event(1, 2_000_000, 0, EventKind::Ok),
                event(2, 1_000_000_000, 1, EventKind::Invoke),
                event(3, 3_000_000_000, 1, EventKind::Info),
            ],
        };
        let faults = vec![FaultSpan {
            fault: Fault::Kill,
            description: "kill n1".into(),
            injected: true,
            start_nanos: 500_000_000,
            end_nanos: 2_500_000_000,
        }];
        let latency = latency_svg(&history, &faults);
        assert_eq!(latency.matches("<circle").count(), 2);
        assert!(latency.contains("kill n1"));
        assert!(latency.starts_with("<svg") && latency.trim_end().ends_with("</svg>"));
        let throughput = throughput_svg(&history, &faults);
        assert_eq!(
            throughput.matches("<polyline").count(),
            2,
            "ok and info series"
        );
    }
}
