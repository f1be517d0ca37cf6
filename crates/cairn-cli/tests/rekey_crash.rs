//! `cairn rekey --reencrypt` killed with SIGKILL half way: the database must reopen readable
//! and complete (both data keys are in the keyring until the pass ends), accept writes, and a
//! second `cairn rekey --reencrypt` must finish the rotation so that no block of the data file
//! is left under the old data key.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{cairn, run_ok, sigkill};

/// Bytes of one slot of an encrypted data file (`cairn_storage::SLOT_BYTES`): an 8-byte head
/// whose high 16 bits name the data key, a 12-byte nonce, 4 KiB of ciphertext, a 16-byte tag.
const SLOT_BYTES: usize = 8 + 12 + 4096 + 16;

/// The data-key ids named by the written slots of the data file.
fn slot_key_ids(data: &Path) -> Vec<u16> {
    let bytes = std::fs::read(data.join("data.redb")).expect("data file");
    bytes
        .chunks_exact(SLOT_BYTES)
        .filter(|slot| slot.iter().any(|&b| b != 0))
        .map(|slot| {
            let mut head = [0u8; 8];
            head.copy_from_slice(&slot[..8]);
            (u64::from_le_bytes(head) >> 48) as u16
        })
        .collect()
}

/// `cairn check` (checksums, every block authenticated, every record and index) says ok; a
/// note that the file was recovered after the kill is expected.
fn check_passes(data: &Path, key: &[&str]) {
    let out = run_ok(cairn(data).args(key).arg("check"));
    let verdict = out
        .lines()
        .find(|line| !line.starts_with("note: the database was not closed cleanly"));
    assert!(
        verdict.is_some_and(|line| line.starts_with("ok")),
        "unexpected `check` output: {out}"
    );
}

#[test]
fn a_reencryption_killed_half_way_reopens_complete_and_finishes_on_the_next_run() {
    let work = tempfile::tempdir().expect("temporary directory");
    let data = work.path().join("db");
    let key_file = work.path().join("key");
    std::fs::write(&key_file, "22".repeat(32)).expect("key file");
    let key = ["--key-file", key_file.to_str().expect("utf-8 path")];
    let docs = work.path().join("docs.jsonl");
    let lines: Vec<String> = (0..1_000)
        .map(|i| {
            format!(
                r#"{{"_id": {i}, "text": "{}"}}"#,
                format!("row {i} ").repeat(60)
            )
        })
        .collect();
    std::fs::write(&docs, lines.join("\n")).expect("documents file");
    run_ok(
        cairn(&data)
            .args(key)
            .args(["--compression", "off", "import", "c"])
            .arg(&docs),
    );
    let before = run_ok(cairn(&data).args(key).args(["export", "c"]));
    assert_eq!(before.lines().count(), 1_000);
    assert!(slot_key_ids(&data).iter().all(|&id| id == 1));

    // One block per chunk: hundreds of chunks, each synced, so the kill lands mid-pass.
    let mut child = cairn(&data)
        .args(key)
        .args(["rekey", "--reencrypt", "--chunk-blocks", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning cairn rekey");
    let journal = data.join("rekey.journal");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !journal.exists() {
        assert!(Instant::now() < deadline, "the rotation never started");
        assert!(
            child.try_wait().expect("polling the child").is_none(),
            "cairn rekey ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    sigkill(&mut child);
    let ids = slot_key_ids(&data);
    assert!(
        ids.contains(&1) && ids.contains(&2),
        "the kill should leave blocks under both keys"
    );

    check_passes(&data, &key);
    assert_eq!(run_ok(cairn(&data).args(key).args(["export", "c"])), before);
    run_ok(cairn(&data).args(key).args([
        "insert",
        "c",
        r#"{"_id": "after-crash", "text": "written while the rotation was unfinished"}"#,
    ]));

    let out = run_ok(cairn(&data).args(key).args(["rekey", "--reencrypt"]));
    assert!(
        out.contains("finished an interrupted re-encryption"),
        "{out}"
    );
    assert!(out.contains("data key 2"), "{out}");
    let ids = slot_key_ids(&data);
    assert!(!ids.is_empty() && ids.iter().all(|&id| id == 2), "{ids:?}");
    assert!(!journal.exists());
    check_passes(&data, &key);
    let after = run_ok(cairn(&data).args(key).args(["export", "c"]));
    assert_eq!(after.lines().count(), 1_001);
    assert!(after.contains("after-crash"));
    for line in before.lines() {
        assert!(after.contains(line));
    }
}
