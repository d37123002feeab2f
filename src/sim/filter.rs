//! Okta's `filter` expression language: a recursive-descent parser to an AST,
//! then a per-object compile step that enforces which attributes and operators
//! each endpoint supports, and an evaluator over compiled expressions.
//!
//! Grammar (operators and `and`/`or` case-insensitive, attribute names case-sensitive):
//! ```text
//! or_expr  := and_expr ("or" and_expr)*
//! and_expr := primary ("and" primary)*
//! primary  := "not" primary | "(" or_expr ")" | ATTR OP literal | ATTR "pr"
//! literal  := JSON string | number | true | false | null
//! ```

use super::time::{self, Millis};

/// Comparison operators the grammar knows (each object allows a subset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Sw,
    Co,
    Ew,
    Pr,
}

impl Op {
    fn from_word(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "sw" => Op::Sw,
            "co" => Op::Co,
            "ew" => Op::Ew,
            "pr" => Op::Pr,
            _ => return None,
        })
    }
}

/// A literal on the right-hand side of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Str(String),
    /// Numbers are kept as their source text; no supported attribute is numeric.
    Num(String),
    Bool(bool),
    Null,
}

/// Parsed (not yet validated) filter expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Cmp {
        attr: String,
        op: Op,
        value: Option<Literal>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `not …`: parsed so that `search` can take it; `filter` rejects it (Okta's does).
    Not(Box<Expr>),
}

/// Why a filter was rejected; maps onto Okta error codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterError {
    /// Syntax error, unknown attribute or disallowed operator: 400 `E0000031`.
    InvalidCriteria(String),
    /// A date literal that does not parse: 400 `E0000001`.
    BadDate(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    LParen,
    RParen,
    Str(String),
    Word(String),
}

fn syntax(msg: impl Into<String>) -> FilterError {
    FilterError::InvalidCriteria(msg.into())
}

fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::LParen);
            }
            ')' => {
                chars.next();
                tokens.push(Token::RParen);
            }
            '"' => {
                chars.next();
                let mut end = None;
                let mut escaped = false;
                for (i, ch) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if ch == '\\' {
                        escaped = true;
                    } else if ch == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let end = end.ok_or_else(|| syntax("unterminated string"))?;
                let text: String = serde_json::from_str(&input[start..=end])
                    .map_err(|_| syntax("bad string escape"))?;
                tokens.push(Token::Str(text));
            }
            _ => {
                let mut end = input.len();
                while let Some(&(i, ch)) = chars.peek() {
                    if ch.is_whitespace() || ch == '(' || ch == ')' || ch == '"' {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token::Word(input[start..end].to_string()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
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

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn or_expr(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and_expr()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.primary()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.primary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        match self.next() {
            Some(Token::LParen) => {
                let inner = self.or_expr()?;
                match self.next() {
                    Some(Token::RParen) => Ok(inner),
                    _ => Err(syntax("missing ')'")),
                }
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                Ok(Expr::Not(Box::new(self.primary()?)))
            }
            Some(Token::Word(attr)) => {
                if !is_attr_name(&attr) {
                    return Err(syntax(format!("bad attribute name {attr}")));
                }
                let op = match self.next() {
                    Some(Token::Word(w)) => {
                        Op::from_word(&w).ok_or_else(|| syntax(format!("unknown operator {w}")))?
                    }
                    _ => return Err(syntax("expected operator")),
                };
                if op == Op::Pr {
                    return Ok(Expr::Cmp {
                        attr,
                        op,
                        value: None,
                    });
                }
                let value = match self.next() {
                    Some(Token::Str(s)) => Literal::Str(s),
                    Some(Token::Word(w)) => word_literal(&w)?,
                    _ => return Err(syntax("expected value")),
                };
                Ok(Expr::Cmp {
                    attr,
                    op,
                    value: Some(value),
                })
            }
            _ => Err(syntax("expected expression")),
        }
    }
}

fn is_attr_name(word: &str) -> bool {
    let mut chars = word.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !word.ends_with('.')
        && !["and", "or", "not"]
            .iter()
            .any(|kw| word.eq_ignore_ascii_case(kw))
}

fn word_literal(word: &str) -> Result<Literal, FilterError> {
    match word {
        "true" => Ok(Literal::Bool(true)),
        "false" => Ok(Literal::Bool(false)),
        "null" => Ok(Literal::Null),
        w if w.parse::<f64>().is_ok() => Ok(Literal::Num(w.to_string())),
        w => Err(syntax(format!("bad literal {w}"))),
    }
}

/// Parse a filter expression into an AST (no attribute validation yet).
pub fn parse(input: &str) -> Result<Expr, FilterError> {
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err(syntax("empty filter"));
    }
    let mut parser = Parser { tokens, pos: 0 };
    let expr = parser.or_expr()?;
    if parser.pos != parser.tokens.len() {
        return Err(syntax("trailing input"));
    }
    Ok(expr)
}

/// How a supported attribute's values compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    Date,
}

/// What an object allows for one attribute: an id for fast lookup, its kind and operators.
#[derive(Clone, Copy, Debug)]
pub struct AttrSpec {
    pub id: usize,
    pub kind: Kind,
    pub ops: &'static [Op],
}

/// A validated expression, ready to evaluate.
#[derive(Clone, Debug)]
pub enum Compiled {
    Str { attr: usize, op: Op, value: String },
    Date { attr: usize, op: Op, value: Millis },
    Present { attr: usize },
    And(Box<Compiled>, Box<Compiled>),
    Or(Box<Compiled>, Box<Compiled>),
}

/// An attribute's value on one record, as returned by the evaluator's lookup.
pub enum Field<'a> {
    Str(Option<&'a str>),
    Date(Option<Millis>),
    /// A multi-valued attribute (a System Log event's `target.id`): a comparison holds when
    /// it holds for any one value, as SCIM filters on multi-valued attributes do.
    Any(&'a [String]),
}

/// Validate `expr` against an object's attribute table.
pub fn compile(
    expr: &Expr,
    spec: &dyn Fn(&str) -> Option<AttrSpec>,
) -> Result<Compiled, FilterError> {
    match expr {
        Expr::And(a, b) => Ok(Compiled::And(
            Box::new(compile(a, spec)?),
            Box::new(compile(b, spec)?),
        )),
        Expr::Or(a, b) => Ok(Compiled::Or(
            Box::new(compile(a, spec)?),
            Box::new(compile(b, spec)?),
        )),
        Expr::Not(_) => Err(syntax("not is not supported in filter")),
        Expr::Cmp { attr, op, value } => {
            let s = spec(attr).ok_or_else(|| syntax(format!("unsupported attribute {attr}")))?;
            if !s.ops.contains(op) {
                return Err(syntax(format!("operator not allowed on {attr}")));
            }
            let text = match value {
                None => return Ok(Compiled::Present { attr: s.id }),
                Some(Literal::Str(text)) => text,
                Some(_) => return Err(syntax(format!("{attr} needs a string value"))),
            };
            match s.kind {
                Kind::Str => Ok(Compiled::Str {
                    attr: s.id,
                    op: *op,
                    value: text.clone(),
                }),
                Kind::Date => {
                    let value =
                        time::parse(text).ok_or_else(|| FilterError::BadDate(text.clone()))?;
                    Ok(Compiled::Date {
                        attr: s.id,
                        op: *op,
                        value,
                    })
                }
            }
        }
    }
}

/// Parse then compile in one go.
pub fn parse_for(
    input: &str,
    spec: &dyn Fn(&str) -> Option<AttrSpec>,
) -> Result<Compiled, FilterError> {
    compile(&parse(input)?, spec)
}

fn ordered<T: Ord + ?Sized>(op: Op, left: &T, right: &T) -> bool {
    match op {
        Op::Eq => left == right,
        Op::Ne => left != right,
        Op::Gt => left > right,
        Op::Ge => left >= right,
        Op::Lt => left < right,
        Op::Le => left <= right,
        _ => false,
    }
}

fn str_matches(op: Op, actual: &str, value: &str) -> bool {
    match op {
        Op::Sw => actual.starts_with(value),
        Op::Co => actual.contains(value),
        Op::Ew => actual.ends_with(value),
        other => ordered(other, actual, value),
    }
}

impl Compiled {
    /// Evaluate against one record; `get` maps attribute ids to values.
    pub fn matches<'a>(&self, get: &dyn Fn(usize) -> Field<'a>) -> bool {
        match self {
            Compiled::And(a, b) => a.matches(get) && b.matches(get),
            Compiled::Or(a, b) => a.matches(get) || b.matches(get),
            Compiled::Present { attr } => match get(*attr) {
                Field::Str(v) => v.is_some_and(|s| !s.is_empty()),
                Field::Date(v) => v.is_some(),
                Field::Any(vs) => vs.iter().any(|s| !s.is_empty()),
            },
            Compiled::Str { attr, op, value } => match get(*attr) {
                Field::Str(Some(actual)) => str_matches(*op, actual, value),
                Field::Str(None) => *op == Op::Ne,
                Field::Any(vs) => vs.iter().any(|actual| str_matches(*op, actual, value)),
                Field::Date(_) => false,
            },
            Compiled::Date { attr, op, value } => match get(*attr) {
                Field::Date(Some(actual)) => ordered(*op, &actual, value),
                _ => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(attr: &str, op: Op, v: &str) -> Expr {
        Expr::Cmp {
            attr: attr.into(),
            op,
            value: Some(Literal::Str(v.into())),
        }
    }

    fn and(a: Expr, b: Expr) -> Expr {
        Expr::And(Box::new(a), Box::new(b))
    }

    fn or(a: Expr, b: Expr) -> Expr {
        Expr::Or(Box::new(a), Box::new(b))
    }

    #[test]
    fn simple_comparison_and_case_rules() {
        assert_eq!(
            parse(r#"status EQ "ACTIVE""#).unwrap(),
            cmp("status", Op::Eq, "ACTIVE")
        );
        assert_eq!(
            parse(r#"profile.login eq "a\"b@x.com""#).unwrap(),
            cmp("profile.login", Op::Eq, "a\"b@x.com")
        );
        assert_eq!(
            parse("status pr").unwrap(),
            Expr::Cmp {
                attr: "status".into(),
                op: Op::Pr,
                value: None
            }
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let e = parse(r#"a eq "1" or b eq "2" AND c eq "3""#).unwrap();
        assert_eq!(
            e,
            or(
                cmp("a", Op::Eq, "1"),
                and(cmp("b", Op::Eq, "2"), cmp("c", Op::Eq, "3"))
            )
        );
        let e = parse(r#"a eq "1" and b eq "2" or c eq "3""#).unwrap();
        assert_eq!(
            e,
            or(
                and(cmp("a", Op::Eq, "1"), cmp("b", Op::Eq, "2")),
                cmp("c", Op::Eq, "3")
            )
        );
    }

    #[test]
    fn parentheses_nest() {
        let e = parse(r#"((a eq "1") and (b eq "2" or (c eq "3")))"#).unwrap();
        assert_eq!(
            e,
            and(
                cmp("a", Op::Eq, "1"),
                or(cmp("b", Op::Eq, "2"), cmp("c", Op::Eq, "3"))
            )
        );
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "",
            "   ",
            "status",
            "status eq",
            r#"status eq "A" and"#,
            r#"(status eq "A""#,
            r#"status eq "A")"#,
            r#"status xx "A""#,
            r#"status eq "A"#,
            r#"not"#,
            r#"not or status eq "A""#,
            r#"status eq ACTIVE"#,
            r#"status eq "A" "B""#,
            r#""status" eq "A""#,
            r#"status eq "A" or or status eq "B""#,
        ] {
            assert!(
                matches!(parse(bad), Err(FilterError::InvalidCriteria(_))),
                "{bad:?} should fail"
            );
        }
    }

    fn spec(name: &str) -> Option<AttrSpec> {
        match name {
            "status" => Some(AttrSpec {
                id: 0,
                kind: Kind::Str,
                ops: &[Op::Eq],
            }),
            "lastUpdated" => Some(AttrSpec {
                id: 1,
                kind: Kind::Date,
                ops: &[Op::Eq, Op::Gt, Op::Ge, Op::Lt, Op::Le],
            }),
            _ => None,
        }
    }

    #[test]
    fn compile_enforces_attributes_and_operators() {
        assert!(parse_for(r#"status eq "ACTIVE""#, &spec).is_ok());
        // `not` parses (search takes it) but filter refuses it
        assert!(parse(r#"not status eq "A""#).is_ok());
        assert!(matches!(
            parse_for(r#"not status eq "ACTIVE""#, &spec),
            Err(FilterError::InvalidCriteria(_))
        ));
        // attribute names are case-sensitive
        assert!(matches!(
            parse_for(r#"Status eq "ACTIVE""#, &spec),
            Err(FilterError::InvalidCriteria(_))
        ));
        assert!(matches!(
            parse_for(r#"status sw "ACT""#, &spec),
            Err(FilterError::InvalidCriteria(_))
        ));
        assert!(matches!(
            parse_for(r#"status eq true"#, &spec),
            Err(FilterError::InvalidCriteria(_))
        ));
        assert!(matches!(
            parse_for(r#"lastUpdated gt "yesterday""#, &spec),
            Err(FilterError::BadDate(_))
        ));
    }

    #[test]
    fn evaluates_dates_as_instants_and_strings_case_sensitively() {
        let f = parse_for(
            r#"lastUpdated gt "2020-01-01T00:00:00.000Z" and (status eq "ACTIVE" or status eq "STAGED")"#,
            &spec,
        )
        .unwrap();
        let t = time::parse("2020-01-01T00:30:00.000+00:10").unwrap();
        let rec = |status: &'static str, at: Millis| {
            move |id: usize| match id {
                0 => Field::Str(Some(status)),
                _ => Field::Date(Some(at)),
            }
        };
        assert!(f.matches(&rec("ACTIVE", t)));
        assert!(f.matches(&rec("STAGED", t)));
        assert!(!f.matches(&rec("active", t)));
        assert!(!f.matches(&rec("ACTIVE", t - 3_600_000)));
    }
}
