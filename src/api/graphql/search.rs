//! The `search` connection: ranked people with `score` and `highlights` per edge, the total, and
//! facet counts over every match (run only when selected).

use async_graphql::{Context, Object, Result, SimpleObject};

use super::connection::PageInfo;
use super::cursor::{self, Kind};
use super::errors::{bad_input, denied};
use super::filters::PeopleFilter;
use super::paging::PageRequest;
use super::person::PersonNode;
use super::{int, view};
use crate::access::{self, ParsedQuery, PersonFilter};
use crate::model::Person;

/// Runs a search page: the parsed query, the hits of this page and the request to re-run for
/// facets.
pub(crate) async fn run(
    ctx: &Context<'_>,
    query: &str,
    filter: Option<PeopleFilter>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<SearchConnection> {
    let req = PageRequest::new(Kind::Search, first, after.as_deref())?;
    let first = req.first();
    let offset = match req.after() {
        None => 0,
        Some(pos) => pos
            .parse::<usize>()
            .map_err(|_| bad_input("invalid cursor: pass an endCursor from a search"))?,
    };
    let parsed = ParsedQuery::parse(query).map_err(|e| denied(e.into()))?;
    let v = view(ctx)?;
    let filter = v
        .people_filter(filter.unwrap_or_default().into_store())
        .map_err(denied)?;
    // The hits come with the people read from the store directly, not through the request's
    // DataLoader: they are distinct ids known at once, so there is nothing to batch or share,
    // and the loader's spawned batch task cost a task hand-off per search (measured: 90 of
    // 240 µs for ten hits).
    let (results, found) = v
        .search(&parsed, &filter, offset, first + 1)
        .map_err(denied)?;
    let has_next = found.len() > first;
    let edges: Vec<Hit> = found
        .into_iter()
        .take(first)
        .enumerate()
        .map(|(i, (score, person))| Hit {
            position: offset + i + 1,
            score,
            person,
        })
        .collect();
    Ok(SearchConnection {
        query: parsed,
        filter,
        hits: edges,
        total: results.total,
        has_next,
        has_previous: offset > 0,
    })
}

struct Hit {
    /// 1-based rank; the edge's cursor resumes after it.
    position: usize,
    score: f32,
    person: Person,
}

/// Ranked search results (a Relay connection). Pass `pageInfo.endCursor` as `after` for the next
/// page; results reflect the index at the time of each request.
pub(crate) struct SearchConnection {
    query: ParsedQuery,
    filter: PersonFilter,
    hits: Vec<Hit>,
    total: usize,
    has_next: bool,
    has_previous: bool,
}

/// A match, its relevance and which attributes matched.
pub(crate) struct SearchEdge<'a> {
    hit: &'a Hit,
    words: &'a [String],
}

#[Object]
impl SearchEdge<'_> {
    async fn cursor(&self) -> String {
        cursor::encode(Kind::Search, &self.hit.position.to_string())
    }
    async fn node(&self) -> PersonNode {
        PersonNode(self.hit.person.clone())
    }
    /// Relevance: higher is better. Whole-name and login/email matches score above 100;
    /// each query word adds 3 (exact word), 2 (prefix) or 1 (typo); active people add 0.5.
    async fn score(&self) -> f64 {
        f64::from(self.hit.score)
    }
    /// The person's attributes that matched, best match first.
    async fn highlights(&self) -> Vec<Highlight> {
        access::highlights(&self.hit.person, self.words)
            .into_iter()
            .map(|h| Highlight {
                field: h.field.to_owned(),
                value: h.value,
                ranges: h
                    .ranges
                    .into_iter()
                    .map(|(start, end)| HighlightRange {
                        start: int(start as u64),
                        end: int(end as u64),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// An attribute of a found person that matched the query.
#[derive(SimpleObject)]
pub(crate) struct Highlight {
    /// The Person field that matched (`displayName`, `email`, `title`, …).
    field: String,
    value: String,
    /// Where the matching words sit in `value`.
    ranges: Vec<HighlightRange>,
}

/// A range of characters (Unicode code points) `[start, end)` in a highlighted value.
#[derive(SimpleObject)]
pub(crate) struct HighlightRange {
    start: i32,
    end: i32,
}

/// How many matches hold a value.
#[derive(SimpleObject)]
pub(crate) struct FacetCount {
    value: String,
    count: i32,
}

/// Counts by attribute value over every match (not only this page), highest first.
#[derive(SimpleObject)]
pub(crate) struct SearchFacets {
    department: Vec<FacetCount>,
    title: Vec<FacetCount>,
    city: Vec<FacetCount>,
    country_code: Vec<FacetCount>,
    /// By user type, each value its display name (its id when the types are unknown).
    user_type: Vec<FacetCount>,
}

fn counts(v: Vec<(String, u64)>) -> Vec<FacetCount> {
    v.into_iter()
        .map(|(value, n)| FacetCount {
            value,
            count: int(n),
        })
        .collect()
}

#[Object]
impl SearchConnection {
    async fn edges(&self) -> Vec<SearchEdge<'_>> {
        self.hits
            .iter()
            .map(|hit| SearchEdge {
                hit,
                words: &self.query.words,
            })
            .collect()
    }

    async fn nodes(&self) -> Vec<PersonNode> {
        self.hits
            .iter()
            .map(|h| PersonNode(h.person.clone()))
            .collect()
    }

    async fn page_info(&self) -> PageInfo {
        let c = |h: &Hit| cursor::encode(Kind::Search, &h.position.to_string());
        PageInfo::from_cursors(
            self.hits.first().map(c),
            self.hits.last().map(c),
            self.has_next,
            self.has_previous,
        )
    }

    /// How many people match in all.
    async fn total_count(&self) -> i32 {
        int(self.total as u64)
    }

    /// Counts by department, title, city, country code and user type within the matches.
    async fn facets(&self, ctx: &Context<'_>) -> Result<SearchFacets> {
        let v = view(ctx)?;
        let f = v.facets(&self.query, &self.filter).map_err(denied)?;
        let types = v.user_types().map_err(denied)?;
        let user_type = f
            .user_type
            .into_iter()
            .map(|(id, n)| {
                let t = types.iter().find(|t| t.id == id);
                let name = t.and_then(|t| t.display_name.clone().or(Some(t.name.clone())));
                (name.unwrap_or(id), n)
            })
            .collect();
        Ok(SearchFacets {
            department: counts(f.department),
            title: counts(f.title),
            city: counts(f.city),
            country_code: counts(f.country_code),
            user_type: counts(user_type),
        })
    }
}
