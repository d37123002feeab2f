//! A minimal streaming JSON object writer: users and groups are rendered
//! straight to text, which keeps 100k-user orgs small in memory and pages fast.

/// Writes `{"k":v,...}` into a `String`, escaping through serde_json.
pub struct ObjWriter {
    buf: String,
    first: bool,
}

impl ObjWriter {
    pub fn new() -> ObjWriter {
        ObjWriter::with_capacity(256)
    }

    pub fn with_capacity(cap: usize) -> ObjWriter {
        let mut buf = String::with_capacity(cap);
        buf.push('{');
        ObjWriter { buf, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        push_str_lit(&mut self.buf, key);
        self.buf.push(':');
    }

    /// A string member.
    pub fn str(mut self, key: &str, value: &str) -> ObjWriter {
        self.key(key);
        push_str_lit(&mut self.buf, value);
        self
    }

    /// A string member, or `null`.
    pub fn opt_str(mut self, key: &str, value: Option<&str>) -> ObjWriter {
        self.key(key);
        match value {
            Some(v) => push_str_lit(&mut self.buf, v),
            None => self.buf.push_str("null"),
        }
        self
    }

    /// A string member only when present (Okta may omit null properties).
    pub fn some_str(self, key: &str, value: Option<&str>) -> ObjWriter {
        match value {
            Some(v) => self.str(key, v),
            None => self,
        }
    }

    /// A member whose value is already valid JSON text.
    pub fn raw(mut self, key: &str, json: &str) -> ObjWriter {
        self.key(key);
        self.buf.push_str(json);
        self
    }

    pub fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

impl Default for ObjWriter {
    fn default() -> Self {
        ObjWriter::new()
    }
}

/// Append `s` as a JSON string literal (copies unescaped runs in one go).
pub fn push_str_lit(buf: &mut String, s: &str) {
    buf.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 => "",
            _ => continue,
        };
        buf.push_str(&s[start..i]);
        if escape.is_empty() {
            buf.push_str(&format!("\\u{b:04x}"));
        } else {
            buf.push_str(escape);
        }
        start = i + 1;
    }
    buf.push_str(&s[start..]);
    buf.push('"');
}

/// Join already-rendered JSON values into an array.
pub fn array<I: IntoIterator<Item = String>>(items: I) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json() {
        let text = ObjWriter::new()
            .str("a", "q\"uo\\te\n\u{1}")
            .opt_str("b", None)
            .some_str("c", None)
            .raw("d", "[1]")
            .str("é", "山田")
            .finish();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a"], "q\"uo\\te\n\u{1}");
        assert!(v["b"].is_null());
        assert!(v.get("c").is_none());
        assert_eq!(v["é"], "山田");
        assert_eq!(array(vec!["1".into(), "2".into()]), "[1,2]");
    }
}
