//! People search and the org-chart queries end to end: the simulator and the real server on
//! port 0, checked against the simulator's ground truth; and the index healing after its
//! directory is deleted or after a crash between a store write and an index commit.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::support::{TestApp, TestSim, gql};
use oktamirror::model::Person;
use oktamirror::search::{self, ParsedQuery};
use oktamirror::store::{Op, PersonFilter, Store};

/// A mirror with `badgeId` (a custom attribute) searchable, ready and fully indexed.
async fn spawn_app(ts: &TestSim) -> TestApp {
    let app = TestApp::builder(ts)
        .search_attributes(&["badgeId"])
        .spawn()
        .await;
    app.wait_indexed().await;
    app
}

fn profile(u: &Value, k: &str) -> String {
    u["profile"][k].as_str().unwrap_or_default().to_owned()
}

/// ASCII-folds and lower-cases a name the way a user without accents would type it.
fn plain(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            'ß' => "ss".chars().collect::<Vec<_>>(),
            c => {
                let base = match c.to_lowercase().next().unwrap_or(c) {
                    'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
                    'ç' => 'c',
                    'è' | 'é' | 'ê' | 'ë' => 'e',
                    'ì' | 'í' | 'î' | 'ï' => 'i',
                    'ñ' => 'n',
                    'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
                    'ù' | 'ú' | 'û' | 'ü' => 'u',
                    'ý' | 'ÿ' => 'y',
                    other => other,
                };
                vec![base]
            }
        })
        .collect()
}

/// A deliberate typo: swaps the second and third letters (one edit with transpositions), or
/// replaces the third when those two are equal.
fn typo(s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c[1] != c[2] {
        c.swap(1, 2);
    } else {
        c[2] = if c[2] == 'x' { 'q' } else { 'x' };
    }
    c.into_iter().collect()
}

fn prefix(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_queries_find_the_intended_person_and_the_org_matches_the_truth() {
    let ts = TestSim::start(800, 21).await;
    let sim = &ts.sim;
    let mut app = spawn_app(&ts).await;
    let addr = app.addr;
    let users = sim.users();

    // The configured custom attribute (badgeId) is searchable.
    let badged = users
        .iter()
        .find(|u| u["status"] == "ACTIVE" && u["profile"]["badgeId"].is_string())
        .expect("someone with a badge");
    let d = gql(
        addr,
        "query($q: String!) { search(query: $q, first: 3) { nodes { id } } }",
        json!({"q": profile(badged, "badgeId")}),
    )
    .await;
    assert_eq!(
        d["search"]["nodes"][0]["id"], badged["id"],
        "found by badgeId"
    );

    // Queries from the data: for people with a unique, simple first and last name, four
    // shapes, each with a deliberate typo: typeahead, reversed order, accents kept, prefix.
    let mut names: HashMap<(String, String), usize> = HashMap::new();
    for u in &users {
        let key = (
            plain(&profile(u, "firstName")),
            plain(&profile(u, "lastName")),
        );
        *names.entry(key).or_default() += 1;
    }
    let simple = |s: &str| s.chars().count() >= 5 && s.chars().all(char::is_alphabetic);
    let mut checked = 0;
    let mut failures = Vec::new();
    for u in users.iter().filter(|u| u["status"] == "ACTIVE") {
        let (first, last) = (profile(u, "firstName"), profile(u, "lastName"));
        let (f, l) = (plain(&first), plain(&last));
        if !simple(&f) || !simple(&l) || names[&(f.clone(), l.clone())] > 1 {
            continue;
        }
        let queries = [
            format!("{} {}", typo(&f), prefix(&l, 3)),
            format!("{l} {}", typo(&f)),
            format!("{} {}", first.to_uppercase(), typo(&last)),
            format!("{} {}", prefix(&f, 4), typo(&l)),
        ];
        for q in queries {
            let d = gql(
                addr,
                "query($q: String!) { search(query: $q, first: 3) { nodes { id } } }",
                json!({"q": q}),
            )
            .await;
            let top: Vec<&str> = d["search"]["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .filter_map(|n| n["id"].as_str())
                .collect();
            if !top.contains(&u["id"].as_str().expect("id")) {
                failures.push(format!("{q:?} for {first} {last}: top 3 {top:?}"));
            }
            checked += 1;
        }
        if checked >= 160 {
            break;
        }
    }
    assert!(checked >= 100, "only {checked} queries generated");
    assert!(
        failures.is_empty(),
        "{} of {checked} missed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Ground truth of the hierarchy, leaving out the deliberately broken records.
    let anomalous: BTreeSet<String> = sim.anomalies().into_iter().map(|a| a.user_id).collect();
    let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut ceo = None;
    for u in &users {
        let id = u["id"].as_str().expect("id").to_owned();
        match sim.true_manager(&id) {
            Some(m) => children.entry(m).or_default().push(id),
            None if !anomalous.contains(&id) => ceo = Some(id),
            None => {}
        }
    }
    let ceo = ceo.expect("a CEO");
    let under = |root: &str| {
        let mut out = BTreeSet::new();
        let mut stack = vec![root.to_owned()];
        while let Some(m) = stack.pop() {
            for c in children.get(&m).into_iter().flatten() {
                if !anomalous.contains(c) && out.insert(c.clone()) {
                    stack.push(c.clone());
                }
            }
        }
        out
    };
    let status: HashMap<String, String> = users
        .iter()
        .map(|u| {
            (
                u["id"].as_str().expect("id").to_owned(),
                u["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect();
    let department: HashMap<String, String> = users
        .iter()
        .map(|u| {
            (
                u["id"].as_str().expect("id").to_owned(),
                profile(u, "department"),
            )
        })
        .collect();

    // Department heads: the people right under the CEO, one per department.
    let d = gql(
        addr,
        "{ departments { name headcount head { id } members(first: 1000) { totalCount } } }",
        json!({}),
    )
    .await;
    let depts = d["departments"].as_array().expect("departments");
    let mut heads_checked = 0;
    for dept in depts {
        let name = dept["name"].as_str().expect("name");
        let members: Vec<&String> = department
            .iter()
            .filter(|(id, dn)| dn.as_str() == name && status[*id] != "DEPROVISIONED")
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            dept["headcount"].as_u64(),
            Some(members.len() as u64),
            "headcount of {name}"
        );
        assert_eq!(dept["members"]["totalCount"], dept["headcount"]);
        let expected: Vec<&&String> = members
            .iter()
            .filter(|id| {
                sim.true_manager(id).as_deref() == Some(ceo.as_str()) && !anomalous.contains(**id)
            })
            .collect();
        if let [head] = expected.as_slice() {
            assert_eq!(
                dept["head"]["id"].as_str(),
                Some(head.as_str()),
                "head of {name}"
            );
            heads_checked += 1;

            // Everyone under the head, and the head's org in the chart.
            let d = gql(
                addr,
                "query($id: ID!) { person(id: $id) { reports(first: 1000) { totalCount nodes { id } }
                   direct: reports(depth: 1) { totalCount } }
                   orgChart(rootId: $id, depth: 1) { directReportCount reportCount reports { person { id } } } }",
                json!({"id": head}),
            )
            .await;
            let want = under(head);
            let got: BTreeSet<String> = d["person"]["reports"]["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .filter_map(|n| n["id"].as_str().map(str::to_owned))
                .collect();
            assert_eq!(got, want, "reports of the head of {name}");
            assert_eq!(
                d["person"]["reports"]["totalCount"].as_u64(),
                Some(want.len() as u64)
            );
            assert_eq!(
                d["orgChart"]["reportCount"].as_u64(),
                Some(want.len() as u64)
            );
            let direct: BTreeSet<String> = children[head.as_str()]
                .iter()
                .filter(|c| !anomalous.contains(*c))
                .cloned()
                .collect();
            assert_eq!(
                d["orgChart"]["directReportCount"].as_u64(),
                Some(direct.len() as u64)
            );
            assert_eq!(
                d["person"]["direct"]["totalCount"].as_u64(),
                Some(direct.len() as u64)
            );
            let chart: BTreeSet<String> = d["orgChart"]["reports"]
                .as_array()
                .expect("reports")
                .iter()
                .filter_map(|n| n["person"]["id"].as_str().map(str::to_owned))
                .collect();
            assert_eq!(chart, direct, "orgChart of the head of {name}");
        }
    }
    assert!(
        heads_checked >= 3,
        "only {heads_checked} department heads checked"
    );

    // The common manager of two department heads is the CEO; department names are
    // case-insensitive; divisions hold their departments.
    let d = gql(
        addr,
        r#"{ sales: department(name: "sALES") { name head { title } parent { name kind subDepartments { name } } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(d["sales"]["name"], "Sales");
    assert_eq!(d["sales"]["head"]["title"], "VP of Sales");
    assert_eq!(d["sales"]["parent"]["kind"], "DIVISION");
    assert!(
        d["sales"]["parent"]["subDepartments"]
            .as_array()
            .expect("subs")
            .iter()
            .any(|s| s["name"] == "Sales")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_heals_after_deletion_and_after_a_crash_before_commit() {
    let ts = TestSim::start(300, 4).await;
    let sim = &ts.sim;
    let mut app = spawn_app(&ts).await;
    let dir = app.data_dir().to_path_buf();
    let someone = sim
        .users()
        .into_iter()
        .find(|u| u["status"] == "ACTIVE")
        .expect("an active user");
    let login = profile(&someone, "login");
    app.stop().await;

    // The index directory deleted: the next start rebuilds it from the store.
    let index_dir = search::index_dir(&dir);
    std::fs::remove_dir_all(&index_dir).expect("delete the index");
    app.start().await;
    app.wait_ready().await;
    app.wait_indexed().await;
    let d = gql(
        app.addr,
        "query($q: String!) { search(query: $q, first: 1) { nodes { login } } }",
        json!({"q": login}),
    )
    .await;
    assert_eq!(d["search"]["nodes"][0]["login"], login.as_str());
    app.stop().await;

    // A crash after a store write, with the index update staged but never committed.
    let store = Store::open(&dir).expect("store");
    let index =
        search::Index::open(&index_dir, search::Index::stored_options(&index_dir)).expect("index");
    assert_eq!(index.indexed_seq(), store.last_seq().expect("seq"));
    let raw = json!({"id": "00unew0001", "status": "ACTIVE",
        "profile": {"login": "zygmunt.quaestor@example.com", "firstName": "Zygmunt", "lastName": "Quaestor"}});
    let person = Person::from_okta(&raw, &Default::default()).expect("valid");
    store
        .apply(
            &[Op::PutPerson {
                person: Box::new(person),
                raw: (&raw).into(),
            }],
            &[],
        )
        .expect("write");
    index.stage_uncommitted(&store).expect("stage");
    drop(index);
    let index =
        search::Index::open(&index_dir, search::Index::stored_options(&index_dir)).expect("reopen");
    let q = ParsedQuery::parse("zygmnut quae").expect("query");
    let found = |index: &search::Index| {
        index
            .search(&q, &PersonFilter::default(), 0, 3)
            .expect("search")
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect::<Vec<_>>()
    };
    assert!(
        found(&index).is_empty(),
        "uncommitted work is lost in a crash"
    );
    index.catch_up(&store).expect("catch up");
    assert_eq!(found(&index), ["00unew0001"]);
    assert_eq!(index.indexed_seq(), store.last_seq().expect("seq"));
    drop(index);
    store.flush().expect("flush");
    drop(store);

    // The CLI searches the local store without a server.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oktamirror"))
        .args(["search", "zygmunt quaestr", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("run the CLI");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("zygmunt.quaestor@example.com"), "{stdout}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oktamirror"))
        .args(["search", "  ", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("run the CLI");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("query is empty"));
}
