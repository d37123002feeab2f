//! The SCIM filter language (RFC 7644 §3.4.2.2): a tokenizer, a recursive-descent parser into
//! [`Filter`], and its evaluation against a resource's SCIM JSON. Attribute names are matched
//! case-insensitively, may be schema-qualified
//! (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`) and may name a
//! sub-attribute (`name.familyName`, `emails.value`); value paths filter the elements of a
//! multi-valued attribute (`emails[type eq "work" and value co "@acme"]`). String comparisons
//! ignore case (every attribute served here is `caseExact: false` except `id`); timestamps
//! compare as times.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::errors::ScimError;

/// The core schema URNs: an attribute qualified with one of these is a top-level attribute.
pub(crate) const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Longest filter accepted, and deepest nesting: a filter is a request parameter, not a program.
const MAX_FILTER_CHARS: usize = 4096;
const MAX_DEPTH: usize = 32;

/// An attribute path: an optional schema URN (lower-cased), the attribute and an optional
/// sub-attribute (lower-cased; matching ignores case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttrPath {
    pub schema: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[urn:…:]attr[.sub]`.
    pub fn parse(text: &str) -> Result<AttrPath, String> {
        let text = text.trim();
        let (schema, rest) = if text.len() > 4 && text[..4].eq_ignore_ascii_case("urn:") {
            match text.rsplit_once(':') {
                Some((urn, rest)) if !rest.is_empty() => (Some(urn.to_ascii_lowercase()), rest),
                _ => return Err(format!("\"{text}\" names a schema but no attribute")),
            }
        } else {
            (None, text)
        };
        let (attr, sub) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (rest, None),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(attr) || sub.is_some_and(|s| !valid(s)) {
            return Err(format!(
                "\"{text}\" is not an attribute path (attr or attr.subAttr)"
            ));
        }
        Ok(AttrPath {
            schema,
            attr: attr.to_ascii_lowercase(),
            sub: sub.map(str::to_ascii_lowercase),
        })
    }

    /// Whether this path is in a core schema (or unqualified).
    pub fn is_core(&self) -> bool {
        self.schema
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(USER_URN) || s.eq_ignore_ascii_case(GROUP_URN))
    }

    /// The values this path names in `resource`, flattened over multi-valued attributes.
    pub fn values<'a>(&self, resource: &'a Value) -> Vec<&'a Value> {
        let Some(base) = self.container(resource) else {
            return Vec::new();
        };
        let Some(v) = get_ci(base, &self.attr) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let elems: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for e in elems {
            match &self.sub {
                Some(sub) => {
                    if let Some(s) = get_ci(e, sub) {
                        out.push(s);
                    }
                }
                None => out.push(e),
            }
        }
        out
    }

    /// The object holding the attribute: the resource itself, or its extension object.
    fn container<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        if self.is_core() {
            return Some(resource);
        }
        let schema = self.schema.as_deref()?;
        get_ci(resource, schema)
    }

    /// The elements of a multi-valued attribute (or the single complex value), for value paths.
    fn elements<'a>(&self, resource: &'a Value) -> Vec<&'a Value> {
        let Some(v) = self.container(resource).and_then(|b| get_ci(b, &self.attr)) else {
            return Vec::new();
        };
        match v {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        }
    }
}

/// A key of `obj`, ignoring case.
pub(crate) fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let o = obj.as_object()?;
    o.get(key).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return None,
        })
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    Compare(AttrPath, Op, Value),
    /// `attr[filter]`: some element of `attr` matches the inner filter (whose paths are
    /// relative to the element).
    ValuePath(AttrPath, Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
    Literal(Value),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::LParen);
                i += 1;
            }
            ')' => {
                out.push(Token::RParen);
                i += 1;
            }
            '[' => {
                out.push(Token::LBracket);
                i += 1;
            }
            ']' => {
                out.push(Token::RBracket);
                i += 1;
            }
            '"' => {
                // A JSON string: find its end (skipping escapes), then let serde decode it.
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("a string is not closed: add the closing \"".into());
                }
                let lit: String = chars[start..=i].iter().collect();
                let s: String = serde_json::from_str(&lit)
                    .map_err(|e| format!("the string {lit} is not a valid JSON string: {e}"))?;
                out.push(Token::Str(s));
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | '[' | ']' | '"')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let lower = word.to_ascii_lowercase();
                let token = match lower.as_str() {
                    "true" => Token::Literal(Value::Bool(true)),
                    "false" => Token::Literal(Value::Bool(false)),
                    "null" => Token::Literal(Value::Null),
                    _ if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') => {
                        match serde_json::from_str::<serde_json::Number>(&word) {
                            Ok(n) => Token::Literal(Value::Number(n)),
                            Err(_) => Token::Word(word),
                        }
                    }
                    _ => Token::Word(word),
                };
                out.push(token);
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn expect(&mut self, want: Token, what: &str) -> Result<(), String> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(format!("expected {what}, found {}", describe(&t))),
            None => Err(format!("expected {what}, but the filter ended")),
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("the filter nests deeper than {MAX_DEPTH} levels"));
        }
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.peek_word("not") {
            self.pos += 1;
            self.expect(Token::LParen, "\"(\" after not (write not (expression))")?;
            let inner = self.or()?;
            self.expect(Token::RParen, "\")\"")?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Token::LParen) {
            self.pos += 1;
            let inner = self.or()?;
            self.expect(Token::RParen, "\")\"")?;
            return Ok(inner);
        }
        let path = match self.next() {
            Some(Token::Word(w)) => AttrPath::parse(&w)?,
            Some(t) => {
                return Err(format!(
                    "expected an attribute name, found {}",
                    describe(&t)
                ));
            }
            None => return Err("expected an attribute name, but the filter ended".into()),
        };
        if self.peek() == Some(&Token::LBracket) {
            self.pos += 1;
            let inner = self.or()?;
            self.expect(Token::RBracket, "\"]\" closing the value filter")?;
            if path.sub.is_some() {
                return Err("a value filter applies to an attribute, not a sub-attribute: write emails[type eq \"work\"]".into());
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        let op = match self.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                return Ok(Filter::Present(path));
            }
            Some(Token::Word(w)) => Op::parse(&w).ok_or_else(|| {
                format!("\"{w}\" is not an operator: use eq, ne, co, sw, ew, gt, ge, lt, le or pr")
            })?,
            Some(t) => return Err(format!("expected an operator, found {}", describe(&t))),
            None => return Err("expected an operator, but the filter ended".into()),
        };
        let value = match self.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Literal(v)) => v,
            Some(t) => {
                return Err(format!(
                    "expected a value (a \"quoted string\", number, true, false or null), found {}",
                    describe(&t)
                ));
            }
            None => return Err("expected a value, but the filter ended".into()),
        };
        if matches!(op, Op::Co | Op::Sw | Op::Ew) && !value.is_string() {
            return Err("co, sw and ew compare strings: quote the value".into());
        }
        if matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le)
            && (value.is_boolean() || value.is_null())
        {
            return Err("gt, ge, lt and le do not apply to booleans or null".into());
        }
        Ok(Filter::Compare(path, op, value))
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::LParen => "\"(\"".into(),
        Token::RParen => "\")\"".into(),
        Token::LBracket => "\"[\"".into(),
        Token::RBracket => "\"]\"".into(),
        Token::Word(w) => format!("\"{w}\""),
        Token::Str(s) => format!("the string \"{s}\""),
        Token::Literal(v) => format!("{v}"),
    }
}

/// Parses a filter; an error is an `invalidFilter` saying what is wrong.
pub(crate) fn parse(text: &str) -> Result<Filter, ScimError> {
    if text.len() > MAX_FILTER_CHARS {
        return Err(ScimError::invalid_filter(format!(
            "the filter is longer than {MAX_FILTER_CHARS} characters"
        )));
    }
    let fail = |m: String| ScimError::invalid_filter(format!("the filter does not parse: {m}"));
    let tokens = tokenize(text).map_err(fail)?;
    if tokens.is_empty() {
        return Err(ScimError::invalid_filter("the filter is empty"));
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let f = p.or().map_err(fail)?;
    if let Some(t) = p.peek() {
        return Err(fail(format!(
            "unexpected {} after a complete expression (join expressions with and / or)",
            describe(t)
        )));
    }
    Ok(f)
}

impl Filter {
    /// Whether `resource` (a SCIM JSON object) matches.
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(resource) && b.matches(resource),
            Filter::Or(a, b) => a.matches(resource) || b.matches(resource),
            Filter::Not(f) => !f.matches(resource),
            Filter::Present(path) => path.values(resource).into_iter().any(present),
            Filter::Compare(path, op, want) => {
                let values = values_for_compare(path, resource);
                if *op == Op::Ne {
                    // ne: no value equals (absent attributes match, as `not (x eq v)`).
                    return !values.iter().any(|v| compare(v, Op::Eq, want, exact(path)));
                }
                if want.is_null() && *op == Op::Eq {
                    return !values.iter().any(|v| present(v));
                }
                values.iter().any(|v| compare(v, *op, want, exact(path)))
            }
            Filter::ValuePath(path, inner) => path
                .elements(resource)
                .into_iter()
                .any(|e| inner.matches(e)),
        }
    }

    /// Every attribute path the filter names (value-path inner paths prefixed by the outer).
    pub fn paths(&self) -> Vec<AttrPath> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths(&self, out: &mut Vec<AttrPath>) {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.collect_paths(out);
                b.collect_paths(out);
            }
            Filter::Not(f) => f.collect_paths(out),
            Filter::Present(p) | Filter::Compare(p, _, _) => out.push(p.clone()),
            Filter::ValuePath(p, _) => out.push(p.clone()),
        }
    }
}

/// `emails eq "x"` compares against each email's `value`.
fn values_for_compare<'a>(path: &AttrPath, resource: &'a Value) -> Vec<&'a Value> {
    path.values(resource)
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(_) if path.sub.is_none() => get_ci(v, "value"),
            other => Some(other),
        })
        .collect()
}

/// Whether comparisons on `path` are case-exact: ids and the references that hold ids (`id`,
/// `groups.value`, `members.value`, the enterprise `manager.value`), as the Schemas declare.
fn exact(path: &AttrPath) -> bool {
    let sub = path.sub.as_deref();
    if path.is_core() {
        return match path.attr.as_str() {
            "id" => sub.is_none(),
            "groups" | "members" => sub.is_none_or(|s| s == "value"),
            _ => false,
        };
    }
    path.attr == "manager"
        && sub.is_none_or(|s| s == "value")
        && path
            .schema
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(ENTERPRISE_URN))
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Orders two values of the same kind: numbers numerically, timestamps as times, strings by
/// their lower-cased text (or exactly, for `caseExact` attributes).
pub(crate) fn order(have: &Value, want: &Value, case_exact: bool) -> Option<Ordering> {
    match (have, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::String(a), Value::String(b)) => {
            if let (Some(x), Some(y)) = (time(a), time(b)) {
                return Some(x.cmp(&y));
            }
            if case_exact {
                Some(a.cmp(b))
            } else {
                Some(a.to_lowercase().cmp(&b.to_lowercase()))
            }
        }
        _ => None,
    }
}

fn compare(have: &Value, op: Op, want: &Value, case_exact: bool) -> bool {
    let fold = |s: &str| {
        if case_exact {
            s.to_owned()
        } else {
            s.to_lowercase()
        }
    };
    match op {
        Op::Co | Op::Sw | Op::Ew => {
            let (Value::String(h), Value::String(w)) = (have, want) else {
                return false;
            };
            let (h, w) = (fold(h), fold(w));
            match op {
                Op::Co => h.contains(&w),
                Op::Sw => h.starts_with(&w),
                _ => h.ends_with(&w),
            }
        }
        Op::Eq | Op::Ne => {
            let eq = order(have, want, case_exact) == Some(Ordering::Equal);
            if op == Op::Eq { eq } else { !eq }
        }
        Op::Gt => order(have, want, case_exact) == Some(Ordering::Greater),
        Op::Ge => matches!(
            order(have, want, case_exact),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        Op::Lt => order(have, want, case_exact) == Some(Ordering::Less),
        Op::Le => matches!(
            order(have, want, case_exact),
            Some(Ordering::Less | Ordering::Equal)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({"id": "00uA", "userName": "Ana@Acme.com", "active": true,
            "name": {"givenName": "Ana", "familyName": "Lopez"},
            "emails": [{"value": "ana@acme.com", "type": "work", "primary": true},
                       {"value": "ana@home.org", "type": "home"}],
            "meta": {"created": "2024-01-02T03:04:05Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                {"department": "Finance", "manager": {"value": "00uB"}}})
    }

    fn m(f: &str) -> bool {
        parse(f).expect("parses").matches(&user())
    }

    #[test]
    fn operators_paths_and_logic() {
        assert!(m(r#"userName eq "ana@acme.com""#));
        assert!(m(r#"USERNAME Eq "ANA@ACME.COM""#));
        assert!(!m(r#"id eq "00ua""#), "id is case-exact");
        assert!(m(r#"name.familyName sw "lo" and name.givenName ew "NA""#));
        assert!(m(r#"emails co "home.org""#));
        assert!(m(r#"emails[type eq "work" and value co "@acme"]"#));
        assert!(!m(r#"emails[type eq "home" and value co "@acme"]"#));
        assert!(m(r#"meta.created gt "2024-01-01T00:00:00Z""#));
        assert!(m(r#"meta.created le "2024-01-02T04:04:05+01:00""#));
        assert!(m(r#"active eq true and not (title pr)"#));
        assert!(m(r#"title ne "x" or userName eq "nobody""#));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "finance""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "00uB""#
        ));
        assert!(
            !m(
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "00ub""#
            ),
            "manager.value is case-exact, as the Schemas say"
        );
        assert!(m(
            r#"(userName eq "x" or userName sw "ana") and emails.type eq "home""#
        ));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (f, want) in [
            (r#"userName eq"#, "expected a value"),
            (r#"userName is "x""#, "not an operator"),
            (r#"userName eq "x" userName eq "y""#, "join expressions"),
            (r#"(userName eq "x""#, "\")\""),
            (r#"userName eq "x"#, "not closed"),
            (r#"active gt true"#, "booleans"),
            (r#"userName co 3"#, "quote the value"),
        ] {
            let e = parse(f).expect_err(f);
            assert_eq!(e.scim_type, Some("invalidFilter"));
            assert!(e.detail.contains(want), "{f}: {}", e.detail);
        }
    }
}
