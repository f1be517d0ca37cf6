//! The promises of the storage modes other than `persistent` (whose crash behaviour is pinned
//! in `crash.rs`), as the `cairn` binary delivers them. See `cairn-storage/src/mode.rs`:
//!
//! | mode | pinned here |
//! |---|---|
//! | `memory-only` | documents are served within the process; no file or folder is created; nothing survives |
//! | `memory-first` | a commit acknowledged longer than the flush interval ago survives SIGKILL; what a crash loses is whole commits at the tail |
//! | `hybrid` | the process stays under its page-cache budget plus a fixed allowance while importing and exporting far more data than the budget |

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value as Json;
use support::{cairn, mib, numbered_doc, run_ok, InsertStream, Rng};

const COLLECTION: &str = "c";

#[test]
fn memory_only_shell_serves_documents_and_leaves_no_files() {
    let parent = tempfile::tempdir().expect("temporary directory");
    let dir = parent.path().join("db");
    // memory-only loses everything at exit, so one `shell` process does it all. JSON goes in
    // single quotes: the shell splits lines like a POSIX shell, which would strip double quotes.
    let script = [
        "collection create c",
        r#"insert c '{"_id": 7, "name": "Ada", "tags": ["x", "y"], "n": {"a": 1.5}}'"#,
        r#"insert c '{"name": "no id given"}'"#,
        "get c 7",
        "export c",
        "stats",
    ];
    let output = shell(&dir, &script, true);
    assert_eq!(output.stderr, "", "no command of the script should fail");
    let expected: Json =
        serde_json::from_str(r#"{"_id": 7, "name": "Ada", "tags": ["x", "y"], "n": {"a": 1.5}}"#)
            .expect("valid JSON");
    let docs: Vec<Json> = output
        .stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).expect("document lines are JSON"))
        .collect();
    // `get c 7`, then `export c` with both documents.
    assert_eq!(docs.len(), 3, "stdout: {}", output.stdout);
    assert_eq!(docs[0], expected, "get c 7");
    assert!(docs[1..].contains(&expected), "export holds document 7");
    assert!(
        docs[1..]
            .iter()
            .any(|doc| doc["name"] == "no id given" && doc["_id"].is_object()),
        "export holds the document with a generated id"
    );
    assert!(
        output.stdout.contains("storage mode: memory-only"),
        "stats: {}",
        output.stdout
    );
    assert_no_files(parent.path(), &dir);

    // Nothing survives the process: a new one does not even know the collection.
    let output = shell(&dir, &["get c 7"], false);
    assert!(
        output.stderr.contains("collection `c` does not exist"),
        "a new memory-only process must start empty; stderr: {}",
        output.stderr
    );
    assert_no_files(parent.path(), &dir);
}

struct ShellOutput {
    stdout: String,
    stderr: String,
}

/// Runs a memory-only shell over `script`. A scripted shell exits non-zero when any of its
/// commands failed; `all_succeed` says which outcome the script expects.
fn shell(dir: &Path, script: &[&str], all_succeed: bool) -> ShellOutput {
    let mut child = cairn(dir)
        .args(["--mode", "memory-only", "shell"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning cairn shell");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    for line in script {
        writeln!(stdin, "{line}").expect("writing to the shell");
    }
    drop(stdin);
    let output = child.wait_with_output().expect("waiting for the shell");
    // The shell reports a failing command on stderr and carries on to the end of the script.
    assert_eq!(
        output.status.success(),
        all_succeed,
        "shell exited with {}",
        output.status
    );
    ShellOutput {
        stdout: String::from_utf8(output.stdout).expect("UTF-8 output"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 output"),
    }
}

fn assert_no_files(parent: &Path, dir: &Path) {
    assert!(!dir.exists(), "memory-only created {}", dir.display());
    let entries: Vec<_> = std::fs::read_dir(parent)
        .expect("listing the parent folder")
        .collect();
    assert!(
        entries.is_empty(),
        "memory-only left files next to its folder: {entries:?}"
    );
}

/// The flush interval under test: short, so the test is quick.
const FLUSH_INTERVAL_MS: u64 = 200;

/// How long the test waits after the last acknowledgement before the kill. The promise covers
/// commits acknowledged more than one interval plus one flush's duration before a crash; five
/// intervals leave room for a slow flush on a loaded machine.
const DURABLE_AFTER: Duration = Duration::from_millis(5 * FLUSH_INTERVAL_MS);

/// `memory-first` acknowledges before the commit is durable. Within the flush window, acks may
/// be lost to a crash (see `memory_first_crash_loses_only_whole_commits_at_the_tail`); once
/// the window has passed, they must not be.
#[test]
fn memory_first_acknowledged_commits_survive_sigkill_after_the_flush_interval() {
    const DOCS: u64 = 300;
    let dir = tempfile::tempdir().expect("temporary directory");
    let dir = dir.path();
    let interval = FLUSH_INTERVAL_MS.to_string();
    let mode = [
        "--mode",
        "memory-first",
        "--flush-interval-ms",
        interval.as_str(),
    ];
    run_ok(
        cairn(dir)
            .args(mode)
            .args(["collection", "create", COLLECTION]),
    );

    let start = 1;
    let mut stream = InsertStream::spawn(dir, &mode, COLLECTION, 1, start, DOCS);
    stream.wait_for_acks(DOCS as usize);
    // The process stays alive (its stdin stays open) while the flusher runs.
    std::thread::sleep(DURABLE_AFTER);
    let end = stream.kill();
    assert_eq!(end.acked.len() as u64, DOCS);

    support::assert_check_passes(dir);
    let present = exported_ids(dir, &mode);
    let survived = surviving_prefix(&present, start, DOCS, 1);
    assert_eq!(
        survived, DOCS,
        "acknowledged more than {DURABLE_AFTER:?} before the kill, yet lost"
    );
}

/// Within the flush window a crash may lose acknowledged commits, but only whole ones, and
/// only the latest: what survives is a prefix of the stream ending on a batch boundary, every
/// document intact, the change log agrees with the documents, and what survived an earlier
/// crash survives later ones.
#[test]
fn memory_first_crash_loses_only_whole_commits_at_the_tail() {
    const BATCH: u64 = 10;
    let mut rng = Rng::from_env(0x3E3F);
    let dir = tempfile::tempdir().expect("temporary directory");
    let dir = dir.path();
    let interval = FLUSH_INTERVAL_MS.to_string();
    let mode = [
        "--mode",
        "memory-first",
        "--flush-interval-ms",
        interval.as_str(),
    ];
    run_ok(
        cairn(dir)
            .args(mode)
            .args(["collection", "create", COLLECTION]),
    );

    // (first id, lines sent, documents that survived) per round.
    let mut rounds: Vec<(i64, u64, u64)> = Vec::new();
    for round in 0..3i64 {
        let start = (round + 1) * 1_000_000;
        let mut stream = InsertStream::spawn(dir, &mode, COLLECTION, BATCH as usize, start, 20_000);
        // Long enough to span several flushes, then killed while commits keep coming.
        let acks = BATCH * rng.range(30..120);
        stream.wait_for_acks(acks as usize);
        let end = stream.kill();

        support::assert_check_passes(dir);
        let present = exported_ids(dir, &mode);
        let survived = surviving_prefix(&present, start, end.sent, BATCH);
        let acked = end.acked.len() as u64;
        // For the log only (timings are never asserted): how old the oldest lost
        // acknowledgement was when the kill came, against the promised window of one interval
        // plus one flush.
        let oldest_lost_age = end
            .acked_at
            .get(survived as usize)
            .zip(end.killed_at)
            .map(|(acked_at, killed_at)| killed_at.saturating_duration_since(*acked_at));
        eprintln!(
            "round {round}: {acked} acknowledged, {survived} survived ({} acknowledged ones lost; the oldest was acknowledged {oldest_lost_age:?} before the kill)",
            acked.saturating_sub(survived)
        );
        for &(earlier_start, earlier_sent, earlier_survived) in &rounds {
            let now = surviving_prefix(&present, earlier_start, earlier_sent, BATCH);
            assert_eq!(
                now, earlier_survived,
                "a later crash changed the round starting at {earlier_start}"
            );
        }
        rounds.push((start, end.sent, survived));
        let accounted: u64 = rounds.iter().map(|round| round.2).sum();
        assert_eq!(
            accounted,
            present.len() as u64,
            "documents present that no round wrote"
        );
        let logged: BTreeSet<i64> = support::insert_changes(dir)
            .iter()
            .filter_map(|change| change.id.as_i64())
            .collect();
        assert_eq!(
            present, logged,
            "change log and documents disagree after recovery"
        );
    }
}

/// Ids of the exported documents, each checked to be exactly as `numbered_doc` wrote it.
fn exported_ids(dir: &Path, mode: &[&str]) -> BTreeSet<i64> {
    let mut ids = BTreeSet::new();
    for doc in support::export(dir, mode, COLLECTION) {
        let id = doc["_id"].as_i64().expect("integer ids");
        let expected: Json = serde_json::from_str(&numbered_doc(id)).expect("valid JSON");
        assert_eq!(doc, expected, "document {id} is torn or wrong");
        assert!(ids.insert(id), "document {id} exported twice");
    }
    ids
}

/// Checks that the present ids among `start..start + sent` are `start..start + n` for some
/// `n` that is a multiple of `batch`; returns `n`.
fn surviving_prefix(present: &BTreeSet<i64>, start: i64, sent: u64, batch: u64) -> u64 {
    let ids: Vec<i64> = present.range(start..start + sent as i64).copied().collect();
    let count = ids.len() as u64;
    let prefix: Vec<i64> = (start..start + count as i64).collect();
    assert_eq!(
        ids, prefix,
        "surviving documents are not a prefix of the stream"
    );
    assert_eq!(
        count % batch,
        0,
        "{count} documents survived: not whole batches of {batch}"
    );
    count
}

/// The hybrid page-cache budget under test.
const HYBRID_BUDGET_MIB: u64 = 16;

/// Working memory a `cairn` import or export needs besides its page cache and the process's own
/// floor (binary, libraries, start-up; measured in the test with a command that caches nothing,
/// since the binary grows with every feature): the 1 MiB read buffer, one 1,000-document import
/// batch held as parsed values, its clone in the write set and its change-log records, allocator
/// slack. Measured with the debug binary at about 8–10 MiB; 24 MiB leaves room for allocator
/// variance, and floor + budget + this stays far below what an unbudgeted cache reaches on the
/// same data (the persistent run below, which the test requires to exceed the bound so that it
/// proves the budget matters).
const PROCESS_ALLOWANCE_MIB: u64 = 24;

/// Size of the generated JSONL: the import writes about three times this into the data file
/// (documents, change log, free pages), over 4× the budget, and the documents alone take more
/// than twice the budget. Larger would be more convincing but costs seconds in a debug build.
const IMPORT_FILE_BYTES: u64 = 36 * 1024 * 1024;

/// `hybrid` keeps cached pages under its budget: importing and then exporting far more data
/// than the budget stays under budget + allowance, while the same import in `persistent`
/// mode (1 GiB cache) goes well above that bound.
#[test]
fn hybrid_stays_under_its_memory_budget_while_holding_more_data_than_the_budget() {
    let work = tempfile::tempdir().expect("temporary directory");
    let file = work.path().join("docs.jsonl");
    let mut rng = Rng::from_env(0x4B1D);
    let docs = write_mixed_jsonl(&file, IMPORT_FILE_BYTES, &mut rng);
    let hybrid_dir = work.path().join("hybrid");
    let persistent_dir = work.path().join("persistent");
    let budget = HYBRID_BUDGET_MIB.to_string();
    // Compression off: the point is holding more bytes than the budget, and compressed
    // documents would no longer be.
    let hybrid = [
        "--mode",
        "hybrid",
        "--memory-budget-mb",
        budget.as_str(),
        "--compression",
        "off",
    ];
    // The process's floor: the same binary and flags, opened and idle (a scripted shell kept
    // waiting for input long enough to be sampled), caching nothing.
    let mut floor_child = cairn(&work.path().join("floor"))
        .args(hybrid)
        .arg("shell")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning cairn shell");
    let input = floor_child.stdin.take().expect("stdin is piped");
    let closer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(input);
    });
    let (floor_status, floor) = support::wait_sampling_rss(&mut floor_child);
    closer.join().expect("closing the shell's input");
    assert!(floor_status.success(), "the idle shell failed");
    let bound_bytes = floor.bytes() + (HYBRID_BUDGET_MIB + PROCESS_ALLOWANCE_MIB) * 1024 * 1024;

    // Both imports run side by side; each process's memory is its own.
    let import = |dir: &Path, mode: &[&str]| {
        let mut child = cairn(dir)
            .args(mode)
            .args(["import", COLLECTION])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning cairn import");
        let (status, peak) = support::wait_sampling_rss(&mut child);
        let output = child.wait_with_output().expect("collecting import output");
        assert!(
            status.success(),
            "import ({mode:?}) failed with {status}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            stdout.contains(&format!("imported {docs} documents")),
            "import said: {stdout}"
        );
        peak
    };
    let (hybrid_import, persistent_import) = std::thread::scope(|scope| {
        let persistent = scope.spawn(|| {
            import(
                &persistent_dir,
                &["--mode", "persistent", "--compression", "off"],
            )
        });
        let hybrid = import(&hybrid_dir, &hybrid);
        (hybrid, persistent.join().expect("persistent import thread"))
    });

    // The database holds the full data, far more than the budget.
    let (documents, collection_bytes) = collection_stats(&hybrid_dir, &hybrid);
    assert_eq!(documents, docs, "documents after import");
    let file_bytes = std::fs::metadata(hybrid_dir.join("data.redb"))
        .expect("hybrid data file")
        .len();
    let budget_bytes = HYBRID_BUDGET_MIB * 1024 * 1024;
    assert!(
        file_bytes > 4 * budget_bytes,
        "data file is only {}",
        mib(file_bytes)
    );
    assert!(
        collection_bytes > 2 * budget_bytes,
        "documents take only {}",
        mib(collection_bytes)
    );

    // A full read pass under the same budget.
    let mut child = cairn(&hybrid_dir)
        .args(hybrid)
        .args(["export", COLLECTION])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning cairn export");
    let stdout = child.stdout.take().expect("stdout is piped");
    let counter =
        std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).count());
    let (status, hybrid_export) = support::wait_sampling_rss(&mut child);
    assert!(status.success(), "export failed with {status}");
    let exported = counter.join().expect("line counter thread") as u64;
    assert_eq!(exported, docs, "documents exported");

    eprintln!(
        "{docs} documents, data file {}, collection {}; peak RSS: process floor {}, persistent import {}, hybrid import {}, hybrid export {} (bound {}; samples {}/{}/{})",
        mib(file_bytes),
        mib(floor.bytes()),
        mib(collection_bytes),
        mib(persistent_import.bytes()),
        mib(hybrid_import.bytes()),
        mib(hybrid_export.bytes()),
        mib(bound_bytes),
        persistent_import.samples,
        hybrid_import.samples,
        hybrid_export.samples,
    );
    assert!(
        persistent_import.bytes() > bound_bytes,
        "the persistent import peaked at {}, under the hybrid bound {}: the data set is too small to show the budget matters",
        mib(persistent_import.bytes()),
        mib(bound_bytes)
    );
    assert!(
        hybrid_import.bytes() < bound_bytes,
        "hybrid import peaked at {}, over budget + allowance {}",
        mib(hybrid_import.bytes()),
        mib(bound_bytes)
    );
    assert!(
        hybrid_export.bytes() < bound_bytes,
        "hybrid export peaked at {}, over budget + allowance {}",
        mib(hybrid_export.bytes()),
        mib(bound_bytes)
    );
}

/// (documents, bytes on disk) of the collection, from `cairn stats`.
fn collection_stats(dir: &Path, mode: &[&str]) -> (u64, u64) {
    let out = run_ok(cairn(dir).args(mode).arg("stats"));
    let row = out
        .lines()
        .find(|line| line.split_whitespace().next() == Some(COLLECTION))
        .unwrap_or_else(|| panic!("no row for `{COLLECTION}` in stats:\n{out}"));
    let fields: Vec<u64> = row
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().expect("numeric stats column"))
        .collect();
    assert_eq!(fields.len(), 2, "stats row: {row}");
    (fields[0], fields[1])
}

/// Writes about `target_bytes` of JSON lines with a mix of shapes; returns how many.
///
/// A third of the documents get no `_id` (a generated UUID), a third an integer, a third a
/// string. Each has strings with escapes and non-ASCII text, integers over the full i64 range,
/// floats, booleans, nulls, arrays, nested objects and a blob of 0–2,000 bytes; one in 997
/// carries a 64 KiB string, which redb stores on overflow pages.
fn write_mixed_jsonl(path: &Path, target_bytes: u64, rng: &mut Rng) -> u64 {
    const WORDS: [&str; 10] = [
        "alpha",
        "βeta",
        "gamma",
        "délta",
        "cairn",
        "石",
        "river",
        r#"quo\"ted"#,
        r#"tab\tbed"#,
        r#"line\nbreak"#,
    ];
    let alphabet: Vec<u8> = (0..4096)
        .map(|_| {
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_"
                [rng.range(0..64) as usize]
        })
        .collect();
    let alphabet = String::from_utf8(alphabet).expect("ASCII");
    let big = "Z".repeat(64 * 1024);
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(path).expect("creating the JSONL file"));
    let (mut written, mut count) = (0u64, 0u64);
    let mut line = String::new();
    while written < target_bytes {
        line.clear();
        line.push('{');
        match count % 3 {
            0 => {}
            1 => line.push_str(&format!(r#""_id":{count},"#)),
            _ => line.push_str(&format!(r#""_id":"k{count}","#)),
        }
        let mut word = || WORDS[rng.range(0..WORDS.len() as u64) as usize];
        let name: Vec<&str> = (0..1 + count % 6).map(|_| word()).collect();
        let tags: Vec<String> = (0..count % 5).map(|_| format!(r#""{}""#, word())).collect();
        let label = word();
        line.push_str(&format!(
            r#""name":"{}","n":{},"f":{:?},"ok":{},"tags":[{}],"nested":{{"level":{},"inner":{{"points":[{},{}],"label":"{label}"}}}}"#,
            name.join(" "),
            rng.next_u64() as i64,
            (rng.range(0..2_000_000) as f64) / 1000.0 - 1000.0,
            count % 2 == 0,
            tags.join(","),
            count % 10,
            rng.range(0..1000),
            rng.range(0..1000),
        ));
        if count % 7 == 0 {
            line.push_str(r#","missing":null"#);
        }
        let blob_len = rng.range(0..2000) as usize;
        let blob_at = rng.range(0..(alphabet.len() - blob_len) as u64) as usize;
        line.push_str(&format!(
            r#","blob":"{}""#,
            &alphabet[blob_at..blob_at + blob_len]
        ));
        if count % 997 == 0 {
            line.push_str(&format!(r#","big":"{big}""#));
        }
        line.push_str("}\n");
        out.write_all(line.as_bytes())
            .expect("writing the JSONL file");
        written += line.len() as u64;
        count += 1;
    }
    out.flush().expect("writing the JSONL file");
    count
}

#[test]
fn the_shell_refuses_what_cannot_run_inside_it_instead_of_freezing() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("db");
    // `insert c` without a document used to read the rest of the script (at a terminal: wait
    // forever) as documents; `serve` and `bench` were offered though they cannot run here.
    let out = shell(
        &dir,
        &[
            "collection create c",
            "insert c",
            r#"insert c {"_id": 1}"#,
            "serve",
            "help",
            "get c 1",
        ],
        false,
    );
    assert!(
        out.stderr.contains("give the document on the line"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("`serve` does not run inside the shell"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains(r#"{"_id":1}"#), "{}", out.stdout);
    let help = out.stdout.clone() + &out.stderr;
    assert!(help.contains("Leave the shell"), "{help}");
    assert!(!help.contains("  serve "), "{help}");
    assert!(!help.contains("  bench "), "{help}");
}
