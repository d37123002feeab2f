//! The one place that builds `oktamirror::configuration::Settings` for tests and benches: a
//! mirror of a simulator, in a data directory, listening on port 0, shaped by `AppOptions`.
//! (The benches include this file too, so a change to `Settings` is made here and only here.)

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use oktamirror::configuration::{DataSource, HookAuth, Settings};
use oktamirror::model::AttributeMap;
use oktamirror::okta::{Auth, ClientOptions};
use oktamirror::secret::Secret;
use oktamirror::sync::{Lanes, Scope};

/// What tests and benches vary about a mirror; everything else is the product's default.
#[derive(Clone, Debug)]
pub struct AppOptions {
    /// How the mirror signs in to Okta; `None` is an SSWS token (`token`).
    pub auth: Option<Auth>,
    /// The SSWS token, when `auth` is `None`.
    pub token: String,
    /// Tail the System Log.
    pub tail: bool,
    pub poll_interval: Duration,
    pub sweep_interval: Duration,
    /// First retry delay after a transient Okta failure; `None` keeps the product's default.
    pub retry_base: Option<Duration>,
    /// The event hook's secret (in the `Authorization` header); `None` switches hooks off.
    pub hook_secret: Option<String>,
    pub search_attributes: Vec<String>,
    /// `/readyz` 503 beyond this staleness; `None` (the product's default) never.
    pub max_staleness: Option<Duration>,
    /// `[attribute_map]` and `extended_attributes` (the product's default: none).
    pub attribute_map: AttributeMap,
    /// The part of the org to mirror (the product's default: all of it).
    pub scope: Scope,
}

impl AppOptions {
    pub fn new(token: &str) -> AppOptions {
        let lanes = Lanes::default();
        AppOptions {
            auth: None,
            token: token.to_owned(),
            tail: lanes.tail,
            poll_interval: lanes.poll_interval,
            sweep_interval: lanes.sweep_interval,
            retry_base: None,
            hook_secret: None,
            search_attributes: Vec::new(),
            max_staleness: None,
            attribute_map: AttributeMap::default(),
            scope: Scope::default(),
        }
    }
}

/// Settings of a mirror of the simulator at `sim`, keeping its data in `data_dir`.
pub fn settings(sim: SocketAddr, data_dir: &Path, o: &AppOptions) -> Settings {
    let mut okta_client = ClientOptions::default();
    if let Some(base) = o.retry_base {
        okta_client.retry_base = base;
    }
    let mut s = Settings::defaults(
        url::Url::parse(&format!("http://{sim}/")).expect("the simulator's URL"),
        o.auth
            .clone()
            .unwrap_or_else(|| Auth::Ssws(Secret::new(o.token.as_str()))),
        data_dir.to_path_buf(),
        "127.0.0.1:0".parse().expect("a loopback address"),
    );
    if let DataSource::Okta(okta) = &mut s.source {
        okta.client = okta_client;
    }
    s.sync.lanes = Lanes {
        tail: o.tail,
        poll_interval: o.poll_interval,
        sweep_interval: o.sweep_interval,
        ..Lanes::default()
    };
    s.server.hook = o.hook_secret.as_ref().map(|s| HookAuth {
        header: "Authorization".into(),
        secret: Secret::new(s.as_str()),
    });
    s.search.attributes = o.search_attributes.clone();
    s.server.max_staleness = o.max_staleness;
    s.sync.engine.attribute_map = std::sync::Arc::new(o.attribute_map.clone());
    s.sync.engine.scope = o.scope.clone();
    s
}

/// Settings of a mirror in provisioning mode (`--source scim`) keeping its data in `data_dir`,
/// with API keys from `keys_file` and no per-key rate limit (a provisioning burst is not what
/// these tests measure).
pub fn provisioning_settings(data_dir: &Path, keys_file: &Path) -> Settings {
    let mut s = Settings::provisioning(
        data_dir.to_path_buf(),
        "127.0.0.1:0".parse().expect("a loopback address"),
    );
    s.server.keys_file = Some(keys_file.to_path_buf());
    s
}
