//! The GraphQL `Person` type: typed fields, the raw Okta profile, and the manager hierarchy and
//! group memberships, fanned out through the per-request loaders.

use std::collections::HashSet;

use async_graphql::{Context, ID, Json, Object, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::connection::{Connection, GroupConnection, PeopleTotal, PersonConnection};
use super::cursor::Kind;
use super::enums::UserStatus;
use super::errors::{denied, store_error};
use super::paging::{self, PageRequest};
use super::{loaders, view};
use crate::model::Person;

/// How far `managerChain` walks at most (the store's hierarchy is cycle-free; this is a backstop).
const MAX_CHAIN: usize = 64;

pub(crate) struct PersonNode(pub Person);

/// One extended attribute's value (an array in Okta gives one per item).
pub(crate) struct PersonAttribute<'a>(&'a crate::model::Attribute);

#[Object(name = "Attribute")]
impl PersonAttribute<'_> {
    /// The Okta profile attribute's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Its value as text (a number or boolean in Okta as its text).
    async fn value(&self) -> &str {
        &self.0.value
    }
}

/// A person in the Okta org.
#[Object(name = "Person")]
impl PersonNode {
    /// The Okta user id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn login(&self) -> &str {
        &self.0.login
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    /// `displayName`, else "first last", else the login.
    async fn display_name(&self) -> String {
        self.0.name()
    }
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    async fn department(&self) -> Option<&str> {
        self.0.department.as_deref()
    }
    async fn division(&self) -> Option<&str> {
        self.0.division.as_deref()
    }
    async fn organization(&self) -> Option<&str> {
        self.0.organization.as_deref()
    }
    async fn cost_center(&self) -> Option<&str> {
        self.0.cost_center.as_deref()
    }
    async fn employee_number(&self) -> Option<&str> {
        self.0.employee_number.as_deref()
    }
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
    async fn country_code(&self) -> Option<&str> {
        self.0.country_code.as_deref()
    }
    /// The extended attributes (`extended_attributes`) this person has, in name order: custom
    /// Okta profile attributes the server exposes as typed fields, to every role that reads
    /// people.
    async fn attributes(&self) -> Vec<PersonAttribute<'_>> {
        self.0.attributes.iter().map(PersonAttribute).collect()
    }
    async fn status(&self) -> UserStatus {
        self.0.status.into()
    }
    async fn created(&self) -> Option<DateTime<Utc>> {
        self.0.created
    }
    async fn last_updated(&self) -> Option<DateTime<Utc>> {
        self.0.last_updated
    }
    /// The person's Okta user type (`type.id`); `name` and `displayName` are null when the
    /// mirror could not read the types (a token without `okta.userTypes.read`).
    async fn user_type(&self, ctx: &Context<'_>) -> Result<Option<UserTypeNode>> {
        let Some(id) = &self.0.user_type_id else {
            return Ok(None);
        };
        let types = view(ctx)?.user_types().map_err(denied)?;
        Ok(Some(match types.into_iter().find(|t| &t.id == id) {
            Some(t) => UserTypeNode(t),
            None => UserTypeNode(crate::model::UserType {
                id: id.clone(),
                name: String::new(),
                display_name: None,
            }),
        }))
    }
    /// False for someone mirrored only as the manager of people in the configured scope
    /// (`include_groups` with `users = "groups"`, `user_filter`, `user_types`), so that
    /// manager chains stay whole; true otherwise.
    async fn in_scope(&self) -> bool {
        !self.0.outside_scope
    }

    /// The raw Okta `profile` object, custom attributes included. A `directory` key sees only
    /// the custom attributes the server lists in `directory_attributes`.
    async fn profile(&self, ctx: &Context<'_>) -> Result<Json<Value>> {
        Ok(Json(view(ctx)?.profile(&self.0.id).map_err(denied)?))
    }

    /// The resolved manager; null for the top of the hierarchy and unresolved references.
    async fn manager(&self, ctx: &Context<'_>) -> Result<Option<PersonNode>> {
        let Some(mid) = &self.0.manager_id else {
            return Ok(None);
        };
        let loader = ctx.data::<loaders::People>()?;
        let p = loader.load_one(mid.clone()).await.map_err(store_error)?;
        Ok(p.map(PersonNode))
    }

    /// The managers up to the top of the hierarchy, nearest first.
    async fn manager_chain(&self, ctx: &Context<'_>) -> Result<Vec<PersonNode>> {
        let loader = ctx.data::<loaders::People>()?;
        let mut seen = HashSet::from([self.0.id.clone()]);
        let mut chain = Vec::new();
        let mut next = self.0.manager_id.clone();
        while let Some(mid) = next {
            if chain.len() >= MAX_CHAIN || !seen.insert(mid.clone()) {
                break;
            }
            let Some(m) = loader.load_one(mid).await.map_err(store_error)? else {
                break;
            };
            next = m.manager_id.clone();
            chain.push(PersonNode(m));
        }
        Ok(chain)
    }

    /// The people whose manager this person is, in id order.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn direct_reports(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PersonConnection> {
        let req = PageRequest::new(Kind::Person, first, after.as_deref())?;
        let ids = view(ctx)?.direct_report_ids(&self.0.id).map_err(denied)?;
        Connection::of_ids(ctx, &req, &ids).await
    }

    /// Everyone under this person, `depth` levels down (1 = direct reports; default all), in id
    /// order. Cycles in manager data are never followed twice.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn reports(
        &self,
        ctx: &Context<'_>,
        depth: Option<i32>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PersonConnection> {
        let depth = match depth {
            None => None,
            Some(d) if d >= 1 => Some(d as usize),
            Some(d) => {
                return Err(super::errors::bad_input(format!(
                    "depth must be at least 1 (got {d}); leave it out for every level"
                )));
            }
        };
        let id = self.0.id.clone();
        if depth.is_none() {
            // Every level: the maintained count and a page read in id order (no whole walk).
            let req = PageRequest::new(Kind::Person, first, after.as_deref())?;
            let (resume, n) = (req.after().map(str::to_owned), req.first());
            let found = view(ctx)?
                .blocking(move |v| {
                    Ok(match v.reports_total(&id)? {
                        None => None,
                        Some(total) => Some((total, v.reports_page(&id, resume.as_deref(), n)?)),
                    })
                })
                .await
                .map_err(denied)?;
            if let Some((total, mut ids)) = found {
                let has_next = ids.len() > n;
                ids.truncate(n);
                let items = super::load_people(ctx, &ids).await?;
                return Ok(Connection::new(
                    req.page_of(items, has_next),
                    PeopleTotal::Known(total),
                ));
            }
        }
        let Some(depth) = depth else {
            // Counts rebuilt after a manager cycle: walk every level.
            let id = self.0.id.clone();
            let ids = view(ctx)?
                .blocking(move |v| v.reports(&id, None))
                .await
                .map_err(denied)?;
            return Connection::of_id_list(ctx, &ids, first, after).await;
        };
        // To a depth: counted level by level, the page found without listing everyone.
        let req = PageRequest::new(Kind::Person, first, after.as_deref())?;
        let (resume, n) = (req.after().map(str::to_owned), req.first());
        let id = self.0.id.clone();
        let (total, mut ids) = view(ctx)?
            .blocking(move |v| v.reports_within(&id, depth, resume.as_deref(), n + 1))
            .await
            .map_err(denied)?;
        let has_next = ids.len() > n;
        ids.truncate(n);
        let items = super::load_people(ctx, &ids).await?;
        Ok(Connection::new(
            req.page_of(items, has_next),
            PeopleTotal::Known(total),
        ))
    }

    /// The groups this person belongs to, in id order.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn groups(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<GroupConnection> {
        let req = PageRequest::new(Kind::Group, first, after.as_deref())?;
        let ids = view(ctx)?.group_ids_of(&self.0.id).map_err(denied)?;
        Connection::of_ids(ctx, &req, &ids).await
    }
}

/// An Okta user type (Employee, Contractor, ...).
pub(crate) struct UserTypeNode(crate::model::UserType);

#[Object(name = "UserType")]
impl UserTypeNode {
    /// The type's Okta id (`oty…`).
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The type's API name, like `employee`; null when unknown.
    async fn name(&self) -> Option<&str> {
        Some(self.0.name.as_str()).filter(|n| !n.is_empty())
    }
    /// Its display name, like `Employee`; null when unknown.
    async fn display_name(&self) -> Option<&str> {
        self.0.display_name.as_deref()
    }
}
