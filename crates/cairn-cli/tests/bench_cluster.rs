//! `cairn bench cluster` at a tiny scale, without etcd: the command starts three real `cairn
//! serve` nodes, runs every phase and the failover, prints every row with Cairn's figures, says
//! that etcd was not run, and leaves no node running.

use std::process::Command;

const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

/// The cells of the Markdown row whose first cell starts with `label`.
fn row<'a>(table: &'a str, label: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|line| line.starts_with(&format!("| {label}")))
        .unwrap_or_else(|| panic!("no row {label:?} in:\n{table}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

#[test]
fn the_cluster_bench_runs_every_phase_without_etcd() {
    let dir = tempfile::Builder::new()
        .prefix("bench-cluster-")
        .tempdir()
        .expect("temporary folder");
    let output = Command::new(CAIRN)
        .args([
            "bench",
            "cluster",
            "--seconds",
            "0.3",
            "--read-clients",
            "4",
        ])
        .arg("--etcd")
        .arg(dir.path().join("no-etcd-here"))
        .arg("--dir")
        .arg(dir.path())
        .env_remove("CAIRN_DATA")
        .output()
        .expect("running cairn bench cluster");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("etcd: not run"), "{stdout}");
    for (label, clients) in [
        ("strong writes", "1"),
        ("linearizable reads", "4"),
        ("local (etcd: serializable) reads", "4"),
    ] {
        let cells = row(&stdout, label);
        assert_eq!(cells[1], clients, "{stdout}");
        let rate: f64 = cells[2].parse().expect("Cairn ops/s");
        assert!(rate > 0.0, "{label}: {stdout}");
        assert_eq!(cells[6], "—", "etcd column of {label}: {stdout}");
    }
    let writers: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("| strong writes"))
        .map(|line| line.split('|').nth(2).unwrap_or("").trim())
        .collect();
    assert_eq!(writers, ["1", "16", "64"], "{stdout}");
    let failover = row(&stdout, "time until a write succeeds");
    assert!(failover[1].ends_with(" ms"), "{stdout}");
    // The three nodes ran from the folder, and none is left running.
    for id in 1..=3 {
        assert!(
            dir.path().join(format!("cairn{id}.log")).exists(),
            "node {id} was started: {stdout}"
        );
    }
    let folder = dir.path().to_string_lossy().to_string();
    let survivors: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(&folder) && cmdline.contains(" serve "))
        .collect();
    assert!(survivors.is_empty(), "left running: {survivors:?}");
}
