//! `cairn rekey [--reencrypt]`: change the key that opens an encrypted database, and
//! optionally re-encrypt every block under a fresh data key.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Context};
use cairn::KeySource;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::Cli;
use crate::open::{key_source, open, Create};

/// Changes the key of an encrypted database (rewraps the data key; the blocks stay as they are).
pub fn rekey(dir: &Path, old: Option<KeySource>, new: Option<KeySource>) -> anyhow::Result<()> {
    if !cairn::is_encrypted(dir) {
        bail!("the database at {} is not encrypted", dir.display());
    }
    let old = old.context("give the current key: CAIRN_PASSPHRASE or --key-file")?;
    let new = new.context("give the new key: CAIRN_NEW_PASSPHRASE or --new-key-file")?;
    cairn::rekey(dir, &old, &new)
        .with_context(|| format!("changing the key of {}", dir.display()))?;
    println!(
        "ok: the new key now opens {} (and its future backups); the old one no longer does",
        dir.display()
    );
    Ok(())
}

/// Re-encrypts every block of an encrypted database under a fresh data key (finishing an
/// interrupted re-encryption first), with a progress bar on a terminal.
pub fn reencrypt(cli: &Cli, new: Option<KeySource>, chunk_blocks: u64) -> anyhow::Result<()> {
    let dir = cli.data_dir();
    if !cairn::is_encrypted(&dir) {
        bail!("the database at {} is not encrypted", dir.display());
    }
    let current =
        key_source(cli)?.context("give the current key: CAIRN_PASSPHRASE or --key-file")?;
    let new = new.unwrap_or_else(|| current.clone());
    let db = open(cli, Create::Refused)?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        if let Ok(style) =
            ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} blocks eta {eta}")
        {
            bar.set_style(style);
        }
        bar.set_message("re-encrypting");
        bar
    } else {
        ProgressBar::hidden()
    };
    let report = db
        .rotate_data_key(&current, &new, chunk_blocks, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .with_context(|| format!("re-encrypting {}", dir.display()))?;
    bar.finish_and_clear();
    println!(
        "ok: {}every block of {} is encrypted under data key {} ({} blocks re-encrypted); the old data key is gone, and the new key opens it and its future backups",
        if report.resumed { "finished an interrupted re-encryption; " } else { "" },
        dir.display(),
        report.key_id,
        report.resealed_blocks
    );
    Ok(())
}
