//! Settings from flags, `OKTAMIRROR_*` environment variables and a TOML file (in that order of
//! precedence), resolved into one validated section per part of the program.

mod options;
mod parse;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::okta::{Auth, ClientOptions, OAuthConfig};
use crate::secret::Secret;
use crate::sync::{Lanes, ManagerConfig, ManagerKey, SyncConfig};

pub use options::Options;
pub use parse::{
    loose_mode, parse_duration, parse_listen, parse_listen_any, parse_okta_url, parse_rate_limit,
    shown,
};
use parse::{read_key_file, read_token_file};

/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "oktamirror-data";
/// Default listen address: loopback (any other address needs a keys file).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default limit on the time one GraphQL request may run.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `request_timeout` accepted: a request running longer holds a connection and a worker
/// for no client that is still waiting.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// A setting that cannot be used, as one sentence saying what to fix. Never quotes a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file given with `--config` cannot be read.
    #[error("cannot read the config file {path}: {detail}")]
    File {
        /// The config file's path.
        path: String,
        /// The I/O error.
        detail: String,
    },
    /// The config file is not TOML, or holds an unknown key or a value of the wrong type.
    #[error("the config file {path} is not valid: {detail}")]
    Toml {
        /// The config file's path.
        path: String,
        /// The TOML error, on one line.
        detail: String,
    },
    /// No Okta URL in any flag, variable or file.
    #[error(
        "no Okta URL: pass --okta-url https://YOUR-ORG.okta.com, set OKTAMIRROR_OKTA_URL, or put okta_url in the config file (or, to have an Okta SCIM app push people and groups instead, start with --source scim, which needs no URL or token)"
    )]
    MissingUrl,
    /// The Okta URL does not parse, has no host, or is not http(s).
    #[error("\"{0}\" is not a valid Okta URL: give the org URL, like https://example.okta.com")]
    BadUrl(String),
    /// The Okta URL is `http://` to a host other than loopback.
    #[error(
        "the Okta URL {0} uses http://, which would send the API token in clear text; use https:// (http:// is allowed only for a loopback address such as a local simulator)"
    )]
    InsecureUrl(String),
    /// The Okta URL is the `-admin` domain.
    #[error(
        "the Okta URL {0} is the admin domain; use the org domain without \"-admin\" (for example https://example.okta.com)"
    )]
    AdminDomain(String),
    /// The Okta URL has a path or a query.
    #[error("the Okta URL {0} has a path; give only the org URL, like https://example.okta.com")]
    UrlWithPath(String),
    /// Neither an SSWS token (file, `OKTA_API_TOKEN`, `okta_token`) nor an OAuth app is given.
    #[error(
        "no Okta API token: set OKTA_API_TOKEN, pass --okta-token-file PATH (a file holding only the token), or store it in the OS keyring with `oktamirror keyring set NAME` and pass --okta-token-keyring NAME"
    )]
    MissingToken,
    /// The Okta token file cannot be read.
    #[error("cannot read the Okta token file {path}: {detail}")]
    TokenFile {
        /// The token file's path.
        path: String,
        /// The I/O error.
        detail: String,
    },
    /// The Okta token file (its path here) holds nothing but whitespace.
    #[error("the Okta token file {0} is empty")]
    EmptyToken(String),
    /// A key or secret file (OAuth key, DPoP key, hook secret) cannot be read, or is empty.
    #[error("cannot read the {what} {path}: {detail}")]
    KeyFile {
        /// Which file, like `OAuth private key file`.
        what: &'static str,
        /// The file's path.
        path: String,
        /// The I/O error, or that the file is empty.
        detail: String,
    },
    /// The listen address is not `HOST:PORT`.
    #[error("\"{0}\" is not an address to listen on: use HOST:PORT, like 127.0.0.1:8080")]
    BadListen(String),
    /// A non-loopback listen address without a keys file.
    #[error(
        "refusing to listen on {0}: without API keys the mirror must stay on a loopback address such as 127.0.0.1:8080; to serve a network, create keys with `oktamirror keys new --keys-file PATH …` and pass --keys-file PATH"
    )]
    PublicListen(SocketAddr),
    /// Any other unusable value (out of range, half of a pair, bad format): the whole sentence.
    #[error("{0}")]
    Invalid(String),
}

/// Validated settings for `serve`, `sync`, `check` and `demo`: one section per consumer, each
/// resolved and validated on its own from the merged [`Options`], each holding parsed types.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the mirror keeps its store and search index.
    pub data_dir: PathBuf,
    /// Where people and groups come from: the Okta API (how to reach and pace it) or pushes
    /// from a provisioning client.
    pub source: DataSource,
    /// The sync engine and its schedule.
    pub sync: SyncSettings,
    /// The HTTP server.
    pub server: ServerSettings,
    /// People search.
    pub search: SearchSettings,
    /// How much of the change log is kept.
    pub retention: Retention,
    /// How the store is opened.
    pub store: crate::store::StoreOptions,
    /// The files holding secrets (token, keys, hook secret, API keys, TLS key), so `serve` can
    /// warn at start about any that other users can read.
    pub secret_files: Vec<SecretFile>,
}

/// How much of the change log the mirror keeps (`change_log_retention`,
/// `change_log_max_entries`): what a change-feed consumer may fall behind by before its cursor
/// expires. The search index needs no more than this: entries it has not read are never pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Entries older than this are pruned.
    pub max_age: Duration,
    /// At most this many entries are kept.
    pub max_entries: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_entries: 5_000_000,
        }
    }
}

impl Retention {
    /// Shortest retention accepted: a consumer that restarts for maintenance must find its
    /// cursor still valid.
    pub const MIN_AGE: Duration = Duration::from_secs(3600);

    fn resolve(o: &Options) -> Result<Retention, ConfigError> {
        let mut r = Retention::default();
        if let Some(s) = &o.change_log_retention {
            r.max_age = parse_duration(s)?;
            if r.max_age < Retention::MIN_AGE {
                return Err(ConfigError::Invalid(format!(
                    "change_log_retention \"{s}\" is shorter than an hour: change-feed consumers that stop for a restart would lose their place; use something like 7d"
                )));
            }
        }
        if let Some(n) = o.change_log_max_entries {
            if n < 1000 {
                return Err(ConfigError::Invalid(format!(
                    "change_log_max_entries {n} is below 1000: one sync can write more entries than that, and consumers would lose their place at once; use something like 5000000"
                )));
            }
            r.max_entries = n;
        }
        Ok(r)
    }
}

/// `store_cache_mb`, checked: below 8 MiB sled spends its time reading pages back; above
/// 64 GiB is a typo (the cache is a share of the machine's memory, not of its disk).
fn store_options(o: &Options) -> Result<crate::store::StoreOptions, ConfigError> {
    let mut store = crate::store::StoreOptions::default();
    if let Some(mb) = o.store_cache_mb {
        if !(8..=65_536).contains(&mb) {
            return Err(ConfigError::Invalid(format!(
                "store_cache_mb {mb} is outside 8..65536: it is the store's page cache in MiB; use 64 (the default), 16 to keep a large org's memory down, or more for faster SCIM pages"
            )));
        }
        store.cache_bytes = mb << 20;
    }
    Ok(store)
}

/// A file that holds a secret, and what it is.
#[derive(Debug, Clone)]
pub struct SecretFile {
    /// What the file holds, as a warning names it (`Okta token file`).
    pub what: &'static str,
    /// The file, as configured.
    pub path: PathBuf,
}

/// Where the mirror's people and groups come from (`source`).
#[derive(Debug, Clone)]
pub enum DataSource {
    /// `okta` (the default): crawl the Okta API and follow its changes.
    Okta(Box<OktaSettings>),
    /// `scim`, provisioning mode: no Okta API client and no sync schedule; an Okta SCIM app
    /// (or any SCIM client with a provisioner key) pushes people and groups to `/scim/v2`.
    Scim,
}

impl Settings {
    /// The Okta API settings; `None` in provisioning mode.
    pub fn okta(&self) -> Option<&OktaSettings> {
        match &self.source {
            DataSource::Okta(o) => Some(o.as_ref()),
            DataSource::Scim => None,
        }
    }

    /// The Okta API settings, or the error a command that needs the Okta API (`sync`, `check`)
    /// gives in provisioning mode.
    pub fn require_okta(&self, command: &str) -> Result<&OktaSettings, ConfigError> {
        self.okta().ok_or_else(|| {
            ConfigError::Invalid(format!(
                "`oktamirror {command}` reads the Okta API, but source is scim (provisioning mode: people and groups are pushed to `oktamirror serve --source scim`); use source = okta with an Okta URL and token"
            ))
        })
    }

    /// Every default for a mirror in provisioning mode (`source = "scim"`) in `data_dir`,
    /// listening on `listen`.
    pub fn provisioning(data_dir: PathBuf, listen: SocketAddr) -> Settings {
        Settings::with_source(DataSource::Scim, data_dir, listen)
    }
}

/// How to reach and pace the Okta org.
#[derive(Debug, Clone)]
pub struct OktaSettings {
    /// The org URL, `https://example.okta.com/` (http only on loopback).
    pub url: Url,
    /// SSWS token or OAuth service app.
    pub auth: Auth,
    /// Pacing, retries and requests in flight.
    pub client: ClientOptions,
}

/// The sync engine and its schedule.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Concurrency, manager resolution and the deletion safety.
    pub engine: SyncConfig,
    /// Poll, sweep and reconcile intervals.
    pub lanes: Lanes,
}

/// The HTTP server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The address to listen on: loopback unless a keys file is given; port 0 asks for a free one.
    pub listen: SocketAddr,
    /// Event hooks: the header and the exact value Okta's deliveries must carry; `None`
    /// leaves `/hooks/okta` switched off.
    pub hook: Option<HookAuth>,
    /// Custom profile attributes a `directory` caller sees in `profile`.
    pub directory_attributes: Vec<String>,
    /// The API keys file: every request but the probes and the hook needs a key from it. `None`
    /// is an open server, which may listen on loopback only.
    pub keys_file: Option<PathBuf>,
    /// Requests per key (one shared bucket without keys); `None` for no limit.
    pub rate_limit: Option<crate::api::RateLimit>,
    /// Serve HTTPS with this certificate and key (reloaded when they change); `None` for HTTP.
    pub tls: Option<TlsFiles>,
    /// The longest one GraphQL request may run before it ends with a `TIMEOUT` error.
    pub request_timeout: Duration,
    /// `/readyz` answers 503 once Okta was last read successfully longer ago than this;
    /// `None` (the default) keeps a mirror ready however stale it gets.
    pub max_staleness: Option<Duration>,
    /// Where the change feed is POSTed (`[[webhooks]]`).
    pub webhooks: Vec<crate::api::Webhook>,
    /// The directory pages' settings (a photo URL template).
    pub web: crate::api::WebSettings,
    /// Browser sign-in to the directory with Okta (OIDC); `None` leaves it off.
    pub oidc: Option<crate::api::OidcSettings>,
}

/// The PEM files built-in TLS serves with.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain (PEM).
    pub cert: PathBuf,
    /// The certificate's private key (PEM).
    pub key: PathBuf,
}

/// People search.
#[derive(Debug, Clone, Default)]
pub struct SearchSettings {
    /// Okta profile attributes beyond the standard ones that people search covers.
    pub attributes: Vec<String>,
}

/// How Okta's event-hook deliveries authenticate (okta-api.md 8.1: a header and its value).
#[derive(Debug, Clone)]
pub struct HookAuth {
    /// The header name, `Authorization` unless `hook_header` says otherwise.
    pub header: String,
    /// The header's exact value, as configured in the Okta event hook (at least 16 characters).
    pub secret: Secret,
}

impl Settings {
    /// Every default, for a mirror of the org at `url` in `data_dir`, listening on `listen`: what
    /// `demo`, tests and benches start from before changing a section.
    pub fn defaults(url: Url, auth: Auth, data_dir: PathBuf, listen: SocketAddr) -> Settings {
        let okta = OktaSettings {
            url,
            auth,
            client: ClientOptions::default(),
        };
        Settings::with_source(DataSource::Okta(Box::new(okta)), data_dir, listen)
    }

    fn with_source(source: DataSource, data_dir: PathBuf, listen: SocketAddr) -> Settings {
        Settings {
            data_dir,
            source,
            sync: SyncSettings {
                engine: SyncConfig::default(),
                lanes: Lanes::default(),
            },
            server: ServerSettings {
                listen,
                hook: None,
                directory_attributes: Vec::new(),
                keys_file: None,
                rate_limit: None,
                tls: None,
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                max_staleness: None,
                webhooks: Vec::new(),
                web: crate::api::WebSettings::default(),
                oidc: None,
            },
            search: SearchSettings::default(),
            retention: Retention::default(),
            store: crate::store::StoreOptions::default(),
            secret_files: Vec::new(),
        }
    }

    /// Merges flags/env over the config file over defaults, and validates. `token_env` is the
    /// value of `OKTA_API_TOKEN`, passed in so tests need not touch the process environment.
    pub fn resolve(flags: Options, token_env: Option<String>) -> Result<Settings, ConfigError> {
        let file = match &flags.config {
            Some(p) => Options::load(p)?,
            None => Options::default(),
        };
        let o = flags.over(file)?;
        let source = match o.source.as_deref().map(|s| s.trim().to_ascii_lowercase()) {
            None => DataSource::Okta(Box::new(OktaSettings::resolve(&o, token_env)?)),
            Some(s) if s == "okta" => {
                DataSource::Okta(Box::new(OktaSettings::resolve(&o, token_env)?))
            }
            Some(s) if s == "scim" => {
                if o.okta_url.is_some() {
                    return Err(ConfigError::Invalid(
                        "okta_url is set but source is scim: in provisioning mode the mirror reads nothing from the Okta API (an Okta SCIM app pushes to /scim/v2); remove okta_url, or use source = okta to crawl the Okta API".into(),
                    ));
                }
                DataSource::Scim
            }
            Some(other) => {
                return Err(ConfigError::Invalid(format!(
                    "source \"{other}\" is not a source: use okta (crawl the Okta API, the default) or scim (an Okta SCIM app pushes people and groups)"
                )));
            }
        };
        Ok(Settings {
            source,
            sync: SyncSettings::resolve(&o)?,
            server: ServerSettings::resolve(&o)?,
            search: SearchSettings::resolve(&o)?,
            retention: Retention::resolve(&o)?,
            store: store_options(&o)?,
            secret_files: secret_files(&o),
            data_dir: o
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        })
    }
}

impl OktaSettings {
    fn resolve(o: &Options, token_env: Option<String>) -> Result<OktaSettings, ConfigError> {
        let url = parse_okta_url(o.okta_url.as_deref().ok_or(ConfigError::MissingUrl)?)?;
        let keyring = o.okta_token_keyring.as_deref().map(str::trim);
        if let (Some(_), Some(_)) = (keyring, o.okta_private_key_file.as_ref()) {
            return Err(ConfigError::Invalid(
                "okta_token_keyring and okta_private_key_file are both set: give the OAuth private key once, from the keyring or from the file".into(),
            ));
        }
        if let (Some(_), Some(_)) = (keyring, o.okta_token_file.as_ref()) {
            return Err(ConfigError::Invalid(
                "okta_token_keyring and okta_token_file are both set: give the Okta token once, from the keyring or from the file".into(),
            ));
        }
        let from_keyring = |name: &str| {
            crate::secret::keyring::read(name)
                .map_err(|e| ConfigError::Invalid(format!("okta_token_keyring: {e}")))
        };
        let key_file = match (keyring, &o.okta_private_key_file) {
            (_, Some(path)) => Some(read_key_file("OAuth private key file", path)?),
            (Some(name), None) if o.okta_client_id.is_some() => Some(from_keyring(name)?),
            _ => None,
        };
        let auth = match (&o.okta_client_id, key_file) {
            (Some(client_id), Some(private_key)) => Auth::OAuth(OAuthConfig {
                client_id: client_id.trim().to_owned(),
                private_key,
                key_id: o.okta_key_id.clone(),
                scopes: o.okta_scopes.clone().unwrap_or_default(),
                dpop_key: match &o.okta_dpop_key_file {
                    Some(p) => Some(read_key_file("DPoP key file", p)?),
                    None => None,
                },
                key_file: o.okta_private_key_file.clone(),
            }),
            (Some(_), None) => {
                return Err(ConfigError::Invalid(
                    "okta_client_id is set but okta_private_key_file is not: give the service app's private key (PEM or JWK) with --okta-private-key-file (or from the OS keyring with --okta-token-keyring)".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "okta_private_key_file is set but okta_client_id is not: give the service app's Client ID with --okta-client-id".into(),
                ));
            }
            (None, None) => Auth::Ssws(match (&o.okta_token_file, keyring) {
                (Some(path), _) => read_token_file(path)?,
                (None, Some(name)) => from_keyring(name)?,
                (None, None) => match token_env
                    .map(Secret::new)
                    .or_else(|| o.okta_token.clone())
                    .filter(|t| !t.expose().trim().is_empty())
                {
                    Some(t) => Secret::new(t.expose().trim()),
                    None => return Err(ConfigError::MissingToken),
                },
            }),
        };
        let mut client = ClientOptions::default();
        if let Some(p) = o.rate_limit_share {
            if !(1..=100).contains(&p) {
                return Err(ConfigError::Invalid(format!(
                    "rate_limit_share {p} is out of range: give a percent from 1 to 100 (50 leaves half of each bucket to the org's other integrations)"
                )));
            }
            client.rate_limit_share = f64::from(p) / 100.0;
        }
        if let Some(r) = o.okta_retries {
            if r > 10 {
                return Err(ConfigError::Invalid(format!(
                    "okta_retries {r} is too many: use 0 to 10 (each retry waits twice as long as the one before)"
                )));
            }
            client.max_retries = r;
        }
        if let Some(c) = o.concurrency {
            client.max_in_flight = concurrency(c)?;
        }
        for alias in o.okta_url_aliases.iter().flatten() {
            let parsed = parse_okta_url(alias)
                .map_err(|e| ConfigError::Invalid(format!("okta_url_aliases: {e}")))?;
            client.url_aliases.push(parsed);
        }
        Ok(OktaSettings { url, auth, client })
    }
}

/// Member lists fetched at once, which is also the client's requests in flight.
fn concurrency(c: usize) -> Result<usize, ConfigError> {
    if !(1..=64).contains(&c) {
        return Err(ConfigError::Invalid(format!(
            "concurrency {c} is out of range: use 1 to 64 (Okta's concurrency limit is shared with every other integration)"
        )));
    }
    Ok(c)
}

/// The scope keys (`include_groups`, `users`, `user_filter`, `user_types`) as a `sync::Scope`.
fn scope(o: &Options) -> Result<crate::sync::Scope, ConfigError> {
    let list = |key: &str, v: &Option<Vec<String>>| -> Result<Vec<String>, ConfigError> {
        let items: Vec<String> = v.iter().flatten().map(|s| s.trim().to_owned()).collect();
        if items.iter().any(String::is_empty) {
            return Err(ConfigError::Invalid(format!(
                "{key} has an empty entry: give names separated by commas, like {}",
                if key == "include_groups" {
                    "dept-engineering,team-*"
                } else {
                    "Employee,Contractor"
                }
            )));
        }
        Ok(items)
    };
    let include_groups = list("include_groups", &o.include_groups)?;
    let users_from_groups = match o.users.as_deref().map(str::trim) {
        None | Some("all") => false,
        Some("groups") => true,
        Some(other) => {
            return Err(ConfigError::Invalid(format!(
                "users = \"{other}\" is not a choice: use \"all\" (everyone, the default) or \"groups\" (members of include_groups)"
            )));
        }
    };
    if users_from_groups && include_groups.is_empty() {
        return Err(ConfigError::Invalid(
            "users = \"groups\" needs include_groups: name the groups whose members to mirror (like include_groups = [\"dept-engineering\", \"team-*\"])".into(),
        ));
    }
    let user_filter = match o.user_filter.as_deref().map(str::trim) {
        Some("") => {
            return Err(ConfigError::Invalid(
                "user_filter is empty: give an Okta search expression, like profile.countryCode eq \"US\", or leave it out".into(),
            ));
        }
        other => other.map(str::to_owned),
    };
    Ok(crate::sync::Scope {
        include_groups,
        users_from_groups,
        user_filter,
        user_types: list("user_types", &o.user_types)?,
    })
}

impl SyncSettings {
    fn resolve(o: &Options) -> Result<SyncSettings, ConfigError> {
        let mut engine = SyncConfig::default();
        if let Some(c) = o.concurrency {
            engine.concurrency = concurrency(c)?;
        }
        engine.managers = manager_config(o.manager_keys.clone(), o.manager_name_fallback)?;
        if let Some(p) = o.max_delete_percent {
            if !(0.0..=100.0).contains(&p) {
                return Err(ConfigError::Invalid(format!(
                    "max_delete_percent {p} is out of range: use 0 to 100 (default 10)"
                )));
            }
            engine.max_delete_share = p / 100.0;
        }
        engine.allow_mass_delete = o.allow_mass_delete;
        let table = o.attribute_map.clone().unwrap_or_default();
        let mut extended = table.extended_attributes;
        extended.extend(o.extended_attributes.iter().flatten().cloned());
        engine.attribute_map = std::sync::Arc::new(
            crate::model::AttributeMap::parse(&table.fields, &extended)
                .map_err(ConfigError::Invalid)?,
        );
        engine.scope = scope(o)?;
        let mut lanes = Lanes::default();
        if let Some(s) = &o.full_sync_interval {
            lanes.reconcile_interval = parse_duration(s)?;
        }
        if let Some(s) = &o.log_poll_interval {
            lanes.poll_interval = parse_duration(s)?;
        }
        if let Some(s) = &o.sweep_interval {
            lanes.sweep_interval = parse_duration(s)?;
        }
        lanes.tail = !o.no_log_tail && o.log_tail.unwrap_or(true);
        Ok(SyncSettings { engine, lanes })
    }
}

impl ServerSettings {
    fn resolve(o: &Options) -> Result<ServerSettings, ConfigError> {
        let listen_text = o.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = match &o.api_keys_file {
            Some(_) => parse_listen_any(listen_text)?,
            None => parse_listen(listen_text)?,
        };
        let secret = match &o.hook_secret_file {
            Some(path) => Some(Secret::new(
                read_key_file("event hook secret file", path)?
                    .expose()
                    .trim(),
            )),
            None => o.hook_secret.clone(),
        };
        let hook = match secret {
            None => None,
            Some(secret) => {
                let header = o
                    .hook_header
                    .clone()
                    .unwrap_or_else(|| "Authorization".to_owned());
                if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    return Err(ConfigError::Invalid(format!(
                        "hook_header \"{header}\" is not an HTTP header name: use the key you gave Okta's event hook, like Authorization or X-Hook-Secret"
                    )));
                }
                if secret.expose().trim().len() < 16 {
                    return Err(ConfigError::Invalid(
                        "the event hook secret is shorter than 16 characters: use a long random value (for example `openssl rand -hex 32`), as Okta sends it on every delivery".into(),
                    ));
                }
                Some(HookAuth { header, secret })
            }
        };
        let request_timeout = match &o.request_timeout {
            None => DEFAULT_REQUEST_TIMEOUT,
            Some(s) => parse_duration(s)?,
        };
        if request_timeout > MAX_REQUEST_TIMEOUT {
            return Err(ConfigError::Invalid(format!(
                "request_timeout {:?} is longer than {}s: no client waits that long for an answer; use something like 10s",
                request_timeout,
                MAX_REQUEST_TIMEOUT.as_secs()
            )));
        }
        let max_staleness = match o.max_staleness.as_deref().map(str::trim) {
            None | Some("off") => None,
            Some(s) => Some(parse_duration(s).map_err(|_| {
                ConfigError::Invalid(format!(
                    "max_staleness \"{s}\" is not a duration: use something like 10m (readiness then fails after ten minutes without a successful read of Okta) or off"
                ))
            })?),
        };
        let rate_limit = match &o.rate_limit_per_key {
            Some(r) => parse_rate_limit(r)?,
            None if o.api_keys_file.is_some() => Some(crate::api::RateLimit::default()),
            None => None,
        };
        let tls = match (&o.tls_cert_file, &o.tls_key_file) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::Invalid(
                    "tls_cert_file is set but tls_key_file is not: give the certificate's private key with --tls-key-file".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "tls_key_file is set but tls_cert_file is not: give the certificate chain with --tls-cert-file".into(),
                ));
            }
        };
        let web = crate::api::WebSettings {
            photo_url_template: match o.photo_url_template.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(t) => {
                    let probe = t.replace("{login}", "x").replace("{id}", "x");
                    let ok = t.starts_with('/')
                        || url::Url::parse(&probe)
                            .is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
                    if !ok || !(t.contains("{login}") || t.contains("{id}")) {
                        return Err(ConfigError::Invalid(format!(
                            "photo_url_template \"{t}\" is not a photo URL: use an http(s) URL or a path with {{login}} or {{id}}, like https://photos.example.com/{{login}}.jpg"
                        )));
                    }
                    Some(t.to_owned())
                }
            },
        };
        let oidc = Self::resolve_oidc(o, tls.is_some())?;
        Ok(ServerSettings {
            web,
            oidc,
            listen,
            hook,
            directory_attributes: attribute_names(
                "directory attribute",
                o.directory_attributes.clone(),
            )?,
            keys_file: o.api_keys_file.clone(),
            rate_limit,
            tls,
            request_timeout,
            max_staleness,
            webhooks: o
                .webhooks
                .iter()
                .flatten()
                .map(webhook)
                .collect::<Result<Vec<_>, _>>()
                .and_then(distinct_webhook_names)?,
        })
    }
}

/// One `[[webhooks]]` table, checked.
fn webhook(w: &options::WebhookOptions) -> Result<crate::api::Webhook, ConfigError> {
    let invalid = |m: String| ConfigError::Invalid(m);
    let name = w.name.clone().ok_or_else(|| {
        invalid(
            "a [[webhooks]] table has no name: give it one, like name = \"search-indexer\"".into(),
        )
    })?;
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(format!(
            "webhook name {name:?} is not allowed: use 1 to 64 letters, digits, '-' or '_'"
        )));
    }
    let url_text = w.url.as_deref().ok_or_else(|| {
        invalid(format!(
            "webhook {name} has no url: give the address to POST changes to"
        ))
    })?;
    let url = url::Url::parse(url_text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            invalid(format!(
                "webhook {name}: url {:?} is not an http(s) URL, like https://indexer.example.com/oktamirror",
                shown(url_text)
            ))
        })?;
    let kinds = match &w.events {
        None => None,
        Some(list) => Some(
            list.iter()
                .map(|e| {
                    crate::access::FeedKind::parse(e).ok_or_else(|| {
                        invalid(format!(
                            "webhook {name}: unknown event {e:?}; use {}",
                            crate::access::FeedKind::ALL
                                .iter()
                                .map(|k| k.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let path = w.secret_file.as_ref().ok_or_else(|| {
        invalid(format!(
            "webhook {name} has no secret_file: deliveries are signed (HMAC-SHA256) so the receiver can tell them from forgeries; write a long random value (like `openssl rand -hex 32`) to a file and name it"
        ))
    })?;
    let secret = Secret::new(read_key_file("webhook secret file", path)?.expose().trim());
    if secret.expose().len() < 16 {
        return Err(invalid(format!(
            "webhook {name}: the secret in {} is shorter than 16 characters: use a long random value (like `openssl rand -hex 32`)",
            path.display()
        )));
    }
    let role = match &w.role {
        None => crate::access::Role::Directory,
        Some(r) => r
            .parse()
            .map_err(|e: String| invalid(format!("webhook {name}: {e}")))?,
    };
    let max_attempts = w.max_attempts.unwrap_or(10);
    if !(1..=100).contains(&max_attempts) {
        return Err(invalid(format!(
            "webhook {name}: max_attempts {max_attempts} is out of range: use 1 to 100"
        )));
    }
    let retry_initial = match &w.retry_initial {
        None => Duration::from_secs(1),
        Some(s) => parse_duration(s)?,
    };
    let timeout = match &w.timeout {
        None => Duration::from_secs(10),
        Some(s) => parse_duration(s)?,
    };
    if timeout.is_zero() || timeout > Duration::from_secs(300) {
        return Err(invalid(format!(
            "webhook {name}: timeout {timeout:?} is out of range: use 1s to 5m"
        )));
    }
    Ok(crate::api::Webhook {
        name,
        url,
        kinds,
        secret,
        caller: crate::access::Caller { name: None, role },
        max_attempts,
        retry_initial: retry_initial.max(Duration::from_millis(10)),
        timeout,
    })
}

/// Two webhooks with one name would share a position file and their metrics.
fn distinct_webhook_names(
    hooks: Vec<crate::api::Webhook>,
) -> Result<Vec<crate::api::Webhook>, ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for h in &hooks {
        if !seen.insert(h.name.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "two [[webhooks]] tables are named {}: give each its own name",
                h.name
            )));
        }
    }
    Ok(hooks)
}

impl ServerSettings {
    /// Directory sign-in: all of `oidc_client_id` and `oidc_client_secret_file`, with keys.
    fn resolve_oidc(
        o: &Options,
        tls: bool,
    ) -> Result<Option<crate::api::OidcSettings>, ConfigError> {
        let (client_id, secret_file) = match (&o.oidc_client_id, &o.oidc_client_secret_file) {
            (None, None) => {
                if o.oidc_issuer.is_some() || o.oidc_redirect_url.is_some() {
                    return Err(ConfigError::Invalid(
                        "oidc_issuer or oidc_redirect_url is set but oidc_client_id is not: give the Client ID and secret file of the Okta OIDC web app for directory sign-in".into(),
                    ));
                }
                return Ok(None);
            }
            (Some(id), Some(file)) => (id.trim().to_owned(), file),
            (Some(_), None) => {
                return Err(ConfigError::Invalid(
                    "oidc_client_id is set but oidc_client_secret_file is not: give a file holding the OIDC web app's client secret".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "oidc_client_secret_file is set but oidc_client_id is not: give the OIDC web app's Client ID".into(),
                ));
            }
        };
        if o.api_keys_file.is_none() {
            return Err(ConfigError::Invalid(
                "directory sign-in (oidc_client_id) needs a keys file (--keys-file): without one the server is open on loopback and there is nothing to sign in to".into(),
            ));
        }
        let issuer_text = match (&o.oidc_issuer, &o.okta_url) {
            (Some(i), _) => i.trim().to_owned(),
            (None, Some(u)) => format!("{}/oauth2/default", u.trim().trim_end_matches('/')),
            (None, None) => {
                return Err(ConfigError::Invalid(
                    "directory sign-in needs oidc_issuer (the authorization server, like https://example.okta.com/oauth2/default) when okta_url is not set".into(),
                ));
            }
        };
        let issuer = url::Url::parse(&issuer_text).map_err(|e| {
            ConfigError::Invalid(format!(
                "oidc_issuer \"{issuer_text}\" is not a URL ({e}): use the authorization server's issuer, like https://example.okta.com/oauth2/default"
            ))
        })?;
        let redirect_url = match o.oidc_redirect_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(r) => Some(url::Url::parse(r).map_err(|e| {
                ConfigError::Invalid(format!(
                    "oidc_redirect_url \"{r}\" is not a URL ({e}): use the redirect URI registered in the Okta app, like https://people.example.com/auth/callback"
                ))
            })?),
        };
        let client_secret = Secret::new(
            read_key_file("OIDC client secret file", secret_file)?
                .expose()
                .trim(),
        );
        if client_id.is_empty() || client_secret.expose().is_empty() {
            return Err(ConfigError::Invalid(
                "oidc_client_id or the OIDC client secret is empty: copy both from the Okta app's General tab".into(),
            ));
        }
        let secure_cookies = tls || redirect_url.as_ref().is_some_and(|u| u.scheme() == "https");
        Ok(Some(crate::api::OidcSettings {
            issuer,
            client_id,
            client_secret,
            redirect_url,
            secure_cookies,
        }))
    }
}

/// Every secret-holding file the options name.
fn secret_files(o: &Options) -> Vec<SecretFile> {
    [
        ("Okta token file", &o.okta_token_file),
        ("OAuth private key file", &o.okta_private_key_file),
        ("DPoP key file", &o.okta_dpop_key_file),
        ("event hook secret file", &o.hook_secret_file),
        ("API keys file", &o.api_keys_file),
        ("TLS key file", &o.tls_key_file),
        ("OIDC client secret file", &o.oidc_client_secret_file),
    ]
    .into_iter()
    .chain(
        o.webhooks
            .iter()
            .flatten()
            .map(|w| ("webhook secret file", &w.secret_file)),
    )
    .filter_map(|(what, p)| {
        p.as_ref().map(|p| SecretFile {
            what,
            path: p.clone(),
        })
    })
    .collect()
}

impl Settings {
    /// One warning per secret file that group or others may read, naming the file and the fix.
    pub fn loose_secret_files(&self) -> Vec<String> {
        self.secret_files
            .iter()
            .filter_map(|f| {
                loose_mode(&f.path).map(|mode| {
                    format!(
                        "the {} {} can be read by other users (mode {mode:03o}): run `chmod 600 {}`",
                        f.what,
                        f.path.display(),
                        f.path.display()
                    )
                })
            })
            .collect()
    }
}

impl SearchSettings {
    fn resolve(o: &Options) -> Result<SearchSettings, ConfigError> {
        Ok(SearchSettings {
            attributes: attribute_names("search attribute", o.search_attributes.clone())?,
        })
    }
}

/// Trims, drops empties and sorts (the index compares the set to decide on a rebuild); a name
/// with a dot or a space is a typo, since Okta attribute names are plain identifiers.
fn attribute_names(what: &str, names: Option<Vec<String>>) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = names
        .unwrap_or_default()
        .into_iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    if let Some(bad) = out
        .iter()
        .find(|n| !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(ConfigError::Invalid(format!(
            "{what} \"{bad}\" is not an Okta profile attribute name: use names like badgeId, without \"profile.\""
        )));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn manager_config(
    keys: Option<Vec<String>>,
    fallback: Option<bool>,
) -> Result<ManagerConfig, ConfigError> {
    let mut cfg = ManagerConfig::default();
    if let Some(keys) = keys {
        let parsed = keys
            .iter()
            .map(|k| k.parse::<ManagerKey>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(ConfigError::Invalid)?;
        if parsed.is_empty() {
            return Err(ConfigError::Invalid(
                "manager_keys is empty: list at least one of employee_number, id, external_id, login, email"
                    .into(),
            ));
        }
        cfg.keys = parsed;
    }
    if let Some(f) = fallback {
        cfg.name_fallback = f;
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// `Options` as a command line parses them (flags and `OKTAMIRROR_*`).
    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        o: Options,
    }

    /// The options of `args` (the first is the program's name), or clap's error.
    fn parse_flags<I, A>(args: I) -> Result<Options, clap::Error>
    where
        I: IntoIterator<Item = A>,
        A: Into<std::ffi::OsString> + Clone,
    {
        <Cmd as clap::Parser>::try_parse_from(args).map(|c| c.o)
    }

    fn base() -> Options {
        Options {
            okta_url: Some("https://acme.okta.com".into()),
            ..Default::default()
        }
    }

    #[test]
    fn urls_are_checked_with_a_fix() {
        assert_eq!(
            parse_okta_url("https://acme.okta.com/")
                .expect("ok")
                .as_str(),
            "https://acme.okta.com/"
        );
        assert!(parse_okta_url("http://127.0.0.1:9000").is_ok());
        assert!(matches!(
            parse_okta_url("http://acme.okta.com"),
            Err(ConfigError::InsecureUrl(_))
        ));
        assert!(matches!(
            parse_okta_url("https://acme-admin.okta.com"),
            Err(ConfigError::AdminDomain(_))
        ));
        assert!(matches!(
            parse_okta_url("acme.okta.com"),
            Err(ConfigError::BadUrl(_))
        ));
        assert!(matches!(
            parse_okta_url("https://acme.okta.com/api/v1"),
            Err(ConfigError::UrlWithPath(_))
        ));
    }

    #[test]
    fn scim_source_needs_no_okta_url_or_token() {
        let scim = |o: Options| {
            Settings::resolve(
                Options {
                    source: Some("SCIM".into()),
                    ..o
                },
                None,
            )
        };
        let s = scim(Options::default()).expect("no URL, no token");
        assert!(s.okta().is_none());
        let e = s.require_okta("sync").unwrap_err().to_string();
        assert!(e.contains("source is scim"), "{e}");
        let e = scim(base()).unwrap_err().to_string();
        assert!(e.contains("remove okta_url"), "{e}");
        let e = Settings::resolve(
            Options {
                source: Some("ldap".into()),
                ..Options::default()
            },
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("okta") && e.contains("scim"), "{e}");
        // The Okta-API mode still asks for its URL, and says where the other mode is.
        let e = Settings::resolve(Options::default(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--source scim"), "{e}");
    }

    #[test]
    fn url_aliases_are_checked_like_the_url() {
        let s = Settings::resolve(
            Options {
                okta_url_aliases: Some(vec!["https://login.acme.com".into()]),
                ..base()
            },
            Some("t".into()),
        )
        .expect("ok");
        assert_eq!(
            s.okta().expect("okta").client.url_aliases,
            vec![url::Url::parse("https://login.acme.com/").expect("url")]
        );
        let e = Settings::resolve(
            Options {
                okta_url_aliases: Some(vec!["http://login.acme.com".into()]),
                ..base()
            },
            Some("t".into()),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("okta_url_aliases"), "{e}");
    }

    #[test]
    fn token_missing_or_from_env() {
        let e = Settings::resolve(base(), None).unwrap_err();
        assert!(e.to_string().contains("OKTA_API_TOKEN"));
        let s = Settings::resolve(base(), Some(" tok ".into())).expect("ok");
        assert!(matches!(&s.okta().expect("okta").auth, Auth::Ssws(t) if t.expose() == "tok"));
    }

    #[test]
    fn oauth_settings_and_limits_are_checked() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = dir.path().join("key.pem");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .expect("write");
        let o = Options {
            okta_client_id: Some("0oa1".into()),
            ..base()
        };
        let e = Settings::resolve(o.clone(), None).unwrap_err();
        assert!(e.to_string().contains("--okta-private-key-file"), "{e}");
        let s = Settings::resolve(
            Options {
                okta_private_key_file: Some(key),
                rate_limit_share: Some(30),
                concurrency: Some(4),
                ..o
            },
            None,
        )
        .expect("ok");
        assert!(
            matches!(&s.okta().expect("okta").auth, Auth::OAuth(c) if c.client_id == "0oa1" && c.scopes.is_empty())
        );
        assert_eq!(s.okta().expect("okta").client.rate_limit_share, 0.3);
        assert_eq!(s.okta().expect("okta").client.max_in_flight, 4);
        assert!(!format!("{s:?}").contains("AAAA"), "the key never prints");
        let e = Settings::resolve(
            Options {
                rate_limit_share: Some(0),
                ..base()
            },
            Some("t".into()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("1 to 100"), "{e}");
    }

    #[test]
    fn directory_sign_in_needs_its_parts_and_keys() {
        let dir = tempfile::tempdir().expect("tmp");
        let secret = dir.path().join("oidc-secret");
        std::fs::write(&secret, "s3cret\n").expect("write");
        let keys = dir.path().join("keys");
        let with = |f: &dyn Fn(&mut Options)| {
            let mut o = Options {
                api_keys_file: Some(keys.clone()),
                oidc_client_id: Some("0oa1".into()),
                oidc_client_secret_file: Some(secret.clone()),
                ..base()
            };
            f(&mut o);
            Settings::resolve(o, Some("t".into()))
        };
        let s = with(&|_| {}).expect("valid");
        let oidc = s.server.oidc.expect("sign-in on");
        assert_eq!(oidc.client_secret.expose(), "s3cret");
        assert!(
            oidc.issuer.as_str().ends_with("/oauth2/default"),
            "{}",
            oidc.issuer
        );
        assert!(!oidc.secure_cookies);
        let https = with(&|o| {
            o.oidc_redirect_url = Some("https://people.example.com/auth/callback".into())
        })
        .expect("valid");
        assert!(https.server.oidc.expect("on").secure_cookies);
        for (f, says) in [
            (
                &(|o: &mut Options| o.api_keys_file = None) as &dyn Fn(&mut Options),
                "keys file",
            ),
            (
                &|o: &mut Options| o.oidc_client_secret_file = None,
                "oidc_client_secret_file",
            ),
            (&|o: &mut Options| o.oidc_client_id = None, "oidc_client_id"),
            (
                &|o: &mut Options| o.oidc_issuer = Some("not a url".into()),
                "oidc_issuer",
            ),
            (
                &|o: &mut Options| o.photo_url_template = Some("ftp://x/{login}".into()),
                "photo_url_template",
            ),
            (
                &|o: &mut Options| o.photo_url_template = Some("https://x/same.jpg".into()),
                "{login}",
            ),
        ] {
            let e = with(f).unwrap_err().to_string();
            assert!(e.contains(says), "{says}: {e}");
        }
        let photo = with(&|o| o.photo_url_template = Some("https://p.example/{login}.jpg".into()))
            .expect("valid");
        assert!(photo.server.web.photo_url_template.is_some());
    }

    #[test]
    fn listen_must_be_loopback() {
        assert!(parse_listen("127.0.0.1:0").is_ok());
        assert!(parse_listen("localhost:8080").is_ok());
        assert!(matches!(
            parse_listen("0.0.0.0:8080"),
            Err(ConfigError::PublicListen(_))
        ));
        assert!(matches!(
            parse_listen("nonsense"),
            Err(ConfigError::BadListen(_))
        ));
    }

    #[test]
    fn any_address_with_a_keys_file_and_the_server_options() {
        let o = Options {
            listen: Some("0.0.0.0:8080".into()),
            ..base()
        };
        let e = Settings::resolve(o.clone(), Some("t".into())).unwrap_err();
        assert!(e.to_string().contains("--keys-file"), "{e}");
        let s = Settings::resolve(
            Options {
                api_keys_file: Some("/k".into()),
                ..o.clone()
            },
            Some("t".into()),
        )
        .expect("ok with keys");
        assert_eq!(s.server.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(s.server.rate_limit, Some(crate::api::RateLimit::default()));
        assert_eq!(s.secret_files.len(), 1);
        let open = Settings::resolve(base(), Some("t".into())).expect("ok");
        assert_eq!(
            open.server.rate_limit, None,
            "no limit on an open server by default"
        );
        let e = Settings::resolve(
            Options {
                tls_cert_file: Some("/c".into()),
                ..base()
            },
            Some("t".into()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("--tls-key-file"), "{e}");
    }

    #[test]
    fn rate_limits_read_with_bursts_and_off() {
        let r = |s: &str| {
            parse_rate_limit(s)
                .expect(s)
                .map(|r| (r.per_second, r.burst))
        };
        assert_eq!(r("50/s"), Some((50.0, 100.0)));
        assert_eq!(r(" 5/s burst 7 "), Some((5.0, 7.0)));
        assert_eq!(r("120/m"), Some((2.0, 4.0)));
        assert_eq!(r("off"), None);
        for bad in [
            "50",
            "0/s",
            "5/h",
            "5/s burst 0",
            "fast",
            "",
            "-5/s",
            "NaN/s",
            "inf/s",
        ] {
            let e = parse_rate_limit(bad).unwrap_err().to_string();
            assert!(e.contains("50/s burst 100"), "{bad:?}: {e}");
        }
        // The largest value is a rate, not an overflow.
        assert!(r("18446744073709551615/s").is_some_and(|(p, b)| p > 1e18 && b >= p));
    }

    #[test]
    fn directory_attributes_at_their_extremes() {
        let attrs = |v: Vec<&str>| {
            Settings::resolve(
                Options {
                    directory_attributes: Some(v.into_iter().map(str::to_owned).collect()),
                    ..base()
                },
                Some("t".into()),
            )
            .map(|s| s.server.directory_attributes)
        };
        assert_eq!(attrs(vec![""]).expect("empty"), Vec::<String>::new());
        assert_eq!(attrs(vec![" b ", "a", "b"]).expect("ok"), ["a", "b"]);
        let long = "x".repeat(10_000);
        assert_eq!(attrs(vec![long.as_str()]).expect("long").len(), 1);
        for bad in ["profile.pronouns", "a b", "\u{1F600}", "x;y"] {
            let e = attrs(vec![bad]).unwrap_err().to_string();
            assert!(e.contains("directory attribute"), "{bad}: {e}");
        }
    }

    /// `[[webhooks]]` tables at their empty, largest and garbage values: each refused with a
    /// message naming the webhook and the fix; a good one resolves with its defaults.
    #[test]
    fn webhook_tables_at_their_extremes_are_refused_clearly() {
        let dir = tempfile::tempdir().expect("tmp");
        let good = dir.path().join("secret");
        std::fs::write(&good, "0123456789abcdef0123\n").expect("write");
        let short = dir.path().join("short");
        std::fs::write(&short, "tiny\n").expect("write");
        let hook = |f: &dyn Fn(&mut options::WebhookOptions)| {
            let mut w = options::WebhookOptions {
                name: Some("indexer".into()),
                url: Some("https://indexer.example.com/hook".into()),
                secret_file: Some(good.clone()),
                ..Default::default()
            };
            f(&mut w);
            Settings::resolve(
                Options {
                    webhooks: Some(vec![w]),
                    ..base()
                },
                Some("t".into()),
            )
        };
        let ok = hook(&|_| {}).expect("a good webhook");
        let w = &ok.server.webhooks[0];
        assert_eq!((w.max_attempts, w.kinds.is_none()), (10, true));
        assert_eq!(w.caller.role, crate::access::Role::Directory);
        let long = "x".repeat(100_000);
        type Edit<'a> = Box<dyn Fn(&mut options::WebhookOptions) + 'a>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|w| w.name = None), "has no name"),
            (Box::new(|w| w.name = Some(String::new())), "is not allowed"),
            (
                Box::new(|w| w.name = Some("a/../b".into())),
                "is not allowed",
            ),
            (
                Box::new(|w| w.name = Some("n".repeat(65))),
                "is not allowed",
            ),
            (Box::new(|w| w.url = None), "has no url"),
            (
                Box::new(|w| w.url = Some(String::new())),
                "not an http(s) URL",
            ),
            (
                Box::new(|w| w.url = Some("ftp://x.example/".into())),
                "not an http(s) URL",
            ),
            (
                Box::new(|w| w.url = Some(long.clone())),
                "not an http(s) URL",
            ),
            (Box::new(|w| w.secret_file = None), "has no secret_file"),
            (
                Box::new(|w| w.secret_file = Some(short.clone())),
                "shorter than 16",
            ),
            (
                Box::new(|w| w.events = Some(vec!["PERSON_EXPLODED".into()])),
                "unknown event",
            ),
            (
                Box::new(|w| w.events = Some(vec![String::new()])),
                "unknown event",
            ),
            (
                Box::new(|w| w.role = Some("root".into())),
                "webhook indexer",
            ),
            (Box::new(|w| w.max_attempts = Some(0)), "out of range"),
            (
                Box::new(|w| w.max_attempts = Some(u32::MAX)),
                "out of range",
            ),
            (Box::new(|w| w.timeout = Some("0s".into())), "\"0s\""),
            (
                Box::new(|w| w.timeout = Some("1000h".into())),
                "out of range",
            ),
            (
                Box::new(|w| w.retry_initial = Some("soon".into())),
                "\"soon\" is not a duration",
            ),
        ];
        for (i, (f, want)) in cases.iter().enumerate() {
            let e = hook(f.as_ref())
                .err()
                .unwrap_or_else(|| panic!("case {i} was accepted"));
            let text = e.to_string();
            assert!(text.contains(want), "case {i}: {text}");
            assert!(
                text.len() < 1_000,
                "case {i} echoes its input: {} chars",
                text.len()
            );
            assert!(
                !text.contains("0123456789abcdef0123"),
                "case {i} shows the secret"
            );
        }
        // Two tables with one name would share a position file.
        let twice = Settings::resolve(
            Options {
                webhooks: Some(vec![
                    options::WebhookOptions {
                        name: Some("a".into()),
                        url: Some("http://127.0.0.1:1/".into()),
                        secret_file: Some(good.clone()),
                        ..Default::default()
                    };
                    2
                ]),
                ..base()
            },
            Some("t".into()),
        );
        assert!(
            twice
                .err()
                .is_some_and(|e| e.to_string().contains("two [[webhooks]]"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn loose_secret_files_are_named_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let token = dir.path().join("token");
        std::fs::write(&token, "00secret-token-value\n").expect("write");
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let s = Settings::resolve(
            Options {
                okta_token_file: Some(token.clone()),
                ..base()
            },
            None,
        )
        .expect("ok");
        let w = s.loose_secret_files();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains(&format!("chmod 600 {}", token.display())),
            "{}",
            w[0]
        );
        assert!(!w[0].contains("00secret"));
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(s.loose_secret_files().is_empty());
    }

    #[test]
    fn file_then_flags_precedence() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "okta_url = \"https://file.okta.com\"\nconcurrency = 4\nmanager_keys = [\"login\"]\nfull_sync_interval = \"6h\"\nsearch_attributes = [\"slackHandle\", \" badgeId\"]\n",
        )
        .expect("write");
        let o = Options {
            config: Some(path.clone()),
            concurrency: Some(2),
            ..Default::default()
        };
        let s = Settings::resolve(o, Some("t".into())).expect("ok");
        assert_eq!(s.search.attributes, ["badgeId", "slackHandle"]);
        assert_eq!(
            s.okta().expect("okta").url.as_str(),
            "https://file.okta.com/"
        );
        assert_eq!(s.sync.engine.concurrency, 2);
        assert_eq!(s.sync.engine.managers.keys, vec![ManagerKey::Login]);
        assert_eq!(
            s.sync.lanes.reconcile_interval,
            Duration::from_secs(6 * 3600)
        );
        std::fs::write(&path, "okta_urll = \"x\"\n").expect("write");
        let e = Settings::resolve(
            Options {
                config: Some(path),
                ..Default::default()
            },
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("okta_urll"), "{e}");
    }

    #[test]
    fn store_cache_defaults_to_64_mib_and_is_bounded() {
        let t = |v: Option<u64>| {
            Settings::resolve(
                Options {
                    store_cache_mb: v,
                    ..base()
                },
                Some("t".into()),
            )
            .map(|s| s.store.cache_bytes)
        };
        assert_eq!(t(None).expect("default"), 64 << 20);
        assert_eq!(t(Some(256)).expect("256"), 256 << 20);
        for bad in [0, 7, 65_537, u64::MAX] {
            let e = t(Some(bad)).unwrap_err().to_string();
            assert!(
                e.contains("store_cache_mb") && e.contains("8..65536"),
                "{e}"
            );
        }
    }

    /// From the file and the flag: a number of MiB is taken; a string, an empty value, a
    /// negative, a fraction or a number past u64 is refused, naming the key or the flag.
    #[test]
    fn store_cache_from_the_file_takes_a_whole_number_of_mib() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "store_cache_mb = 256\n").expect("write");
        assert_eq!(
            Options::load(&path).expect("load").store_cache_mb,
            Some(256)
        );
        for bad in ["\"lots\"", "\"\"", "-1", "1.5"] {
            std::fs::write(&path, format!("store_cache_mb = {bad}\n")).expect("write");
            let e = Options::load(&path).unwrap_err().to_string();
            assert!(e.contains("store_cache_mb"), "{bad}: {e}");
        }
        // The flag: the same, named as the flag.
        let flag = |v: &str| parse_flags(["x".to_owned(), format!("--store-cache-mb={v}")]);
        assert_eq!(flag("128").expect("128").store_cache_mb, Some(128));
        for bad in ["lots", "", "-1", "99999999999999999999999"] {
            let e = flag(bad).expect_err("refused").to_string();
            assert!(e.contains("--store-cache-mb"), "{bad}: {e}");
        }
    }

    #[test]
    fn request_timeout_defaults_to_10s_and_is_bounded() {
        let t = |v: Option<&str>| {
            Settings::resolve(
                Options {
                    request_timeout: v.map(str::to_owned),
                    ..base()
                },
                Some("t".into()),
            )
            .map(|s| s.server.request_timeout)
        };
        assert_eq!(t(None).expect("default"), DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(t(Some("1500ms")).expect("ms"), Duration::from_millis(1500));
        let e = t(Some("2h")).unwrap_err().to_string();
        assert!(e.contains("request_timeout") && e.contains("600s"), "{e}");
        assert!(t(Some("0s")).is_err());
    }

    #[test]
    fn max_staleness_is_off_by_default_and_read_as_a_duration() {
        let t = |v: Option<&str>| {
            Settings::resolve(
                Options {
                    max_staleness: v.map(str::to_owned),
                    ..base()
                },
                Some("t".into()),
            )
            .map(|s| s.server.max_staleness)
        };
        assert_eq!(t(None).expect("default"), None);
        assert_eq!(t(Some("off")).expect("off"), None);
        assert_eq!(t(Some("10m")).expect("10m"), Some(Duration::from_secs(600)));
        let e = t(Some("soon")).unwrap_err().to_string();
        assert!(e.contains("max_staleness") && e.contains("10m"), "{e}");
    }

    #[test]
    fn change_log_retention_at_its_extremes() {
        let t = |age: Option<&str>, entries: Option<u64>| {
            Settings::resolve(
                Options {
                    change_log_retention: age.map(str::to_owned),
                    change_log_max_entries: entries,
                    ..base()
                },
                Some("t".into()),
            )
            .map(|s| s.retention)
        };
        assert_eq!(t(None, None).expect("default"), Retention::default());
        assert_eq!(
            t(Some("30d"), Some(1000)).expect("30d"),
            Retention {
                max_age: Duration::from_secs(30 * 24 * 3600),
                max_entries: 1000
            }
        );
        // The largest values are taken (pruning then keeps everything), never a panic.
        let huge = t(Some("99999999999999999d"), Some(u64::MAX)).expect("huge");
        assert_eq!(huge.max_entries, u64::MAX);
        assert!(huge.max_age > Duration::from_secs(100 * 365 * 24 * 3600));
        for (age, entries, says) in [
            (Some(""), None, "duration"),
            (Some("forever"), None, "duration"),
            (Some("0s"), None, "duration"),
            (Some("59m"), None, "change_log_retention"),
            (None, Some(0), "change_log_max_entries"),
            (None, Some(999), "change_log_max_entries"),
        ] {
            let e = t(age, entries).unwrap_err().to_string();
            assert!(e.contains(says), "{age:?} {entries:?}: {e}");
        }
    }

    #[test]
    fn durations_read_every_unit_and_say_what_is_wrong() {
        assert_eq!(
            parse_duration("500ms").ok(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_duration("90s").ok(), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m").ok(), Some(Duration::from_secs(1800)));
        assert_eq!(
            parse_duration(" 2d ").ok(),
            Some(Duration::from_secs(172_800))
        );
        assert_eq!(parse_duration("15").ok(), Some(Duration::from_secs(15)));
        let e = parse_duration("10 minutes").unwrap_err().to_string();
        assert!(e.contains("500ms"), "{e}");
        assert!(parse_duration("0s").is_err());
    }

    /// Every key the file took before the options were declared once still reads, and each
    /// lands in its section.
    #[test]
    fn every_file_key_reads_into_its_section() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.toml");
        let hook = dir.path().join("hook");
        std::fs::write(&hook, "Bearer 0123456789abcdef0123\n").expect("write");
        std::fs::write(
            &path,
            format!(
                "okta_url = \"https://acme.okta.com\"\nokta_token = \"file-token\"\ndata_dir = \"/tmp/x\"\n\
                 listen = \"127.0.0.1:9999\"\nconcurrency = 3\nmanager_keys = [\"id\", \"email\"]\n\
                 manager_name_fallback = false\nfull_sync_interval = \"2h\"\nmax_delete_percent = 25.0\n\
                 search_attributes = [\"badgeId\"]\nrate_limit_share = 40\nokta_retries = 2\n\
                 log_poll_interval = \"500ms\"\nsweep_interval = \"5m\"\nlog_tail = false\n\
                 hook_secret_file = {:?}\nhook_header = \"X-Hook\"\n",
                hook.display().to_string()
            ),
        )
        .expect("write");
        let o = Options {
            config: Some(path),
            ..Default::default()
        };
        let s = Settings::resolve(o, None).expect("ok");
        assert!(
            matches!(&s.okta().expect("okta").auth, Auth::Ssws(t) if t.expose() == "file-token")
        );
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.server.listen.port(), 9999);
        assert_eq!(s.okta().expect("okta").client.max_in_flight, 3);
        assert_eq!(s.sync.engine.concurrency, 3);
        assert_eq!(
            s.sync.engine.managers.keys,
            vec![ManagerKey::Id, ManagerKey::Email]
        );
        assert!(!s.sync.engine.managers.name_fallback);
        assert_eq!(s.sync.lanes.reconcile_interval, Duration::from_secs(7200));
        assert_eq!(s.sync.engine.max_delete_share, 0.25);
        assert_eq!(s.search.attributes, ["badgeId"]);
        assert_eq!(s.okta().expect("okta").client.rate_limit_share, 0.4);
        assert_eq!(s.okta().expect("okta").client.max_retries, 2);
        assert_eq!(s.sync.lanes.poll_interval, Duration::from_millis(500));
        assert_eq!(s.sync.lanes.sweep_interval, Duration::from_secs(300));
        assert!(!s.sync.lanes.tail);
        let h = s.server.hook.as_ref().expect("hook");
        assert_eq!(h.header, "X-Hook");
        assert_eq!(h.secret.expose(), "Bearer 0123456789abcdef0123");
        let shown = format!("{s:?}");
        assert!(!shown.contains("file-token") && !shown.contains("0123456789abcdef"));
    }

    /// The same keys as flags (and so as `OKTAMIRROR_*` variables): clap reads `Options`
    /// directly, and a flag wins over the file.
    #[test]
    fn flags_parse_into_the_same_options_and_win() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "okta_url = \"https://file.okta.com\"\nlog_poll_interval = \"1m\"\nmanager_keys = [\"id\"]\n",
        )
        .expect("write");
        let o = parse_flags([
            "x",
            "--config",
            path.to_str().expect("utf-8 path"),
            "--okta-url",
            "https://flag.okta.com",
            "--manager-keys",
            "login,email",
            "--no-log-tail",
            "--hook-secret",
            "a-secret-of-enough-length",
        ])
        .expect("parse");
        assert!(!format!("{:?}", o).contains("a-secret-of"));
        let s = Settings::resolve(o, Some("t".into())).expect("ok");
        assert_eq!(
            s.okta().expect("okta").url.as_str(),
            "https://flag.okta.com/"
        );
        assert_eq!(s.sync.lanes.poll_interval, Duration::from_secs(60));
        assert_eq!(
            s.sync.engine.managers.keys,
            vec![ManagerKey::Login, ManagerKey::Email]
        );
        assert!(!s.sync.lanes.tail);
        assert!(s.server.hook.is_some());
        // A flag-only key in the file is an unknown key, named in the error.
        std::fs::write(&path, "allow_mass_delete = true\n").expect("write");
        let e = Settings::resolve(
            Options {
                config: Some(path),
                ..Default::default()
            },
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("allow_mass_delete"), "{e}");
    }

    /// `[attribute_map]` in the file (with `extended_attributes` beside it or inside it), the
    /// compact flag form (a template keeps its commas), and errors naming the valid fields.
    #[test]
    fn attribute_maps_read_from_the_file_and_flags() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.toml");
        let resolve = |text: &str, flags: &[&str]| {
            std::fs::write(
                &path,
                format!("okta_url = \"https://acme.okta.com\"\n{text}"),
            )
            .expect("write");
            let mut args = vec!["x", "--config", path.to_str().expect("utf-8")];
            args.extend_from_slice(flags);
            let o = parse_flags(args).map_err(|e| e.to_string())?;
            Settings::resolve(o, Some("t".into())).map_err(|e| e.to_string())
        };
        let s = resolve(
            "extended_attributes = [\"pronouns\"]\n[attribute_map]\ncity = \"officeLocation\"\n\
             displayName = \"{firstName} {lastName} ({pronouns})\"\nextended_attributes = [\"costCenterCode\"]\n",
            &[],
        )
        .expect("valid");
        assert_eq!(
            s.sync.engine.attribute_map.fingerprint(),
            "city=officeLocation; displayName={firstName} {lastName} ({pronouns}); extended=costCenterCode,pronouns"
        );
        // Flags win over the file's table as a whole.
        let s = resolve(
            "[attribute_map]\ncity = \"officeLocation\"\n",
            &[
                "--attribute-map",
                "displayName={lastName}, {firstName},employeeNumber=badgeId",
                "--extended-attributes",
                "pronouns",
            ],
        )
        .expect("valid");
        assert_eq!(
            s.sync.engine.attribute_map.fingerprint(),
            "displayName={lastName}, {firstName}; employeeNumber=badgeId; extended=pronouns"
        );
        let e = resolve("[attribute_map]\ncty = \"officeLocation\"\n", &[]).unwrap_err();
        assert!(
            e.contains("\"cty\" is not a typed field")
                && e.contains("city, costCenter, countryCode"),
            "{e}"
        );
        let e = resolve("[attribute_map]\ncity = 3\n", &[]).unwrap_err();
        assert!(e.contains("is not text"), "{e}");
        let e = resolve("", &["--attribute-map", "city"]).unwrap_err();
        assert!(e.contains("not field=attribute"), "{e}");
        let e = resolve("[attribute_map]\ntitle = \"{jobTitle}\"\n", &[]).unwrap_err();
        assert!(e.contains("unknown placeholder {jobTitle}"), "{e}");
    }

    /// The keyring is one source of the token among others, never two at once.
    #[test]
    fn the_keyring_excludes_the_token_and_key_files() {
        let both = Options {
            okta_token_keyring: Some("oktamirror/acme".into()),
            okta_token_file: Some("/tmp/token".into()),
            ..base()
        };
        let e = Settings::resolve(both, None).unwrap_err().to_string();
        assert!(e.contains("okta_token_keyring and okta_token_file"), "{e}");
        let both = Options {
            okta_token_keyring: Some("oktamirror/acme".into()),
            okta_client_id: Some("0oa1".into()),
            okta_private_key_file: Some("/tmp/key.pem".into()),
            ..base()
        };
        let e = Settings::resolve(both, None).unwrap_err().to_string();
        assert!(e.contains("okta_private_key_file are both set"), "{e}");
        let bad = Options {
            okta_token_keyring: Some("no spaces allowed".into()),
            ..base()
        };
        let e = Settings::resolve(bad, None).unwrap_err().to_string();
        assert!(
            e.contains("okta_token_keyring") && e.contains("not a keyring entry name"),
            "{e}"
        );
    }
}
