//! The query root: single lookups (person, group), filtered paged lists, and the sync status.

use async_graphql::{Context, ID, Object, Result};

use super::connection::{GroupConnection, GroupsTotal, PeopleTotal, PersonConnection};
use super::cursor::{self, Kind};
use super::errors::{bad_input, store_error};
use super::filters::{GroupFilter, PeopleFilter};
use super::group::GroupNode;
use super::person::PersonNode;
use super::sync_status::SyncStatus;
use super::{paging, store};

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
        let first = paging::page_size(first)?;
        let after = cursor::after(Kind::Person, after.as_deref())?;
        let filter = filter.unwrap_or_default().into_store();
        let mut people = Vec::new();
        for p in store(ctx)?.people_after(after.as_deref()) {
            let p = p.map_err(store_error)?;
            if filter.matches(&p) {
                people.push(p);
                if people.len() > first {
                    break;
                }
            }
        }
        let has_next = people.len() > first;
        people.truncate(first);
        Ok(PersonConnection {
            people,
            has_next,
            has_previous: after.is_some(),
            total: PeopleTotal::Filter(filter),
        })
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
        let first = paging::page_size(first)?;
        let after = cursor::after(Kind::Group, after.as_deref())?;
        let spec = filter.unwrap_or_default().into_spec();
        let mut groups = Vec::new();
        for g in store(ctx)?.groups_after(after.as_deref()) {
            let g = g.map_err(store_error)?;
            if spec.matches(&g) {
                groups.push(g);
                if groups.len() > first {
                    break;
                }
            }
        }
        let has_next = groups.len() > first;
        groups.truncate(first);
        Ok(GroupConnection {
            groups,
            has_next,
            has_previous: after.is_some(),
            total: GroupsTotal::Filter(spec),
        })
    }

    /// The state of the mirror: readiness, the latest sync runs and counts.
    async fn sync_status(&self) -> SyncStatus {
        SyncStatus
    }
}
