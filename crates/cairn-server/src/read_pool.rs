//! A small, fixed pool of threads for blocking reads, in two lanes: point reads (a document by
//! id, credential lookups, listings) and scans (queries, counts, aggregations).
//!
//! Why not `spawn_blocking` for these: a point read from the page cache takes microseconds,
//! while handing it to Tokio's elastic blocking pool wakes one of many parked threads per
//! request and then wakes the async worker back — two context switches that, measured with
//! `cairn bench http`, cost more than half the throughput of a GET. A few long-lived threads
//! draining one queue stay awake under load and take jobs without being woken one by one.
//! Reads that do go to disk (hybrid mode, cold pages) still block only these threads, never
//! the async runtime. Writes, which wait for a commit, keep using `spawn_blocking`.
//!
//! Why two lanes: with one queue, a burst of long aggregations filled it and a GET by id waited
//! behind all of them until its request timed out. Each lane has its own threads, so a point
//! read only ever waits for other point reads.
//!
//! A job that panics costs its own request a 500 `internal` (logged), never its thread: a dead
//! thread would leave the queue unserved while the probes stayed green. Jobs whose request has
//! already gone (timed out, client disconnected) are skipped instead of run, and a scan whose
//! request goes away while it runs is cancelled (`cairn::query::cancel`): it stops at its next
//! budget check instead of running on to its deadline.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::http::StatusCode;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use serde_json::json;
use tokio::sync::oneshot;

use crate::api_error::ApiError;
use crate::error::ServerError;
use crate::limits::MAX_QUEUED_READS;

/// Reader threads per lane when not configured: the core count, at least 2, so one slow disk
/// read never stalls all reads of its lane.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// Which queue a read goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Short reads: a document by id, a user, a listing, a page of the change log.
    Point,
    /// Reads whose cost grows with the data: queries, counts, distinct values, aggregations.
    Scan,
}

impl Lane {
    fn name(self) -> &'static str {
        match self {
            Lane::Point => "point",
            Lane::Scan => "scan",
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// One lane: a queue and the threads draining it.
struct LaneThreads {
    sender: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    /// Threads of this lane currently running their loop.
    alive: Arc<AtomicUsize>,
}

impl LaneThreads {
    fn start(lane: Lane, threads: usize) -> Result<LaneThreads, ServerError> {
        let (sender, receiver) = crossbeam_channel::bounded::<Job>(MAX_QUEUED_READS);
        let alive = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::with_capacity(threads);
        for index in 0..threads.max(1) {
            let receiver: Receiver<Job> = receiver.clone();
            let counted = alive.clone();
            alive.fetch_add(1, Ordering::SeqCst);
            let spawned = std::thread::Builder::new()
                .name(format!("cairn-read-{}-{index}", lane.name()))
                .spawn(move || drain(&receiver, &counted));
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(err) => {
                    alive.fetch_sub(1, Ordering::SeqCst);
                    return Err(ServerError::Task(format!("starting reader threads: {err}")));
                }
            }
        }
        Ok(LaneThreads {
            sender: Some(sender),
            threads: handles,
            alive,
        })
    }
}

/// A reader thread's loop. The guard counts the thread out however it ends, so readiness sees
/// a lane that lost its threads.
fn drain(receiver: &Receiver<Job>, alive: &Arc<AtomicUsize>) {
    struct Alive<'a>(&'a AtomicUsize);
    impl Drop for Alive<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let _alive = Alive(alive);
    while let Ok(job) = receiver.recv() {
        // Jobs catch their own panics (see `ReadPool::run`); this only guards the loop.
        if panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("a read job panicked outside its guard; the reader thread goes on");
        }
    }
}

/// The pool. Dropping it lets the threads finish the queued jobs and exit.
pub struct ReadPool {
    point: LaneThreads,
    scan: LaneThreads,
}

impl ReadPool {
    /// Starts `threads` reader threads per lane.
    pub fn new(threads: usize) -> Result<ReadPool, ServerError> {
        Ok(ReadPool {
            point: LaneThreads::start(Lane::Point, threads)?,
            scan: LaneThreads::start(Lane::Scan, threads)?,
        })
    }

    /// Runs `work` on a reader thread of `lane` and returns its result. A panic in `work`
    /// becomes a 500 `internal` for this request only; if the request is gone before a thread
    /// takes the job, the job is dropped unrun.
    pub async fn run<T, F>(&self, lane: Lane, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    {
        let (reply, outcome) = oneshot::channel();
        // Point reads are too short to be worth a flag (and run on the hottest path).
        let cancel = (lane == Lane::Scan).then(|| CancelOnDrop(Arc::new(AtomicBool::new(false))));
        let flag = cancel.as_ref().map(|cancel| cancel.0.clone());
        let job: Job = Box::new(move || {
            if reply.is_closed() {
                // The request timed out or its client left while the job was queued.
                return;
            }
            let guarded = || panic::catch_unwind(AssertUnwindSafe(work));
            let result = match flag {
                Some(flag) => cairn::query::cancel::scope(flag, guarded),
                None => guarded(),
            }
            .unwrap_or_else(|payload| Err(panicked(lane, payload.as_ref())));
            let _ = reply.send(result);
        });
        let lane_threads = match lane {
            Lane::Point => &self.point,
            Lane::Scan => &self.scan,
        };
        let sender = lane_threads.sender.as_ref().ok_or_else(shutting_down)?;
        match sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    format!("too many {} reads are queued; retry shortly", lane.name()),
                )
                .with_details(json!({ "queued_reads": MAX_QUEUED_READS })))
            }
            Err(TrySendError::Disconnected(_)) => return Err(shutting_down()),
        }
        outcome
            .await
            .map_err(|_| ApiError::internal("a reader thread dropped its job"))?
    }

    /// Reader threads running in each lane (point, scan). Readiness fails when a lane has
    /// none: its reads could only queue up until they time out.
    pub fn alive(&self) -> (usize, usize) {
        (
            self.point.alive.load(Ordering::SeqCst),
            self.scan.alive.load(Ordering::SeqCst),
        )
    }

    /// Whether both lanes still have every thread they started with.
    pub fn serving(&self) -> bool {
        let (point, scan) = self.alive();
        point == self.point.threads.len() && scan == self.scan.threads.len()
    }
}

impl Drop for ReadPool {
    fn drop(&mut self) {
        for lane in [&mut self.point, &mut self.scan] {
            lane.sender.take();
        }
        for lane in [&mut self.point, &mut self.scan] {
            for thread in lane.threads.drain(..) {
                let _ = thread.join();
            }
        }
    }
}

/// Sets its flag when dropped: when the request's future ends, finished or abandoned (a 408,
/// a client that left), a scan still running for it stops.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The 500 for a read that panicked; the panic's message goes to the log only.
fn panicked(lane: Lane, payload: &(dyn std::any::Any + Send)) -> ApiError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".to_string());
    ApiError::internal(format!("a {} read panicked: {message}", lane.name()))
}

fn shutting_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "shutting_down",
        "the server is shutting down",
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Bounds a wait that would hang on a broken pool; not a timing assertion.
    const HANG_GUARD: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn reads_run_on_the_pool_and_return_their_results() {
        let pool = ReadPool::new(2).unwrap();
        for (lane, prefix) in [
            (Lane::Point, "cairn-read-point-"),
            (Lane::Scan, "cairn-read-scan-"),
        ] {
            let name = pool
                .run(lane, || {
                    Ok(std::thread::current().name().map(str::to_string))
                })
                .await
                .unwrap();
            assert!(name.unwrap().starts_with(prefix));
        }
        let err = pool
            .run(Lane::Point, || {
                Err::<(), _>(ApiError::bad_request("x", "y"))
            })
            .await
            .unwrap_err();
        assert_eq!(err.code, "x");
    }

    #[tokio::test]
    async fn a_panicking_read_costs_one_500_and_never_a_thread() {
        let pool = ReadPool::new(2).unwrap();
        // More panics than threads: without containment every thread would be gone.
        for _ in 0..5 {
            for lane in [Lane::Point, Lane::Scan] {
                let err = tokio::time::timeout(
                    HANG_GUARD,
                    pool.run(lane, || -> Result<(), ApiError> { panic!("damaged page") }),
                )
                .await
                .expect("the pool answers")
                .unwrap_err();
                assert_eq!(
                    (err.status, err.code),
                    (StatusCode::INTERNAL_SERVER_ERROR, "internal")
                );
            }
        }
        assert!(pool.serving());
        assert_eq!(pool.alive(), (2, 2));
        let value = tokio::time::timeout(HANG_GUARD, pool.run(Lane::Point, || Ok(7)))
            .await
            .expect("reads are still served")
            .unwrap();
        assert_eq!(value, 7);
    }

    #[tokio::test]
    async fn point_reads_do_not_wait_behind_scans() {
        let pool = ReadPool::new(1).unwrap();
        let (release, blocked) = crossbeam_channel::bounded::<()>(0);
        // Occupy the only scan thread until the point read below has answered.
        let scan = pool.run(Lane::Scan, move || {
            let _ = blocked.recv_timeout(HANG_GUARD);
            Ok(())
        });
        let point = async {
            let value = pool.run(Lane::Point, || Ok(1)).await;
            let _ = release.send(());
            value
        };
        let (scan, point) = tokio::time::timeout(HANG_GUARD, async { tokio::join!(scan, point) })
            .await
            .expect("no deadlock");
        scan.unwrap();
        assert_eq!(point.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_running_scan_is_cancelled_when_its_request_goes_away() {
        let pool = ReadPool::new(1).unwrap();
        let (started, running) = crossbeam_channel::bounded::<()>(1);
        let (stopped, saw) = crossbeam_channel::bounded::<bool>(1);
        let scan = pool.run(Lane::Scan, move || {
            let _ = started.send(());
            let since = std::time::Instant::now();
            while !cairn::query::cancel::is_cancelled() && since.elapsed() < HANG_GUARD {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = stopped.send(cairn::query::cancel::is_cancelled());
            Ok(())
        });
        // Drop the request once its scan is running, as a 408 or a disconnect does.
        tokio::select! {
            _ = scan => panic!("the scan cannot finish before it is cancelled"),
            () = async {
                while running.try_recv().is_err() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            } => {}
        }
        let cancelled = tokio::task::spawn_blocking(move || saw.recv_timeout(HANG_GUARD))
            .await
            .unwrap()
            .expect("the scan ended");
        assert!(cancelled, "the scan saw its cancellation");
        // The thread serves the next scan, outside any cancelled scope.
        let fresh = pool
            .run(Lane::Scan, || Ok(cairn::query::cancel::is_cancelled()))
            .await
            .unwrap();
        assert!(!fresh);
    }

    #[tokio::test]
    async fn jobs_whose_request_is_gone_are_skipped() {
        let pool = ReadPool::new(1).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let (release, blocked) = crossbeam_channel::bounded::<()>(0);
        let busy = pool.run(Lane::Scan, move || {
            let _ = blocked.recv_timeout(HANG_GUARD);
            Ok(())
        });
        let abandoned = {
            let ran = ran.clone();
            pool.run(Lane::Scan, move || {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        };
        let scenario = async {
            // Queue the second job behind the busy one, then drop its request.
            tokio::select! {
                _ = abandoned => panic!("the queued job cannot finish while the lane is busy"),
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            let _ = release.send(());
        };
        let (busy, ()) = tokio::join!(busy, scenario);
        busy.unwrap();
        // A job queued after the abandoned one runs, so the abandoned one was taken first.
        pool.run(Lane::Scan, || Ok(())).await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}
