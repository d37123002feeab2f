//! The directory's HTML, written as Rust: escaping (every value from Okta is user data and goes
//! through [`esc`]), the page frame with its landmarks, and the pieces pages share (avatars,
//! highlighted names, person rows).

use std::fmt::Write as _;

use crate::access::Highlight;
use crate::model::Person;

/// Text made safe for HTML element content and quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A path segment or query value percent-encoded (RFC 3986 unreserved characters kept).
pub(crate) fn url_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The link to a person's profile.
pub(crate) fn person_href(p: &Person) -> String {
    format!("/people/{}", url_part(&p.login))
}

/// Up to two initials of a name, upper-cased (letters and digits only).
pub(crate) fn initials(name: &str) -> String {
    let words: Vec<&str> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let first = |w: &str| w.chars().next().map(|c| c.to_uppercase().to_string());
    match words.as_slice() {
        [] => "?".into(),
        [one] => first(one).unwrap_or_default(),
        [a, .., b] => format!(
            "{}{}",
            first(a).unwrap_or_default(),
            first(b).unwrap_or_default()
        ),
    }
}

/// One of eight avatar hues (CSS classes `h0`..`h7`), stable for a login.
pub(crate) fn hue(login: &str) -> u8 {
    (login.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    }) % 8) as u8
}

/// A person's avatar: initials on a colour, or the configured photo over them.
pub(crate) fn avatar(p: &Person, photo_template: Option<&str>, size: &str) -> String {
    let name = p.name();
    let photo = photo_template
        .map(|t| {
            let url = t
                .replace("{login}", &url_part(&p.login))
                .replace("{id}", &url_part(&p.id));
            format!(
                "<img src=\"{}\" alt=\"\" loading=\"lazy\" referrerpolicy=\"no-referrer\">",
                esc(&url)
            )
        })
        .unwrap_or_default();
    format!(
        "<span class=\"avatar {size} h{}\" aria-hidden=\"true\">{}{photo}</span>",
        hue(&p.login),
        esc(&initials(&name))
    )
}

/// `value` with the character ranges `[start, end)` wrapped in `<mark>`, all of it escaped.
pub(crate) fn marked(value: &str, ranges: &[(usize, usize)]) -> String {
    let mut out = String::new();
    let mut open = false;
    for (i, c) in value.chars().enumerate() {
        let inside = ranges.iter().any(|&(s, e)| i >= s && i < e);
        if inside && !open {
            out.push_str("<mark>");
            open = true;
        } else if !inside && open {
            out.push_str("</mark>");
            open = false;
        }
        out.push_str(&esc(&c.to_string()));
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

/// The ranges of `p.name()` that matched, from the highlights of its parts.
pub(crate) fn name_ranges(p: &Person, hl: &[Highlight]) -> Vec<(usize, usize)> {
    let of = |field: &str| {
        hl.iter()
            .find(|h| h.field == field)
            .map(|h| h.ranges.clone())
            .unwrap_or_default()
    };
    if p.display_name.is_some() {
        return of("displayName");
    }
    match (&p.first_name, &p.last_name) {
        (Some(f), Some(_)) => {
            let shift = f.chars().count() + 1;
            let mut r = of("firstName");
            r.extend(
                of("lastName")
                    .into_iter()
                    .map(|(s, e)| (s + shift, e + shift)),
            );
            r
        }
        (Some(_), None) => of("firstName"),
        (None, Some(_)) => of("lastName"),
        (None, None) => of("login"),
    }
}

/// Title and department, as one line ("Engineer · Platform").
pub(crate) fn role_line(p: &Person) -> String {
    [p.title.as_deref(), p.department.as_deref()]
        .into_iter()
        .flatten()
        .map(esc)
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A person in a list: avatar, linked name, title and department.
pub(crate) fn person_row(p: &Person, photo: Option<&str>) -> String {
    format!(
        "<li class=\"person\">{}<span class=\"who\"><a href=\"{}\">{}</a><span class=\"sub\">{}</span></span></li>",
        avatar(p, photo, "sm"),
        person_href(p),
        esc(&p.name()),
        role_line(p)
    )
}

/// What a page says about the viewer in its header.
pub(crate) struct Viewer<'a> {
    /// The signed-in person's login, with sign-in on; `None` on an open server.
    pub signed_in: Option<&'a str>,
    /// The token a logout form must carry (CSRF), with sign-in on.
    pub csrf: Option<&'a str>,
}

/// The whole page: header with the search form, navigation, `main` holding `body`, footer.
pub(crate) fn page(
    title: &str,
    query: &str,
    autofocus: bool,
    viewer: &Viewer<'_>,
    body: &str,
) -> String {
    let account = match (viewer.signed_in, viewer.csrf) {
        (Some(who), Some(csrf)) => format!(
            "<form method=\"post\" action=\"/auth/logout\" class=\"logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><span class=\"me\">{}</span> <button type=\"submit\">Sign out</button></form>",
            esc(csrf),
            esc(who)
        ),
        _ => String::new(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<title>{title} · People</title>\
<link rel=\"stylesheet\" href=\"/assets/web/app.css\">\
<script src=\"/assets/web/app.js\" defer></script></head>\
<body><a class=\"skip\" href=\"#main\">Skip to content</a>\
<header class=\"top\"><a class=\"brand\" href=\"/\">People</a>\
<form class=\"search\" role=\"search\" action=\"/\" method=\"get\">\
<label for=\"q\" class=\"visually-hidden\">Search people</label>\
<input id=\"q\" name=\"q\" type=\"search\" value=\"{q}\" placeholder=\"Search people (press /)\" autocomplete=\"off\" spellcheck=\"false\" \
role=\"combobox\" aria-expanded=\"false\" aria-controls=\"suggest\" aria-autocomplete=\"list\"{focus}>\
<button type=\"submit\">Search</button>\
<ul id=\"suggest\" role=\"listbox\" aria-label=\"Suggestions\" hidden></ul></form>\
<nav aria-label=\"Directory\"><a href=\"/departments\">Departments</a></nav>{account}</header>\
<main id=\"main\" tabindex=\"-1\">{body}</main>\
<footer><p>From the Okta mirror. <a href=\"/graphql\">GraphQL</a></p></footer>\
<div id=\"live\" class=\"visually-hidden\" aria-live=\"polite\"></div></body></html>",
        title = esc(title),
        q = esc(query),
        focus = if autofocus { " autofocus" } else { "" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(url_part("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(url_part("é"), "%C3%A9");
    }

    #[test]
    fn initials_and_marks() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("Jean-Luc de la Picard"), "JP");
        assert_eq!(initials("<script>"), "S");
        assert_eq!(initials("  "), "?");
        assert_eq!(marked("Ada <b>", &[(0, 2)]), "<mark>Ad</mark>a &lt;b&gt;");
        assert_eq!(marked("ab", &[(0, 2)]), "<mark>ab</mark>");
    }
}
