//! Helpers for the tests of `cairn serve`: starting the real binary on a free loopback port
//! (port 0; the bound address is read from its first line of output), a small HTTP client, and
//! stopping the server with SIGTERM.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value as Json;

/// The binary under test.
pub const CAIRN: &str = env!("CARGO_BIN_EXE_cairn");

/// The root password the tests configure through the environment.
pub const ROOT_PASSWORD: &str = "root-test-password";

/// Longest wait for the server to print its address. Generous: a debug build on a busy
/// machine; it bounds a hang, it is not a timing assertion.
const STARTUP_WAIT: Duration = Duration::from_secs(60);

/// Longest any single HTTP exchange may take before the test fails instead of hanging.
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `cairn serve`.
pub struct Server {
    child: Option<Child>,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Every line the server printed to standard output so far (the startup banner).
    pub banner: Vec<String>,
    /// The rest of standard output, read in the background.
    stdout: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `cairn serve` on `dir` with `CAIRN_ROOT_PASSWORD` set and `extra` flags.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        Server::start_with(dir, extra, Some(ROOT_PASSWORD))
    }

    /// Starts `cairn serve` on `dir`; `root_password` goes to `CAIRN_ROOT_PASSWORD` when given.
    pub fn start_with(dir: &Path, extra: &[&str], root_password: Option<&str>) -> Server {
        let mut args = vec!["--listen", "127.0.0.1:0", "--log", "warn"];
        args.extend_from_slice(extra);
        Server::start_raw(dir, &args, root_password)
    }

    /// Starts `cairn --data DIR serve ARGS` (no default flags: the caller chooses the listen
    /// address, e.g. a cluster node whose address its peers must know).
    pub fn start_raw(dir: &Path, args: &[&str], root_password: Option<&str>) -> Server {
        Server::start_raw_as(dir, args, root_password, None)
    }

    /// Like [`Server::start_raw`], as the user id `uid` when given (the partition test tells
    /// nodes' packets apart by their owner; needs root).
    pub fn start_raw_as(
        dir: &Path,
        args: &[&str],
        root_password: Option<&str>,
        uid: Option<u32>,
    ) -> Server {
        let mut command = Command::new(CAIRN);
        if let Some(uid) = uid {
            std::os::unix::process::CommandExt::uid(&mut command, uid);
            std::os::unix::process::CommandExt::gid(&mut command, uid);
        }
        command
            .arg("--data")
            .arg(dir)
            .arg("serve")
            .args(args)
            .env_remove("CAIRN_DATA")
            .env_remove("CAIRN_MODE")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        match root_password {
            Some(password) => command.env("CAIRN_ROOT_PASSWORD", password),
            None => command.env_remove("CAIRN_ROOT_PASSWORD"),
        };
        let mut child = command.spawn().expect("starting cairn serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = Vec::new();
        let url = loop {
            let line = lines
                .recv_timeout(STARTUP_WAIT)
                .expect("cairn serve printed no address");
            let url = line
                .strip_prefix("cairn serve: listening on ")
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_string);
            banner.push(line);
            if let Some(url) = url {
                break url;
            }
        };
        // The rest of the banner follows at once; collect it for tests that read it.
        while let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            banner.push(line);
        }
        Server {
            child: Some(child),
            url,
            banner,
            stdout: lines,
        }
    }

    /// A client authenticating as `root` with HTTP Basic.
    pub fn root(&self) -> Http {
        self.client(Some(basic("root", ROOT_PASSWORD)))
    }

    /// A client sending `authorization` (or nothing).
    pub fn client(&self, authorization: Option<String>) -> Http {
        Http {
            agent: agent(None),
            base: self.url.clone(),
            authorization,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends SIGTERM and waits for the process to exit; returns its status and what it
    /// printed after the banner.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let mut child = self.child.take().expect("server running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success());
        let exit = child.wait().expect("waiting for cairn serve");
        let rest = self.stdout.try_iter().collect();
        (exit, rest)
    }
}

impl Server {
    /// Sends a signal (`KILL`, `STOP`, `CONT`, ...) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// SIGKILL, then reaps the process (a crash: nothing is flushed or said goodbye to).
    pub fn crash(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP agent that returns 4xx/5xx as responses (tests assert on them), optionally
/// trusting one extra certificate.
pub fn agent(trusted_pem: Option<&[u8]>) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(HTTP_TIMEOUT));
    if let Some(pem) = trusted_pem {
        let cert = ureq::tls::Certificate::from_pem(pem).expect("test certificate");
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
                cert.to_owned(),
            ])))
            .build();
        config = config.tls_config(tls);
    }
    config.build().into()
}

/// The `Authorization` value for HTTP Basic.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// The `Authorization` value for a bearer token.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A small client bound to one server and one identity.
pub struct Http {
    agent: ureq::Agent,
    base: String,
    authorization: Option<String>,
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body as text.
    pub text: String,
    /// `WWW-Authenticate`, when sent.
    pub www_authenticate: Option<String>,
    /// `Retry-After`, when sent.
    pub retry_after: Option<String>,
    /// `Content-Type`.
    pub content_type: String,
    /// `Idempotent-Replayed`, when sent.
    pub replayed: Option<String>,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text))
    }

    /// Asserts the common error shape and returns `error.code`.
    pub fn error_code(&self) -> String {
        let body = self.json();
        let error = &body["error"];
        assert!(
            error["code"].is_string() && error["message"].is_string(),
            "not the common error shape: {}",
            self.text
        );
        error["code"].as_str().unwrap_or_default().to_string()
    }

    /// Asserts status and error code together.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.error_code().as_str()),
            (status, code),
            "{}",
            self.text
        );
    }
}

impl Http {
    /// A client of the server at `base` (for tests that start `cairn serve` themselves).
    pub fn new(base: &str, authorization: Option<String>) -> Http {
        Http {
            agent: agent(None),
            base: base.to_string(),
            authorization,
        }
    }

    /// The same server with another identity.
    pub fn with_auth(&self, authorization: Option<String>) -> Http {
        Http {
            agent: self.agent.clone(),
            base: self.base.clone(),
            authorization,
        }
    }

    /// GET.
    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    /// POST with a body.
    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.send("POST", path, Some(body))
    }

    /// PUT with a body.
    pub fn put(&self, path: &str, body: &str) -> Reply {
        self.send("PUT", path, Some(body))
    }

    /// PATCH with a body.
    pub fn patch(&self, path: &str, body: &str) -> Reply {
        self.send("PATCH", path, Some(body))
    }

    /// DELETE.
    pub fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None)
    }

    /// Any method.
    pub fn send(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        self.send_with(method, path, body, &[])
    }

    /// Any method, with extra request headers.
    pub fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        if body.is_some() {
            request = request.header("Content-Type", "application/json");
        }
        let request = request
            .body(body.unwrap_or_default().to_string())
            .expect("request");
        let response = self.agent.run(request).expect("HTTP exchange");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let status = response.status().as_u16();
        let www_authenticate = header("www-authenticate");
        let retry_after = header("retry-after");
        let content_type = header("content-type").unwrap_or_default();
        let replayed = header("idempotent-replayed");
        let text = response
            .into_body()
            .read_to_string()
            .expect("reading the body");
        Reply {
            status,
            text,
            www_authenticate,
            retry_after,
            content_type,
            replayed,
        }
    }

    /// Opens a change stream; events arrive on the returned receiver as they are read. Dropping
    /// the receiver (and the stream with it, at its next event) disconnects.
    pub fn changes(&self, path: &str, last_event_id: Option<&str>) -> (u16, mpsc::Receiver<Event>) {
        let mut request = ureq::http::Request::builder()
            .method("GET")
            .uri(format!("{}{path}", self.base));
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let request = request.body(()).expect("request");
        let streaming = agent_without_timeout();
        let response = streaming.run(request).expect("opening the stream");
        let status = response.status().as_u16();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let reader = BufReader::new(response.into_body().into_reader());
            let mut event = Event::default();
            for line in reader.lines().map_while(Result::ok) {
                if line.is_empty() {
                    let complete = !event.data.is_empty() || !event.event.is_empty();
                    if complete && sender.send(std::mem::take(&mut event)).is_err() {
                        return;
                    }
                    continue;
                }
                if let Some(value) = line.strip_prefix("id:") {
                    event.id = value.trim().to_string();
                } else if let Some(value) = line.strip_prefix("event:") {
                    event.event = value.trim().to_string();
                } else if let Some(value) = line.strip_prefix("data:") {
                    event.data.push_str(value.trim_start());
                }
            }
        });
        (status, receiver)
    }
}

fn agent_without_timeout() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// One Server-Sent Event.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// `id:`.
    pub id: String,
    /// `event:`.
    pub event: String,
    /// `data:` lines joined.
    pub data: String,
}

impl Event {
    /// The data as JSON.
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.data).unwrap_or_else(|err| panic!("{err}: {}", self.data))
    }
}

/// Receives the next event, failing the test rather than hanging forever.
pub fn next_event(events: &mpsc::Receiver<Event>) -> Event {
    events
        .recv_timeout(HTTP_TIMEOUT)
        .expect("the change stream delivered no event")
}

/// The integer `_id`s of a query reply's `documents`, in order.
pub fn ids(reply: &Json) -> Vec<i64> {
    reply["documents"]
        .as_array()
        .unwrap_or_else(|| panic!("no documents: {reply}"))
        .iter()
        .map(|d| {
            d["_id"]
                .as_i64()
                .unwrap_or_else(|| panic!("no integer _id: {reply}"))
        })
        .collect()
}
