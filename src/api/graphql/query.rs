//! The query root: single lookups (person, group), filtered paged lists, and the sync status.

use async_graphql::{Context, ID, Object, Result};

use super::connection::{Connection, GroupConnection, GroupsTotal, PeopleTotal, PersonConnection};
use super::cursor::Kind;
use super::errors::{bad_input, denied};
use super::filters::{GroupFilter, PeopleFilter};
use super::group::GroupNode;
use super::org::{DepartmentNode, OrgChartNode, departments};
use super::paging::{self, PageRequest};
use super::person::PersonNode;
use super::search::SearchConnection;
use super::sync_status::{AuditEntryNode, SyncRunNode, SyncStatus};
use super::view;

/// Deepest `orgChart` allowed (the chart is also capped at 10,000 people).
const MAX_CHART_DEPTH: i32 = 16;

pub(crate) struct Query;

#[Object]
impl Query {
    /// One person by exactly one of: Okta id, login (case-insensitive), email (case-insensitive;
    /// a non-deprovisioned match is preferred) or employee number. Okta keeps neither email nor
    /// employee number unique: when several people share the value, the answer is an error
    /// saying how many, never an arbitrary one of them.
    async fn person(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        login: Option<String>,
        email: Option<String>,
        employee_number: Option<String>,
    ) -> Result<Option<PersonNode>> {
        let given = [
            id.is_some(),
            login.is_some(),
            email.is_some(),
            employee_number.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(bad_input(
                "person needs exactly one of the arguments id, login, email, employeeNumber",
            ));
        }
        let v = view(ctx)?;
        let found = if let Some(id) = id {
            v.person(&id)
        } else if let Some(login) = login {
            v.person_by_login(&login)
        } else if let Some(email) = email {
            v.person_by_email(&email)
        } else if let Some(n) = employee_number {
            v.person_by_employee_number(&n)
        } else {
            Ok(None)
        };
        Ok(found.map_err(denied)?.map(PersonNode))
    }

    /// People in id order. Without a filter, deprovisioned people are left out.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn people(
        &self,
        ctx: &Context<'_>,
        filter: Option<PeopleFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PersonConnection> {
        let req = PageRequest::new(Kind::Person, first, after.as_deref())?;
        let v = view(ctx)?;
        let filter = v
            .people_filter(filter.unwrap_or_default().into_store())
            .map_err(denied)?;
        let people = v
            .people_page(&filter, req.after(), req.first())
            .map_err(denied)?;
        Ok(Connection::new(
            req.page(people),
            PeopleTotal::Filter(filter),
        ))
    }

    /// One group by exactly one of: Okta id or name (case-insensitive).
    async fn group(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        name: Option<String>,
    ) -> Result<Option<GroupNode>> {
        let v = view(ctx)?;
        let found = match (id, name) {
            (Some(id), None) => v.group(&id),
            (None, Some(name)) => v.group_by_name(&name),
            _ => {
                return Err(bad_input(
                    "group needs exactly one of the arguments id, name",
                ));
            }
        };
        Ok(found.map_err(denied)?.map(GroupNode))
    }

    /// Groups in id order.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn groups(
        &self,
        ctx: &Context<'_>,
        filter: Option<GroupFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<GroupConnection> {
        let req = PageRequest::new(Kind::Group, first, after.as_deref())?;
        let spec = filter.unwrap_or_default().into_spec();
        let groups = view(ctx)?
            .groups_page(&|g| spec.matches(g), req.after(), req.first())
            .map_err(denied)?;
        Ok(Connection::new(req.page(groups), GroupsTotal::Filter(spec)))
    }

    /// People matching `query` as you type: every word must match a name, login, email, title,
    /// department, division, organization, city, country code, employee number or configured
    /// custom attribute, exactly, as a prefix, or with a typo (one from 4 letters, two from 8).
    /// Case and accents are ignored. Best first: whole name or login/email, then exact words,
    /// prefixes, typos; active people first among equals. `filter` applies as for `people`.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        filter: Option<PeopleFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<SearchConnection> {
        super::search::run(ctx, &query, filter, first, after).await
    }

    /// The org chart under a person as nested nodes, `depth` levels deep (default 2, at most
    /// 16; at most 10,000 people). Null when no person has that id.
    async fn org_chart(
        &self,
        ctx: &Context<'_>,
        root_id: ID,
        #[graphql(default = 2)] depth: i32,
    ) -> Result<Option<OrgChartNode>> {
        if !(0..=MAX_CHART_DEPTH).contains(&depth) {
            return Err(bad_input(format!(
                "depth must be between 0 and {MAX_CHART_DEPTH} (got {depth})"
            )));
        }
        let root = root_id.to_string();
        let chart = view(ctx)?
            .blocking(move |v| v.org_chart(&root, Some(depth as usize)))
            .await
            .map_err(denied)?;
        Ok(chart.map(OrgChartNode))
    }

    /// The lowest person both `a` and `b` report to, directly or not (if one manages the other,
    /// that one). Null when they are in separate hierarchies or an id is unknown.
    async fn common_manager(&self, ctx: &Context<'_>, a: ID, b: ID) -> Result<Option<PersonNode>> {
        let m = view(ctx)?.common_manager(&a, &b).map_err(denied)?;
        Ok(m.map(PersonNode))
    }

    /// A department by name (case-insensitive); when no department has that name, a division.
    async fn department(&self, ctx: &Context<'_>, name: String) -> Result<Option<DepartmentNode>> {
        let all = departments(ctx).await?;
        Ok(all
            .find(&name)
            .cloned()
            .map(|unit| DepartmentNode { unit, all }))
    }

    /// Every department (people's `department` attribute), by name.
    async fn departments(&self, ctx: &Context<'_>) -> Result<Vec<DepartmentNode>> {
        let all = departments(ctx).await?;
        Ok(all
            .departments
            .iter()
            .map(|unit| DepartmentNode {
                unit: unit.clone(),
                all: all.clone(),
            })
            .collect())
    }

    /// Every division (people's `division` attribute), by name, with their departments.
    async fn divisions(&self, ctx: &Context<'_>) -> Result<Vec<DepartmentNode>> {
        let all = departments(ctx).await?;
        Ok(all
            .divisions
            .iter()
            .map(|unit| DepartmentNode {
                unit: unit.clone(),
                all: all.clone(),
            })
            .collect())
    }

    /// The state of the mirror: readiness, the latest sync runs and counts.
    async fn sync_status(&self) -> SyncStatus {
        SyncStatus
    }

    /// The change feed: what changed in the mirror since `after` (an `endCursor` or
    /// `headCursor` you stored), oldest first, as your key may see it. A consumer that applies
    /// each page and stores its `endCursor` with what it applied never misses or repeats a
    /// change across restarts; a cursor older than the change log's retention is an error
    /// (CURSOR_EXPIRED) telling it to read the mirror again. Without `after`: from the oldest
    /// change the log holds.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        #[graphql(default = 100, validator(minimum = 1, maximum = 1000))] first: i32,
    ) -> Result<super::changes::ChangeFeed> {
        super::changes::page(
            ctx,
            after.as_deref(),
            first.min(super::changes::MAX_CHANGES_PAGE),
        )
    }

    /// The most recent sync runs (full, reconcile, tail batch, sweep, hook), newest first.
    async fn sync_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, validator(minimum = 1, maximum = 1000))] first: i32,
    ) -> Result<Vec<SyncRunNode>> {
        let runs = view(ctx)?
            .runs(usize::try_from(first).unwrap_or(20))
            .map_err(denied)?;
        Ok(runs.into_iter().map(SyncRunNode).collect())
    }

    /// The most recent state-changing calls (syncNow, keys created or revoked), newest first.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 1000))] first: i32,
    ) -> Result<Vec<AuditEntryNode>> {
        let entries = view(ctx)?
            .audit_log(usize::try_from(first).unwrap_or(50))
            .map_err(denied)?;
        Ok(entries.into_iter().map(AuditEntryNode).collect())
    }
}
