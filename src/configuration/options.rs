//! Every setting declared once: one `Options` field is at the same time a flag, an
//! `OKTAMIRROR_*` environment variable (clap) and a config-file key (serde).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::parse::FieldMap;
use crate::secret::Secret;

/// Options as given on the command line, in the environment or in the TOML file; `None` means
/// "not given". Adding a setting is one field here plus its validation in a section's
/// `resolve` (see `super::Settings`). Nested tables for the file are plain nested serde types
/// with `#[arg(skip)]`.
///
/// A few fields are one-sided on purpose: `config` and `allow_mass_delete` only exist as flags,
/// `okta_token` only in the file (a token in a flag would show in `ps`), and the log tail is
/// `--no-log-tail` on the command line but `log_tail = false` in the file.
#[derive(Debug, Default, Clone, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Where people and groups come from: okta (crawl and follow the Okta API, the default) or scim (provisioning mode: an Okta SCIM app pushes them to /scim/v2; no Okta URL or token needed)
    #[arg(long, env = "OKTAMIRROR_SOURCE")]
    pub source: Option<String>,
    /// The Okta org URL, like https://example.okta.com
    #[arg(long, env = "OKTAMIRROR_OKTA_URL")]
    pub okta_url: Option<String>,
    /// A file holding the Okta API token (else OKTA_API_TOKEN is read)
    #[arg(long, env = "OKTAMIRROR_OKTA_TOKEN_FILE")]
    pub okta_token_file: Option<PathBuf>,
    /// The OS keyring entry holding the Okta token (with okta_client_id: the OAuth private key); store it with `oktamirror keyring set NAME`
    #[arg(long, env = "OKTAMIRROR_OKTA_TOKEN_KEYRING")]
    pub okta_token_keyring: Option<String>,
    /// The SSWS token itself, file only (prefer okta_token_file or OKTA_API_TOKEN: config files get shared)
    #[arg(skip)]
    pub okta_token: Option<Secret>,
    /// Where the mirror keeps its data
    #[arg(long, env = "OKTAMIRROR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to serve on
    #[arg(long, env = "OKTAMIRROR_LISTEN")]
    pub listen: Option<String>,
    /// TOML config file
    #[arg(long, env = "OKTAMIRROR_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Group member lists fetched at once
    #[arg(long, env = "OKTAMIRROR_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// How managerId is matched, in order: comma-separated employee_number, id, external_id, login, email
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
    /// Mirror only the groups with these names, comma-separated: exact names or * globs, case-insensitive (like dept-engineering,team-*)
    #[arg(long, env = "OKTAMIRROR_INCLUDE_GROUPS", value_delimiter = ',')]
    pub include_groups: Option<Vec<String>>,
    /// Which people to mirror: all (default) or groups (members of the included groups, plus their managers up the chain)
    #[arg(long, env = "OKTAMIRROR_USERS")]
    pub users: Option<String>,
    /// Mirror only the people matching this Okta search expression, applied by Okta (like: profile.countryCode eq "US" and status eq "ACTIVE")
    #[arg(long, env = "OKTAMIRROR_USER_FILTER")]
    pub user_filter: Option<String>,
    /// Mirror only the people of these Okta user types, comma-separated names (like Employee,Contractor)
    #[arg(long, env = "OKTAMIRROR_USER_TYPES", value_delimiter = ',')]
    pub user_types: Option<Vec<String>>,
    /// Custom profile attributes people search covers, comma-separated (like badgeId,slackHandle)
    #[arg(long, env = "OKTAMIRROR_SEARCH_ATTRIBUTES", value_delimiter = ',')]
    pub search_attributes: Option<Vec<String>>,
    /// Typed fields read from other profile attributes or templates, like "city=officeLocation,displayName={firstName} {lastName}" (an [attribute_map] table in the file)
    #[arg(long, env = "OKTAMIRROR_ATTRIBUTE_MAP")]
    pub attribute_map: Option<FieldMap>,
    /// Custom profile attributes exposed as typed, filterable, searchable `attributes`, comma-separated (like costCenterCode,pronouns)
    #[arg(long, env = "OKTAMIRROR_EXTENDED_ATTRIBUTES", value_delimiter = ',')]
    pub extended_attributes: Option<Vec<String>>,
    /// Custom profile attributes a `directory` key sees in `profile`, comma-separated (default none)
    #[arg(long, env = "OKTAMIRROR_DIRECTORY_ATTRIBUTES", value_delimiter = ',')]
    pub directory_attributes: Option<Vec<String>>,
    /// Apply removals above --max-delete-percent (after checking that Okta really lost them)
    #[arg(long, env = "OKTAMIRROR_ALLOW_MASS_DELETE")]
    #[serde(skip)]
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
    /// Other URLs of the same Okta org whose next-page links may be followed, comma-separated (its okta.com URL behind a custom domain, or the reverse)
    #[arg(long, env = "OKTAMIRROR_OKTA_URL_ALIASES", value_delimiter = ',')]
    pub okta_url_aliases: Option<Vec<String>>,
    /// The shortest wait before asking the System Log again after it had nothing new, like 1s (default); longer when the logs bucket's share allows fewer than 60 reads a minute
    #[arg(long, env = "OKTAMIRROR_LOG_POLL_INTERVAL")]
    pub log_poll_interval: Option<String>,
    /// Time between lastUpdated/lastMembershipUpdated delta sweeps, like 15m (default)
    #[arg(long, env = "OKTAMIRROR_SWEEP_INTERVAL")]
    pub sweep_interval: Option<String>,
    /// Do not tail the System Log (for a token without okta.logs.read); sweeps, hooks and reconciles still run
    #[arg(long, env = "OKTAMIRROR_NO_LOG_TAIL")]
    #[serde(skip)]
    pub no_log_tail: bool,
    /// Tail the System Log, file only (default true; the flag is --no-log-tail)
    #[arg(skip)]
    pub log_tail: Option<bool>,
    /// A file holding the event hook's secret: the exact header value Okta sends (like "Bearer abc…"); enables POST /hooks/okta
    #[arg(long, env = "OKTAMIRROR_HOOK_SECRET_FILE")]
    pub hook_secret_file: Option<PathBuf>,
    /// The event hook's secret itself (prefer the env var to the flag: flags show in `ps`)
    #[arg(long, env = "OKTAMIRROR_HOOK_SECRET", hide_env_values = true)]
    pub hook_secret: Option<Secret>,
    /// The header Okta's event hook carries the secret in (default Authorization)
    #[arg(long, env = "OKTAMIRROR_HOOK_HEADER")]
    pub hook_header: Option<String>,
    /// The API keys file (`oktamirror keys new` writes it): every request then needs `Authorization: Bearer KEY`, and --listen may be any address. Changes apply within 2 s
    #[arg(long = "keys-file", env = "OKTAMIRROR_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// Requests per API key, like 50/s (burst twice that), "50/s burst 100", 3000/m, or off (default with keys: 50/s burst 100; without keys: no limit unless given)
    #[arg(long, env = "OKTAMIRROR_RATE_LIMIT_PER_KEY")]
    pub rate_limit_per_key: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key-file; reloaded when it changes
    #[arg(long, env = "OKTAMIRROR_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// The TLS certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, env = "OKTAMIRROR_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// Make /readyz answer 503 once Okta has not been read successfully for longer than this, like 10m (default off: a mirror keeps serving while Okta is down)
    #[arg(long, env = "OKTAMIRROR_MAX_STALENESS")]
    pub max_staleness: Option<String>,
    /// Longest one GraphQL request may run, like 10s (default) or 1500ms; after it the request ends with a TIMEOUT error
    #[arg(long, env = "OKTAMIRROR_REQUEST_TIMEOUT")]
    pub request_timeout: Option<String>,
    /// How long the change log keeps entries, like 7d (default) or 720h: the change feed's promise to consumers that fall behind
    #[arg(long, env = "OKTAMIRROR_CHANGE_LOG_RETENTION")]
    pub change_log_retention: Option<String>,
    /// Most entries the change log keeps, older ones pruned first even within the retention (default 5000000)
    #[arg(long, env = "OKTAMIRROR_CHANGE_LOG_MAX_ENTRIES")]
    pub change_log_max_entries: Option<u64>,
    /// The store's page cache, in MiB of decoded pages (default 64). More keeps more of a large org's pages decoded (faster SCIM pages and lookups once the store outgrows the cache); less bounds a large org's memory
    #[arg(long, env = "OKTAMIRROR_STORE_CACHE_MB")]
    pub store_cache_mb: Option<u64>,
    /// Directory sign-in: the Client ID of an Okta OIDC web app (needs --keys-file and oidc_client_secret_file); signed-in employees get the directory role
    #[arg(long, env = "OKTAMIRROR_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// Directory sign-in: a file holding the OIDC web app's client secret
    #[arg(long, env = "OKTAMIRROR_OIDC_CLIENT_SECRET_FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// Directory sign-in: the authorization server's issuer (default {okta_url}/oauth2/default)
    #[arg(long, env = "OKTAMIRROR_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// Directory sign-in: the redirect URI registered in the app, like https://people.example.com/auth/callback (default: from each request's Host)
    #[arg(long, env = "OKTAMIRROR_OIDC_REDIRECT_URL")]
    pub oidc_redirect_url: Option<String>,
    /// Directory photos: a URL per person with {login} or {id}, like https://photos.example.com/{login}.jpg (default: initials only)
    #[arg(long, env = "OKTAMIRROR_PHOTO_URL_TEMPLATE")]
    pub photo_url_template: Option<String>,
    /// Outbound webhooks for the change feed, file only: `[[webhooks]]` tables
    #[arg(skip)]
    pub webhooks: Option<Vec<WebhookOptions>>,
}

/// One `[[webhooks]]` table: where the change feed is POSTed, and how.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookOptions {
    /// A name for logs and metrics (letters, digits, `-`, `_`); also names its position file.
    pub name: Option<String>,
    /// Where to POST (http or https).
    pub url: Option<String>,
    /// Which changes to send, by the feed's kinds (PERSON_CREATED, …); default all.
    pub events: Option<Vec<String>>,
    /// A file holding the HMAC-SHA256 key deliveries are signed with (at least 16 characters).
    pub secret_file: Option<PathBuf>,
    /// Whose view of the mirror the webhook sends: directory (default), hr or admin.
    pub role: Option<String>,
    /// Tries per delivery before its entries are dead-lettered (default 10).
    pub max_attempts: Option<u32>,
    /// The first wait before a retry, doubled each time up to 5 minutes (default 1s).
    pub retry_initial: Option<String>,
    /// How long one POST may take (default 10s).
    pub timeout: Option<String>,
}

impl Options {
    /// The options of the TOML file at `path`; an unknown key is an error naming it.
    pub fn load(path: &std::path::Path) -> Result<Options, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Toml {
            path: path.display().to_string(),
            detail: e.to_string().trim().replace('\n', " "),
        })
    }

    /// These options (flags and environment) over `file`'s: every key given here wins, every
    /// other key comes from the file. Done through serde so no key is listed here by name,
    /// except the flag-only ones the file cannot hold.
    pub fn over(self, file: Options) -> Result<Options, ConfigError> {
        let merge_error = |e: serde_json::Error| {
            ConfigError::Invalid(format!(
                "cannot combine the flags with the config file: {e}"
            ))
        };
        let mut merged = serde_json::to_value(&file).map_err(merge_error)?;
        let top = serde_json::to_value(&self).map_err(merge_error)?;
        if let (Some(base), serde_json::Value::Object(top)) = (merged.as_object_mut(), top) {
            for (key, value) in top {
                if !value.is_null() {
                    base.insert(key, value);
                }
            }
        }
        let mut out: Options = serde_json::from_value(merged).map_err(merge_error)?;
        out.config = self.config;
        out.allow_mass_delete = self.allow_mass_delete;
        out.no_log_tail = self.no_log_tail;
        Ok(out)
    }
}
