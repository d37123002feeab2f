//! `oktamirror check`: probes the Okta side one step at a time (domain, sign-in, one call per
//! scope the mirror needs, rate-limit share) and says for each failure what to fix.

use serde_json::Value;

use super::OktaError;
use super::client::OktaClient;

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Short label of the check, shown first on its report line.
    pub name: &'static str,
    /// Whether the check passed.
    pub ok: bool,
    /// What was found, or for a failure what to fix.
    pub detail: String,
}

fn probe(name: &'static str, r: Result<String, OktaError>) -> Probe {
    match r {
        Ok(detail) => Probe {
            name,
            ok: true,
            detail,
        },
        Err(e) => Probe {
            name,
            ok: false,
            detail: e.to_string(),
        },
    }
}

/// Runs every probe. Later probes are skipped (and fail) when the domain or sign-in fails,
/// since their errors would only repeat the first one.
pub async fn run(client: &OktaClient) -> Vec<Probe> {
    let mut out = Vec::new();
    let host = client.base().host_str().unwrap_or("").to_owned();
    let port = client.base().port_or_known_default().unwrap_or(443);
    let dns = tokio::net::lookup_host((host.as_str(), port)).await;
    out.push(match dns {
        Ok(mut addrs) => match addrs.next() {
            Some(a) => probe("domain", Ok(format!("{host} resolves to {}", a.ip()))),
            None => probe("domain", Err(OktaError::UnknownHost { host: host.clone() })),
        },
        Err(_) => probe("domain", Err(OktaError::UnknownHost { host: host.clone() })),
    });
    if !out[0].ok {
        return out;
    }
    let auth = client.authenticate().await;
    let users_url = client.url("/api/v1/users", &[("limit", "1")]);
    // An SSWS token is only proven by a call; an OAuth app by minting a token.
    let auth = match auth {
        Ok(()) if client.tokens_minted() > 0 => {
            Ok("the service app received an access token".to_owned())
        }
        Ok(()) => match client.get_page(&users_url).await {
            Ok(_) => Ok("the API token is accepted".to_owned()),
            Err(
                e @ (OktaError::TokenRejected { .. }
                | OktaError::UnknownHost { .. }
                | OktaError::Unreachable { .. }
                | OktaError::Tls { .. }),
            ) => Err(e),
            Err(_) => Ok("the API token is accepted".to_owned()),
        },
        Err(e) => Err(e),
    };
    out.push(probe("authenticate", auth));
    if !out[1].ok {
        return out;
    }
    out.push(probe(
        "users (okta.users.read)",
        client
            .get_page(&users_url)
            .await
            .map(|p| format!("listed {} user(s)", p.items.len())),
    ));
    let groups = client
        .get_page(&client.url("/api/v1/groups", &[("limit", "1")]))
        .await;
    let first_group = groups.as_ref().ok().and_then(|p| {
        p.items
            .first()
            .and_then(|g| g.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    out.push(probe(
        "groups (okta.groups.read)",
        groups.map(|p| format!("listed {} group(s)", p.items.len())),
    ));
    out.push(match first_group {
        Some(id) => {
            let mut url = client.url("/", &[("limit", "1")]);
            if let Ok(mut segs) = url.path_segments_mut() {
                segs.clear().extend(["api", "v1", "groups", &id, "users"]);
            }
            probe(
                "group members (okta.groups.read)",
                client
                    .get_page(&url)
                    .await
                    .map(|p| format!("listed {} member(s) of group {id}", p.items.len())),
            )
        }
        None => Probe {
            name: "group members (okta.groups.read)",
            ok: false,
            detail: "no group could be listed to try; fix the groups probe first".into(),
        },
    });
    out.push(probe(
        "logs (okta.logs.read)",
        client
            .get_page(&client.url("/api/v1/logs", &[("limit", "1")]))
            .await
            .map(|p| format!("read {} event(s)", p.items.len())),
    ));
    // Optional: without it the mirror works, and this line says what it costs.
    let types = client
        .get_json(&client.url("/api/v1/meta/types/user", &[]))
        .await;
    out.push(match types {
        Ok(v) => {
            let names: Vec<String> =
                super::scope::read_types(v.as_array().map_or(&[][..], Vec::as_slice))
                    .into_iter()
                    .map(|t| t.display_name.unwrap_or(t.name))
                    .collect();
            probe(
                "user types (okta.userTypes.read)",
                Ok(format!(
                    "read {} user type(s): {}",
                    names.len(),
                    names.join(", ")
                )),
            )
        }
        Err(e) => match super::scope::types_refused(&e) {
            Some(cost) => Probe {
                name: "user types (okta.userTypes.read)",
                ok: true,
                detail: format!("optional, not granted: {cost}"),
            },
            None => probe("user types (okta.userTypes.read)", Err(e)),
        },
    });
    let share = client.allowance("/api/v1/users");
    out.push(match share {
        Some((limit, ours)) => Probe {
            name: "rate limit",
            ok: true,
            detail: format!(
                "list users allows {limit} requests per window; the mirror will use at most {ours}"
            ),
        },
        None => Probe {
            name: "rate limit",
            ok: false,
            detail: "Okta sent no X-Rate-Limit headers; is --okta-url really an Okta org?".into(),
        },
    });
    out
}

/// The report as a table: one line per probe, the fix in the last column.
pub fn table(probes: &[Probe]) -> String {
    let width = probes.iter().map(|p| p.name.len()).max().unwrap_or(0);
    probes
        .iter()
        .map(|p| {
            format!(
                "{:<width$}  {}  {}\n",
                p.name,
                if p.ok { "PASS" } else { "FAIL" },
                p.detail
            )
        })
        .collect()
}
