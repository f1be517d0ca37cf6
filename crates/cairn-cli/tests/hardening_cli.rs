//! The storage-hardening commands as a user runs them: encrypted databases, `check`,
//! `backup`, `backup verify`, `restore --at`, `compact`, `rekey`, `stats`.

mod support;

use support::{cairn, run_err, run_ok};

fn insert_lines(dir: &std::path::Path, key: &[&str], from: u32, to: u32) {
    for i in from..to {
        let doc = format!(r#"{{"_id": {i}, "name": "name-{i}", "ward": {{"floor": 3}}}}"#);
        run_ok(cairn(dir).args(key).args(["insert", "people", &doc]));
    }
}

#[test]
fn backup_verify_restore_and_check_on_an_encrypted_database() {
    let work = tempfile::tempdir().expect("temporary directory");
    let data = work.path().join("db");
    let backups = work.path().join("backups");
    let key_file = work.path().join("key");
    std::fs::write(&key_file, "11".repeat(32)).expect("key file");
    let key_arg = key_file.to_str().expect("utf-8 path");
    let key = ["--key-file", key_arg];
    run_ok(
        cairn(&data)
            .args(key)
            .args(["collection", "create", "people"]),
    );
    insert_lines(&data, &key, 0, 5);
    let (_, stderr) = run_err(cairn(&data).args(["get", "people", "1"]));
    assert!(stderr.contains("encrypted"), "{stderr}");
    run_ok(cairn(&data).args(key).args(["backup"]).arg(&backups));
    insert_lines(&data, &key, 5, 8);
    let out = run_ok(
        cairn(&data)
            .args(key)
            .args(["backup", "--incremental"])
            .arg(&backups),
    );
    assert!(out.starts_with("incremental backup"), "{out}");
    let changes = run_ok(cairn(&data).args(key).args(["changes", "--after", "0"]));
    let seq_after_six = changes
        .lines()
        .find(|line| line.contains(r#""id":6"#) || line.contains(r#""id": 6"#))
        .and_then(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .and_then(|change| change["seq"].as_u64())
        .expect("the insert of 6 is in the change log");
    let out = run_ok(
        cairn(&data)
            .args(key)
            .args(["backup", "verify"])
            .arg(&backups),
    );
    assert!(out.contains("backup chain of 2 pieces verified"), "{out}");
    run_err(cairn(&data).args(["backup", "verify"]).arg(&backups));

    let restored = work.path().join("restored");
    let seq = seq_after_six.to_string();
    run_ok(
        cairn(&data)
            .args(key)
            .args(["restore"])
            .arg(&backups)
            .arg("--to")
            .arg(&restored)
            .args(["--at", &seq]),
    );
    let out = run_ok(cairn(&restored).args(key).args(["export", "people"]));
    assert_eq!(out.lines().count(), 7, "{out}");
    // A point past the backup's end restores everything and says where it stopped.
    let out = run_ok(
        cairn(&data)
            .args(key)
            .args(["restore"])
            .arg(&backups)
            .arg("--to")
            .arg(work.path().join("restored-past-end"))
            .args(["--at", "999999999"]),
    );
    assert!(
        out.contains("past the backup's last commit; stopped at commit"),
        "{out}"
    );
    let out = run_ok(cairn(&restored).args(key).arg("check"));
    assert!(out.starts_with("ok"), "{out}");
    assert!(out.contains("every encrypted block"), "{out}");
    let out = run_ok(cairn(&data).args(key).arg("compact"));
    assert!(out.contains("reclaimed"), "{out}");
    let out = run_ok(cairn(&data).args(key).arg("stats"));
    assert!(out.contains("logical bytes"), "{out}");

    // Rotate to a passphrase; the key file stops working.
    run_ok(
        cairn(&data)
            .args(key)
            .arg("rekey")
            .env("CAIRN_NEW_PASSPHRASE", "hunter2 but longer"),
    );
    let (_, stderr) = run_err(cairn(&data).args(key).args(["get", "people", "1"]));
    assert!(stderr.contains("passphrase"), "{stderr}");
    run_ok(
        cairn(&data)
            .args(["get", "people", "1"])
            .env("CAIRN_PASSPHRASE", "hunter2 but longer"),
    );
}

#[test]
fn check_exits_non_zero_and_names_the_damage_after_a_flipped_byte() {
    let work = tempfile::tempdir().expect("temporary directory");
    let data = work.path().join("db");
    run_ok(cairn(&data).args(["--compression", "off", "collection", "create", "people"]));
    run_ok(cairn(&data).args([
        "--compression",
        "off",
        "insert",
        "people",
        r#"{"_id": 1, "text": "UNMISTAKABLE"}"#,
    ]));
    assert!(run_ok(cairn(&data).arg("check")).starts_with("ok"));
    let path = data.join("data.redb");
    let mut bytes = std::fs::read(&path).expect("data file");
    let at = bytes
        .windows(12)
        .position(|w| w == b"UNMISTAKABLE")
        .expect("document text in the file");
    bytes[at + 3] ^= 0x20;
    std::fs::write(&path, bytes).expect("write data file");
    let (stdout, stderr) = run_err(cairn(&data).arg("check"));
    assert!(
        stderr.contains("problem"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
}

#[test]
fn the_security_profile_refuses_to_run_without_a_key() {
    let work = tempfile::tempdir().expect("temporary directory");
    let data = work.path().join("db");
    let (_, stderr) =
        run_err(cairn(&data).args(["--profile", "security", "collection", "create", "x"]));
    assert!(stderr.contains("CAIRN_PASSPHRASE"), "{stderr}");
    assert!(!data.join("data.redb").exists());
}

#[test]
fn a_damaged_document_is_reported_as_corruption_not_answered() {
    let work = tempfile::tempdir().expect("temporary directory");
    let data = work.path().join("db");
    run_ok(cairn(&data).args(["collection", "create", "people"]));
    run_ok(cairn(&data).args(["insert", "people", r#"{"_id": 1, "name": "marker-rot"}"#]));
    // Flip one byte of every copy of the document (its record and its change record).
    let file = data.join(cairn::DATA_FILE_NAME);
    let mut bytes = std::fs::read(&file).expect("data file");
    let at: Vec<usize> = bytes
        .windows(10)
        .enumerate()
        .filter(|(_, w)| w == b"marker-rot")
        .map(|(i, _)| i + 1)
        .collect();
    assert!(!at.is_empty());
    for i in at {
        bytes[i] = b'Z';
    }
    std::fs::write(&file, bytes).expect("data file");
    let (_, stderr) = run_err(cairn(&data).args(["get", "people", "1"]));
    assert!(
        stderr.contains("corruption in `people`, document `1`"),
        "{stderr}"
    );
    run_err(cairn(&data).arg("check"));
}
