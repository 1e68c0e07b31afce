//! The preload phase: writes every key once before a workload that reads or
//! updates existing keys, so that no read finds nothing.
//!
//! Keys are written with the workload's own `put` (LauraDB: an upsert; etcd:
//! a put), so running it twice is harmless. Workers split the key numbers
//! between them; a failed write is retried a few times (a leader election
//! may be under way) and, if it keeps failing, stops the run: measuring
//! reads of keys that are not there would measure nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::http::Conn;
use super::keys::Rng;
use super::runner::Shared;
use super::workload::Op;

const ATTEMPTS: u32 = 5;

/// Writes keys `0..shared.keys` into every database with `workers`
/// concurrent connections.
pub async fn preload(shared: Arc<Shared>, workers: usize) -> Result<(), String> {
    let started = Instant::now();
    let total = shared.keys * shared.target.databases() as u64;
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..workers.max(1) {
        let (shared, next, done) = (shared.clone(), next.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(shared.seed ^ 0x5EED_0000 ^ w as u64);
            let mut conn = Conn::connect(&shared.endpoint).await?;
            loop {
                let item = next.fetch_add(1, Ordering::Relaxed);
                if item >= total {
                    return Ok::<(), String>(());
                }
                let (db, k) = ((item / shared.keys) as usize, item % shared.keys);
                let mut attempt = 1;
                loop {
                    let request =
                        shared
                            .target
                            .request(Op::Put(k), shared.values.pick(&mut rng), db);
                    let result = match conn.post(request.path, request.body, shared.timeout).await {
                        Ok((status, body)) => shared.target.check(Op::Put(k), status, &body),
                        Err(e) => {
                            conn = Conn::connect(&shared.endpoint).await?;
                            Err(e)
                        }
                    };
                    match result {
                        Ok(()) => break,
                        Err(e) if attempt >= ATTEMPTS => {
                            return Err(format!("preloading key {k}: {e}"));
                        }
                        Err(_) => {
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt)))
                                .await;
                        }
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let reporter = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!("  preload: {}/{total} keys", done.load(Ordering::Relaxed));
            }
        })
    };
    let mut outcome = Ok(());
    for task in tasks {
        let result = task
            .await
            .map_err(|e| format!("preload task failed: {e}"))
            .and_then(|r| r);
        outcome = outcome.and(result);
    }
    reporter.abort();
    outcome?;
    eprintln!(
        "  preload: {total} keys written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
