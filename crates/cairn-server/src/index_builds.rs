//! Index builds this server ran or is running, with how far each got: what
//! `GET /v1/collections/{collection}/indexes/{name}/build` answers while `POST .../indexes`
//! builds (in the request, or in the background with `?background=true`).
//!
//! The engine's builders report progress through a callback (documents scanned of the
//! snapshot's total, entries written), as `cairn index create` shows in its progress bar; the
//! registry keeps the latest report per (collection, index). A build in progress is never
//! forgotten; finished ones (ready or failed, with the error a synchronous request would have
//! answered) are kept for polling clients that look after the end, the oldest dropped beyond
//! [`MAX_FINISHED_INDEX_BUILDS`]. Memory is a few hundred bytes per record. The registry lives
//! in memory: a restart forgets it (an interrupted build is resumed at startup by the engine
//! and shows as `ready: false` in the index list until done).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::api_error::{ApiError, ErrorObject};
use crate::limits::MAX_FINISHED_INDEX_BUILDS;

/// Where a build stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BuildState {
    /// Still reading documents or writing entries.
    Building,
    /// Finished: the index is complete and queries use it.
    Ready,
    /// Failed (a duplicate in a unique index, say): the index was dropped again; `error` says
    /// why.
    Failed,
}

/// An index build and how far it got.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BuildStatus {
    /// The collection.
    pub collection: String,
    /// The index.
    pub index: String,
    /// Building, ready or failed.
    pub state: BuildState,
    /// Documents read so far (reported every 10,000 documents and at the end).
    pub scanned: u64,
    /// Documents in the collection when the build started.
    pub total: u64,
    /// Entries written so far (B-tree and hash indexes; vectors inserted for vector indexes;
    /// 0 where the builder does not report it).
    pub written: u64,
    /// When the build started (RFC 3339, UTC).
    pub started_at: String,
    /// When it finished (absent while building).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Why it failed: the error a request waiting for the build would have answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

/// One report of a builder's progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Documents read so far.
    pub scanned: u64,
    /// Documents to read, when the builder knows (`None`: keep the count taken at the start).
    pub total: Option<u64>,
    /// Entries written so far.
    pub written: u64,
}

#[derive(Debug, Default)]
struct Inner {
    builds: HashMap<(String, String), BuildStatus>,
    /// Finished builds, oldest first, for eviction.
    finished: std::collections::VecDeque<(String, String)>,
}

/// The registry of index builds (one per server).
#[derive(Debug, Default)]
pub struct IndexBuilds {
    inner: Mutex<Inner>,
}

fn now() -> String {
    cairn::DateTime::now().to_rfc3339().unwrap_or_default()
}

impl IndexBuilds {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves at worst one stale record: keep going.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a build about to start; 409 `index_build_in_progress` when one of the same
    /// index is still running (a second would fail on the name anyway, and its record would
    /// hide the first one's progress).
    pub fn start(
        &self,
        collection: &str,
        index: &str,
        total: u64,
    ) -> Result<BuildStatus, ApiError> {
        let key = (collection.to_string(), index.to_string());
        let mut inner = self.lock();
        if let Some(running) = inner.builds.get(&key) {
            if running.state == BuildState::Building {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "index_build_in_progress",
                    format!("index `{index}` of `{collection}` is being built already"),
                )
                .with_details(json!({ "collection": collection, "index": index })));
            }
        }
        inner.finished.retain(|k| k != &key);
        let status = BuildStatus {
            collection: collection.to_string(),
            index: index.to_string(),
            state: BuildState::Building,
            scanned: 0,
            total,
            written: 0,
            started_at: now(),
            finished_at: None,
            error: None,
        };
        inner.builds.insert(key, status.clone());
        Ok(status)
    }

    /// Records a progress report of a running build.
    pub fn progress(&self, collection: &str, index: &str, progress: Progress) {
        let key = (collection.to_string(), index.to_string());
        if let Some(status) = self.lock().builds.get_mut(&key) {
            status.scanned = progress.scanned;
            status.written = progress.written;
            if let Some(total) = progress.total {
                status.total = total;
            }
        }
    }

    /// Records the end of a build: ready with the index's entry count, or failed with the
    /// error its request answers.
    pub fn finish(&self, collection: &str, index: &str, outcome: Result<u64, &ApiError>) {
        let key = (collection.to_string(), index.to_string());
        let mut inner = self.lock();
        let Some(status) = inner.builds.get_mut(&key) else {
            return;
        };
        status.finished_at = Some(now());
        match outcome {
            Ok(entries) => {
                status.state = BuildState::Ready;
                // Builders report every 10,000 documents; the end read them all.
                status.scanned = status.scanned.max(status.total);
                status.written = status.written.max(entries);
            }
            Err(err) => {
                status.state = BuildState::Failed;
                status.error = Some(err.body().error);
            }
        }
        inner.finished.push_back(key);
        while inner.finished.len() > MAX_FINISHED_INDEX_BUILDS {
            if let Some(oldest) = inner.finished.pop_front() {
                inner.builds.remove(&oldest);
            }
        }
    }

    /// Runs `build` (registered with [`IndexBuilds::start`]) with a progress callback that
    /// feeds the record, then records how it ended (`entries` counts a success's entries).
    /// A build that ends without an outcome (a panic in a builder) is recorded as failed, so
    /// its record never says "building" for ever.
    pub fn track<T>(
        &self,
        collection: &str,
        index: &str,
        entries: impl Fn(&T) -> u64,
        build: impl FnOnce(&mut dyn FnMut(Progress)) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut guard = Unfinished {
            builds: self,
            collection,
            index,
            armed: true,
        };
        let outcome = build(&mut |progress| self.progress(collection, index, progress));
        guard.armed = false;
        self.finish(collection, index, outcome.as_ref().map(&entries));
        outcome
    }

    /// The latest record of the build of `index` on `collection`.
    pub fn status(&self, collection: &str, index: &str) -> Option<BuildStatus> {
        self.lock()
            .builds
            .get(&(collection.to_string(), index.to_string()))
            .cloned()
    }
}

/// Marks a build failed when dropped armed (see [`IndexBuilds::track`]).
struct Unfinished<'a> {
    builds: &'a IndexBuilds,
    collection: &'a str,
    index: &'a str,
    armed: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if self.armed {
            let err = ApiError::internal("the index build stopped unexpectedly");
            self.builds.finish(self.collection, self.index, Err(&err));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_is_tracked_from_start_to_end_and_old_ones_are_forgotten() {
        let builds = IndexBuilds::default();
        let started = builds.start("c", "i", 30_000).unwrap();
        assert_eq!(started.state, BuildState::Building);
        builds
            .start("c", "i", 1)
            .expect_err("a second build of a running one is refused");
        builds.progress(
            "c",
            "i",
            Progress {
                scanned: 10_000,
                total: Some(30_000),
                written: 10_000,
            },
        );
        let midway = builds.status("c", "i").unwrap();
        assert_eq!((midway.scanned, midway.total), (10_000, 30_000));
        builds.finish("c", "i", Ok(30_000));
        let done = builds.status("c", "i").unwrap();
        assert_eq!(done.state, BuildState::Ready);
        assert_eq!((done.scanned, done.written), (30_000, 30_000));
        assert!(done.finished_at.is_some());

        let failure = ApiError::new(StatusCode::CONFLICT, "unique_violation", "duplicate");
        builds.start("c", "u", 2).unwrap();
        builds.finish("c", "u", Err(&failure));
        let failed = builds.status("c", "u").unwrap();
        assert_eq!(failed.state, BuildState::Failed);
        assert_eq!(failed.error.unwrap().code, "unique_violation");

        builds.start("c", "p", 5).unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            builds.track(
                "c",
                "p",
                |_: &u64| 0,
                |_| -> Result<u64, ApiError> { panic!("a builder bug") },
            )
        }));
        assert!(panicked.is_err());
        assert_eq!(builds.status("c", "p").unwrap().state, BuildState::Failed);

        for n in 0..MAX_FINISHED_INDEX_BUILDS {
            let name = format!("x{n}");
            builds.start("c", &name, 0).unwrap();
            builds.finish("c", &name, Ok(0));
        }
        assert!(builds.status("c", "i").is_none(), "the oldest is forgotten");
        assert!(builds
            .status("c", &format!("x{}", MAX_FINISHED_INDEX_BUILDS - 1))
            .is_some());
    }
}
