//! Org-chart questions over the store's manager links: everyone under a person (to a depth),
//! the manager chain, the lowest common manager and the chart as a tree. Every walk keeps a
//! visited set, so cycles in manager data can never loop.

use std::collections::{HashSet, VecDeque};

use super::SearchError;
use crate::model::Person;
use crate::store::{Store, StoreError};

/// Longest manager chain walked (a backstop: the store's hierarchy is cycle-free).
pub const MAX_CHAIN: usize = 64;
/// Most people one `org_chart` returns.
pub const MAX_CHART_NODES: usize = 10_000;

/// The ids of everyone under `id`, nearest levels first (breadth-first), down to `depth` levels
/// (1 = direct reports; `None` = all). `id` itself is never included.
pub fn reports(store: &Store, id: &str, depth: Option<usize>) -> Result<Vec<String>, StoreError> {
    let mut seen = HashSet::from([id.to_owned()]);
    let mut out = Vec::new();
    let mut queue = VecDeque::from([(id.to_owned(), 0usize)]);
    while let Some((m, level)) = queue.pop_front() {
        if depth.is_some_and(|d| level >= d) {
            continue;
        }
        for r in store.direct_report_ids(&m)? {
            if seen.insert(r.clone()) {
                out.push(r.clone());
                queue.push_back((r, level + 1));
            }
        }
    }
    Ok(out)
}

/// The managers of `p` up to the top, nearest first.
pub fn manager_chain(store: &Store, p: &Person) -> Result<Vec<Person>, StoreError> {
    let mut seen = HashSet::from([p.id.clone()]);
    let mut chain = Vec::new();
    let mut next = p.manager_id.clone();
    while let Some(mid) = next {
        if chain.len() >= MAX_CHAIN || !seen.insert(mid.clone()) {
            break;
        }
        let Some(m) = store.person(&mid)? else { break };
        next = m.manager_id.clone();
        chain.push(m);
    }
    Ok(chain)
}

/// The lowest person both `a` and `b` report to, directly or not. A person counts as their own
/// top, so when one manages the other, the manager is the answer; `None` when the two sit in
/// separate hierarchies (or either is unknown).
pub fn common_manager(store: &Store, a: &str, b: &str) -> Result<Option<Person>, StoreError> {
    let (Some(pa), Some(pb)) = (store.person(a)?, store.person(b)?) else {
        return Ok(None);
    };
    let mut above_a: Vec<Person> = vec![pa.clone()];
    above_a.extend(manager_chain(store, &pa)?);
    let mut above_b: HashSet<String> = HashSet::from([pb.id.clone()]);
    above_b.extend(manager_chain(store, &pb)?.into_iter().map(|p| p.id));
    Ok(above_a.into_iter().find(|p| above_b.contains(&p.id)))
}

/// A person in an org chart with their direct reports (filled to the requested depth).
#[derive(Debug, Clone)]
pub struct OrgNode {
    /// The person at this node.
    pub person: Person,
    /// How many people report directly to this person (whether or not `reports` is filled).
    pub direct_report_count: usize,
    /// The direct reports as nodes, in id order; empty below the requested depth.
    pub reports: Vec<OrgNode>,
}

/// The chart under `root_id` to `depth` levels (`None` = all), or `None` when no such person.
/// Fails when the chart would hold more than `MAX_CHART_NODES` people.
pub fn org_chart(
    store: &Store,
    root_id: &str,
    depth: Option<usize>,
) -> Result<Option<OrgNode>, SearchError> {
    let Some(root) = store.person(root_id)? else {
        return Ok(None);
    };
    let mut seen = HashSet::from([root.id.clone()]);
    let mut count = 1usize;
    Ok(Some(node(store, root, depth, &mut seen, &mut count)?))
}

fn node(
    store: &Store,
    person: Person,
    depth: Option<usize>,
    seen: &mut HashSet<String>,
    count: &mut usize,
) -> Result<OrgNode, SearchError> {
    let ids = store.direct_report_ids(&person.id)?;
    let mut reports = Vec::new();
    if depth.is_none_or(|d| d > 0) {
        for id in &ids {
            if !seen.insert(id.clone()) {
                continue;
            }
            *count += 1;
            if *count > MAX_CHART_NODES {
                return Err(SearchError::ChartTooLarge {
                    max: MAX_CHART_NODES,
                });
            }
            if let Some(p) = store.person(id)? {
                reports.push(node(store, p, depth.map(|d| d - 1), seen, count)?);
            }
        }
    }
    Ok(OrgNode {
        person,
        direct_report_count: ids.len(),
        reports,
    })
}
