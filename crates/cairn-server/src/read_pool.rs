//! A small, fixed pool of threads for short blocking reads (point gets, credential lookups,
//! listing collections).
//!
//! Why not `spawn_blocking` for these: a point read from the page cache takes microseconds,
//! while handing it to Tokio's elastic blocking pool wakes one of many parked threads per
//! request and then wakes the async worker back — two context switches that, measured with
//! `cairn bench http`, cost more than half the throughput of a GET. A few long-lived threads
//! draining one queue stay awake under load and take jobs without being woken one by one.
//! Reads that do go to disk (hybrid mode, cold pages) still block only these threads, never
//! the async runtime. Writes, which wait for a commit, keep using `spawn_blocking`.

use std::thread::JoinHandle;

use axum::http::StatusCode;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use tokio::sync::oneshot;

use crate::api_error::ApiError;
use crate::error::ServerError;

/// Reads queued for the pool at most: 4,096. Beyond it requests are refused with 503 rather
/// than queued without bound (the request limit normally stops them long before).
const MAX_QUEUED_READS: usize = 4_096;

/// Reader threads when not configured: the core count, at least 2, so one slow disk read
/// never stalls all reads.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

type Job = Box<dyn FnOnce() + Send>;

/// The pool. Dropping it lets the threads finish the queued jobs and exit.
pub struct ReadPool {
    sender: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl ReadPool {
    /// Starts `threads` reader threads.
    pub fn new(threads: usize) -> Result<ReadPool, ServerError> {
        let (sender, receiver) = crossbeam_channel::bounded::<Job>(MAX_QUEUED_READS);
        let mut handles = Vec::with_capacity(threads);
        for index in 0..threads.max(1) {
            let receiver: Receiver<Job> = receiver.clone();
            let handle = std::thread::Builder::new()
                .name(format!("cairn-read-{index}"))
                .spawn(move || {
                    while let Ok(job) = receiver.recv() {
                        job();
                    }
                })
                .map_err(|err| ServerError::Task(format!("starting reader threads: {err}")))?;
            handles.push(handle);
        }
        Ok(ReadPool {
            sender: Some(sender),
            threads: handles,
        })
    }

    /// Runs `work` on a reader thread and returns its result.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    {
        let (reply, outcome) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(work());
        });
        let sender = self.sender.as_ref().ok_or_else(shutting_down)?;
        match sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "too many reads are queued; retry shortly",
                ))
            }
            Err(TrySendError::Disconnected(_)) => return Err(shutting_down()),
        }
        outcome
            .await
            .map_err(|_| ApiError::internal("a reader thread dropped its job"))?
    }
}

impl Drop for ReadPool {
    fn drop(&mut self) {
        self.sender.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
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
    use super::*;

    #[tokio::test]
    async fn reads_run_on_the_pool_and_return_their_results() {
        let pool = ReadPool::new(2).unwrap();
        let name = pool
            .run(|| Ok(std::thread::current().name().map(str::to_string)))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("cairn-read-"));
        let err = pool
            .run(|| Err::<(), _>(ApiError::bad_request("x", "y")))
            .await
            .unwrap_err();
        assert_eq!(err.code, "x");
    }
}
