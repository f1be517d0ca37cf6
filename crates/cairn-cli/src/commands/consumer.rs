//! `cairn consumer create|pull|list`: the event log's pull API of a running server
//! (`/v1/consumers`). The server keeps each consumer's position; `pull --ack` prints a page of
//! events and then acknowledges it, so a script that pulls in a loop resumes after the last
//! page it printed, across restarts of itself or the server. Credentials as for `cairn backup
//! --server`: CAIRN_TOKEN, or `--user` with CAIRN_PASSWORD.

use std::io::Write;

use crate::cli::{ConsumerAction, ConsumerArgs};
use crate::commands::backup::{server_get, server_post};

/// Runs one consumer command.
pub fn run(args: &ConsumerArgs) -> anyhow::Result<()> {
    let (url, user) = (args.server.as_str(), args.user.as_str());
    match &args.action {
        ConsumerAction::Create {
            name,
            collection,
            from_seq,
        } => {
            let mut body = serde_json::json!({ "name": name });
            if let Some(collection) = collection {
                body["collection"] = collection.as_str().into();
            }
            if let Some(from_seq) = from_seq {
                body["from_seq"] = (*from_seq).into();
            }
            let created = server_post(url, user, "/v1/consumers", body)?;
            println!("{created}");
        }
        ConsumerAction::Pull { name, max, ack } => {
            let page = server_get(url, user, &format!("/v1/consumers/{name}/events?max={max}"))?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for event in page["events"].as_array().into_iter().flatten() {
                writeln!(out, "{event}")?;
            }
            // Written out before the acknowledgement: a failure in between repeats the page
            // on the next pull rather than losing it.
            out.flush()?;
            if *ack {
                let reply = server_post(
                    url,
                    user,
                    &format!("/v1/consumers/{name}/ack"),
                    page["next"].clone(),
                )?;
                eprintln!(
                    "acknowledged through {}{}",
                    reply["position"],
                    if page["more"] == true {
                        "; more events are waiting"
                    } else {
                        ""
                    }
                );
            }
        }
        ConsumerAction::List => {
            let list = server_get(url, user, "/v1/consumers")?;
            for consumer in list["consumers"].as_array().into_iter().flatten() {
                println!("{consumer}");
            }
        }
    }
    Ok(())
}
