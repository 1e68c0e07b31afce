//! The closed loop: N clients, each sending one request, waiting for the
//! answer, then sending the next.
//!
//! A level (one client count) opens every client's connection first, so
//! connecting is not measured and an unreachable target fails at once. Then
//! the clock starts: for `warmup` the clients run but nothing is kept; for
//! the next `measure` every operation that *completes* inside the window
//! counts — successes into an HDR histogram of latencies (microseconds, one
//! per client, merged at the end), failures into the error count. An
//! operation still in flight when the window closes is not counted. A
//! failed request drops its connection, and the client opens a new one
//! before its next request (after a 10 ms pause if that fails too, so a
//! dead server is not hammered).
//!
//! Client `i` sends to database `i` modulo `--databases`.
//!
//! Once a second a progress line goes to stderr.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::http::{Conn, Endpoint};
use super::keys::{Rng, Values};
use super::report::LevelResult;
use super::target::Target;
use super::workload::Workload;

/// Everything the clients of a run share.
pub struct Shared {
    pub target: Target,
    pub endpoint: Endpoint,
    pub values: Values,
    pub workload: Workload,
    pub keys: u64,
    pub timeout: Duration,
    /// Key numbers for `insert`, across all levels of the run.
    pub fresh: AtomicU64,
    /// Name of the system in reports (`--label`).
    pub label: String,
    pub seed: u64,
}

/// Counters the progress line reads while clients run.
#[derive(Default)]
struct Live {
    ok: AtomicU64,
    errors: AtomicU64,
}

/// What one client brings back.
struct ClientTally {
    histogram: Histogram<u64>,
    ok: u64,
    errors: u64,
    warmup_errors: u64,
    first_error: Option<String>,
}

/// Largest latency recorded exactly: one hour in microseconds.
const MAX_MICROS: u64 = 3_600_000_000;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// Runs one level of `clients` clients; `Err` only if the target cannot be
/// reached at all.
pub async fn run_level(
    shared: Arc<Shared>,
    clients: usize,
    warmup: Duration,
    measure: Duration,
) -> Result<LevelResult, String> {
    let mut connecting = Vec::with_capacity(clients);
    for _ in 0..clients {
        let endpoint = shared.endpoint.clone();
        connecting.push(tokio::spawn(async move { Conn::connect(&endpoint).await }));
    }
    let mut conns = Vec::with_capacity(clients);
    for task in connecting {
        conns.push(task.await.map_err(|e| e.to_string())??);
    }

    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + measure;
    let live = Arc::new(Live::default());
    let mut tasks = Vec::with_capacity(clients);
    for (i, conn) in conns.into_iter().enumerate() {
        let shared = shared.clone();
        let live = live.clone();
        let seed = shared.seed ^ ((clients as u64) << 32) ^ i as u64;
        tasks.push(tokio::spawn(client(
            shared,
            conn,
            i,
            Rng::new(seed),
            measure_from,
            end,
            live,
        )));
    }
    let progress = tokio::spawn(progress(
        format!("{} {} c={clients}", shared.workload.name(), shared.label),
        live.clone(),
        started,
        measure_from,
    ));

    let mut histogram = new_histogram();
    let (mut ok, mut errors, mut warmup_errors, mut first_error) = (0, 0, 0, None);
    for task in tasks {
        let tally = task.await.map_err(|e| format!("client task failed: {e}"))?;
        histogram
            .add(&tally.histogram)
            .map_err(|e| format!("merging histograms: {e}"))?;
        ok += tally.ok;
        errors += tally.errors;
        warmup_errors += tally.warmup_errors;
        first_error = first_error.or(tally.first_error);
    }
    progress.abort();
    Ok(LevelResult::new(
        shared.workload.name(),
        &shared.label,
        clients,
        measure,
        ok,
        errors,
        warmup_errors,
        first_error,
        &histogram,
    ))
}

async fn client(
    shared: Arc<Shared>,
    conn: Conn,
    db: usize,
    mut rng: Rng,
    measure_from: Instant,
    end: Instant,
    live: Arc<Live>,
) -> ClientTally {
    let mut tally = ClientTally {
        histogram: new_histogram(),
        ok: 0,
        errors: 0,
        warmup_errors: 0,
        first_error: None,
    };
    let mut conn = Some(conn);
    while Instant::now() < end {
        if conn.as_ref().is_some_and(|c| !c.is_open()) {
            conn = None;
        }
        let op = shared
            .workload
            .next_op(&mut rng, shared.keys, &shared.fresh);
        let request = shared.target.request(op, shared.values.pick(&mut rng), db);
        let sent = Instant::now();
        let outcome = match conn.as_mut() {
            Some(c) => c.post(request.path, request.body, shared.timeout).await,
            None => match Conn::connect(&shared.endpoint).await {
                Ok(c) => {
                    conn.insert(c)
                        .post(request.path, request.body, shared.timeout)
                        .await
                }
                Err(e) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Err(e)
                }
            },
        };
        let outcome = match outcome {
            Ok((status, body)) => shared.target.check(op, status, &body),
            Err(e) => {
                conn = None;
                Err(e)
            }
        };
        let done = Instant::now();
        let measured = done >= measure_from && done < end;
        match outcome {
            Ok(()) => {
                live.ok.fetch_add(1, Ordering::Relaxed);
                if measured {
                    tally.ok += 1;
                    let micros = (done - sent).as_micros().max(1) as u64;
                    tally.histogram.saturating_record(micros);
                }
            }
            Err(e) => {
                live.errors.fetch_add(1, Ordering::Relaxed);
                if measured {
                    tally.errors += 1;
                } else if done < measure_from {
                    tally.warmup_errors += 1;
                }
                tally.first_error.get_or_insert(e);
            }
        }
    }
    tally
}

/// Prints a progress line to stderr every second until aborted.
async fn progress(what: String, live: Arc<Live>, started: Instant, measure_from: Instant) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::from_std(started) + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let mut last_ok = 0;
    // (time, successes) when measuring began; ticks fall on whole seconds
    // after the start, and so does the end of the warm-up.
    let mut at_measure_start = (measure_from <= started).then_some((started, 0));
    loop {
        let now = tick.tick().await.into_std();
        let ok = live.ok.load(Ordering::Relaxed);
        let errors = live.errors.load(Ordering::Relaxed);
        let phase = if now + Duration::from_millis(50) < measure_from {
            "warm-up".to_string()
        } else {
            let (t0, ok0) = *at_measure_start.get_or_insert((now, ok));
            let secs = (now - t0).as_secs_f64();
            if secs > 0.0 {
                format!("{:.0} ops/s so far", (ok - ok0) as f64 / secs)
            } else {
                "measuring from now".to_string()
            }
        };
        eprintln!(
            "  {what}: {:>3.0}s  {:>7} ops/s in the last second, {phase}, {errors} errors",
            (now - started).as_secs_f64(),
            ok - last_ok,
        );
        last_ok = ok;
    }
}
