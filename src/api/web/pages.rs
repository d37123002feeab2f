//! The directory's pages, rendered on the server from one caller's `View` (so they work
//! without JavaScript and their URLs can be shared): search results, a person's profile, the
//! org chart and departments. Each runs on a blocking thread under the request's deadline.

use std::collections::HashMap;

use serde_json::Value;

use super::html::{avatar, esc, marked, name_ranges, person_href, person_row, role_line, url_part};
use super::{Ctx, PAGE_SIZE, Page, WebError};
use crate::access::{self, ParsedQuery, PersonFilter, View};
use crate::model::Person;

/// How many managers a chain shows at most (a cycle in manager data never loops).
const MAX_CHAIN: usize = 64;
/// Results per search page.
const RESULTS_PER_PAGE: usize = 20;
/// Values shown per facet.
const FACET_VALUES: usize = 8;
/// Profile attributes shown elsewhere on the card (or never shown: the manager reference).
const SHOWN_ELSEWHERE: &[&str] = &[
    "login",
    "email",
    "firstName",
    "lastName",
    "displayName",
    "nickName",
    "title",
    "department",
    "division",
    "city",
    "countryCode",
    "managerId",
    "manager",
    "primaryPhone",
    "mobilePhone",
];

fn page_number(params: &HashMap<String, String>) -> usize {
    params
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| (1..=10_000).contains(p))
        .unwrap_or(1)
}

/// The managers of `p` the caller may see, nearest first (stops at a hidden one).
pub(crate) fn chain(view: &View, p: &Person) -> Result<Vec<Person>, WebError> {
    let mut out: Vec<Person> = Vec::new();
    let mut next = p.manager_id.clone();
    while let Some(id) = next {
        if out.len() >= MAX_CHAIN || id == p.id || out.iter().any(|m| m.id == id) {
            break;
        }
        let Some(m) = view.person(&id)? else { break };
        next = m.manager_id.clone();
        out.push(m);
    }
    Ok(out)
}

fn person_of(view: &View, login: &str) -> Result<Person, WebError> {
    view.person_by_login(login)?.ok_or_else(|| {
        WebError::NotFound(format!(
            "No one with the login “{login}” is in the directory."
        ))
    })
}

/// Previous / next links for a paged list; `base` ends in `?` or `&`.
fn pager(base: &str, page: usize, has_next: bool, label: &str) -> String {
    if page <= 1 && !has_next {
        return String::new();
    }
    let mut out = format!("<nav class=\"pager\" aria-label=\"{}\">", esc(label));
    if page > 1 {
        out.push_str(&format!(
            "<a rel=\"prev\" href=\"{}page={}\">← Previous</a>",
            esc(base),
            page - 1
        ));
    }
    out.push_str(&format!("<span>Page {page}</span>"));
    if has_next {
        out.push_str(&format!(
            "<a rel=\"next\" href=\"{}page={}\">Next →</a>",
            esc(base),
            page + 1
        ));
    }
    out.push_str("</nav>");
    out
}

/// `/` without a query: the search box and where to start.
pub(crate) fn home(view: &View, _ctx: &Ctx) -> Result<Page, WebError> {
    let departments = view.departments()?;
    let mut top: Vec<_> = departments.departments.iter().collect();
    top.sort_by_key(|d| std::cmp::Reverse(d.members.len()));
    let links: String = top
        .iter()
        .take(12)
        .map(|d| {
            format!(
                "<li><a href=\"/departments/{}\">{}</a> <span class=\"n\">{}</span></li>",
                url_part(&d.name),
                esc(&d.name),
                d.members.len()
            )
        })
        .collect();
    let body = format!(
        "<section class=\"hero\"><h1>Find a colleague</h1>\
<p>Type a name, title, team, city or email. Press <kbd>/</kbd> to search from anywhere, \
<kbd>↑</kbd> <kbd>↓</kbd> to choose and <kbd>Enter</kbd> to open.</p></section>\
<section aria-labelledby=\"teams\"><h2 id=\"teams\">Largest departments</h2><ul class=\"chips\">{links}</ul>\
<p><a href=\"/departments\">All departments</a></p></section>"
    );
    Ok(Page::new("Search", body).autofocus())
}

/// `/?q=…`: ranked results with highlights, department and location facets, pages.
pub(crate) fn results(
    view: &View,
    ctx: &Ctx,
    q: &str,
    params: &HashMap<String, String>,
) -> Result<Page, WebError> {
    let parsed = ParsedQuery::parse(q).map_err(|e| WebError::BadInput(e.to_string()))?;
    let department = params.get("department").filter(|s| !s.is_empty()).cloned();
    let city = params.get("city").filter(|s| !s.is_empty()).cloned();
    let filter = view.people_filter(PersonFilter {
        department: department.clone(),
        city: city.clone(),
        ..PersonFilter::default()
    })?;
    let page = page_number(params);
    let offset = (page - 1) * RESULTS_PER_PAGE;
    let (results, hits) = view.search(&parsed, &filter, offset, RESULTS_PER_PAGE + 1)?;
    let facets = view.facets(&parsed, &filter)?;
    let has_next = hits.len() > RESULTS_PER_PAGE;

    let query_string = |dep: Option<&str>, city: Option<&str>| {
        let mut s = format!("/?q={}", url_part(q));
        if let Some(d) = dep {
            s.push_str(&format!("&department={}", url_part(d)));
        }
        if let Some(c) = city {
            s.push_str(&format!("&city={}", url_part(c)));
        }
        s
    };
    let facet = |title: &str, values: &[(String, u64)], current: Option<&str>, is_dep: bool| {
        let mut out = format!(
            "<section class=\"facet\" aria-label=\"{t}\"><h2>{t}</h2><ul>",
            t = esc(title)
        );
        for (v, n) in values.iter().take(FACET_VALUES) {
            let on = current.is_some_and(|c| c.eq_ignore_ascii_case(v));
            let href = match (is_dep, on) {
                (true, true) => query_string(None, city.as_deref()),
                (true, false) => query_string(Some(v), city.as_deref()),
                (false, true) => query_string(department.as_deref(), None),
                (false, false) => query_string(department.as_deref(), Some(v)),
            };
            out.push_str(&format!(
                "<li><a href=\"{}\"{}>{}<span class=\"n\">{n}</span></a></li>",
                esc(&href),
                if on {
                    " aria-current=\"true\" class=\"on\""
                } else {
                    ""
                },
                esc(v)
            ));
        }
        out.push_str("</ul></section>");
        out
    };
    let mut list = String::new();
    for (_, p) in hits.iter().take(RESULTS_PER_PAGE) {
        let hl = access::highlights(p, &parsed.words);
        let ranges = name_ranges(p, &hl);
        let name = marked(&p.name(), &ranges);
        // What else matched, when the name did not (the title, department and city show below).
        let other = hl
            .iter()
            .find(|h| {
                ranges.is_empty()
                    && !matches!(
                        h.field,
                        "displayName" | "firstName" | "lastName" | "title" | "department" | "city"
                    )
            })
            .map(|h| {
                format!(
                    "<span class=\"hit\">{}: {}</span>",
                    esc(h.field),
                    marked(&h.value, &h.ranges)
                )
            })
            .unwrap_or_default();
        let sub = [
            p.title.as_deref(),
            p.department.as_deref(),
            p.city.as_deref(),
        ]
        .into_iter()
        .flatten()
        .map(|v| {
            let ranges = hl
                .iter()
                .find(|h| h.value == v)
                .map(|h| h.ranges.clone())
                .unwrap_or_default();
            marked(v, &ranges)
        })
        .collect::<Vec<_>>()
        .join(" · ");
        list.push_str(&format!(
            "<li class=\"person\">{}<span class=\"who\"><a href=\"{}\">{name}</a><span class=\"sub\">{sub}</span>{other}</span></li>",
            avatar(p, ctx.photo(), "sm"),
            person_href(p),
        ));
    }
    let total = results.total;
    let summary = if total == 1 {
        "1 person".to_owned()
    } else {
        format!("{total} people")
    };
    let base = format!("{}&", query_string(department.as_deref(), city.as_deref()));
    let body = format!(
        "<h1 class=\"results-title\">Results for “{}”</h1><p class=\"count\" id=\"count\">{summary}</p>\
<div class=\"results\"><aside class=\"facets\" aria-label=\"Narrow the results\">{}{}</aside>\
<div><ol class=\"people\" id=\"results\" aria-labelledby=\"count\">{list}</ol>{}</div></div>",
        esc(q),
        facet(
            "Department",
            &facets.department,
            department.as_deref(),
            true
        ),
        facet("Location", &facets.city, city.as_deref(), false),
        pager(&base, page, has_next, "Result pages"),
    );
    Ok(Page::new(&format!("“{q}”"), body).query(q))
}

/// `/people/{login}`: the profile card.
pub(crate) fn profile(view: &View, ctx: &Ctx, login: &str) -> Result<Page, WebError> {
    let p = person_of(view, login)?;
    let managers = chain(view, &p)?;
    let report_ids = view.direct_report_ids(&p.id)?;
    let reports = view.people(&report_ids[..report_ids.len().min(PAGE_SIZE)])?;
    let peers = match &p.manager_id {
        Some(m) => {
            let ids: Vec<String> = view
                .direct_report_ids(m)?
                .into_iter()
                .filter(|id| *id != p.id)
                .collect();
            (view.people(&ids[..ids.len().min(PAGE_SIZE)])?, ids.len())
        }
        None => (Vec::new(), 0),
    };
    let group_ids = view.group_ids_of(&p.id)?;
    let groups = view.groups(&group_ids[..group_ids.len().min(PAGE_SIZE)])?;
    let raw = view.profile(&p.id)?;

    let crumbs: String = managers
        .iter()
        .rev()
        .map(|m| {
            format!(
                "<li><a href=\"{}\">{}</a></li>",
                person_href(m),
                esc(&m.name())
            )
        })
        .chain(std::iter::once(format!(
            "<li><span aria-current=\"page\">{}</span></li>",
            esc(&p.name())
        )))
        .collect();
    let mut facts = String::new();
    let mut fact = |label: &str, value: String| {
        if !value.is_empty() {
            facts.push_str(&format!("<dt>{}</dt><dd>{value}</dd>", esc(label)));
        }
    };
    let opt = |v: &Option<String>| v.as_deref().map(esc).unwrap_or_default();
    fact("Title", opt(&p.title));
    fact(
        "Department",
        p.department
            .as_deref()
            .map(|d| format!("<a href=\"/departments/{}\">{}</a>", url_part(d), esc(d)))
            .unwrap_or_default(),
    );
    fact(
        "Division",
        p.division
            .as_deref()
            .map(|d| format!("<a href=\"/departments/{}\">{}</a>", url_part(d), esc(d)))
            .unwrap_or_default(),
    );
    let location = [p.city.as_deref(), p.country_code.as_deref()]
        .into_iter()
        .flatten()
        .map(esc)
        .collect::<Vec<_>>()
        .join(", ");
    fact("Location", location);
    fact(
        "Email",
        p.email
            .as_deref()
            .map(|e| {
                format!(
                    "<a href=\"mailto:{}\">{}</a>",
                    esc(&url_part_mail(e)),
                    esc(e)
                )
            })
            .unwrap_or_default(),
    );
    for (key, label) in [("primaryPhone", "Phone"), ("mobilePhone", "Mobile")] {
        if let Some(tel) = raw.get(key).and_then(Value::as_str) {
            let dial: String = tel
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect();
            fact(
                label,
                format!("<a href=\"tel:{}\">{}</a>", esc(&dial), esc(tel)),
            );
        }
    }
    fact(
        "Manager",
        managers
            .first()
            .map(|m| format!("<a href=\"{}\">{}</a>", person_href(m), esc(&m.name())))
            .unwrap_or_default(),
    );
    let mut custom = String::new();
    if let Value::Object(o) = &raw {
        for (k, v) in o {
            if SHOWN_ELSEWHERE.contains(&k.as_str()) {
                continue;
            }
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            custom.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(&text)));
        }
    }
    let custom = if custom.is_empty() {
        String::new()
    } else {
        format!(
            "<section aria-labelledby=\"more\" class=\"card\"><h2 id=\"more\">More</h2><dl class=\"facts\" id=\"attributes\">{custom}</dl></section>"
        )
    };
    let list = |id: &str, title: &str, people: &[Person], total: usize, more: &str| {
        if people.is_empty() {
            return String::new();
        }
        let rows: String = people.iter().map(|r| person_row(r, ctx.photo())).collect();
        let more = if total > people.len() {
            format!("<p><a href=\"{more}\">All {total}</a></p>")
        } else {
            String::new()
        };
        format!(
            "<section aria-labelledby=\"{id}\" class=\"card\"><h2 id=\"{id}\">{} <span class=\"n\">{total}</span></h2><ul class=\"people\" id=\"{id}-list\">{rows}</ul>{more}</section>",
            esc(title)
        )
    };
    let org_href = format!("/org/{}", url_part(&p.login));
    let group_list: String = groups
        .iter()
        .map(|g| format!("<li>{}</li>", esc(&g.name)))
        .collect();
    let groups_html = if groups.is_empty() {
        String::new()
    } else {
        format!(
            "<section aria-labelledby=\"groups\" class=\"card\"><h2 id=\"groups\">Groups <span class=\"n\">{}</span></h2><ul class=\"chips\">{group_list}</ul></section>",
            group_ids.len()
        )
    };
    let peers_more = managers
        .first()
        .map(|m| format!("/org/{}", url_part(&m.login)))
        .unwrap_or_default();
    let body = format!(
        "<nav aria-label=\"Manager chain\" class=\"crumbs\"><ol>{crumbs}</ol></nav>\
<article class=\"profile card\" aria-labelledby=\"name\">{}<div><h1 id=\"name\">{}</h1><p class=\"sub\">{}</p>\
<p><a href=\"{org_href}\">Org chart</a></p></div><dl class=\"facts\">{facts}</dl></article>\
{custom}<div class=\"grid\">{}{}</div>{groups_html}",
        avatar(&p, ctx.photo(), "lg"),
        esc(&p.name()),
        role_line(&p),
        list(
            "reports",
            "Direct reports",
            &reports,
            report_ids.len(),
            &org_href
        ),
        list("peers", "Peers", &peers.0, peers.1, &peers_more),
    );
    Ok(Page::new(&p.name(), body))
}

fn url_part_mail(e: &str) -> String {
    // An address keeps its `@`; everything else that could end the attribute is encoded.
    e.split('@').map(url_part).collect::<Vec<_>>().join("@")
}

/// One org-chart node's markup (collapsed), for the server page.
pub(crate) fn tree_item(p: &Person, count: usize, ctx: &Ctx) -> String {
    let toggle = if count > 0 {
        format!(
            "<button type=\"button\" class=\"toggle\" tabindex=\"-1\" aria-label=\"Show {} reports of {}\"></button>",
            count,
            esc(&p.name())
        )
    } else {
        "<span class=\"toggle none\"></span>".into()
    };
    let expanded = if count > 0 {
        " aria-expanded=\"false\""
    } else {
        ""
    };
    format!(
        "<li role=\"treeitem\" tabindex=\"-1\"{expanded} data-login=\"{}\" data-count=\"{count}\"><div class=\"node\">{toggle}{}<span class=\"who\"><a href=\"/org/{}\" tabindex=\"-1\">{}</a><span class=\"sub\">{}</span></span>{}</div></li>",
        esc(&p.login),
        avatar(p, ctx.photo(), "sm"),
        url_part(&p.login),
        esc(&p.name()),
        role_line(p),
        if count > 0 {
            format!("<span class=\"n\" title=\"direct reports\">{count}</span>")
        } else {
            String::new()
        }
    )
}

/// `/org/{login}`: the chart rooted at a person, the path to the top above it.
pub(crate) fn org(
    view: &View,
    ctx: &Ctx,
    login: &str,
    params: &HashMap<String, String>,
) -> Result<Page, WebError> {
    let p = person_of(view, login)?;
    let managers = chain(view, &p)?;
    let ids = view.direct_report_ids(&p.id)?;
    let page = page_number(params);
    let start = ((page - 1) * PAGE_SIZE).min(ids.len());
    let end = (start + PAGE_SIZE).min(ids.len());
    let reports = view.people(&ids[start..end])?;
    let mut items = String::new();
    for r in &reports {
        let n = view.direct_report_ids(&r.id)?.len();
        items.push_str(&tree_item(r, n, ctx));
    }
    if end < ids.len() {
        items.push_str(&format!(
            "<li class=\"more\" role=\"none\"><a href=\"/org/{}?page={}\" data-offset=\"{end}\">Show more ({} of {} shown)</a></li>",
            url_part(&p.login),
            page + 1,
            end,
            ids.len()
        ));
    }
    let path: String = managers
        .iter()
        .rev()
        .map(|m| {
            format!(
                "<li><a href=\"/org/{}\">{}</a><span class=\"sub\">{}</span></li>",
                url_part(&m.login),
                esc(&m.name()),
                m.title.as_deref().map(esc).unwrap_or_default()
            )
        })
        .collect();
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("<nav aria-label=\"Path to the top\" class=\"path\"><ol>{path}</ol></nav>")
    };
    let body = format!(
        "<h1 class=\"visually-hidden\">Org chart of {name}</h1>{path}\
<p class=\"hint\" id=\"tree-help\">Use <kbd>↑</kbd> <kbd>↓</kbd> to move, <kbd>→</kbd> to expand, <kbd>←</kbd> to collapse, <kbd>Enter</kbd> to open.</p>\
<ul role=\"tree\" class=\"tree\" aria-label=\"Org chart of {name}\" aria-describedby=\"tree-help\">\
<li role=\"treeitem\" tabindex=\"0\" aria-expanded=\"true\" data-login=\"{login}\" data-count=\"{count}\" class=\"root\"><div class=\"node\"><span class=\"toggle none\"></span>{avatar}<span class=\"who\"><a href=\"{href}\" tabindex=\"-1\">{name}</a><span class=\"sub\">{role}</span></span><span class=\"n\">{count}</span></div>\
<ul role=\"group\">{items}</ul></li></ul>",
        name = esc(&p.name()),
        login = esc(&p.login),
        count = ids.len(),
        avatar = avatar(&p, ctx.photo(), "sm"),
        href = person_href(&p),
        role = role_line(&p),
    );
    Ok(Page::new(&format!("Org chart of {}", p.name()), body))
}

/// `/departments`: every department and division with its head and headcount.
pub(crate) fn departments(view: &View, _ctx: &Ctx) -> Result<Page, WebError> {
    let all = view.departments()?;
    let mut body = String::from("<h1>Departments</h1>");
    for (title, units) in [
        ("Departments", &all.departments),
        ("Divisions", &all.divisions),
    ] {
        if units.is_empty() {
            continue;
        }
        let heads: Vec<String> = units
            .iter()
            .filter_map(|d| d.head.as_deref().map(str::to_owned))
            .collect();
        let heads: HashMap<String, Person> = view
            .people(&heads)?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let rows: String = units
            .iter()
            .map(|d| {
                let head = d
                    .head
                    .as_ref()
                    .and_then(|h| heads.get(&**h))
                    .map(|h| format!("<a href=\"{}\">{}</a>", person_href(h), esc(&h.name())))
                    .unwrap_or_default();
                format!(
                    "<tr><th scope=\"row\"><a href=\"/departments/{}\">{}</a></th><td>{head}</td><td class=\"num\">{}</td></tr>",
                    url_part(&d.name),
                    esc(&d.name),
                    d.members.len()
                )
            })
            .collect();
        body.push_str(&format!(
            "<section class=\"card\"><h2>{t}</h2><table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Head</th><th scope=\"col\" class=\"num\">People</th></tr></thead><tbody>{rows}</tbody></table></section>",
            t = esc(title)
        ));
    }
    Ok(Page::new("Departments", body))
}

/// `/departments/{name}`: head, headcount, sub-departments, members paged.
pub(crate) fn department(
    view: &View,
    ctx: &Ctx,
    name: &str,
    params: &HashMap<String, String>,
) -> Result<Page, WebError> {
    let all = view.departments()?;
    let d = all.find(name).ok_or_else(|| {
        WebError::NotFound(format!("There is no department or division “{name}”."))
    })?;
    let page = page_number(params);
    let start = ((page - 1) * PAGE_SIZE).min(d.members.len());
    let end = (start + PAGE_SIZE).min(d.members.len());
    let members = view.people(&d.members.range(start, end))?;
    let head = match &d.head {
        Some(h) => view.person(h)?,
        None => None,
    };
    let kind = match d.kind {
        access::UnitKind::Department => "Department",
        access::UnitKind::Division => "Division",
    };
    let head_html = head
        .map(|h| {
            format!(
                "<dt>Head</dt><dd><a href=\"{}\">{}</a></dd>",
                person_href(&h),
                esc(&h.name())
            )
        })
        .unwrap_or_default();
    let parent = d
        .parent
        .as_deref()
        .map(|p| {
            format!(
                "<dt>Part of</dt><dd><a href=\"/departments/{}\">{}</a></dd>",
                url_part(p),
                esc(p)
            )
        })
        .unwrap_or_default();
    let subs: String = d
        .sub_departments
        .iter()
        .map(|s| {
            format!(
                "<li><a href=\"/departments/{}\">{}</a></li>",
                url_part(s),
                esc(s)
            )
        })
        .collect();
    let subs = if subs.is_empty() {
        String::new()
    } else {
        format!(
            "<section class=\"card\" aria-labelledby=\"subs\"><h2 id=\"subs\">Inside</h2><ul class=\"chips\">{subs}</ul></section>"
        )
    };
    let rows: String = members.iter().map(|m| person_row(m, ctx.photo())).collect();
    let base = format!("/departments/{}?", url_part(&d.name));
    let body = format!(
        "<h1>{name}</h1><dl class=\"facts card\"><dt>Kind</dt><dd>{kind}</dd>{head_html}{parent}<dt>People</dt><dd id=\"headcount\">{count}</dd></dl>{subs}\
<section class=\"card\" aria-labelledby=\"members\"><h2 id=\"members\">Members</h2><ul class=\"people\" id=\"members-list\">{rows}</ul>{pager}</section>",
        name = esc(&d.name),
        count = d.members.len(),
        pager = pager(&base, page, end < d.members.len(), "Member pages"),
    );
    Ok(Page::new(&d.name, body))
}
