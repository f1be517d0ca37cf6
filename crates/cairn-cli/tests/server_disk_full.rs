//! A full disk through the HTTP API: writes answer 507 `disk_full` and `/ready` 503
//! `disk_full` while it lasts; once space is freed, writes succeed again without a restart.
//!
//! Method: `cairn serve` runs on a data folder inside a small tmpfs (the tests run as root on
//! the CI machines; where mounting is refused the test says so and returns) that a filler file
//! mostly occupies; documents of 32 KiB go in until a write is refused, then the filler is
//! removed.

mod server_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use server_support::Server;

/// Size of the scratch filesystem: 24 MiB, room for the server's files and some documents.
const FILESYSTEM_BYTES: u64 = 24 << 20;
const FILLER_BYTES: usize = 8 << 20;
/// Documents tried before giving up on filling the disk: far more than fit.
const MAX_DOCUMENTS: usize = 2_000;

/// A tmpfs mounted for the test's lifetime.
struct Mount(PathBuf);

impl Mount {
    fn new(dir: &Path) -> Option<Mount> {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={FILESYSTEM_BYTES}")])
            .arg("tmpfs")
            .arg(dir)
            .status()
            .ok()?;
        status.success().then(|| Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// 32 KiB of hex digits that compression cannot shrink much (xorshift from `seed`).
fn noise(seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..32 << 10)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b"0123456789abcdef"[(state % 16) as usize])
        })
        .collect()
}

#[test]
fn a_full_disk_answers_507_and_writes_resume_once_space_is_freed() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let Some(mount) = Mount::new(scratch.path()) else {
        eprintln!("skipped: cannot mount a tmpfs here (not root?)");
        return;
    };
    let filler = mount.0.join("filler");
    std::fs::write(&filler, vec![1u8; FILLER_BYTES]).expect("filler");
    // The write-ahead log holds commits until a checkpoint copies them into the data file,
    // and the reopen after the full disk replays it there first: on a 24 MiB disk,
    // checkpoints must come often enough for log and replay to fit beside each other.
    let server = Server::start(&mount.0.join("db"), &["--wal-checkpoint-mb", "1"]);
    let http = server.root();
    assert_eq!(http.post("/v1/collections", r#"{"name": "c"}"#).status, 201);
    let mut refused = None;
    for i in 0..MAX_DOCUMENTS {
        let reply = http.post(
            "/v1/collections/c/documents",
            &format!(r#"{{"_id": {i}, "padding": "{}"}}"#, noise(i as u64)),
        );
        if reply.status != 201 {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("the disk filled up");
    refused.assert_error(507, "disk_full");
    http.get("/ready").assert_error(503, "disk_full");
    std::fs::remove_file(&filler).expect("free space");
    let after = http.post(
        "/v1/collections/c/documents",
        &format!(r#"{{"_id": "after", "padding": "{}"}}"#, noise(7)),
    );
    assert_eq!(after.status, 201, "{}", after.text);
    assert_eq!(http.get("/ready").status, 200);
    assert_eq!(http.get("/v1/collections/c/documents/0").status, 200);
    drop(server);
}
