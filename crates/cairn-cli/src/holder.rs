//! Who holds a data folder: `cairn serve` leaves a small note in the folder while it runs, so
//! a command that finds the folder locked can say which server holds it and what to do instead
//! of only "already open in another process".
//!
//! The note is advisory: the lock itself is the storage engine's file lock. A note left by a
//! killed server is recognised as stale (its process is gone) and ignored.

use std::path::{Path, PathBuf};

/// The note's file name inside the data folder.
pub const HOLDER_FILE_NAME: &str = "cairn-serve.json";

/// What a running server wrote about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The server's process id.
    pub pid: u32,
    /// Where it listens (`http://127.0.0.1:7878`).
    pub url: String,
}

fn note_path(data_dir: &Path) -> PathBuf {
    data_dir.join(HOLDER_FILE_NAME)
}

/// Writes the note for this process; the returned guard removes it when dropped (a clean stop).
pub fn announce(data_dir: &Path, url: &str) -> NoteGuard {
    let text = serde_json::json!({ "pid": std::process::id(), "url": url }).to_string();
    // Only a courtesy for other commands' error messages: failing to write it must not stop
    // the server.
    let written = std::fs::write(note_path(data_dir), text).is_ok();
    NoteGuard {
        path: written.then(|| note_path(data_dir)),
    }
}

/// Removes the note on drop.
pub struct NoteGuard {
    path: Option<PathBuf>,
}

impl Drop for NoteGuard {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The server holding `data_dir`, if a note names a process that is still alive.
pub fn current(data_dir: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(note_path(data_dir)).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let pid = u32::try_from(json.get("pid")?.as_u64()?).ok()?;
    let url = json.get("url")?.as_str()?.to_string();
    // /proc/PID exists while the process does (Linux); elsewhere the note is trusted.
    let alive = !Path::new("/proc").exists() || Path::new(&format!("/proc/{pid}")).exists();
    alive.then_some(Holder { pid, url })
}

/// The message for a folder whose file lock another process holds.
pub fn locked_message(data_dir: &Path) -> String {
    match current(data_dir) {
        Some(holder) => format!(
            "the database at {} is in use by `cairn serve` (pid {}, {}): stop that server \
             (Ctrl-C or `kill {}`) to use this command, or go through its HTTP API",
            data_dir.display(),
            holder.pid,
            holder.url,
            holder.pid
        ),
        None => format!(
            "the database at {} is in use by another process (a running `cairn serve` or another \
             `cairn` command): stop it to use this command, or go through the server's HTTP API",
            data_dir.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_names_the_live_server_and_goes_away_with_its_guard() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(current(dir.path()), None);
        let guard = announce(dir.path(), "http://127.0.0.1:1");
        let holder = current(dir.path()).unwrap();
        assert_eq!(holder.pid, std::process::id());
        assert!(locked_message(dir.path()).contains("http://127.0.0.1:1"));
        drop(guard);
        assert_eq!(current(dir.path()), None);
        assert!(locked_message(dir.path()).contains("another process"));
    }

    #[test]
    fn a_stale_note_from_a_dead_process_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        // Process ids are below 2^22 on Linux; this one cannot be alive.
        std::fs::write(
            dir.path().join(HOLDER_FILE_NAME),
            r#"{"pid": 4294967295, "url": "http://x"}"#,
        )
        .unwrap();
        assert_eq!(current(dir.path()), None);
    }
}
