//! Relay connections for people and groups: edges with opaque cursors, `nodes`, `pageInfo`, and a
//! `totalCount` computed only when selected (it may scan for filtered lists).

use async_graphql::{Context, Object, Result, SimpleObject};

use super::cursor::{self, Kind};
use super::errors::store_error;
use super::filters::{GroupSpec, is_everyone};
use super::group::GroupNode;
use super::person::PersonNode;
use super::{int, store};
use crate::model::{self, Group, Person};
use crate::store::PersonFilter;

/// Relay page information.
#[derive(SimpleObject)]
pub(crate) struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
    start_cursor: Option<String>,
    end_cursor: Option<String>,
}

impl PageInfo {
    /// Page information from the cursors of the first and last edges.
    pub(crate) fn from_cursors(
        start_cursor: Option<String>,
        end_cursor: Option<String>,
        has_next_page: bool,
        has_previous_page: bool,
    ) -> PageInfo {
        PageInfo {
            has_next_page,
            has_previous_page,
            start_cursor,
            end_cursor,
        }
    }

    fn new(kind: Kind, ids: &[&str], has_next: bool, has_previous: bool) -> PageInfo {
        PageInfo {
            has_next_page: has_next,
            has_previous_page: has_previous,
            start_cursor: ids.first().map(|id| cursor::encode(kind, id)),
            end_cursor: ids.last().map(|id| cursor::encode(kind, id)),
        }
    }
}

/// How a people list's total is found when asked for.
pub(crate) enum PeopleTotal {
    Known(u64),
    Filter(PersonFilter),
    Members {
        group_id: String,
        statuses: Vec<model::UserStatus>,
    },
}

/// How a group list's total is found when asked for.
pub(crate) enum GroupsTotal {
    Known(u64),
    Filter(GroupSpec),
}

/// A page of people.
pub(crate) struct PersonConnection {
    pub people: Vec<Person>,
    pub has_next: bool,
    pub has_previous: bool,
    pub total: PeopleTotal,
}

/// A person in a list, with the cursor to resume after it.
#[derive(SimpleObject)]
pub(crate) struct PersonEdge {
    cursor: String,
    node: PersonNode,
}

/// A page of people in id order (Relay connection). Pass `pageInfo.endCursor` as `after` to get
/// the next page.
#[Object]
impl PersonConnection {
    async fn edges(&self) -> Vec<PersonEdge> {
        self.people
            .iter()
            .map(|p| PersonEdge {
                cursor: cursor::encode(Kind::Person, &p.id),
                node: PersonNode(p.clone()),
            })
            .collect()
    }

    async fn nodes(&self) -> Vec<PersonNode> {
        self.people.iter().cloned().map(PersonNode).collect()
    }

    async fn page_info(&self) -> PageInfo {
        let ids: Vec<&str> = self.people.iter().map(|p| p.id.as_str()).collect();
        PageInfo::new(Kind::Person, &ids, self.has_next, self.has_previous)
    }

    /// The number of people in the whole list (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let s = store(ctx)?;
        let n = match &self.total {
            PeopleTotal::Known(n) => *n,
            PeopleTotal::Filter(f) if is_everyone(f) => s.people_count().map_err(store_error)?,
            PeopleTotal::Filter(f) => {
                let mut n = 0u64;
                for p in s.people_after(None) {
                    if f.matches(&p.map_err(store_error)?) {
                        n += 1;
                    }
                }
                n
            }
            PeopleTotal::Members { group_id, statuses } if statuses.is_empty() => {
                s.member_count(group_id).map_err(store_error)?
            }
            PeopleTotal::Members { group_id, statuses } => {
                let mut n = 0u64;
                for id in s.member_ids_after(group_id, None) {
                    let id = id.map_err(store_error)?;
                    if let Some(p) = s.person(&id).map_err(store_error)?
                        && statuses.contains(&p.status)
                    {
                        n += 1;
                    }
                }
                n
            }
        };
        Ok(int(n))
    }
}

/// A page of groups.
pub(crate) struct GroupConnection {
    pub groups: Vec<Group>,
    pub has_next: bool,
    pub has_previous: bool,
    pub total: GroupsTotal,
}

/// A group in a list, with the cursor to resume after it.
#[derive(SimpleObject)]
pub(crate) struct GroupEdge {
    cursor: String,
    node: GroupNode,
}

/// A page of groups in id order (Relay connection). Pass `pageInfo.endCursor` as `after` to get
/// the next page.
#[Object]
impl GroupConnection {
    async fn edges(&self) -> Vec<GroupEdge> {
        self.groups
            .iter()
            .map(|g| GroupEdge {
                cursor: cursor::encode(Kind::Group, &g.id),
                node: GroupNode(g.clone()),
            })
            .collect()
    }

    async fn nodes(&self) -> Vec<GroupNode> {
        self.groups.iter().cloned().map(GroupNode).collect()
    }

    async fn page_info(&self) -> PageInfo {
        let ids: Vec<&str> = self.groups.iter().map(|g| g.id.as_str()).collect();
        PageInfo::new(Kind::Group, &ids, self.has_next, self.has_previous)
    }

    /// The number of groups in the whole list (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let s = store(ctx)?;
        let n = match &self.total {
            GroupsTotal::Known(n) => *n,
            GroupsTotal::Filter(f) if f.is_everything() => s.group_count().map_err(store_error)?,
            GroupsTotal::Filter(f) => {
                let mut n = 0u64;
                for g in s.groups_after(None) {
                    if f.matches(&g.map_err(store_error)?) {
                        n += 1;
                    }
                }
                n
            }
        };
        Ok(int(n))
    }
}
