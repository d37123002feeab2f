//! Relay connections for people and groups: edges with opaque cursors, `nodes`, `pageInfo`, and a
//! `totalCount` computed only when selected (it may scan for filtered lists).

use async_graphql::{Context, Object, Result, SimpleObject};

use super::cursor::{self, Kind};
use super::errors::store_error;
use super::filters::{GroupSpec, is_everyone};
use super::group::GroupNode;
use super::paging::{Page, PageRequest};
use super::person::PersonNode;
use super::{int, load_groups, load_people, store};
use crate::model::{self, Group, Person};
use crate::store::{PersonFilter, StoreError};

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

/// What a connection lists: people or groups. One connection type serves both, so paging,
/// edges and `pageInfo` are written once.
pub(crate) trait Listed: Clone + Sized {
    /// The kind of cursor its lists hand out.
    const KIND: Kind;
    /// Its GraphQL object.
    type Node;
    /// How a list's total is found when asked for.
    type Total;
    fn id(&self) -> &str;
    fn node(self) -> Self::Node;
    /// The total of a list whose length is known.
    fn known_total(n: u64) -> Self::Total;
    /// Reads them by id through the request's loader, in the order of `ids` (missing skipped).
    fn load(ctx: &Context<'_>, ids: &[String]) -> impl Future<Output = Result<Vec<Self>>> + Send;
}

impl Listed for Person {
    const KIND: Kind = Kind::Person;
    type Node = PersonNode;
    type Total = PeopleTotal;
    fn id(&self) -> &str {
        &self.id
    }
    fn node(self) -> PersonNode {
        PersonNode(self)
    }
    fn known_total(n: u64) -> PeopleTotal {
        PeopleTotal::Known(n)
    }
    fn load(ctx: &Context<'_>, ids: &[String]) -> impl Future<Output = Result<Vec<Self>>> + Send {
        load_people(ctx, ids)
    }
}

impl Listed for Group {
    const KIND: Kind = Kind::Group;
    type Node = GroupNode;
    type Total = GroupsTotal;
    fn id(&self) -> &str {
        &self.id
    }
    fn node(self) -> GroupNode {
        GroupNode(self)
    }
    fn known_total(n: u64) -> GroupsTotal {
        GroupsTotal::Known(n)
    }
    fn load(ctx: &Context<'_>, ids: &[String]) -> impl Future<Output = Result<Vec<Self>>> + Send {
        load_groups(ctx, ids)
    }
}

/// A page of people or groups, and how to count the whole list.
pub(crate) struct Connection<T: Listed> {
    page: Page<T>,
    total: T::Total,
}

/// A page of people.
pub(crate) type PersonConnection = Connection<Person>;
/// A page of groups.
pub(crate) type GroupConnection = Connection<Group>;

impl<T: Listed> Connection<T> {
    pub(crate) fn new(page: Page<T>, total: T::Total) -> Connection<T> {
        Connection { page, total }
    }

    /// The requested page of an id-ordered list of ids held in memory (its length is the
    /// total), read through the request's loader.
    pub(crate) async fn of_ids(
        ctx: &Context<'_>,
        req: &PageRequest,
        ids: &[String],
    ) -> Result<Connection<T>> {
        let (slice, has_next) = req.slice(ids);
        let items = T::load(ctx, slice).await?;
        Ok(Connection::new(
            req.page_of(items, has_next),
            T::known_total(ids.len() as u64),
        ))
    }

    /// `of_ids` for the raw `first` and `after` arguments.
    pub(crate) async fn of_id_list(
        ctx: &Context<'_>,
        ids: &[String],
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<T>> {
        let req = PageRequest::new(T::KIND, first, after.as_deref())?;
        Connection::of_ids(ctx, &req, ids).await
    }

    /// The edges, each made by `edge` from its cursor and node.
    fn edge_list<E>(&self, edge: impl Fn(String, T::Node) -> E) -> Vec<E> {
        self.page
            .items
            .iter()
            .map(|item| edge(cursor::encode(T::KIND, item.id()), item.clone().node()))
            .collect()
    }

    fn node_list(&self) -> Vec<T::Node> {
        self.page.items.iter().cloned().map(T::node).collect()
    }

    fn info(&self) -> PageInfo {
        let ids: Vec<&str> = self.page.items.iter().map(T::id).collect();
        PageInfo::new(T::KIND, &ids, self.page.has_next, self.page.has_previous)
    }
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
        self.edge_list(|cursor, node| PersonEdge { cursor, node })
    }

    async fn nodes(&self) -> Vec<PersonNode> {
        self.node_list()
    }

    async fn page_info(&self) -> PageInfo {
        self.info()
    }

    /// The number of people in the whole list (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let s = store(ctx)?;
        let n = match &self.total {
            PeopleTotal::Known(n) => *n,
            PeopleTotal::Filter(f) if is_everyone(f) => s.people_count().map_err(store_error)?,
            PeopleTotal::Filter(f) => count_matching(s.people_after(None), |p| f.matches(p))?,
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
        self.edge_list(|cursor, node| GroupEdge { cursor, node })
    }

    async fn nodes(&self) -> Vec<GroupNode> {
        self.node_list()
    }

    async fn page_info(&self) -> PageInfo {
        self.info()
    }

    /// The number of groups in the whole list (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let s = store(ctx)?;
        let n = match &self.total {
            GroupsTotal::Known(n) => *n,
            GroupsTotal::Filter(f) if f.is_everything() => s.group_count().map_err(store_error)?,
            GroupsTotal::Filter(f) => count_matching(s.groups_after(None), |g| f.matches(g))?,
        };
        Ok(int(n))
    }
}

/// How many items of a whole-list scan `keep` accepts: the total of a filtered list.
fn count_matching<T>(
    items: impl Iterator<Item = Result<T, StoreError>>,
    keep: impl Fn(&T) -> bool,
) -> Result<u64> {
    let mut n = 0u64;
    for item in items {
        if keep(&item.map_err(store_error)?) {
            n += 1;
        }
    }
    Ok(n)
}
