//! Query-string handling: ordered parameter pairs, `limit` parsing with Okta's
//! clamping rules, and absolute `self`/`next` URLs built from the `Host` header.

use axum::http::{HeaderMap, Uri, header};
use url::Url;

/// The request's query parameters in their original order.
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
        Query { pairs }
    }

    /// First value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `limit` clamped to `1..=max`, `default` when absent; `Err` when not an integer.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, ()> {
        let Some(raw) = self.get("limit") else {
            return Ok(default);
        };
        let raw = raw.trim();
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        if raw.starts_with('-') {
            return Ok(1);
        }
        Ok(raw.parse::<usize>().unwrap_or(max).clamp(1, max))
    }

    /// `limit` as the System Log takes it: an integer in `0..=max` (no clamping), `default`
    /// when absent; `Err` for anything else (Okta answers those with a 400).
    pub fn strict_limit(&self, default: usize, max: usize) -> Result<usize, ()> {
        match self.get("limit") {
            None => Ok(default),
            Some(raw) => match raw.trim().parse::<usize>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(()),
            },
        }
    }

    /// The same parameters without any named in `names` (e.g. `since` in a `next` link,
    /// where the cursor replaces it).
    pub fn without(&self, names: &[&str]) -> Query {
        Query {
            pairs: self
                .pairs
                .iter()
                .filter(|(k, _)| !names.contains(&k.as_str()))
                .cloned()
                .collect(),
        }
    }

    /// The first parameter whose name is not in `allowed`.
    pub fn unknown(&self, allowed: &[&str]) -> Option<&str> {
        self.pairs
            .iter()
            .map(|(k, _)| k.as_str())
            .find(|k| !allowed.contains(k))
    }

    /// Comma-separated `expand` contains `what`.
    pub fn expands(&self, what: &str) -> bool {
        self.get("expand")
            .is_some_and(|e| e.split(',').any(|x| x.trim() == what))
    }
}

/// Where the request was addressed, for absolute links in `_links` and `link` headers.
pub struct Origin {
    /// `http://host[:port]`, no trailing slash.
    pub base: String,
    path: String,
}

impl Origin {
    /// From the `Host` header, falling back to `fallback` (the serving address).
    pub fn new(headers: &HeaderMap, uri: &Uri, fallback: &str) -> Origin {
        let base = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| format!("http://{h}"))
            .filter(|b| Url::parse(b).is_ok())
            .unwrap_or_else(|| fallback.to_string());
        Origin {
            base,
            path: uri.path().to_string(),
        }
    }

    /// The same request addressed to another origin (`next` links on a second host).
    pub fn with_base(&self, base: &str) -> Origin {
        Origin {
            base: base.trim_end_matches('/').to_string(),
            path: self.path.clone(),
        }
    }

    fn url_with(&self, query: &Query, after: Option<&str>) -> String {
        let Ok(mut url) = Url::parse(&format!("{}{}", self.base, self.path)) else {
            return format!("{}{}", self.base, self.path);
        };
        {
            let mut q = url.query_pairs_mut();
            let mut replaced = false;
            for (k, v) in &query.pairs {
                match (k.as_str(), after) {
                    ("after", Some(a)) => {
                        if !replaced {
                            q.append_pair("after", a);
                            replaced = true;
                        }
                    }
                    _ => {
                        q.append_pair(k, v);
                    }
                }
            }
            if let (Some(a), false) = (after, replaced) {
                q.append_pair("after", a);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        url.to_string()
    }

    /// The request's own URL (`rel="self"`).
    pub fn self_url(&self, query: &Query) -> String {
        self.url_with(query, None)
    }

    /// The same URL with the `after` cursor replaced (`rel="next"`).
    pub fn next_url(&self, query: &Query, after: &str) -> String {
        self.url_with(query, Some(after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let q = |s: &str| Query::parse(Some(s));
        assert_eq!(q("").limit(200, 200), Ok(200));
        assert_eq!(q("limit=5").limit(200, 200), Ok(5));
        assert_eq!(q("limit=0").limit(200, 200), Ok(1));
        assert_eq!(q("limit=-3").limit(200, 200), Ok(1));
        assert_eq!(q("limit=999").limit(200, 200), Ok(200));
        assert_eq!(q("limit=99999999999999999999999").limit(200, 200), Ok(200));
        assert_eq!(q("limit=abc").limit(200, 200), Err(()));
        assert_eq!(q("limit=").limit(200, 200), Err(()));
        assert_eq!(q("").strict_limit(100, 1000), Ok(100));
        assert_eq!(q("limit=0").strict_limit(100, 1000), Ok(0));
        assert_eq!(q("limit=1000").strict_limit(100, 1000), Ok(1000));
        for bad in ["limit=1001", "limit=-1", "limit=x", "limit="] {
            assert_eq!(q(bad).strict_limit(100, 1000), Err(()), "{bad}");
        }
    }

    #[test]
    fn next_link_replaces_after_and_keeps_params() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        let uri: Uri = "/api/v1/users?limit=2&after=00u1&filter=x".parse().unwrap();
        let o = Origin::new(&headers, &uri, "http://fallback");
        let q = Query::parse(uri.query());
        assert_eq!(
            o.next_url(&q, "00u9"),
            "http://127.0.0.1:8080/api/v1/users?limit=2&after=00u9&filter=x"
        );
        let q2 = Query::parse(Some("filter=status eq \"A\""));
        assert_eq!(
            o.next_url(&q2, "00u9"),
            "http://127.0.0.1:8080/api/v1/users?filter=status+eq+%22A%22&after=00u9"
        );
        assert_eq!(
            o.self_url(&Query::parse(None)),
            "http://127.0.0.1:8080/api/v1/users"
        );
        let o2 = Origin::new(&HeaderMap::new(), &uri, "http://fallback:1");
        assert_eq!(o2.base, "http://fallback:1");
    }
}
