//! `cairn serve`'s web console in a real browser: headless Debian Chromium, driven by Python
//! Playwright (`tests/browser/console.py`), against the real binary. It logs in with the
//! keyboard, creates a collection, inserts shapes (a syntax error and a server validation error
//! on the way), queries, opens explain, draws the shapes in 3D and checks the canvas is not
//! blank, opens the metrics and query-statistics pages, tails the change stream, expands a
//! graph neighbourhood, plots a time series and zooms it, finds a document's nearest
//! neighbours through a vector index, and logs out; then a read-only user is offered no writes
//! and no admin pages. A screenshot of each view lands under `<target>/tmp/console-screenshots/`.
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

#[test]
fn console_works_in_a_real_browser() {
    if let Err(missing) = browser_available() {
        assert!(
            std::env::var("CAIRN_BROWSER_TESTS").as_deref() != Ok("1"),
            "CAIRN_BROWSER_TESTS=1 but {missing}"
        );
        eprintln!("skipping the browser test: {missing}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
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
        .env("CAIRN_CHROMIUM", CHROMIUM)
        .output()
        .expect("running python");
    let (status, _) = server.terminate();
    assert!(
        output.status.success(),
        "browser test failed (screenshots in {}):\n{}\n{}",
        shots.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(status.success(), "server exit: {status:?}");
    for view in [
        "01-login",
        "05-query",
        "06-explain",
        "07-geometry",
        "10-changes",
        "11-graph",
        "14-series",
        "15-nearest",
        "12-logged-out",
        "13-read-only",
    ] {
        assert!(
            shots.join(format!("{view}.png")).exists(),
            "no screenshot {view}"
        );
    }
}
