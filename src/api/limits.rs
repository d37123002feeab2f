//! Bounds on every `/graphql` request, checked at the edge before any work: body, query text,
//! bracket nesting, variables, and the size of the parsed document (aliases, root fields and
//! fields with fragments expanded); and the per-request deadline that execution checks.
//!
//! Together with the schema's depth and complexity limits (`graphql::MAX_DEPTH`,
//! `graphql::MAX_COMPLEXITY`), the page-size cap (`paging::MAX_FIRST`), the cursor bounds
//! (`graphql::cursor`) and the search query bounds (`search::MAX_QUERY_CHARS`), no request can
//! make the server allocate or compute without bound.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult, Value};
use serde_json::Map;

/// Largest request body (POST) accepted; a larger one gets 413.
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;
/// Longest GraphQL document accepted, in bytes.
pub(crate) const MAX_QUERY_BYTES: usize = 32 * 1024;
/// Largest `variables` accepted, counted as the bytes of its strings and keys plus 8 per value.
pub(crate) const MAX_VARIABLES_BYTES: usize = 64 * 1024;
/// Deepest nesting of `{`, `[` and `(` in the document text. Checked before parsing, because the
/// parser's grammar recurses once per level (the schema allows 16 levels of fields anyway).
pub(crate) const MAX_NESTING: usize = 64;
/// Most aliases in a document (fragments expanded where they are used).
pub(crate) const MAX_ALIASES: usize = 100;
/// Most fields at the root of the document's operations.
pub(crate) const MAX_ROOT_FIELDS: usize = 50;
/// Most fields in a document, fragments expanded where they are used (the standard
/// introspection query has about 150).
pub(crate) const MAX_FIELDS: usize = 2_000;
/// Deepest chain of selection sets through fragment spreads that is walked; beyond it the
/// document is refused (validation would refuse it anyway: the depth limit is 16).
const MAX_WALK_DEPTH: usize = 128;

/// The `extensions.code` of every refusal by a limit here.
pub(crate) const LIMIT_CODE: &str = "LIMIT_EXCEEDED";
/// The `extensions.code` of a request that ran out of time.
pub(crate) const TIMEOUT_CODE: &str = "TIMEOUT";

/// A request refused by a limit: one sentence naming the limit and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LimitError(pub String);

impl LimitError {
    pub(crate) fn to_server_error(&self) -> ServerError {
        coded(&self.0, LIMIT_CODE)
    }
}

/// A `ServerError` with `extensions.code`.
pub(crate) fn coded(message: &str, code: &str) -> ServerError {
    let mut e = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code);
    e.extensions = Some(ext);
    e
}

/// Checks the raw request parameters: the document's length and nesting, and the variables'
/// size. Runs before the document is parsed or looked up.
pub(crate) fn check_text(
    query: &str,
    variables: Option<&Map<String, serde_json::Value>>,
) -> Result<(), LimitError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(LimitError(format!(
            "the query is {} bytes long; at most {MAX_QUERY_BYTES} are allowed: send a shorter document (move long values into variables, drop unused fragments)",
            query.len()
        )));
    }
    let depth = nesting(query);
    if depth > MAX_NESTING {
        return Err(LimitError(format!(
            "the query nests brackets {depth} levels deep; at most {MAX_NESTING} are allowed"
        )));
    }
    if let Some(vars) = variables {
        let size = vars
            .iter()
            .fold(0usize, |n, (k, v)| n.saturating_add(k.len() + json_size(v)));
        if size > MAX_VARIABLES_BYTES {
            return Err(LimitError(format!(
                "the variables hold about {size} bytes; at most {MAX_VARIABLES_BYTES} are allowed"
            )));
        }
    }
    Ok(())
}

/// The size `check_text` counts for a JSON value: string and key bytes, plus 8 per value.
/// (serde_json refuses input nested deeper than 128, so the recursion is bounded.)
fn json_size(v: &serde_json::Value) -> usize {
    use serde_json::Value as J;
    let inner = match v {
        J::String(s) => s.len(),
        J::Array(a) => a.iter().fold(0usize, |n, x| n.saturating_add(json_size(x))),
        J::Object(m) => m
            .iter()
            .fold(0usize, |n, (k, x)| n.saturating_add(k.len() + json_size(x))),
        J::Null | J::Bool(_) | J::Number(_) => 0,
    };
    inner.saturating_add(8)
}

/// The deepest nesting of `{`, `[` and `(` in GraphQL text, outside strings and comments.
fn nesting(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut i, mut depth, mut max) = (0, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if b[i..].starts_with(b"\"\"\"") => {
                // A block string ends at the next `"""` not escaped as `\"""`.
                i += 3;
                while i < b.len() && !b[i..].starts_with(b"\"\"\"") {
                    i += if b[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// What a selection set amounts to with every fragment expanded where it is spread.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Size {
    /// Fields at every level.
    pub fields: usize,
    /// Fields with an alias.
    pub aliases: usize,
    /// Fields at this selection set's own level (through fragments).
    pub top: usize,
}

impl Size {
    fn add(&mut self, other: Size, top: bool) {
        self.fields = self.fields.saturating_add(other.fields);
        self.aliases = self.aliases.saturating_add(other.aliases);
        if top {
            self.top = self.top.saturating_add(other.top);
        }
    }
}

/// Measures a parsed document: each fragment is measured once and its size added wherever it is
/// spread (so spreading fragments inside fragments cannot make the walk exponential); a spread
/// of a fragment that is being measured (a cycle) or unknown counts nothing (validation refuses
/// both).
pub(crate) fn measure(doc: &ExecutableDocument) -> Result<Size, LimitError> {
    let mut memo: HashMap<&str, Option<Size>> = HashMap::new();
    let mut total = Size::default();
    for (_, op) in doc.operations.iter() {
        let s = walk(doc, &op.node.selection_set.node, &mut memo, 0)?;
        total.add(s, true);
    }
    Ok(total)
}

fn walk<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    memo: &mut HashMap<&'a str, Option<Size>>,
    depth: usize,
) -> Result<Size, LimitError> {
    if depth > MAX_WALK_DEPTH {
        return Err(LimitError(format!(
            "the query nests more than {MAX_WALK_DEPTH} selection sets deep through its fragments"
        )));
    }
    let mut s = Size::default();
    for sel in &set.items {
        match &sel.node {
            Selection::Field(f) => {
                s.fields = s.fields.saturating_add(1);
                s.top = s.top.saturating_add(1);
                if f.node.alias.is_some() {
                    s.aliases = s.aliases.saturating_add(1);
                }
                let inner = walk(doc, &f.node.selection_set.node, memo, depth + 1)?;
                s.add(inner, false);
            }
            Selection::InlineFragment(i) => {
                let inner = walk(doc, &i.node.selection_set.node, memo, depth + 1)?;
                s.add(inner, true);
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                let inner = match memo.get(name).copied() {
                    Some(Some(size)) => size,
                    Some(None) => Size::default(),
                    None => match doc.fragments.get(&spread.node.fragment_name.node) {
                        None => Size::default(),
                        Some(frag) => {
                            memo.insert(name, None);
                            let size = walk(doc, &frag.node.selection_set.node, memo, depth + 1)?;
                            memo.insert(name, Some(size));
                            size
                        }
                    },
                };
                s.add(inner, true);
            }
        }
        // Stop early: a document far over the limits need not be walked to the end.
        if s.fields > MAX_FIELDS.saturating_mul(4) {
            return Ok(s);
        }
    }
    Ok(s)
}

/// Checks a parsed document against the alias, root-field and field limits.
pub(crate) fn check_document(doc: &ExecutableDocument) -> Result<(), LimitError> {
    let size = measure(doc)?;
    if size.aliases > MAX_ALIASES {
        return Err(LimitError(format!(
            "the query has {} aliases; at most {MAX_ALIASES} are allowed: send several requests, or ask one list field for more (first: up to 1000)",
            size.aliases
        )));
    }
    if size.top > MAX_ROOT_FIELDS {
        return Err(LimitError(format!(
            "the query selects {} root fields; at most {MAX_ROOT_FIELDS} are allowed: send several requests",
            size.top
        )));
    }
    if size.fields > MAX_FIELDS {
        return Err(LimitError(format!(
            "the query selects {} fields (fragments counted wherever they are spread); at most {MAX_FIELDS} are allowed: select fewer fields or send several requests",
            size.fields
        )));
    }
    Ok(())
}

/// The moment a request's time is up, as request data for `Deadlines`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub at: Instant,
    pub limit: Duration,
}

impl Deadline {
    pub(crate) fn after(limit: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + limit,
            limit,
        }
    }

    pub(crate) fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    pub(crate) fn error(&self) -> ServerError {
        coded(
            &format!(
                "the request ran longer than the time limit ({} ms) and was stopped: ask for less (smaller `first`, fewer fields or a narrower search), or raise request_timeout",
                self.limit.as_millis()
            ),
            TIMEOUT_CODE,
        )
    }
}

/// A schema extension that checks the request's `Deadline` before each field is resolved, so a
/// request past its time stops resolving at once. This is what actually stops work: resolvers
/// that read the store or the index do so synchronously, and a future that never returns
/// `Pending` cannot be interrupted by `tokio::time::timeout` from outside (see `http::execute`).
pub(crate) struct Deadlines;

impl ExtensionFactory for Deadlines {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Deadlines)
    }
}

type ResolveFuture<'a> =
    Pin<Box<dyn std::future::Future<Output = ServerResult<Option<Value>>> + Send + 'a>>;

// Written out as `#[async_trait]` would expand it (async-trait is not a direct dependency).
impl Extension for Deadlines {
    fn resolve<'life0, 'life1, 'life2, 'life3, 'life4, 'async_trait>(
        &'life0 self,
        ctx: &'life1 ExtensionContext<'life2>,
        info: ResolveInfo<'life3>,
        next: NextResolve<'life4>,
    ) -> ResolveFuture<'async_trait>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        'life4: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            if let Some(d) = ctx.data_opt::<Deadline>()
                && d.passed()
            {
                return Err(d.error());
            }
            next.run(ctx, info).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(q: &str) -> Size {
        measure(&async_graphql::parser::parse_query(q).expect("parses")).expect("measures")
    }

    #[test]
    fn counts_fields_aliases_and_root_fields_through_fragments() {
        assert_eq!(
            size("{ a: people { totalCount } b: people { totalCount } }"),
            Size {
                fields: 4,
                aliases: 2,
                top: 2
            }
        );
        let s = size(
            "query { ...F ... on Query { x: __typename } } fragment F on Query { people { nodes { ...G } } } fragment G on Person { id y: id }",
        );
        assert_eq!(
            s,
            Size {
                fields: 5,
                aliases: 2,
                top: 2
            }
        );
    }

    #[test]
    fn nested_fragments_are_counted_without_an_exponential_walk() {
        // F0 spreads F1 ten times (under aliases), F1 spreads F2 ten times, …: 10^20 fields.
        let mut q = String::from("{ ...F0 }");
        for i in 0..20 {
            q.push_str(&format!(" fragment F{i} on Query {{"));
            for j in 0..10 {
                q.push_str(&format!(" a{j}: person(id: \"x\") {{ ...F{} }}", i + 1));
            }
            q.push('}');
        }
        q.push_str(" fragment F20 on Person { id }");
        let doc = async_graphql::parser::parse_query(&q).expect("parses");
        let t = Instant::now();
        let e = check_document(&doc).expect_err("too big");
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(e.0.contains("aliases"), "{e:?}");
    }

    #[test]
    fn fragment_cycles_end() {
        let s =
            size("{ ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }");
        assert_eq!(s.fields, 1);
    }

    #[test]
    fn nesting_ignores_strings_and_comments() {
        assert_eq!(nesting("{ a(x: \"{{{{\") { b } }"), 2);
        assert_eq!(nesting("{ a(x: \"\"\"{{{ \\\"\"\" {{\"\"\") # {{{{\n }"), 2);
        assert_eq!(nesting(&"{".repeat(1000)), 1000);
        assert_eq!(nesting("\"unterminated {{{"), 0);
    }

    #[test]
    fn text_limits_name_themselves() {
        let long = format!("{{ __typename }}{}", " ".repeat(MAX_QUERY_BYTES));
        assert!(
            check_text(&long, None)
                .expect_err("long")
                .0
                .contains("bytes long")
        );
        let deep = format!("{}{}", "{a".repeat(100), "}".repeat(100));
        assert!(
            check_text(&deep, None)
                .expect_err("deep")
                .0
                .contains("nests")
        );
        let mut vars = Map::new();
        vars.insert("q".into(), "x".repeat(MAX_VARIABLES_BYTES).into());
        assert!(
            check_text("{ __typename }", Some(&vars))
                .expect_err("vars")
                .0
                .contains("variables")
        );
        assert!(check_text("{ __typename }", None).is_ok());
    }
}
