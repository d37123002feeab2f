//! The people directory in a real browser (headless Chromium over WebDriver, one session per
//! test): typing into the search box against the simulator's truth, keyboard-only use, the
//! profile card, expanding the org chart, and signing in through the simulator's OIDC flow
//! with keys on, after which the session sees only what the `directory` role may. Each page is
//! also photographed at phone and desktop widths in both themes into `target/screenshots/`.
//! Over plain HTTP (no browser): sign-in refuses forged states, replayed codes and tampered
//! sessions.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::support::browser::{Browser, key};
use crate::support::{AppOptions, TOKEN, TestApp, TestSim, settings, wait_for};
use oktamirror::access::{Role, keys};
use oktamirror::api::OidcSettings;
use oktamirror::secret::Secret;
use oktamirror::sim::{OIDC_PATH, OidcApp, Simulator};
use oktamirror::startup::Application;

fn profile(u: &Value, k: &str) -> String {
    u["profile"][k].as_str().unwrap_or_default().to_owned()
}

/// What the directory calls a person: `displayName`, else first and last name, else login.
fn name_of(u: &Value) -> String {
    let d = profile(u, "displayName");
    if !d.is_empty() {
        return d;
    }
    let full = format!("{} {}", profile(u, "firstName"), profile(u, "lastName"));
    match full.trim() {
        "" => profile(u, "login"),
        n => n.to_owned(),
    }
}

/// The simulator's truth about who reports to whom, leaving out the deliberately broken
/// manager records (and everyone they touch).
struct Org {
    users: BTreeMap<String, Value>,
    children: BTreeMap<String, Vec<String>>,
    anomalous: BTreeSet<String>,
}

impl Org {
    fn of(sim: &Simulator) -> Org {
        let users: BTreeMap<String, Value> = sim
            .users()
            .into_iter()
            .map(|u| (u["id"].as_str().expect("id").to_owned(), u))
            .collect();
        let anomalous: BTreeSet<String> = sim.anomalies().into_iter().map(|a| a.user_id).collect();
        let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in users.keys() {
            if let Some(m) = sim.true_manager(id) {
                children.entry(m).or_default().push(id.clone());
            }
        }
        for c in children.values_mut() {
            c.sort();
        }
        Org {
            users,
            children,
            anomalous,
        }
    }

    fn kids(&self, id: &str) -> &[String] {
        self.children.get(id).map_or(&[], Vec::as_slice)
    }

    /// Sound: ACTIVE, not anomalous, and neither are their reports.
    fn sound(&self, id: &str) -> bool {
        self.users[id]["status"] == "ACTIVE"
            && !self.anomalous.contains(id)
            && self.kids(id).iter().all(|k| !self.anomalous.contains(k))
    }

    fn login(&self, id: &str) -> String {
        profile(&self.users[id], "login")
    }
}

const OPTION_FOR: &str = "return !document.getElementById('suggest').hidden \
    && document.getElementById('suggest').dataset.q === arguments[0] \
    && Array.from(document.querySelectorAll('#suggest [role=option]')) \
       .some(o => o.dataset.href === '/people/' + encodeURIComponent(arguments[1]));";

const AT_PATH: &str = "return decodeURIComponent(location.pathname) === arguments[0] \
    && document.readyState === 'complete';";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_finds_people_and_the_keyboard_opens_their_profile() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let ts = TestSim::lifted(400, 41).await;
    let app = TestApp::builder(&ts).spawn().await;
    app.wait_indexed().await;
    let org = Org::of(&ts.sim);
    let base = format!("http://{}", app.addr);

    // Someone with a manager and reports, whose name no one else shares.
    let names: Vec<String> = org.users.values().map(name_of).collect();
    let target = org
        .users
        .keys()
        .find(|id| {
            let u = &org.users[*id];
            org.sound(id)
                && ts.sim.true_manager(id).is_some()
                && !org.kids(id).is_empty()
                && profile(u, "lastName").chars().count() >= 3
                && names.iter().filter(|n| **n == name_of(u)).count() == 1
        })
        .expect("a manager with a unique name")
        .clone();
    let t = &org.users[&target];
    let login = profile(t, "login");

    // The search box has the focus when the page opens.
    b.goto(&format!("{base}/")).await;
    b.wait(
        "the focused search box",
        "return document.activeElement && document.activeElement.id === 'q';",
        json!([]),
    )
    .await;
    let typed = format!(
        "{} {}",
        profile(t, "firstName"),
        profile(t, "lastName").chars().take(3).collect::<String>()
    );
    let q = b.find("#q").await;
    b.type_into(&q, &typed).await;
    b.wait("the suggestion", OPTION_FOR, json!([typed, login]))
        .await;
    assert!(
        !b.find_all("#suggest mark").await.is_empty(),
        "matches are highlighted"
    );
    // Arrows move through the suggestions; Enter opens the one chosen.
    let mut found = false;
    for _ in 0..10 {
        b.press(key::DOWN).await;
        let active = b
            .js(
                "const a = document.querySelector('#suggest .active'); return a ? a.dataset.href : '';",
                json!([]),
            )
            .await;
        if active == json!(format!("/people/{}", urlencode(&login))) {
            found = true;
            break;
        }
    }
    assert!(found, "the arrows never reached {login}");
    b.press(key::ENTER).await;
    b.wait("the profile", AT_PATH, json!([format!("/people/{login}")]))
        .await;

    // The card against Okta's truth.
    assert_eq!(b.text(&b.find("#name").await).await, name_of(t));
    let manager = ts.sim.true_manager(&target).expect("a manager");
    let crumbs = b.find_all(".crumbs li").await;
    assert!(crumbs.len() >= 2, "a manager chain");
    assert_eq!(
        b.text(&crumbs[crumbs.len() - 2]).await,
        name_of(&org.users[&manager])
    );
    let reports = org.kids(&target).len();
    assert_eq!(
        b.text(&b.find("#reports .n").await).await,
        reports.to_string()
    );
    assert_eq!(b.find_all("#reports-list li").await.len(), reports.min(50));
    let title = profile(t, "title");
    let card = b.text(&b.find(".profile").await).await;
    assert!(card.contains(&title), "{card}");
    assert!(card.contains(&profile(t, "email")), "{card}");

    // `/` jumps to the search box from anywhere; Enter without a choice shows every result,
    // rendered by the server (`/?q=…`).
    b.press("/").await;
    b.wait(
        "the search box focused by /",
        "return document.activeElement.id === 'q';",
        json!([]),
    )
    .await;
    let first = profile(t, "firstName");
    b.press(&first).await;
    b.press(key::ENTER).await;
    b.wait(
        "the results page",
        "return location.search.startsWith('?q=') && document.readyState === 'complete';",
        json!([]),
    )
    .await;
    let hrefs = b
        .js(
            "return Array.from(document.querySelectorAll('#results .who > a')).map(a => a.getAttribute('href'));",
            json!([]),
        )
        .await;
    let shown = hrefs.as_array().map_or(0, Vec::len);
    let matching = org
        .users
        .values()
        .filter(|u| {
            profile(u, "firstName").eq_ignore_ascii_case(&first)
                || profile(u, "lastName").eq_ignore_ascii_case(&first)
        })
        .count();
    assert!(shown >= matching.min(20), "{shown} results for {first}");
    assert!(
        hrefs.to_string().contains(&urlencode(&login)),
        "{login} not among {hrefs}"
    );
    // A department facet narrows the results to that department.
    let dept = profile(t, "department");
    let facet = b
        .find(&format!(
            ".facet a[href*='department={}']",
            urlencode(&dept)
        ))
        .await;
    b.click(&facet).await;
    b.wait(
        "the narrowed results",
        "return location.search.includes('department=') && document.readyState === 'complete' && document.querySelector('.facet a.on') !== null;",
        json!([]),
    )
    .await;
    let subs = b
        .js(
            "return Array.from(document.querySelectorAll('#results .sub')).map(s => s.textContent);",
            json!([]),
        )
        .await;
    for s in subs.as_array().expect("subs") {
        assert!(s.as_str().unwrap_or_default().contains(&dept), "{s}");
    }

    // Every page, phone and desktop, light and dark.
    let mgr_login = org.login(&manager);
    for (url, name) in [
        (format!("{base}/"), "home"),
        (format!("{base}/?q={}", urlencode(&first)), "results"),
        (format!("{base}/people/{}", urlencode(&login)), "profile"),
        (format!("{base}/org/{}", urlencode(&mgr_login)), "org"),
        (format!("{base}/departments"), "departments"),
        (
            format!("{base}/departments/{}", urlencode(&dept)),
            "department",
        ),
    ] {
        b.screenshots(&url, name).await;
    }
    // The typeahead open, on a phone and a desktop.
    for (w, h, mobile, size) in [(390, 844, true, "phone"), (1280, 900, false, "desktop")] {
        for dark in [false, true] {
            b.emulate(w, h, mobile, dark).await;
            b.goto(&format!("{base}/")).await;
            let q = b.find("#q").await;
            b.type_into(&q, &typed).await;
            b.wait("the suggestion", OPTION_FOR, json!([typed, login]))
                .await;
            let theme = if dark { "dark" } else { "light" };
            b.screenshot(
                &crate::support::browser::screenshot_dir()
                    .join(format!("typeahead-{size}-{theme}.png")),
            )
            .await;
        }
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_chart_expands_and_walks_by_keyboard() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let ts = TestSim::lifted(400, 42).await;
    let app = TestApp::builder(&ts).spawn().await;
    let org = Org::of(&ts.sim);
    let base = format!("http://{}", app.addr);

    // A manager of at most 50 whose first report (in id order) manages people too.
    let (top, child) = org
        .users
        .keys()
        .filter(|id| org.sound(id) && (2..=50).contains(&org.kids(id).len()))
        .find_map(|id| {
            let first = org.kids(id).first()?;
            (org.sound(first) && !org.kids(first).is_empty()).then(|| (id.clone(), first.clone()))
        })
        .expect("a manager of managers");
    let top_login = org.login(&top);
    let child_login = org.login(&child);

    b.goto(&format!("{base}/org/{}", urlencode(&top_login)))
        .await;
    b.find("[role=tree]").await;
    let shown = b
        .js(
            "return document.querySelectorAll('.root > ul[role=group] > [role=treeitem]').length;",
            json!([]),
        )
        .await;
    assert_eq!(shown, json!(org.kids(&top).len()));

    // Tab into the chart: its root takes the focus.
    let mut reached = false;
    for _ in 0..60 {
        b.press(key::TAB).await;
        if b.focused().await == top_login {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached the chart");
    b.press(key::DOWN).await;
    assert_eq!(b.focused().await, child_login);
    // Right expands: the child's reports, from the server, in id order.
    b.press(key::RIGHT).await;
    let group = format!("[data-login=\"{child_login}\"] > ul[role=group] > [role=treeitem]");
    let want = org.kids(&child).len().min(50);
    b.wait(
        "the expanded team",
        "return document.querySelectorAll(arguments[0]).length === arguments[1];",
        json!([group, want]),
    )
    .await;
    b.press(key::DOWN).await;
    let grandchild = org.login(&org.kids(&child)[0]);
    assert_eq!(b.focused().await, grandchild);
    // Left goes back up, then collapses.
    b.press(key::LEFT).await;
    if b.focused().await != child_login {
        // The grandchild was expandable and open: Left closed it; once more goes up.
        b.press(key::LEFT).await;
    }
    assert_eq!(b.focused().await, child_login);
    b.press(key::LEFT).await;
    let state = b
        .js(
            "return document.querySelector(`[data-login=\"${arguments[0]}\"]`).getAttribute('aria-expanded');",
            json!([child_login]),
        )
        .await;
    assert_eq!(state, json!("false"));
    // The mouse opens it again.
    let toggle = b
        .find(&format!("[data-login=\"{child_login}\"] > .node .toggle"))
        .await;
    b.click(&toggle).await;
    b.wait(
        "the team open again",
        "return document.querySelector(`[data-login=\"${arguments[0]}\"]`).getAttribute('aria-expanded') === 'true';",
        json!([child_login]),
    )
    .await;
    // Enter opens the focused person's own chart, with the path to the top above it.
    b.js(
        "document.querySelector(`[data-login=\"${arguments[0]}\"]`).focus();",
        json!([child_login]),
    )
    .await;
    b.press(key::ENTER).await;
    b.wait(
        "the child's chart",
        AT_PATH,
        json!([format!("/org/{child_login}")]),
    )
    .await;
    let path = b.text(&b.find(".path").await).await;
    assert!(
        path.contains(&name_of(&org.users[&top])),
        "{path} lacks the manager"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_with_okta_gives_a_directory_session_and_no_more() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let ts = TestSim::lifted(300, 43).await;
    let org = Org::of(&ts.sim);
    // Someone deprovisioned before the mirror starts: hidden from a directory session.
    let gone = org
        .users
        .keys()
        .find(|id| org.sound(id) && org.kids(id).is_empty())
        .expect("someone to deactivate")
        .clone();
    assert!(ts.sim.deactivate_user(&gone));
    let gone_login = org.login(&gone);
    // Someone with a mobile phone in their raw profile (not a directory attribute).
    let phoned = org
        .users
        .keys()
        .find(|id| {
            *id != &gone && org.sound(id) && !profile(&org.users[*id], "mobilePhone").is_empty()
        })
        .expect("someone with a mobile phone")
        .clone();
    let phoned_login = org.login(&phoned);
    let mobile = profile(&org.users[&phoned], "mobilePhone");
    let signer = org
        .users
        .keys()
        .find(|id| *id != &gone && *id != &phoned && org.sound(id))
        .expect("someone to sign in")
        .clone();
    let signer_login = org.login(&signer);

    let dir = tempfile::tempdir().expect("tmp");
    let keys_file = dir.path().join("keys.jsonl");
    let (admin, _) = keys::create(&keys_file, "admin", Role::Admin).expect("key");
    let mut s = settings(ts.addr, &dir.path().join("data"), &AppOptions::new(TOKEN));
    s.server.keys_file = Some(keys_file);
    s.server.rate_limit = None;
    let secret = "sim-oidc-secret-0123456789";
    s.server.oidc = Some(OidcSettings {
        issuer: url::Url::parse(&format!("http://{}{OIDC_PATH}", ts.addr)).expect("issuer"),
        client_id: "0oatestdirectory".into(),
        client_secret: Secret::new(secret),
        redirect_url: None,
        secure_cookies: false,
    });
    let app = Application::build(s).await.expect("build");
    let addr = app.addr();
    ts.sim.enable_oidc(OidcApp::new(
        "0oatestdirectory",
        secret,
        &[&format!("http://{addr}/auth/callback")],
    ));
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    wait_for("readyz", std::time::Duration::from_millis(100), || async {
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;

    // Without a session a page sends the browser to sign in; the JSON answers say 401.
    let page = http
        .get(format!("{base}/people/{}", urlencode(&phoned_login)))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 303);
    let to = page.headers()["location"].to_str().expect("location");
    assert!(to.starts_with("/auth/login?next="), "{to}");
    let api = http
        .get(format!("{base}/web/search?q=a"))
        .send()
        .await
        .expect("api");
    assert_eq!(api.status(), 401);

    // The browser signs in through the simulator's Okta and lands where it was going.
    b.goto(&format!("{base}/people/{}", urlencode(&phoned_login)))
        .await;
    let user = b.find("#okta-signin-username").await;
    assert!(
        b.url()
            .await
            .contains(&format!("{}{OIDC_PATH}/v1/authorize", ts.addr))
    );
    b.type_into(&user, &signer_login).await;
    b.press(key::ENTER).await;
    b.wait(
        "the profile",
        AT_PATH,
        json!([format!("/people/{phoned_login}")]),
    )
    .await;
    assert_eq!(b.text(&b.find(".me").await).await, signer_login);
    assert_eq!(ts.sim.id_tokens_issued(), 1);
    assert_eq!(
        b.js("return document.cookie.includes('om_session');", json!([]))
            .await,
        json!(false),
        "the session cookie is HttpOnly"
    );
    // The raw profile holds a mobile number (the admin key reads it); the directory does not.
    let raw = crate::support::gql_with_key(
        addr,
        admin.expose(),
        "query($l: String!) { person(login: $l) { profile } }",
        json!({ "l": phoned_login }),
    )
    .await;
    assert_eq!(raw["person"]["profile"]["mobilePhone"], json!(mobile));
    let card = b.text(&b.find("main").await).await;
    assert!(!card.contains(&mobile), "{card}");
    assert!(!card.contains("Mobile"), "{card}");
    // The deprovisioned person: not found, and never suggested.
    b.goto(&format!("{base}/people/{}", urlencode(&gone_login)))
        .await;
    assert_eq!(b.text(&b.find("main h1").await).await, "Not found");
    let gone_name = name_of(&org.users[&gone]);
    b.goto(&format!("{base}/")).await;
    let q = b.find("#q").await;
    b.type_into(&q, &gone_name).await;
    b.wait(
        "the suggestions",
        "return !document.getElementById('suggest').hidden && document.getElementById('suggest').dataset.q === arguments[0];",
        json!([gone_name]),
    )
    .await;
    let hrefs = b
        .js(
            "return Array.from(document.querySelectorAll('#suggest [role=option]')).map(o => o.dataset.href);",
            json!([]),
        )
        .await;
    assert!(
        !hrefs.to_string().contains(&urlencode(&gone_login)),
        "{hrefs}"
    );
    b.screenshots(
        &format!("{base}/people/{}", urlencode(&phoned_login)),
        "signed-in-profile",
    )
    .await;

    // Signing out ends the session: the next page asks Okta again.
    b.goto(&format!("{base}/")).await;
    let out = b.find(".logout button").await;
    b.click(&out).await;
    b.wait("signed out", AT_PATH, json!(["/auth/signed-out"]))
        .await;
    b.goto(&format!("{base}/departments")).await;
    b.find("#okta-signin-username").await;
    // A forged logout (no CSRF token) is refused; the session is not needed for that.
    let forged = http
        .post(format!("{base}/auth/logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=guess")
        .send()
        .await
        .expect("logout");
    assert_eq!(forged.status(), 303, "no session: nothing to end");
}

/// `Set-Cookie` of `name` in a response, as `name=value` for a `Cookie` header.
fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            (
                v.split(';').next().unwrap_or_default().to_owned(),
                v.to_owned(),
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_refuses_forged_states_replayed_codes_and_tampered_sessions() {
    let ts = TestSim::lifted(60, 44).await;
    let org = Org::of(&ts.sim);
    let signer = org
        .users
        .keys()
        .find(|id| org.sound(id))
        .expect("someone active")
        .clone();
    let signer_login = org.login(&signer);
    let dir = tempfile::tempdir().expect("tmp");
    let keys_file = dir.path().join("keys.jsonl");
    keys::create(&keys_file, "admin", Role::Admin).expect("key");
    let mut s = settings(ts.addr, &dir.path().join("data"), &AppOptions::new(TOKEN));
    s.server.keys_file = Some(keys_file);
    let secret = "sim-oidc-secret-abcdefghijkl";
    s.server.oidc = Some(OidcSettings {
        issuer: url::Url::parse(&format!("http://{}{OIDC_PATH}", ts.addr)).expect("issuer"),
        client_id: "0oaforgery".into(),
        client_secret: Secret::new(secret),
        redirect_url: None,
        secure_cookies: false,
    });
    let app = Application::build(s).await.expect("build");
    let base = format!("http://{}", app.addr());
    ts.sim.enable_oidc(OidcApp::new(
        "0oaforgery",
        secret,
        &[&format!("{base}/auth/callback")],
    ));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let location = |r: &reqwest::Response| {
        r.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned()
    };

    let start = http
        .get(format!("{base}/auth/login?next=/departments"))
        .send()
        .await
        .expect("login");
    assert_eq!(start.status(), 303);
    let (pending, attrs) = set_cookie(&start, "om_signin").expect("the pending sign-in");
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax"),
        "{attrs}"
    );
    let authorize = location(&start);
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    let back = http
        .get(format!(
            "{authorize}&login_hint={}",
            urlencode(&signer_login)
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(back.status(), 302);
    let callback = location(&back);
    assert!(
        callback.starts_with(&format!("{base}/auth/callback?code=")),
        "{callback}"
    );

    // A state that is not this browser's, or no pending cookie at all: refused.
    let forged = callback.replace("state=", "state=x");
    for (url, cookie) in [(&forged, Some(&pending)), (&callback, None)] {
        let mut req = http.get(url.as_str());
        if let Some(c) = cookie {
            req = req.header("cookie", c.as_str());
        }
        let r = req.send().await.expect("callback");
        assert_eq!(r.status(), 400, "{url}");
        assert!(set_cookie(&r, "om_session").is_none());
    }
    // The real one signs in and goes where the browser was going.
    let ok = http
        .get(&callback)
        .header("cookie", &pending)
        .send()
        .await
        .expect("callback");
    assert_eq!(ok.status(), 303);
    assert_eq!(location(&ok), "/departments");
    let (session, attrs) = set_cookie(&ok, "om_session").expect("a session");
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax"),
        "{attrs}"
    );
    assert!(
        !attrs.contains("Secure"),
        "plain HTTP cannot keep a Secure cookie"
    );
    let page = http
        .get(format!("{base}/departments"))
        .header("cookie", &session)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("body").contains(&signer_login));
    // The code is spent: replaying the callback is refused by Okta.
    let replay = http
        .get(&callback)
        .header("cookie", &pending)
        .send()
        .await
        .expect("replay");
    assert_eq!(replay.status(), 400);
    // A session cookie changed by one character is no session.
    let (name, value) = session.split_once('=').expect("name=value");
    let mut chars: Vec<char> = value.chars().collect();
    let i = 10.min(chars.len() - 1);
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered = format!("{name}={}", chars.into_iter().collect::<String>());
    let r = http
        .get(format!("{base}/departments"))
        .header("cookie", tampered)
        .send()
        .await
        .expect("page");
    assert_eq!(r.status(), 303, "back to sign-in");
    // The simulator's token endpoint checks the client secret as Okta does.
    let bad = http
        .post(format!("http://{}{OIDC_PATH}/v1/token", ts.addr))
        .basic_auth("0oaforgery", Some("wrong"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&code=x&redirect_uri=x&code_verifier=x")
        .send()
        .await
        .expect("token");
    assert_eq!(bad.status(), 401);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");
}
