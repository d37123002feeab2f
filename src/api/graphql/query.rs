//! The query root: single lookups (person, group), filtered paged lists, and the sync status.

use async_graphql::{Context, ID, Object, Result};

use super::connection::{Connection, GroupConnection, GroupsTotal, PeopleTotal, PersonConnection};
use super::cursor::Kind;
use super::errors::{bad_input, store_error};
use super::filters::{GroupFilter, PeopleFilter};
use super::group::GroupNode;
use super::org::{DepartmentNode, OrgChartNode, departments};
use super::paging::{self, PageRequest};
use super::person::PersonNode;
use super::search::SearchConnection;
use super::store;
use super::sync_status::{SyncRunNode, SyncStatus};
use crate::search;

/// Deepest `orgChart` allowed (the chart is also capped at 10,000 people).
const MAX_CHART_DEPTH: i32 = 16;

pub(crate) struct Query;

#[Object]
impl Query {
    /// One person by exactly one of: Okta id, login (case-insensitive), email (case-insensitive;
    /// a non-deprovisioned match is preferred) or employee number.
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
        let s = store(ctx)?;
        let found = if let Some(id) = id {
            s.person(&id)
        } else if let Some(login) = login {
            s.person_by_login(&login)
        } else if let Some(email) = email {
            s.person_by_email(&email)
        } else if let Some(n) = employee_number {
            s.person_by_employee_number(&n)
        } else {
            Ok(None)
        };
        Ok(found.map_err(store_error)?.map(PersonNode))
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
        let filter = filter.unwrap_or_default().into_store();
        let page = req
            .scan(store(ctx)?.people_after(req.after()), |p| filter.matches(p))
            .map_err(store_error)?;
        Ok(Connection::new(page, PeopleTotal::Filter(filter)))
    }

    /// One group by exactly one of: Okta id or name (case-insensitive).
    async fn group(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        name: Option<String>,
    ) -> Result<Option<GroupNode>> {
        let s = store(ctx)?;
        let found = match (id, name) {
            (Some(id), None) => s.group(&id),
            (None, Some(name)) => s.group_by_name(&name),
            _ => {
                return Err(bad_input(
                    "group needs exactly one of the arguments id, name",
                ));
            }
        };
        Ok(found.map_err(store_error)?.map(GroupNode))
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
        let page = req
            .scan(store(ctx)?.groups_after(req.after()), |g| spec.matches(g))
            .map_err(store_error)?;
        Ok(Connection::new(page, GroupsTotal::Filter(spec)))
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
        let chart = search::org_chart(store(ctx)?, &root_id, Some(depth as usize))
            .map_err(super::errors::search_error)?;
        Ok(chart.map(OrgChartNode))
    }

    /// The lowest person both `a` and `b` report to, directly or not (if one manages the other,
    /// that one). Null when they are in separate hierarchies or an id is unknown.
    async fn common_manager(&self, ctx: &Context<'_>, a: ID, b: ID) -> Result<Option<PersonNode>> {
        let m = search::common_manager(store(ctx)?, &a, &b).map_err(store_error)?;
        Ok(m.map(PersonNode))
    }

    /// A department by name (case-insensitive); when no department has that name, a division.
    async fn department(&self, ctx: &Context<'_>, name: String) -> Result<Option<DepartmentNode>> {
        let all = departments(ctx)?;
        Ok(all
            .find(&name)
            .cloned()
            .map(|unit| DepartmentNode { unit, all }))
    }

    /// Every department (people's `department` attribute), by name.
    async fn departments(&self, ctx: &Context<'_>) -> Result<Vec<DepartmentNode>> {
        let all = departments(ctx)?;
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
        let all = departments(ctx)?;
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

    /// The most recent sync runs (full, reconcile, tail batch, sweep, hook), newest first.
    async fn sync_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, validator(minimum = 1, maximum = 1000))] first: i32,
    ) -> Result<Vec<SyncRunNode>> {
        let runs = store(ctx)?
            .runs(usize::try_from(first).unwrap_or(20))
            .map_err(store_error)?;
        Ok(runs.into_iter().map(SyncRunNode).collect())
    }
}
