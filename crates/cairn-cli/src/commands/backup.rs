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

/// Restores a backup into a new folder.
pub fn restore(
    src: &Path,
    to: &Path,
    at: Option<&str>,
    key: Option<&KeySource>,
) -> anyhow::Result<()> {
    let target = match at {
        None => RestoreTarget::Latest,
        Some(text) => match text.parse::<u64>() {
            Ok(seq) => RestoreTarget::Seq(seq),
            Err(_) => RestoreTarget::Time(DateTime::parse_rfc3339(text).with_context(|| {
                format!("--at `{text}`: give a sequence number or an RFC 3339 time")
            })?),
        },
    };
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
