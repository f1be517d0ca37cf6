//! The cluster link over mutual TLS: three real `cairn serve` nodes with a node certificate
//! replicate and fail over, and the cluster port refuses plaintext, TLS without a node
//! certificate, and a node certificate without the cluster secret.

mod cluster_support;
mod server_support;

use std::time::{Duration, Instant};

use cluster_support::{call, Cluster, LEADER_WAIT};
use serde_json::json;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Polls a node's local read of document `id` until it holds `v`.
fn holds(url: &str, id: u64, v: &str) {
    let deadline = Instant::now() + LEADER_WAIT;
    loop {
        if let Ok((200, body, _)) = call(
            "GET",
            &format!("{url}/v1/collections/c/documents/{id}?consistency=local"),
            None,
        ) {
            if body["v"] == v {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{url} never held {id} = {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A client trusting the fixture certificate, presenting it as a client certificate when
/// `with_cert`.
fn tls_agent(with_cert: bool) -> ureq::Agent {
    let cert =
        Certificate::from_pem(&std::fs::read(format!("{FIXTURES}/tls-cert.pem")).unwrap()).unwrap();
    let key =
        PrivateKey::from_pem(&std::fs::read(format!("{FIXTURES}/tls-key.pem")).unwrap()).unwrap();
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(std::slice::from_ref(&cert)))
        .client_cert(with_cert.then(|| ClientCert::new_with_certs(&[cert], key)))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

#[test]
fn a_cluster_link_with_mutual_tls_replicates_and_refuses_strangers() {
    let extra =
        format!("tls_cert = \"{FIXTURES}/tls-cert.pem\"\ntls_key = \"{FIXTURES}/tls-key.pem\"\n");
    let mut cluster = Cluster::start_with(3, &extra);
    let leader = cluster.leader();
    let lurl = cluster.nodes[leader].url.clone();
    let (status, body, _) = call(
        "POST",
        &format!("{lurl}/v1/collections"),
        Some(&json!({"name": "c"})),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, body, _) = call(
        "PUT",
        &format!("{lurl}/v1/collections/c/documents/1"),
        Some(&json!({"v": "a"})),
    )
    .unwrap();
    assert!(status == 200 || status == 201, "{status} {body}");
    // The only way to the followers is the TLS link.
    for node in &cluster.nodes {
        holds(&node.url, 1, "a");
    }

    // Failover over TLS: kill the leader, a new one commits a write both survivors hold.
    cluster.nodes[leader].crash();
    let survivor = (leader + 1) % 3;
    let mut client = cluster.client(survivor);
    let (status, _) = client.send_until_answered(
        "PUT",
        "/v1/collections/c/documents/2",
        Some(&json!({"v": "after"})),
    );
    assert!(status == 200 || status == 201, "{status}");
    for i in (0..3).filter(|&i| i != leader) {
        holds(&cluster.nodes[i].url, 2, "after");
    }

    let addr = cluster.nodes[survivor].cluster_addr.clone();
    // Plaintext gets no HTTP answer.
    let plain = call(
        "POST",
        &format!("http://{addr}/raft/vote"),
        Some(&json!({})),
    );
    assert!(plain.is_err(), "plaintext was answered: {plain:?}");
    // TLS without a node certificate fails the handshake.
    let url = format!("https://{addr}/raft/vote");
    let anonymous = tls_agent(false)
        .post(&url)
        .header("content-type", "application/json")
        .send("{}");
    assert!(
        anonymous.is_err(),
        "TLS without a client certificate was answered: {:?}",
        anonymous.map(|r| r.status())
    );
    // A node certificate without the cluster secret is still refused.
    let response = tls_agent(true)
        .post(&url)
        .header("content-type", "application/json")
        .send("{}")
        .expect("the handshake with a node certificate succeeds");
    assert_eq!(response.status().as_u16(), 401);
}
