//! GraphQL enums mirroring the model's enums (`remote` derives the conversions both ways), so the
//! model stays free of async-graphql.

use async_graphql::Enum;

/// An Okta user status; `UNKNOWN` covers statuses Okta adds later.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::model::UserStatus")]
pub(crate) enum UserStatus {
    Active,
    Staged,
    Provisioned,
    Recovery,
    LockedOut,
    PasswordExpired,
    Suspended,
    Deprovisioned,
    Unknown,
}

/// An Okta group type; `UNKNOWN` covers types Okta adds later.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::model::GroupType")]
pub(crate) enum GroupType {
    OktaGroup,
    AppGroup,
    BuiltIn,
    Unknown,
}

/// The kind of a sync run.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::model::RunKind")]
pub(crate) enum RunKind {
    /// A full crawl (the first, or one asked for).
    Full,
    /// A scheduled full crawl that catches what the incremental lanes missed.
    Reconcile,
    /// One batch of System Log events, each re-read and applied.
    Tail,
    /// A `lastUpdated` / `lastMembershipUpdated` delta sweep.
    Sweep,
    /// One or more event-hook deliveries, re-read and applied.
    Hook,
}

/// Whether an org unit comes from people's `department` or `division` attribute.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::access::UnitKind")]
pub(crate) enum UnitKind {
    Department,
    Division,
}
