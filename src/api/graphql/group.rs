//! The GraphQL `Group` type: typed fields, the raw profile, the member count and a paged,
//! optionally status-filtered member list.

use async_graphql::{Context, ID, Json, Object, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::connection::{Connection, PeopleTotal, PersonConnection};
use super::cursor::Kind;
use super::enums::{GroupType, UserStatus};
use super::errors::store_error;
use super::paging::{self, PageRequest};
use super::person::profile_of;
use super::{int, load_people, store};
use crate::model::{self, Group};

/// How many member ids are read per batch when a status filter skips some.
const SCAN_CHUNK: usize = 256;

pub(crate) struct GroupNode(pub Group);

/// An Okta group.
#[Object(name = "Group")]
impl GroupNode {
    /// The Okta group id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    #[graphql(name = "type")]
    async fn group_type(&self) -> GroupType {
        self.0.group_type.into()
    }
    async fn created(&self) -> Option<DateTime<Utc>> {
        self.0.created
    }
    async fn last_updated(&self) -> Option<DateTime<Utc>> {
        self.0.last_updated
    }
    async fn last_membership_updated(&self) -> Option<DateTime<Utc>> {
        self.0.last_membership_updated
    }

    /// The number of members (all statuses).
    async fn member_count(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(int(store(ctx)?
            .member_count(&self.0.id)
            .map_err(store_error)?))
    }

    /// The raw Okta group `profile` object.
    async fn profile(&self, ctx: &Context<'_>) -> Result<Json<Value>> {
        let raw = store(ctx)?.group_raw(&self.0.id).map_err(store_error)?;
        Ok(Json(profile_of(raw)))
    }

    /// Members in id order; `status` keeps only people with those statuses (default: all).
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<Vec<UserStatus>>,
    ) -> Result<PersonConnection> {
        let req = PageRequest::new(Kind::Person, first, after.as_deref())?;
        let first = req.first();
        let statuses: Vec<model::UserStatus> = status
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        let s = store(ctx)?;
        let chunk = if statuses.is_empty() {
            first + 1
        } else {
            (first + 1).max(SCAN_CHUNK)
        };
        let mut people = Vec::new();
        let mut from = req.after().map(str::to_owned);
        loop {
            let ids = s
                .member_ids_after(&self.0.id, from.as_deref())
                .take(chunk)
                .collect::<Result<Vec<String>, _>>()
                .map_err(store_error)?;
            let Some(last) = ids.last() else { break };
            from = Some(last.clone());
            for p in load_people(ctx, &ids).await? {
                if statuses.is_empty() || statuses.contains(&p.status) {
                    people.push(p);
                }
            }
            if people.len() > first || ids.len() < chunk {
                break;
            }
        }
        Ok(Connection::new(
            req.page(people),
            PeopleTotal::Members {
                group_id: self.0.id.clone(),
                statuses,
            },
        ))
    }
}
