//! A property test of the request edge: thousands of queries generated from the schema's SDL with
//! hostile arguments (huge and negative numbers, garbage and deep base64 cursors, long, empty
//! and odd Unicode strings, nulls, wrong types), deep nesting, many aliases, fragments and raw
//! garbage, sent over HTTP to a real server mirroring the simulator. Every request must get a
//! well-formed answer within the time limit plus slack, and the server must be up at the end.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use futures::StreamExt;
use serde_json::{Value, json};

use oktamirror::configuration::Settings;
use oktamirror::sim::{Rng, SimOptions, Simulator};
use oktamirror::startup::Application;

use crate::support::AppOptions;

/// Requests sent.
const QUERIES: usize = 2_000;
/// Requests in flight at once.
const IN_FLIGHT: usize = 4;
/// The server's time limit in this test.
const TIME_LIMIT: Duration = Duration::from_secs(2);
/// What a request may take beyond the time limit (queueing behind the others in flight, a
/// loaded CI machine, a debug build).
const SLACK: Duration = Duration::from_secs(8);
/// People in the simulated org.
const USERS: usize = 400;
const SEED: u64 = 0x5EED_0BAD;
const TOKEN: &str = "test-token-0123456789";

/// The parts of the schema the generator needs.
struct Schema {
    objects: HashMap<String, Vec<Field>>,
    enums: HashMap<String, Vec<String>>,
    inputs: HashMap<String, Vec<Arg>>,
}

struct Field {
    name: String,
    args: Vec<Arg>,
    ty: Type,
}

struct Arg {
    name: String,
    ty: Type,
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

impl Schema {
    fn from_sdl(sdl: &str) -> Schema {
        let doc = async_graphql::parser::parse_schema(sdl).expect("the SDL parses");
        let mut s = Schema {
            objects: HashMap::new(),
            enums: HashMap::new(),
            inputs: HashMap::new(),
        };
        let arg = |a: &async_graphql::parser::types::InputValueDefinition| Arg {
            name: a.name.node.to_string(),
            ty: a.ty.node.clone(),
        };
        for def in doc.definitions {
            let TypeSystemDefinition::Type(t) = def else {
                continue;
            };
            let name = t.node.name.node.to_string();
            match t.node.kind {
                TypeKind::Object(o) => {
                    let fields = o
                        .fields
                        .iter()
                        .map(|f| Field {
                            name: f.node.name.node.to_string(),
                            args: f.node.arguments.iter().map(|a| arg(&a.node)).collect(),
                            ty: f.node.ty.node.clone(),
                        })
                        .collect();
                    s.objects.insert(name, fields);
                }
                TypeKind::Enum(e) => {
                    let values = e.values.iter().map(|v| v.node.value.node.to_string());
                    s.enums.insert(name, values.collect());
                }
                TypeKind::InputObject(i) => {
                    s.inputs
                        .insert(name, i.fields.iter().map(|f| arg(&f.node)).collect());
                }
                _ => {}
            }
        }
        s
    }
}

/// base64url without padding, as the server's cursors are written.
fn b64(text: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

struct Generator<'a> {
    schema: &'a Schema,
    rng: Rng,
    /// Variables of the operation being built: (name, GraphQL type, JSON value).
    vars: Vec<(String, String, Value)>,
    /// Fields the document being built may still get (nesting multiplies them).
    fields_left: usize,
}

impl Generator<'_> {
    fn int(&mut self) -> String {
        let v = [
            "0",
            "1",
            "-1",
            "5",
            "16",
            "1000",
            "1001",
            "2147483647",
            "-2147483648",
            "2147483648",
            "99999999999999999999999",
            "-99999999999999",
            "1.5",
            "1e12",
        ];
        self.rng.pick(&v).to_string()
    }

    fn hostile_string(&mut self) -> String {
        match self.rng.below(16) {
            0 => String::new(),
            1 => " ".into(),
            2 => "an".into(),
            3 => "x".repeat(201),
            4 => "ab ".repeat(1 + self.rng.below(3_000)),
            5 => "é ß 𝄞 \u{202e}ﬁ Ⅻ \u{0} \u{7f} \u{FEFF}".into(),
            6 => "c2VhcmNoOjEwMDAwMDAwMDAwMDA".into(),
            7 => b64(&format!("search:{}", self.int())),
            8 => b64(&format!("person:{}", "z".repeat(self.rng.below(400)))),
            9 => b64(&format!("group:{}", self.rng.next_u64())),
            10 => "====".into(),
            11 => (0..self.rng.below(600))
                .map(|_| char::from(b'A' + (self.rng.below(26) as u8)))
                .collect(),
            12 => "00u1".into(),
            13 => "\"}{)(][\\".into(),
            14 => "Engineering".into(),
            _ => format!("{}*?~\"%_", self.rng.next_u64()),
        }
    }

    /// A value for a type: usually plausible for it, sometimes null or of another type.
    fn value(&mut self, ty: &Type, depth: usize) -> String {
        if self.rng.chance(2) {
            return "null".into();
        }
        if self.rng.chance(2) {
            return self
                .rng
                .pick(&["\"x\"", "1", "true", "[]", "{}", "FULL"])
                .to_string();
        }
        match &ty.base {
            BaseType::List(inner) => {
                let n = if self.rng.chance(5) {
                    200
                } else {
                    self.rng.below(4)
                };
                let items: Vec<String> = (0..n).map(|_| self.value(inner, depth + 1)).collect();
                format!("[{}]", items.join(", "))
            }
            BaseType::Named(n) => match n.as_str() {
                "Int" => self.int(),
                "Float" => self.rng.pick(&["0", "-1e308", "1e309", "3.14"]).to_string(),
                "Boolean" => self.rng.pick(&["true", "false"]).to_string(),
                "String" | "ID" | "DateTime" | "JSON" => {
                    let s = if self.rng.chance(40) {
                        self.rng
                            .pick(&["an", "test", "Engineering", "00u1"])
                            .to_string()
                    } else {
                        self.hostile_string()
                    };
                    serde_json::to_string(&s).expect("a JSON string is a GraphQL string")
                }
                other => {
                    if let Some(values) = self.schema.enums.get(other) {
                        if self.rng.chance(85) {
                            return self.rng.pick(values).clone();
                        }
                        return "NOT_A_VALUE".into();
                    }
                    if let Some(fields) = self.schema.inputs.get(other) {
                        if depth > 4 {
                            return "{}".into();
                        }
                        let mut parts = Vec::new();
                        for f in fields {
                            if self.rng.chance(50) {
                                let v = self.value(&f.ty, depth + 1);
                                parts.push(format!("{}: {v}", f.name));
                            }
                        }
                        if self.rng.chance(5) {
                            parts.push("noSuchField: 1".into());
                        }
                        return format!("{{{}}}", parts.join(", "));
                    }
                    "\"?\"".into()
                }
            },
        }
    }

    /// A hostile JSON value for a variable.
    fn json_value(&mut self) -> Value {
        match self.rng.below(9) {
            0 => Value::Null,
            1 => json!(1e12),
            2 => json!(-1),
            3 => json!(i64::MAX),
            4 => json!(self.hostile_string()),
            5 => json!([1, "two", null, {"x": [[[]]]}]),
            6 => json!({"status": ["ACTIVE", "NOPE"], "department": ""}),
            7 => json!(true),
            _ => json!(1001),
        }
    }

    fn args(&mut self, args: &[Arg]) -> String {
        let mut parts = Vec::new();
        for a in args {
            let required = !a.ty.nullable;
            if !(required && self.rng.chance(95) || self.rng.chance(60)) {
                continue;
            }
            if self.rng.chance(10) {
                let var = format!("v{}", self.vars.len());
                let value = self.json_value();
                let ty = a.ty.to_string();
                parts.push(format!("{}: ${var}", a.name));
                self.vars.push((var, ty, value));
            } else {
                let v = self.value(&a.ty, 0);
                parts.push(format!("{}: {v}", a.name));
            }
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("({})", parts.join(", "))
        }
    }

    /// A selection set on `type_name`, `depth` levels down.
    fn selection(&mut self, type_name: &str, depth: usize) -> String {
        let Some(fields) = self.schema.objects.get(type_name) else {
            return String::new();
        };
        let count = if self.rng.chance(1) {
            60 + self.rng.below(200)
        } else {
            1 + self.rng.below(4)
        };
        let mut out = Vec::new();
        for i in 0..count {
            if self.fields_left == 0 {
                break;
            }
            self.fields_left -= 1;
            let f = self.rng.pick(fields);
            let alias = if count > 4 || self.rng.chance(15) {
                format!("a{i}: ")
            } else {
                String::new()
            };
            let args = self.args(&f.args);
            let inner = named(&f.ty);
            let sub = if self.schema.objects.contains_key(inner) {
                // Past the depth limit (16) on purpose, now and then.
                if depth > 17 || (depth > 4 && self.rng.chance(70)) {
                    "{ __typename }".to_owned()
                } else {
                    format!("{{ {} }}", self.selection(inner, depth + 1))
                }
            } else {
                String::new()
            };
            out.push(format!("{alias}{}{args} {sub}", f.name));
        }
        if out.is_empty() {
            out.push("__typename".to_owned());
        }
        if depth == 0 && self.rng.chance(5) {
            let name = serde_json::to_string(&self.hostile_string()).expect("json");
            out.push(format!("__type(name: {name}) {{ name fields {{ name }} }}"));
        }
        out.join(" ")
    }

    /// One request: a query document and its variables.
    fn request(&mut self) -> (String, Value) {
        self.vars.clear();
        // Some documents reach past the field limit (2,000), most stay well below.
        self.fields_left = if self.rng.chance(10) { 2_500 } else { 300 };
        let special = self.rng.below(100);
        let query = match special {
            0 => "{".repeat(self.rng.below(40_000)),
            1 => (0..self.rng.below(5_000))
                .map(|_| char::from_u32(self.rng.next_u64() as u32 % 0x3000).unwrap_or('?'))
                .collect(),
            2 => format!(
                "{{{}}}",
                (0..3_000)
                    .map(|i| format!(" a{i}: people(first: 1) {{ totalCount }}"))
                    .collect::<String>()
            ),
            3 => "{ ...A } fragment A on Query { __typename ...A }".into(),
            4 => {
                // Fragments spread inside fragments, ten times each level.
                let mut q = String::from("{ ...F0 }");
                for l in 0..12 {
                    q.push_str(&format!(" fragment F{l} on Query {{"));
                    for j in 0..10 {
                        q.push_str(&format!(" a{j}: __typename ...F{}", l + 1));
                    }
                    q.push('}');
                }
                q.push_str(" fragment F12 on Query { __typename }");
                q
            }
            5 => String::new(),
            _ => {
                let body = self.selection("Query", 0);
                if self.vars.is_empty() {
                    format!("{{ {body} }}")
                } else {
                    let decl: Vec<String> = self
                        .vars
                        .iter()
                        .map(|(n, t, _)| format!("${n}: {t}"))
                        .collect();
                    format!("query Q({}) {{ {body} }}", decl.join(", "))
                }
            }
        };
        let vars: serde_json::Map<String, Value> = self
            .vars
            .iter()
            .map(|(n, _, v)| (n.clone(), v.clone()))
            .collect();
        (query, Value::Object(vars))
    }
}

fn settings(sim: SocketAddr, data_dir: &Path) -> Settings {
    let mut o = AppOptions::new(TOKEN);
    o.retry_base = Some(Duration::from_millis(10));
    o.tail = false;
    let mut s = crate::support::settings(sim, data_dir, &o);
    s.server.request_timeout = TIME_LIMIT;
    s
}

/// What one request got.
struct Outcome {
    status: u16,
    /// The first error's `extensions.code` (or "data" for an answer without errors).
    code: String,
    took: Duration,
}

async fn send(
    client: &reqwest::Client,
    url: &str,
    i: usize,
    query: String,
    vars: Value,
) -> Outcome {
    let t = Instant::now();
    // Mostly POST; some GET (the server refuses long URLs or answers like POST).
    let req = if i % 10 == 0 && query.len() < 4_000 {
        let u = url::Url::parse_with_params(
            url,
            [("query", query.as_str()), ("variables", &vars.to_string())],
        )
        .expect("url");
        client
            .get(u)
            .header("accept", "application/graphql-response+json")
    } else {
        let accept = if i % 3 == 0 {
            "application/graphql-response+json"
        } else {
            "application/json"
        };
        client
            .post(url)
            .header("content-type", "application/json")
            .header("accept", accept)
            .body(json!({"query": query, "variables": vars}).to_string())
    };
    let resp = tokio::time::timeout(TIME_LIMIT + SLACK, req.send())
        .await
        .unwrap_or_else(|_| panic!("request {i} got no answer within the time limit: {query:.300}"))
        .unwrap_or_else(|e| panic!("request {i} failed: {e}: {query:.300}"));
    let status = resp.status().as_u16();
    let body = tokio::time::timeout(TIME_LIMIT + SLACK, resp.text())
        .await
        .unwrap_or_else(|_| panic!("request {i}: the body did not arrive in time"))
        .unwrap_or_else(|e| panic!("request {i}: cannot read the body: {e}"));
    let took = t.elapsed();
    let v: Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("request {i} (status {status}) answered non-JSON ({e}): {body:.300}\nquery: {query:.300}"));
    let well_formed = v.is_object()
        && (v.get("data").is_some() || v["errors"].as_array().is_some_and(|e| !e.is_empty()));
    assert!(well_formed, "request {i} (status {status}): {body:.300}");
    if let Some(errors) = v.get("errors") {
        let ok = errors.as_array().is_some_and(|es| {
            es.iter()
                .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty()))
        });
        assert!(ok, "request {i}: errors without messages: {body:.300}");
    }
    assert!(
        status < 500 || status == 503,
        "request {i}: status {status}: {body:.300}"
    );
    let code = match v["errors"][0]["extensions"]["code"].as_str() {
        Some(c) => c.to_owned(),
        None if v.get("errors").is_some() => "error".to_owned(),
        None => "data".to_owned(),
    };
    Outcome { status, code, took }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_every_hostile_query_and_stays_up() {
    let sim = Simulator::new(SimOptions {
        users: USERS,
        groups: None,
        seed: 7,
        token: TOKEN.into(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sim");
    let sim_addr = sim.serve(listener).expect("serve sim");
    let dir = tempfile::tempdir().expect("tmp");
    let app = Application::build(settings(sim_addr, dir.path()))
        .await
        .expect("build the app");
    let client = reqwest::Client::new();
    let base = format!("http://{}", app.addr());
    let mut ready = false;
    for _ in 0..1_200 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the mirror never became ready");

    let schema = Schema::from_sdl(&oktamirror::api::sdl());
    let mut generator = Generator {
        schema: &schema,
        rng: Rng::new(SEED),
        vars: Vec::new(),
        fields_left: 0,
    };
    let requests: Vec<(String, Value)> = (0..QUERIES).map(|_| generator.request()).collect();
    let bytes: usize = requests.iter().map(|(q, _)| q.len()).sum();
    println!("generated {QUERIES} requests, {bytes} bytes of query text");
    let url = format!("{base}/graphql");
    let started = Instant::now();
    let outcomes: Vec<Outcome> = futures::stream::iter(requests.into_iter().enumerate())
        .map(|(i, (q, v))| send(&client, &url, i, q, v))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let mut by_code: BTreeMap<(u16, String), usize> = BTreeMap::new();
    for o in &outcomes {
        *by_code.entry((o.status, o.code.clone())).or_default() += 1;
    }
    let slowest = outcomes.iter().map(|o| o.took).max().unwrap_or_default();
    println!(
        "{QUERIES} hostile requests in {elapsed:?}; slowest {slowest:?}; by (status, code): {by_code:?}"
    );
    assert_eq!(outcomes.len(), QUERIES);
    // The generator must reach past the refusals: plenty of requests return data.
    let with_data = outcomes.iter().filter(|o| o.code == "data").count();
    assert!(
        with_data > QUERIES / 20,
        "only {with_data} answers with data: {by_code:?}"
    );

    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let r: Value = client
        .post(&url)
        .json(&json!({"query": "{ people(first: 1) { totalCount } }"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert!(
        r["data"]["people"]["totalCount"]
            .as_i64()
            .is_some_and(|n| n > 0),
        "{r}"
    );
    app.stop().await.expect("stop");
}
