//! `cairn backup DEST [--incremental] | backup verify SRC | restore SRC --to DIR [--at SEQ|TIME]`

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use cairn::backup::{restore as restore_backup, verify_backup, RestoreTarget};
use cairn::{Database, DateTime, KeySource};
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on a terminal, hidden otherwise (scripts and logs get the summary only).
fn progress_bar(what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} entries eta {eta}")
    {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}

/// Takes a full or incremental backup of the open database into `dest`.
pub fn backup(db: &Database, dest: &Path, incremental: bool) -> anyhow::Result<()> {
    let bar = progress_bar("backing up");
    let piece = db
        .backup(dest, incremental, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .with_context(|| format!("backing up into {}", dest.display()))?;
    bar.finish_and_clear();
    println!(
        "{} backup {}: commits {}..={}, {} entries, {} bytes, sha256 {}",
        piece.kind.name(),
        piece.file,
        piece.from_seq + 1,
        piece.to_seq,
        piece.entries,
        piece.bytes,
        piece.sha256
    );
    Ok(())
}

/// Environment variable holding a bearer token for `cairn backup --server`.
pub const TOKEN_ENV: &str = "CAIRN_TOKEN";

/// Environment variable holding the password of `--user` for `cairn backup --server`.
pub const PASSWORD_ENV: &str = "CAIRN_PASSWORD";

/// Asks the server at `url` to take a full or incremental backup into `dest` under its backup
/// root (`POST /v1/admin/backup`), and prints the piece as the local backup does.
pub fn backup_through_server(
    url: &str,
    user: &str,
    dest: &Path,
    incremental: bool,
) -> anyhow::Result<()> {
    let dest = dest
        .to_str()
        .context("the backup folder must be valid UTF-8 to send it to the server")?;
    let reply = server_request(
        url,
        user,
        "/v1/admin/backup",
        Some(serde_json::json!({ "dest": dest, "incremental": incremental })),
    )
    .context("backup through the server")?;
    let field = |name: &str| reply[name].to_string().trim_matches('"').to_string();
    println!(
        "{} backup {} (server folder {}): commits {}..={}, {} entries, {} bytes, sha256 {}",
        field("kind"),
        field("file"),
        field("dest"),
        reply["from_seq"].as_u64().unwrap_or(0) + 1,
        field("to_seq"),
        field("entries"),
        field("bytes"),
        field("sha256")
    );
    Ok(())
}

/// `Authorization` for the server: the bearer token in [`TOKEN_ENV`], else HTTP Basic with
/// `user` and the password in [`PASSWORD_ENV`]. Secrets come from the environment only, so
/// they never show in the process list.
pub fn server_authorization(user: &str) -> anyhow::Result<String> {
    use base64::Engine;
    if let Ok(token) = std::env::var(TOKEN_ENV) {
        return Ok(format!("Bearer {token}"));
    }
    let password = std::env::var(PASSWORD_ENV).map_err(|_| {
        anyhow::anyhow!(
            "set {TOKEN_ENV} (a bearer token) or {PASSWORD_ENV} (the password of --user {user})"
        )
    })?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Ok(format!("Basic {encoded}"))
}

/// GETs `path` from the server at `url` with [`server_authorization`] and returns its JSON;
/// a refusal is an error naming the server's code and message.
pub fn server_get(url: &str, user: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    server_request(url, user, path, None)
}

/// POSTs `body` to `path` of the server at `url` with [`server_authorization`] and returns
/// its JSON; a refusal is an error naming the server's code and message.
pub fn server_post(
    url: &str,
    user: &str,
    path: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    server_request(url, user, path, Some(body))
}

/// Sends `body` to `path` of the server at `url` (POST; GET without a body) with
/// [`server_authorization`] and returns the JSON answer; a refusal is an error naming the
/// server's code and message.
fn server_request(
    url: &str,
    user: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let authorization = server_authorization(user)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let endpoint = format!("{}{path}", url.trim_end_matches('/'));
    let sent = match body {
        Some(body) => agent
            .post(&endpoint)
            .header("Authorization", &authorization)
            .send_json(body),
        None => agent
            .get(&endpoint)
            .header("Authorization", &authorization)
            .call(),
    };
    let mut response = sent.with_context(|| format!("calling {endpoint}"))?;
    let status = response.status();
    let text = response
        .body_mut()
        .read_to_string()
        .with_context(|| format!("reading the answer of {endpoint}"))?;
    let reply: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{endpoint} answered {status} with a body that is not JSON"))?;
    if !status.is_success() {
        let error = &reply["error"];
        anyhow::bail!(
            "the server refused ({status}, {}): {}",
            error["code"].as_str().unwrap_or("unknown"),
            error["message"].as_str().unwrap_or(&text)
        );
    }
    Ok(reply)
}

/// Verifies a backup folder.
pub fn verify(src: &Path, key: Option<&KeySource>) -> anyhow::Result<()> {
    let manifest = verify_backup(src, key)
        .with_context(|| format!("verifying the backup in {}", src.display()))?;
    for piece in &manifest.pieces {
        println!(
            "ok: {} ({}, commits {}..={}, {} entries, sha256 verified)",
            piece.file,
            piece.kind.name(),
            piece.from_seq + 1,
            piece.to_seq,
            piece.entries
        );
    }
    println!(
        "ok: backup chain of {} pieces verified",
        manifest.pieces.len()
    );
    Ok(())
}

/// The point `--at` names: a sequence number or an RFC 3339 time; the latest without it.
fn target(at: Option<&str>) -> anyhow::Result<RestoreTarget> {
    Ok(match at {
        None => RestoreTarget::Latest,
        Some(text) => match text.parse::<u64>() {
            Ok(seq) => RestoreTarget::Seq(seq),
            Err(_) => RestoreTarget::Time(DateTime::parse_rfc3339(text).with_context(|| {
                format!("--at `{text}`: give a sequence number or an RFC 3339 time")
            })?),
        },
    })
}

/// Rebuilds the database, or one collection, from its change log into a new folder.
pub fn replay(
    db: &Database,
    to: &Path,
    at: Option<&str>,
    collection: Option<&str>,
    key: Option<&KeySource>,
) -> anyhow::Result<()> {
    let report = cairn::backup::replay(db, to, target(at)?, collection, key)
        .with_context(|| format!("replaying the change log into {}", to.display()))?;
    println!(
        "replayed {} commits into {}: source commit {}, new database at commit {}",
        report.commits,
        to.display(),
        report.source_seq,
        report.seq
    );
    Ok(())
}

/// Restores a backup into a new folder.
pub fn restore(
    src: &Path,
    to: &Path,
    at: Option<&str>,
    key: Option<&KeySource>,
) -> anyhow::Result<()> {
    let target = target(at)?;
    let bar = progress_bar("restoring");
    let report = restore_backup(src, to, target, key, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .with_context(|| format!("restoring {} into {}", src.display(), to.display()))?;
    bar.finish_and_clear();
    println!(
        "restored {} up to commit {} ({} pieces, {} commits replayed)",
        to.display(),
        report.seq,
        report.pieces,
        report.replayed_commits
    );
    // Asking for a point past the backup's end is not an error (the latest state is the answer
    // the backup can give), but it must not pass unnoticed.
    if let RestoreTarget::Seq(wanted) = target {
        if wanted > report.seq {
            println!(
                "note: --at {wanted} is past the backup's last commit; stopped at commit {}, \
                 the last one it holds",
                report.seq
            );
        }
    }
    Ok(())
}
