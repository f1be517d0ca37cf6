//! README.md works as written: every `sh` block runs, in order, in one scratch folder with the
//! freshly built `cairn` first on the PATH, and any failing command fails this test with the
//! block's line and output. A newcomer follows the same lines.
//!
//! Markers, an HTML comment on the line before a block:
//! - `<!-- readme-test: skip (why) -->`: not run (servers that run until stopped, the test
//!   command itself).
//! - `<!-- readme-test: server -->`: run against a `cairn serve` this test starts with the
//!   README's root password on a free port (`localhost:7878` in the block is pointed at it).
//!
//! A `yaml` block whose first line is `# NAME` is written to the scratch folder as `NAME`, so
//! the files the commands read are the ones the README shows.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The root password the README's server examples use.
const README_ROOT_PASSWORD: &str = "s3cret-pass";

/// Longest a block may run: 3 minutes (a debug build under a loaded CI machine).
const BLOCK_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug)]
struct Block {
    lang: String,
    marker: Option<String>,
    body: String,
    line: usize,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    let mut open: Option<Block> = None;
    for (index, line) in readme.lines().enumerate() {
        if let Some(block) = open.as_mut() {
            if line.trim_start().starts_with("```") {
                out.extend(open.take());
            } else {
                block.body.push_str(line);
                block.body.push('\n');
            }
            continue;
        }
        if let Some(rest) = line.trim().strip_prefix("<!-- readme-test:") {
            marker = Some(rest.trim_end_matches("-->").trim().to_string());
            continue;
        }
        if let Some(lang) = line.trim_start().strip_prefix("```") {
            open = Some(Block {
                lang: lang.trim().to_string(),
                marker: marker.take(),
                body: String::new(),
                line: index + 1,
            });
        } else if !line.trim().is_empty() {
            // A marker belongs to the block right after it.
            marker = None;
        }
    }
    assert!(open.is_none(), "README.md ends inside a code block");
    out
}

/// A `cairn serve` for the server blocks; stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(scratch: &Path, bin: &Path) -> Server {
        let mut child = Command::new(bin.join("cairn"))
            .current_dir(scratch)
            .args(["--data", "server-data", "serve", "--listen", "127.0.0.1:0"])
            .args(["--log", "warn"])
            .env("CAIRN_ROOT_PASSWORD", README_ROOT_PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting cairn serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let port = loop {
            let line = lines
                .next()
                .expect("cairn serve ended before listening")
                .expect("reading cairn serve's output");
            if let Some(url) = line.split("listening on http://").nth(1) {
                let address = url.split_whitespace().next().unwrap_or_default();
                let port = address.rsplit(':').next().unwrap_or_default();
                break port.parse().expect("a port in the listening line");
            }
        };
        // Keep draining its output so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_block(block: &Block, script: &str, scratch: &Path, bin: &Path) {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(scratch)
        .env("PATH", path)
        .env("HOME", scratch)
        .env_remove("CAIRN_DATA")
        .env_remove("CAIRN_MODE")
        .env_remove("CAIRN_PASSPHRASE")
        .env_remove("CAIRN_ROOT_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running bash");
    let started = Instant::now();
    while child.try_wait().expect("waiting for bash").is_none() {
        if started.elapsed() > BLOCK_TIMEOUT {
            let _ = child.kill();
            panic!(
                "README.md line {}: the block ran over {BLOCK_TIMEOUT:?}",
                block.line
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("collecting output");
    assert!(
        output.status.success(),
        "README.md line {}: the block failed ({})\n--- block\n{}--- stdout\n{}--- stderr\n{}",
        block.line,
        output.status,
        script,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn tools_present() -> Vec<&'static str> {
    ["bash", "curl", "jq"]
        .into_iter()
        .filter(|tool| {
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|status| status.success())
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn every_command_in_the_readme_runs_in_order_on_a_fresh_folder() {
    let present = tools_present();
    for tool in ["bash", "curl", "jq"] {
        assert!(
            present.contains(&tool),
            "the README's examples need `{tool}` (CI installs it in .ci/run)"
        );
    }
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("reading README.md");
    assert!(
        readme.contains(&format!("CAIRN_ROOT_PASSWORD={README_ROOT_PASSWORD}")),
        "the server examples' password changed; update README_ROOT_PASSWORD"
    );
    let scratch = tempfile::tempdir().expect("scratch folder");
    let bin: PathBuf = scratch.path().join("bin");
    std::fs::create_dir(&bin).expect("bin folder");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cairn"), bin.join("cairn"))
        .expect("linking cairn");
    let work = scratch.path().join("work");
    std::fs::create_dir(&work).expect("work folder");
    let mut ran = 0;
    for block in blocks(&readme) {
        let marker = block.marker.as_deref().unwrap_or_default();
        if marker.starts_with("skip") {
            continue;
        }
        match block.lang.as_str() {
            "yaml" => {
                let first = block.body.lines().next().unwrap_or_default();
                if let Some(name) = first.strip_prefix("# ") {
                    std::fs::write(work.join(name.trim()), &block.body).expect("writing a file");
                }
            }
            "sh" if marker == "server" => {
                let server = Server::start(&work, &bin);
                let script = block
                    .body
                    .replace("localhost:7878", &format!("127.0.0.1:{}", server.port));
                run_block(&block, &script, &work, &bin);
                drop(server);
                ran += 1;
            }
            "sh" => {
                run_block(&block, &block.body, &work, &bin);
                ran += 1;
            }
            _ => {}
        }
    }
    eprintln!("ran {ran} README blocks");
    assert!(
        ran >= 5,
        "only {ran} README blocks ran: are the markers right?"
    );
}

#[test]
fn markers_attach_to_the_next_block_only() {
    let text = "<!-- readme-test: skip -->\n```sh\na\n```\n\n```sh\nb\n```\n<!-- readme-test: server -->\ntext\n```sh\nc\n```\n";
    let found = blocks(text);
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].marker.as_deref(), Some("skip"));
    assert_eq!(found[1].marker, None);
    assert_eq!(
        found[2].marker, None,
        "a marker followed by text is dropped"
    );
    assert_eq!(found[1].body, "b\n");
}
