//! Filter inputs for `people` and `groups`, and their mapping onto store-level filters.

use async_graphql::InputObject;

use super::enums::{GroupType, UserStatus};
use crate::access::PersonFilter;
use crate::model::{self, Group};

/// Filters over people. Text matches are exact and case-insensitive.
#[derive(InputObject, Default)]
pub(crate) struct PeopleFilter {
    /// Statuses to include. Default: every status except DEPROVISIONED. An empty list means every
    /// status.
    pub status: Option<Vec<UserStatus>>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub city: Option<String>,
    pub country_code: Option<String>,
    /// A user type, by name, display name or id (case-insensitive), like `Contractor`.
    pub user_type: Option<String>,
    /// People with this extended attribute value (`extended_attributes`; name and value
    /// case-insensitive).
    pub attribute: Option<AttributeFilter>,
}

/// One extended attribute's value to match.
#[derive(InputObject)]
pub(crate) struct AttributeFilter {
    /// The extended attribute's name, like costCenterCode.
    pub name: String,
    /// The value to match exactly (ignoring case and surrounding spaces).
    pub value: String,
}

impl PeopleFilter {
    pub(crate) fn into_store(self) -> PersonFilter {
        let statuses = match self.status {
            None => model::UserStatus::ALL
                .into_iter()
                .filter(|s| *s != model::UserStatus::Deprovisioned)
                .collect(),
            Some(list) => list.into_iter().map(Into::into).collect(),
        };
        PersonFilter {
            statuses,
            department: self.department,
            title: self.title,
            city: self.city,
            country_code: self.country_code,
            attribute: self.attribute.map(|a| (a.name, a.value)),
            user_types: self.user_type.into_iter().collect(),
        }
    }
}

/// Filters over groups.
#[derive(InputObject, Default)]
pub(crate) struct GroupFilter {
    /// Group types to include; default every type.
    #[graphql(name = "type")]
    pub group_type: Option<Vec<GroupType>>,
    /// Case-insensitive prefix of the group name.
    pub name_starts_with: Option<String>,
}

/// A group filter ready to apply during a scan.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupSpec {
    types: Vec<model::GroupType>,
    prefix: Option<String>,
}

impl GroupFilter {
    pub(crate) fn into_spec(self) -> GroupSpec {
        GroupSpec {
            types: self
                .group_type
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            prefix: self
                .name_starts_with
                .map(|p| p.to_lowercase())
                .filter(|p| !p.is_empty()),
        }
    }
}

impl GroupSpec {
    pub(crate) fn matches(&self, g: &Group) -> bool {
        (self.types.is_empty() || self.types.contains(&g.group_type))
            && self
                .prefix
                .as_ref()
                .is_none_or(|p| g.name.to_lowercase().starts_with(p.as_str()))
    }

    pub(crate) fn is_everything(&self) -> bool {
        self.types.is_empty() && self.prefix.is_none()
    }
}
