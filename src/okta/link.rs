//! `Link` header parsing (RFC 8288). Okta sends one `link` field per relation; other servers
//! join several links with commas in one field. Both forms are accepted.

/// Finds the target of the link with relation `rel` among all `Link` header values.
pub fn find_rel<'a>(values: impl IntoIterator<Item = &'a str>, rel: &str) -> Option<String> {
    values.into_iter().flat_map(split_links).find_map(|link| {
        let (target, params) = parse_link(link)?;
        params
            .iter()
            .any(|(k, v)| {
                k.eq_ignore_ascii_case("rel")
                    && v.split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case(rel))
            })
            .then(|| target.to_owned())
    })
}

/// Splits one header value into links at commas outside `<…>` and quotes.
fn split_links(value: &str) -> Vec<&str> {
    let (mut out, mut start, mut in_uri, mut in_quote) = (Vec::new(), 0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            '<' if !in_quote => in_uri = true,
            '>' if !in_quote => in_uri = false,
            '"' if !in_uri => in_quote = !in_quote,
            ',' if !in_uri && !in_quote => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

/// `<target>; k=v; k="v"` → (target, params).
fn parse_link(link: &str) -> Option<(&str, Vec<(&str, String)>)> {
    let link = link.trim();
    let rest = link.strip_prefix('<')?;
    let end = rest.find('>')?;
    let target = &rest[..end];
    let params = rest[end + 1..]
        .split(';')
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim(), v.trim().trim_matches('"').to_owned()))
        })
        .collect();
    Some((target, params))
}

#[cfg(test)]
mod tests {
    use super::find_rel;

    #[test]
    fn separate_headers_as_okta_sends_them() {
        let v = [
            "<https://x.okta.com/api/v1/users?limit=200>; rel=\"self\"",
            "<https://x.okta.com/api/v1/users?after=00u1&limit=200>; rel=\"next\"",
        ];
        assert_eq!(
            find_rel(v, "next").as_deref(),
            Some("https://x.okta.com/api/v1/users?after=00u1&limit=200")
        );
        assert_eq!(find_rel(v[..1].iter().copied(), "next"), None);
    }

    #[test]
    fn comma_joined_rfc8288_form_and_odd_spacing() {
        let v = ["<https://a/x?q=a,b>; rel=self, <https://a/x?after=2>;rel=\"next prev\""];
        assert_eq!(find_rel(v, "next").as_deref(), Some("https://a/x?after=2"));
        assert_eq!(find_rel(v, "self").as_deref(), Some("https://a/x?q=a,b"));
    }
}
