//! Shared setup of the end-to-end test binaries: the simulator on port 0, settings for a
//! mirror of it, and a GraphQL call that fails the test on any GraphQL error.
#![allow(dead_code)] // each test binary uses its own subset

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use oktamirror::configuration::Settings;
use oktamirror::okta::{Auth, ClientOptions};
use oktamirror::secret::Secret;
use oktamirror::sim::{SimOptions, Simulator};

pub const TOKEN: &str = "test-token-0123456789";

pub async fn start_sim(users: usize, seed: u64) -> (Simulator, SocketAddr) {
    let sim = Simulator::new(SimOptions {
        users,
        groups: None,
        seed,
        token: TOKEN.into(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sim");
    let addr = sim.serve(listener).expect("serve sim");
    (sim, addr)
}

pub fn settings(sim: SocketAddr, data_dir: &Path) -> Settings {
    let mut s = Settings::defaults(
        url::Url::parse(&format!("http://{sim}/")).expect("url"),
        Auth::Ssws(Secret::new(TOKEN)),
        data_dir.to_path_buf(),
        "127.0.0.1:0".parse().expect("addr"),
    );
    // Quick retries: one test makes every list page fail and waits for the retries to end.
    s.okta.client = ClientOptions {
        retry_base: Duration::from_millis(10),
        ..Default::default()
    };
    s
}

pub async fn gql(addr: SocketAddr, query: &str, variables: Value) -> Value {
    let resp: Value = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert!(resp.get("errors").is_none(), "GraphQL errors: {resp}");
    resp["data"].clone()
}
