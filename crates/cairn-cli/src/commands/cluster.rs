//! `cairn cluster status|add-learner|promote|remove`: membership of a running cluster, through
//! the HTTP admin routes of any node (`/v1/cluster...`; changes are redirected to the leader).
//! Credentials as for `cairn backup --server`: CAIRN_TOKEN, or `--user` with CAIRN_PASSWORD.

use anyhow::Context;

use crate::cli::{ClusterAction, ClusterArgs};
use crate::commands::backup::server_authorization;

/// Runs one cluster command and prints the server's answer (the cluster's state) as JSON.
pub fn run(args: &ClusterArgs) -> anyhow::Result<()> {
    let base = args.server.trim_end_matches('/');
    let (method, path, body) = match &args.action {
        ClusterAction::Status => ("GET", "/v1/cluster".to_string(), None),
        ClusterAction::AddLearner {
            node_id,
            cluster_addr,
            api_url,
        } => (
            "POST",
            "/v1/cluster/learners".to_string(),
            Some(serde_json::json!({
                "node_id": node_id, "cluster_addr": cluster_addr, "api_url": api_url,
            })),
        ),
        ClusterAction::Promote { node_id } => (
            "POST",
            format!("/v1/cluster/members/{node_id}/promote"),
            None,
        ),
        ClusterAction::Remove { node_id } => {
            ("DELETE", format!("/v1/cluster/members/{node_id}"), None)
        }
    };
    let authorization = server_authorization(&args.user)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut endpoint = format!("{base}{path}");
    // Membership changes are made by the leader: a follower answers 307 with its address;
    // follow it once, with the credentials (ureq drops them on redirects).
    let mut response = send(&agent, method, &endpoint, &authorization, body.as_ref())?;
    if response.status() == 307 {
        if let Some(location) = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
        {
            endpoint = location.to_string();
            response = send(&agent, method, &endpoint, &authorization, body.as_ref())?;
        }
    }
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
    println!("{}", serde_json::to_string_pretty(&reply)?);
    Ok(())
}

fn send(
    agent: &ureq::Agent,
    method: &str,
    endpoint: &str,
    authorization: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<ureq::http::Response<ureq::Body>> {
    let response = match (method, body) {
        ("GET", _) => agent
            .get(endpoint)
            .header("Authorization", authorization)
            .call(),
        ("DELETE", _) => agent
            .delete(endpoint)
            .header("Authorization", authorization)
            .call(),
        (_, Some(body)) => agent
            .post(endpoint)
            .header("Authorization", authorization)
            .send_json(body),
        (_, None) => agent
            .post(endpoint)
            .header("Authorization", authorization)
            .send_empty(),
    };
    response.with_context(|| format!("calling {endpoint}"))
}
