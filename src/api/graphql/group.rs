//! The GraphQL `Group` type: typed fields, the raw profile, the member count and a paged,
//! optionally status-filtered member list.

use async_graphql::{Context, ID, Json, Object, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::connection::{Connection, PeopleTotal, PersonConnection};
use super::cursor::Kind;
use super::enums::{GroupType, UserStatus};
use super::errors::denied;
use super::paging::{self, PageRequest};
use super::{int, view};
use crate::model::{self, Group};

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

    /// The number of members (all statuses the caller may see).
    async fn member_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let id = self.0.id.clone();
        let n = view(ctx)?
            .blocking(move |v| v.count_members(&id, &[]))
            .await
            .map_err(denied)?;
        Ok(int(n))
    }

    /// The raw Okta group `profile` object (not for `directory` keys: imported groups carry
    /// directory internals such as DNs).
    async fn profile(&self, ctx: &Context<'_>) -> Result<Json<Value>> {
        Ok(Json(view(ctx)?.group_profile(&self.0.id).map_err(denied)?))
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
        let people = view(ctx)?
            .members_page(&self.0.id, &statuses, req.after(), first)
            .map_err(denied)?;
        Ok(Connection::new(
            req.page(people),
            PeopleTotal::Members {
                group_id: self.0.id.clone(),
                statuses,
            },
        ))
    }
}
