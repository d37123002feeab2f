//! Org-chart types: the chart as nested nodes with report counts, and departments/divisions with
//! head, headcount, members, managers and sub-units. The answers come from `search::` (core).

use std::sync::Arc;

use async_graphql::{Context, Object, Result};

use super::connection::{Connection, PeopleTotal, PersonConnection};
use super::cursor::Kind;
use super::enums::UnitKind;
use super::errors::denied;
use super::paging::PageRequest;
use super::person::PersonNode;
use super::{int, load_people, paging, view};
use crate::access::{self, Department, Departments, IdList, OrgNode};

/// A person in an org chart, with their reports to the requested depth.
pub(crate) struct OrgChartNode(pub OrgNode);

#[Object(name = "OrgChartNode")]
impl OrgChartNode {
    async fn person(&self) -> PersonNode {
        PersonNode(self.0.person.clone())
    }
    /// How many people report directly to this person.
    async fn direct_report_count(&self) -> i32 {
        int(self.0.direct_report_count as u64)
    }
    /// How many people are under this person at every level (the maintained count; a walk
    /// only while the counts are rebuilt after a manager cycle).
    async fn report_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let id = self.0.person.id.clone();
        let n = view(ctx)?
            .blocking(move |v| {
                Ok(match v.reports_total(&id)? {
                    Some(n) => n,
                    None => v.reports(&id, None)?.len() as u64,
                })
            })
            .await
            .map_err(denied)?;
        Ok(int(n))
    }
    /// The direct reports as nodes, in id order; empty below the chart's depth.
    async fn reports(&self) -> Vec<OrgChartNode> {
        self.0.reports.iter().cloned().map(OrgChartNode).collect()
    }
}

/// A department or division.
pub(crate) struct DepartmentNode {
    pub unit: Arc<Department>,
    pub all: Arc<Departments>,
}

/// A department (people's `department` attribute) or a division (`division`). Deprovisioned
/// people are not members.
#[Object(name = "Department")]
impl DepartmentNode {
    /// The name as most members spell it.
    async fn name(&self) -> &str {
        &self.unit.name
    }
    async fn kind(&self) -> UnitKind {
        self.unit.kind.into()
    }
    /// Members, all statuses except DEPROVISIONED.
    async fn headcount(&self) -> i32 {
        int(self.unit.members.len() as u64)
    }
    /// The member whose manager is outside the unit, highest in the hierarchy (ties: the larger
    /// org).
    async fn head(&self, ctx: &Context<'_>) -> Result<Option<PersonNode>> {
        let Some(id) = &self.unit.head else {
            return Ok(None);
        };
        Ok(load_people(ctx, &[id.to_string()])
            .await?
            .pop()
            .map(PersonNode))
    }
    /// Members in id order.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PersonConnection> {
        page_of(ctx, &self.unit.members, first, after).await
    }
    /// Members with at least one direct report, in id order.
    #[graphql(complexity = "paging::cost(first, child_complexity)")]
    async fn managers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PersonConnection> {
        page_of(ctx, &self.unit.managers, first, after).await
    }
    /// The units of the other kind wholly inside this one: a division's departments (or a
    /// department's divisions, in orgs that nest them that way).
    async fn sub_departments(&self) -> Vec<DepartmentNode> {
        self.unit
            .sub_departments
            .iter()
            .filter_map(|n| self.all.find(n))
            .map(|unit| DepartmentNode {
                unit: unit.clone(),
                all: self.all.clone(),
            })
            .collect()
    }
    /// The unit of the other kind that holds every member (a department's division), if any.
    async fn parent(&self) -> Option<DepartmentNode> {
        let parent = self.unit.parent.as_deref()?;
        let other = match self.unit.kind {
            access::UnitKind::Department => &self.all.divisions,
            access::UnitKind::Division => &self.all.departments,
        };
        other
            .iter()
            .find(|d| d.name.to_lowercase() == parent.to_lowercase())
            .map(|unit| DepartmentNode {
                unit: unit.clone(),
                all: self.all.clone(),
            })
    }
}

/// The requested page of a unit's member or manager list (its length is the total).
async fn page_of(
    ctx: &Context<'_>,
    ids: &IdList,
    first: Option<i32>,
    after: Option<String>,
) -> Result<PersonConnection> {
    let req = PageRequest::new(Kind::Person, first, after.as_deref())?;
    let (page, has_next) = ids.page(req.after(), req.first());
    let items = load_people(ctx, &page).await?;
    Ok(Connection::new(
        req.page_of(items, has_next),
        PeopleTotal::Known(ids.len() as u64),
    ))
}

/// The department table for this request (cached across requests until the store changes;
/// computing it scans the org, so it runs off the async workers).
pub(crate) async fn departments(ctx: &Context<'_>) -> Result<Arc<Departments>> {
    view(ctx)?
        .blocking(|v| v.departments())
        .await
        .map_err(denied)
}
