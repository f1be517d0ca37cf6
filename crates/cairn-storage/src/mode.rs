//! The four storage modes and exactly what each promises.

use std::time::Duration;

/// How often a `memory-first` database makes its acknowledged commits durable, unless configured.
///
/// One second bounds the loss window to what an interactive user would call "just now" while
/// letting a busy writer amortise one fsync over every commit of that second.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Memory a `hybrid` database may use for cached pages when no budget is given: 256 MiB.
pub const DEFAULT_HYBRID_MEMORY_BUDGET_BYTES: usize = 256 * 1024 * 1024;

/// Page-cache size for `persistent` and `memory-first`: 1 GiB, redb's own default, which keeps a
/// working set of a few million small documents hot without a configured budget.
pub(crate) const DEFAULT_CACHE_BYTES: usize = 1024 * 1024 * 1024;

/// Where data lives and when a commit counts as safe. Chosen per database.
///
/// | mode | files | a commit is acknowledged when | after a crash / power loss |
/// |---|---|---|---|
/// | `Persistent` | yes | it is on stable storage (fsync) | every acknowledged commit is present |
/// | `MemoryFirst` | yes | it is visible in memory | commits acknowledged more than `flush_interval` (plus one flush's duration) before the crash are present; later ones may be lost, always as whole commits, never half |
/// | `Hybrid` | yes | it is on stable storage (fsync) | as `Persistent`; in addition, memory for cached pages stays under `memory_budget_bytes` and cold data is read from disk |
/// | `MemoryOnly` | none | it is visible in memory | nothing survives the process |
///
/// In every mode a commit is atomic: a reader, or a reopened database, sees all of it or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageMode {
    /// Every acknowledged commit survives a crash or power loss.
    Persistent,
    /// Commits are acknowledged before they are durable; a background flush makes them durable
    /// every `flush_interval`.
    MemoryFirst {
        /// Upper bound on how long an acknowledged commit stays non-durable.
        flush_interval: Duration,
    },
    /// Durable like `Persistent`, with a hard budget for cached pages: hot pages stay in memory,
    /// cold data stays on disk.
    Hybrid {
        /// Bytes of page cache (reads and pending writes together) the store may hold.
        memory_budget_bytes: usize,
    },
    /// No files at all; everything lives in this process's memory.
    MemoryOnly,
}

impl StorageMode {
    /// The stable name used in configuration files, the CLI and `stats` output.
    pub fn name(&self) -> &'static str {
        match self {
            StorageMode::Persistent => "persistent",
            StorageMode::MemoryFirst { .. } => "memory-first",
            StorageMode::Hybrid { .. } => "hybrid",
            StorageMode::MemoryOnly => "memory-only",
        }
    }

    /// Parses a mode name (`persistent`, `memory-first`, `hybrid`, `memory-only`) with default
    /// parameters.
    pub fn from_name(name: &str) -> Option<StorageMode> {
        match name {
            "persistent" => Some(StorageMode::Persistent),
            "memory-first" => Some(StorageMode::MemoryFirst {
                flush_interval: DEFAULT_FLUSH_INTERVAL,
            }),
            "hybrid" => Some(StorageMode::Hybrid {
                memory_budget_bytes: DEFAULT_HYBRID_MEMORY_BUDGET_BYTES,
            }),
            "memory-only" => Some(StorageMode::MemoryOnly),
            _ => None,
        }
    }

    /// Whether this mode keeps a data file.
    pub fn has_files(&self) -> bool {
        !matches!(self, StorageMode::MemoryOnly)
    }

    /// Whether each commit is made durable before it is acknowledged.
    pub fn durable_commits(&self) -> bool {
        matches!(self, StorageMode::Persistent | StorageMode::Hybrid { .. })
    }

    /// Bytes of page cache the storage engine may use in this mode.
    pub(crate) fn cache_bytes(&self) -> usize {
        match self {
            StorageMode::Hybrid {
                memory_budget_bytes,
            } => *memory_budget_bytes,
            _ => DEFAULT_CACHE_BYTES,
        }
    }
}

impl std::fmt::Display for StorageMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in ["persistent", "memory-first", "hybrid", "memory-only"] {
            let mode = StorageMode::from_name(name).map(|m| m.name());
            assert_eq!(mode, Some(name));
        }
        assert_eq!(StorageMode::from_name("fast"), None);
    }

    #[test]
    fn only_memory_only_has_no_files() {
        assert!(!StorageMode::MemoryOnly.has_files());
        assert!(StorageMode::Persistent.has_files());
    }
}
