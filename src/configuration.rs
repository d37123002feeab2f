//! Settings from flags, `OKTAMIRROR_*` environment variables and a TOML file (in that order of
//! precedence), validated up front so a mistake stops the program with one sentence to fix it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::okta::{Auth, ClientOptions, OAuthConfig};
use crate::secret::Secret;
use crate::sync::{Lanes, ManagerConfig, ManagerKey, SyncConfig};

/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "oktamirror-data";
/// Default listen address: loopback only until API keys exist.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {detail}")]
    File { path: String, detail: String },
    #[error("the config file {path} is not valid: {detail}")]
    Toml { path: String, detail: String },
    #[error(
        "no Okta URL: pass --okta-url https://YOUR-ORG.okta.com, set OKTAMIRROR_OKTA_URL, or put okta_url in the config file"
    )]
    MissingUrl,
    #[error("\"{0}\" is not a valid Okta URL: give the org URL, like https://example.okta.com")]
    BadUrl(String),
    #[error(
        "the Okta URL {0} uses http://, which would send the API token in clear text; use https:// (http:// is allowed only for a loopback address such as a local simulator)"
    )]
    InsecureUrl(String),
    #[error(
        "the Okta URL {0} is the admin domain; use the org domain without \"-admin\" (for example https://example.okta.com)"
    )]
    AdminDomain(String),
    #[error("the Okta URL {0} has a path; give only the org URL, like https://example.okta.com")]
    UrlWithPath(String),
    #[error(
        "no Okta API token: set OKTA_API_TOKEN, or pass --okta-token-file PATH (a file holding only the token)"
    )]
    MissingToken,
    #[error("cannot read the Okta token file {path}: {detail}")]
    TokenFile { path: String, detail: String },
    #[error("the Okta token file {0} is empty")]
    EmptyToken(String),
    #[error("cannot read the {what} {path}: {detail}")]
    KeyFile {
        what: &'static str,
        path: String,
        detail: String,
    },
    #[error("\"{0}\" is not an address to listen on: use HOST:PORT, like 127.0.0.1:8080")]
    BadListen(String),
    #[error(
        "refusing to listen on {0}: without API keys the mirror must stay on a loopback address such as 127.0.0.1:8080"
    )]
    PublicListen(SocketAddr),
    #[error("{0}")]
    Invalid(String),
}

/// Options as given on the command line or in the environment; `None` means "not given".
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Overrides {
    /// The Okta org URL, like https://example.okta.com
    #[arg(long, env = "OKTAMIRROR_OKTA_URL")]
    pub okta_url: Option<String>,
    /// A file holding the Okta API token (else OKTA_API_TOKEN is read)
    #[arg(long, env = "OKTAMIRROR_OKTA_TOKEN_FILE")]
    pub okta_token_file: Option<PathBuf>,
    /// Where the mirror keeps its data
    #[arg(long, env = "OKTAMIRROR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to serve on
    #[arg(long, env = "OKTAMIRROR_LISTEN")]
    pub listen: Option<String>,
    /// TOML config file
    #[arg(long, env = "OKTAMIRROR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Group member lists fetched at once
    #[arg(long, env = "OKTAMIRROR_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// How managerId is matched, in order: comma-separated employee_number, id, login, email
    #[arg(long, env = "OKTAMIRROR_MANAGER_KEYS", value_delimiter = ',')]
    pub manager_keys: Option<Vec<String>>,
    /// Match profile.manager against display names when managerId matches nobody
    #[arg(long, env = "OKTAMIRROR_MANAGER_NAME_FALLBACK")]
    pub manager_name_fallback: Option<bool>,
    /// Time between full syncs, like 24h, 30m or 90s
    #[arg(long, env = "OKTAMIRROR_FULL_SYNC_INTERVAL")]
    pub full_sync_interval: Option<String>,
    /// Largest share of people (or groups) one full sync may remove, in percent; more is held
    #[arg(long, env = "OKTAMIRROR_MAX_DELETE_PERCENT")]
    pub max_delete_percent: Option<f64>,
    /// Custom profile attributes people search covers, comma-separated (like badgeId,slackHandle)
    #[arg(long, env = "OKTAMIRROR_SEARCH_ATTRIBUTES", value_delimiter = ',')]
    pub search_attributes: Option<Vec<String>>,
    /// Apply removals above --max-delete-percent (after checking that Okta really lost them)
    #[arg(long, env = "OKTAMIRROR_ALLOW_MASS_DELETE")]
    pub allow_mass_delete: bool,
    /// OAuth: the Client ID of an API Services app (switches from SSWS to OAuth)
    #[arg(long, env = "OKTAMIRROR_OKTA_CLIENT_ID")]
    pub okta_client_id: Option<String>,
    /// OAuth: the app's private key (PEM or JWK) for the private_key_jwt assertion
    #[arg(long, env = "OKTAMIRROR_OKTA_PRIVATE_KEY_FILE")]
    pub okta_private_key_file: Option<PathBuf>,
    /// OAuth: the kid of the app's registered public key (needed when it has several)
    #[arg(long, env = "OKTAMIRROR_OKTA_KEY_ID")]
    pub okta_key_id: Option<String>,
    /// OAuth: comma-separated scopes (default okta.users.read,okta.groups.read,okta.logs.read)
    #[arg(long, env = "OKTAMIRROR_OKTA_SCOPES", value_delimiter = ',')]
    pub okta_scopes: Option<Vec<String>>,
    /// OAuth: a separate private key for DPoP (default: a fresh key when Okta asks for DPoP)
    #[arg(long, env = "OKTAMIRROR_OKTA_DPOP_KEY_FILE")]
    pub okta_dpop_key_file: Option<PathBuf>,
    /// Percent of each Okta rate-limit bucket the mirror may use (default 50)
    #[arg(long, env = "OKTAMIRROR_RATE_LIMIT_SHARE")]
    pub rate_limit_share: Option<u32>,
    /// Retries of a request after a transient Okta failure (default 5)
    #[arg(long, env = "OKTAMIRROR_OKTA_RETRIES")]
    pub okta_retries: Option<u32>,
    /// Wait before asking the System Log again after it had nothing new, like 10s (default)
    #[arg(long, env = "OKTAMIRROR_LOG_POLL_INTERVAL")]
    pub log_poll_interval: Option<String>,
    /// Time between lastUpdated/lastMembershipUpdated delta sweeps, like 15m (default)
    #[arg(long, env = "OKTAMIRROR_SWEEP_INTERVAL")]
    pub sweep_interval: Option<String>,
    /// Do not tail the System Log (for a token without okta.logs.read); sweeps, hooks and reconciles still run
    #[arg(long, env = "OKTAMIRROR_NO_LOG_TAIL")]
    pub no_log_tail: bool,
    /// A file holding the event hook's secret: the exact header value Okta sends (like "Bearer abc…"); enables POST /hooks/okta
    #[arg(long, env = "OKTAMIRROR_HOOK_SECRET_FILE")]
    pub hook_secret_file: Option<PathBuf>,
    /// The event hook's secret itself (prefer the env var to the flag: flags show in `ps`)
    #[arg(long, env = "OKTAMIRROR_HOOK_SECRET", hide_env_values = true)]
    pub hook_secret: Option<String>,
    /// The header Okta's event hook carries the secret in (default Authorization)
    #[arg(long, env = "OKTAMIRROR_HOOK_HEADER")]
    pub hook_header: Option<String>,
}

/// The TOML config file: the same options as the flags, in snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub okta_url: Option<String>,
    pub okta_token_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub concurrency: Option<usize>,
    pub manager_keys: Option<Vec<String>>,
    pub manager_name_fallback: Option<bool>,
    pub full_sync_interval: Option<String>,
    pub max_delete_percent: Option<f64>,
    pub search_attributes: Option<Vec<String>>,
    /// The SSWS token itself (prefer okta_token_file or OKTA_API_TOKEN: config files get shared).
    pub okta_token: Option<String>,
    pub okta_client_id: Option<String>,
    pub okta_private_key_file: Option<PathBuf>,
    pub okta_key_id: Option<String>,
    pub okta_scopes: Option<Vec<String>>,
    pub okta_dpop_key_file: Option<PathBuf>,
    pub rate_limit_share: Option<u32>,
    pub okta_retries: Option<u32>,
    pub log_poll_interval: Option<String>,
    pub sweep_interval: Option<String>,
    /// Tail the System Log (default true).
    pub log_tail: Option<bool>,
    pub hook_secret_file: Option<PathBuf>,
    /// The hook secret itself (prefer hook_secret_file or OKTAMIRROR_HOOK_SECRET).
    pub hook_secret: Option<String>,
    pub hook_header: Option<String>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Toml {
            path: path.display().to_string(),
            detail: e.to_string().trim().replace('\n', " "),
        })
    }
}

/// Validated settings for `serve`, `sync` and `demo`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub okta_url: Url,
    pub okta_auth: Auth,
    pub okta_client: ClientOptions,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub sync: SyncConfig,
    /// Poll, sweep and reconcile intervals.
    pub lanes: Lanes,
    /// Okta profile attributes beyond the standard ones that people search covers.
    pub search_attributes: Vec<String>,
    /// Event hooks: the header and the exact value Okta's deliveries must carry; `None`
    /// leaves `/hooks/okta` switched off.
    pub hook: Option<HookAuth>,
}

/// How Okta's event-hook deliveries authenticate (okta-api.md 8.1: a header and its value).
#[derive(Debug, Clone)]
pub struct HookAuth {
    pub header: String,
    pub secret: Secret,
}

impl Settings {
    /// Merges flags/env over the config file over defaults, and validates. `token_env` is the
    /// value of `OKTA_API_TOKEN`, passed in so tests need not touch the process environment.
    pub fn resolve(o: Overrides, token_env: Option<String>) -> Result<Settings, ConfigError> {
        let file = match &o.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let okta_url = o
            .okta_url
            .or(file.okta_url)
            .ok_or(ConfigError::MissingUrl)?;
        let okta_url = parse_okta_url(&okta_url)?;
        let client_id = o.okta_client_id.or(file.okta_client_id);
        let key_file = o.okta_private_key_file.or(file.okta_private_key_file);
        let okta_auth = match (client_id, key_file) {
            (Some(client_id), Some(key_file)) => Auth::OAuth(OAuthConfig {
                client_id: client_id.trim().to_owned(),
                private_key: read_key_file("OAuth private key file", &key_file)?,
                key_id: o.okta_key_id.or(file.okta_key_id),
                scopes: o.okta_scopes.or(file.okta_scopes).unwrap_or_default(),
                dpop_key: match o.okta_dpop_key_file.or(file.okta_dpop_key_file) {
                    Some(p) => Some(read_key_file("DPoP key file", &p)?),
                    None => None,
                },
            }),
            (Some(_), None) => {
                return Err(ConfigError::Invalid(
                    "okta_client_id is set but okta_private_key_file is not: give the service app's private key (PEM or JWK) with --okta-private-key-file".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "okta_private_key_file is set but okta_client_id is not: give the service app's Client ID with --okta-client-id".into(),
                ));
            }
            (None, None) => Auth::Ssws(match o.okta_token_file.or(file.okta_token_file) {
                Some(path) => read_token_file(&path)?,
                None => match token_env
                    .or(file.okta_token)
                    .filter(|t| !t.trim().is_empty())
                {
                    Some(t) => Secret::new(t.trim()),
                    None => return Err(ConfigError::MissingToken),
                },
            }),
        };
        let mut okta_client = ClientOptions::default();
        if let Some(p) = o.rate_limit_share.or(file.rate_limit_share) {
            if !(1..=100).contains(&p) {
                return Err(ConfigError::Invalid(format!(
                    "rate_limit_share {p} is out of range: give a percent from 1 to 100 (50 leaves half of each bucket to the org's other integrations)"
                )));
            }
            okta_client.rate_limit_share = f64::from(p) / 100.0;
        }
        if let Some(r) = o.okta_retries.or(file.okta_retries) {
            if r > 10 {
                return Err(ConfigError::Invalid(format!(
                    "okta_retries {r} is too many: use 0 to 10 (each retry waits twice as long as the one before)"
                )));
            }
            okta_client.max_retries = r;
        }
        let listen = parse_listen(
            o.listen
                .or(file.listen)
                .as_deref()
                .unwrap_or(DEFAULT_LISTEN),
        )?;
        let mut sync = SyncConfig::default();
        if let Some(c) = o.concurrency.or(file.concurrency) {
            if !(1..=64).contains(&c) {
                return Err(ConfigError::Invalid(format!(
                    "concurrency {c} is out of range: use 1 to 64 (Okta's concurrency limit is shared with every other integration)"
                )));
            }
            sync.concurrency = c;
            okta_client.max_in_flight = c;
        }
        sync.managers = manager_config(
            o.manager_keys.or(file.manager_keys),
            o.manager_name_fallback.or(file.manager_name_fallback),
        )?;
        if let Some(p) = o.max_delete_percent.or(file.max_delete_percent) {
            if !(0.0..=100.0).contains(&p) {
                return Err(ConfigError::Invalid(format!(
                    "max_delete_percent {p} is out of range: use 0 to 100 (default 10)"
                )));
            }
            sync.max_delete_share = p / 100.0;
        }
        sync.allow_mass_delete = o.allow_mass_delete;
        let mut lanes = Lanes::default();
        if let Some(s) = o.full_sync_interval.or(file.full_sync_interval) {
            lanes.reconcile_interval = parse_duration(&s)?;
        }
        if let Some(s) = o.log_poll_interval.or(file.log_poll_interval) {
            lanes.poll_interval = parse_duration(&s)?;
        }
        if let Some(s) = o.sweep_interval.or(file.sweep_interval) {
            lanes.sweep_interval = parse_duration(&s)?;
        }
        lanes.tail = !o.no_log_tail && file.log_tail.unwrap_or(true);
        let hook_secret = match o.hook_secret_file.or(file.hook_secret_file) {
            Some(path) => Some(Secret::new(
                read_key_file("event hook secret file", &path)?
                    .expose()
                    .trim(),
            )),
            None => o.hook_secret.or(file.hook_secret).map(Secret::new),
        };
        let hook = match hook_secret {
            None => None,
            Some(secret) => {
                let header = o
                    .hook_header
                    .or(file.hook_header)
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
        Ok(Settings {
            okta_url,
            okta_auth,
            okta_client,
            data_dir: o
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            listen,
            sync,
            lanes,
            search_attributes: search_attributes(o.search_attributes.or(file.search_attributes))?,
            hook,
        })
    }
}

/// Trims, drops empties and sorts (the index compares the set to decide on a rebuild); a name
/// with a dot or a space is a typo, since Okta attribute names are plain identifiers.
fn search_attributes(names: Option<Vec<String>>) -> Result<Vec<String>, ConfigError> {
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
            "search attribute \"{bad}\" is not an Okta profile attribute name: use names like badgeId, without \"profile.\""
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
                "manager_keys is empty: list at least one of employee_number, id, login, email"
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

/// Validates the Okta org URL: https (or http on loopback), a host, no path, not `-admin`.
pub fn parse_okta_url(s: &str) -> Result<Url, ConfigError> {
    let u = Url::parse(s.trim()).map_err(|_| ConfigError::BadUrl(s.to_owned()))?;
    let host = match u.host_str() {
        Some(h) if !h.is_empty() => h.to_owned(),
        _ => return Err(ConfigError::BadUrl(s.to_owned())),
    };
    match u.scheme() {
        "https" => {}
        "http" if is_loopback_host(&host) => {}
        "http" => return Err(ConfigError::InsecureUrl(s.to_owned())),
        _ => return Err(ConfigError::BadUrl(s.to_owned())),
    }
    if host
        .split('.')
        .next()
        .is_some_and(|l| l.ends_with("-admin"))
    {
        return Err(ConfigError::AdminDomain(s.to_owned()));
    }
    if !(u.path() == "/" || u.path().is_empty()) || u.query().is_some() {
        return Err(ConfigError::UrlWithPath(s.to_owned()));
    }
    let mut base = u;
    base.set_path("/");
    Ok(base)
}

fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Parses and checks a listen address: loopback only until API keys exist.
pub fn parse_listen(s: &str) -> Result<SocketAddr, ConfigError> {
    let s = s.trim();
    let addr: SocketAddr = if let Some(port) = s.strip_prefix("localhost:") {
        format!("127.0.0.1:{port}").parse()
    } else {
        s.parse()
    }
    .map_err(|_| ConfigError::BadListen(s.to_owned()))?;
    if !addr.ip().is_loopback() {
        return Err(ConfigError::PublicListen(addr));
    }
    Ok(addr)
}

fn read_token_file(path: &Path) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::TokenFile {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    let t = text.trim();
    if t.is_empty() {
        return Err(ConfigError::EmptyToken(path.display().to_string()));
    }
    Ok(Secret::new(t))
}

fn read_key_file(what: &'static str, path: &Path) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::KeyFile {
        what,
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    if text.trim().is_empty() {
        return Err(ConfigError::KeyFile {
            what,
            path: path.display().to_string(),
            detail: "the file is empty".into(),
        });
    }
    Ok(Secret::new(text))
}

/// "500ms", "90s", "30m", "24h", "2d" or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, ConfigError> {
    let t = s.trim();
    // Milliseconds first: "ms" also ends in "s".
    let (num, millis) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1)
    } else {
        match t.char_indices().last() {
            Some((i, 's')) => (&t[..i], 1000),
            Some((i, 'm')) => (&t[..i], 60_000),
            Some((i, 'h')) => (&t[..i], 3_600_000),
            Some((i, 'd')) => (&t[..i], 86_400_000),
            _ => (t, 1000),
        }
    };
    match num.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_millis(n.saturating_mul(millis))),
        _ => Err(ConfigError::Invalid(format!(
            "\"{s}\" is not a duration: use a number with ms, s, m, h or d, like 24h or 500ms"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Overrides {
        Overrides {
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
    fn token_missing_or_from_env() {
        let e = Settings::resolve(base(), None).unwrap_err();
        assert!(e.to_string().contains("OKTA_API_TOKEN"));
        let s = Settings::resolve(base(), Some(" tok ".into())).expect("ok");
        assert!(matches!(s.okta_auth, Auth::Ssws(t) if t.expose() == "tok"));
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
        let o = Overrides {
            okta_client_id: Some("0oa1".into()),
            ..base()
        };
        let e = Settings::resolve(o.clone(), None).unwrap_err();
        assert!(e.to_string().contains("--okta-private-key-file"), "{e}");
        let s = Settings::resolve(
            Overrides {
                okta_private_key_file: Some(key),
                rate_limit_share: Some(30),
                concurrency: Some(4),
                ..o
            },
            None,
        )
        .expect("ok");
        assert!(
            matches!(&s.okta_auth, Auth::OAuth(c) if c.client_id == "0oa1" && c.scopes.is_empty())
        );
        assert_eq!(s.okta_client.rate_limit_share, 0.3);
        assert_eq!(s.okta_client.max_in_flight, 4);
        assert!(!format!("{s:?}").contains("AAAA"), "the key never prints");
        let e = Settings::resolve(
            Overrides {
                rate_limit_share: Some(0),
                ..base()
            },
            Some("t".into()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("1 to 100"), "{e}");
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
    fn file_then_flags_precedence() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "okta_url = \"https://file.okta.com\"\nconcurrency = 4\nmanager_keys = [\"login\"]\nfull_sync_interval = \"6h\"\nsearch_attributes = [\"slackHandle\", \" badgeId\"]\n",
        )
        .expect("write");
        let o = Overrides {
            config: Some(path.clone()),
            concurrency: Some(2),
            ..Default::default()
        };
        let s = Settings::resolve(o, Some("t".into())).expect("ok");
        assert_eq!(s.search_attributes, ["badgeId", "slackHandle"]);
        assert_eq!(s.okta_url.as_str(), "https://file.okta.com/");
        assert_eq!(s.sync.concurrency, 2);
        assert_eq!(s.sync.managers.keys, vec![ManagerKey::Login]);
        assert_eq!(s.lanes.reconcile_interval, Duration::from_secs(6 * 3600));
        std::fs::write(&path, "okta_urll = \"x\"\n").expect("write");
        let e = Settings::resolve(
            Overrides {
                config: Some(path),
                ..Default::default()
            },
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("okta_urll"), "{e}");
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
}
