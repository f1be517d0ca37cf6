//! `cairn serve`'s web console in a real browser: headless Debian Chromium, driven by Python
//! Playwright (`tests/browser/console.py`), against the real binary. It logs in with the
//! keyboard, creates a collection, inserts shapes (a syntax error and a server validation error
//! on the way), queries, opens explain, draws the shapes in 3D and checks the canvas is not
//! blank, opens the metrics and query-statistics pages, tails the change stream, expands a
//! graph neighbourhood, plots a time series and zooms it (and one whose times are dates),
//! finds a document's nearest neighbours through a vector index, renames a collection, follows
//! an index build's progress bar, migrates a schema (refused save, dry run, confirmed run),
//! finds its query history again after a reload, and logs out; then a read-only user is
//! offered no writes, no migrations, no admin pages and not root's history. A second run
//! against `cairn serve --insecure-no-auth` uses the console without logging in. A screenshot
//! of each view lands under `<target>/tmp/console-screenshots/` (`...-no-auth/` for the
//! second).
//!
//! Needs `chromium` and the `playwright` Python package (`.ci/run` installs both). Without
//! them the test says so and passes, unless `CAIRN_BROWSER_TESTS=1` (set by CI) demands it.

mod server_support;

use std::path::PathBuf;
use std::process::Command;

use server_support::{Server, ROOT_PASSWORD};

/// The system Chromium (Playwright cannot download its own browsers here).
const CHROMIUM: &str = "/usr/bin/chromium";

/// The Python with Playwright: `CAIRN_PYTHON` (CI's venv), else `python3`.
fn python() -> String {
    std::env::var("CAIRN_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

fn browser_available() -> Result<(), String> {
    if !std::path::Path::new(CHROMIUM).exists() {
        return Err(format!("{CHROMIUM} is missing (apt-get install chromium)"));
    }
    let probe = Command::new(python())
        .args(["-c", "import playwright"])
        .status();
    match probe {
        Ok(status) if status.success() => Ok(()),
        _ => Err(format!(
            "{} without playwright (pip install playwright)",
            python()
        )),
    }
}

/// Whether the browser test can run; without a browser it is skipped, unless CI demands it.
fn browser_or_skip() -> bool {
    match browser_available() {
        Ok(()) => true,
        Err(missing) => {
            assert!(
                std::env::var("CAIRN_BROWSER_TESTS").as_deref() != Ok("1"),
                "CAIRN_BROWSER_TESTS=1 but {missing}"
            );
            eprintln!("skipping the browser test: {missing}");
            false
        }
    }
}

/// Runs `console.py` against a server started with `server_args`, its screenshots in a
/// fresh `<target>/tmp/<shots>`; `mode` is the script's optional fourth argument. Returns the
/// screenshot folder.
fn run_console(server_args: &[&str], shots: &str, mode: Option<&str>) -> PathBuf {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), server_args);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(shots);
    // Screenshots of an earlier run must not stand in for this one's.
    if shots.exists() {
        std::fs::remove_dir_all(&shots).unwrap();
    }
    std::fs::create_dir_all(&shots).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/console.py");
    let output = Command::new(python())
        .arg(&script)
        .arg(&server.url)
        .arg(ROOT_PASSWORD)
        .arg(&shots)
        .args(mode)
        .env("CAIRN_CHROMIUM", CHROMIUM)
        .output()
        .expect("running python");
    let (status, _) = server.terminate();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser test failed (screenshots in {}):\n{stdout}\n{}",
        shots.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    // What the script reports (the index build's readings) goes to the test's output.
    print!("{stdout}");
    assert!(status.success(), "server exit: {status:?}");
    shots
}

#[test]
fn console_works_in_a_real_browser() {
    if !browser_or_skip() {
        return;
    }
    let shots = run_console(&[], "console-screenshots", None);
    for view in [
        "01-login",
        "05-query",
        "06-explain",
        "07-geometry",
        "10-changes",
        "11-graph",
        "14-series",
        "14b-series-dates",
        "15-nearest",
        "16-rename",
        "17-index-building",
        "18-index-built",
        "19-migration-dry-run",
        "20-migration",
        "21-history-after-reload",
        "12-logged-out",
        "13-read-only",
    ] {
        assert!(
            shots.join(format!("{view}.png")).exists(),
            "no screenshot {view}"
        );
    }
}

/// With authentication off, the console opens without a login and offers everything.
#[test]
fn console_works_without_authentication() {
    if !browser_or_skip() {
        return;
    }
    let shots = run_console(
        &["--insecure-no-auth"],
        "console-screenshots-no-auth",
        Some("no-auth"),
    );
    assert!(
        shots.join("01-no-auth.png").exists(),
        "no screenshot 01-no-auth"
    );
}
