//! Okta System Log events (from `/api/v1/logs` and from event-hook deliveries) read into the
//! engine's `sync::Event`: which users, groups and memberships each one names. Targets are found
//! by `type`, never by position (okta-api.md 4.3), and failed events name nothing.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::sync::{Event, Target};

/// The System Log filter of the tail: every event type that can change a user, a group or a
/// membership (okta-api.md 4.4), and nothing else.
pub const LOG_FILTER: &str = r#"eventType sw "user.lifecycle." or eventType sw "user.account." or eventType sw "group." or eventType sw "system.import.""#;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogEvent {
    #[serde(default)]
    uuid: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    outcome: Option<Outcome>,
    #[serde(default)]
    target: Option<Vec<LogTarget>>,
}

#[derive(Deserialize)]
struct Outcome {
    #[serde(default)]
    result: Option<String>,
}

#[derive(Deserialize)]
struct LogTarget {
    #[serde(default)]
    id: String,
    #[serde(default, rename = "type")]
    kind: String,
}

/// The envelope of an event-hook delivery (okta-api.md 8.3).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    event_type: String,
    data: DeliveryData,
}

#[derive(Deserialize)]
struct DeliveryData {
    events: Vec<serde_json::Value>,
}

/// Reads one LogEvent. `None` for events that change nothing the mirror keeps: other event
/// types, failed outcomes, and events without a usable target.
pub fn read_event(raw: &serde_json::Value) -> Option<Event> {
    let e = LogEvent::deserialize(raw).ok()?;
    if e.uuid.is_empty() {
        return None;
    }
    if let Some(result) = e.outcome.as_ref().and_then(|o| o.result.as_deref())
        && result != "SUCCESS"
    {
        return None;
    }
    let targets = e.target.unwrap_or_default();
    let of = |kind: &str| -> Vec<String> {
        targets
            .iter()
            .filter(|t| t.kind == kind && !t.id.is_empty())
            .map(|t| t.id.clone())
            .collect()
    };
    let t = e.event_type.as_str();
    let named: Vec<Target> = if t.starts_with("group.user_membership.") {
        let (users, groups) = (of("User"), of("UserGroup"));
        users
            .iter()
            .flat_map(|u| {
                groups.iter().map(|g| Target::Membership {
                    user_id: u.clone(),
                    group_id: g.clone(),
                })
            })
            .collect()
    } else if t.starts_with("system.import.group_membership") {
        of("UserGroup")
            .into_iter()
            .map(Target::GroupMembers)
            .collect()
    } else if t.starts_with("user.lifecycle.")
        || t.starts_with("user.account.")
        || t.starts_with("system.import.user")
    {
        of("User").into_iter().map(Target::User).collect()
    } else if t.starts_with("group.") || t.starts_with("system.import.group") {
        of("UserGroup").into_iter().map(Target::Group).collect()
    } else {
        Vec::new()
    };
    if named.is_empty() {
        return None;
    }
    Some(Event {
        uuid: e.uuid,
        published: e
            .published
            .as_deref()
            .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
            .map(|p| p.with_timezone(&Utc)),
        targets: named,
    })
}

/// Reads an event-hook delivery body: the events it carries that name something to re-read.
/// An error says what is wrong with the body, for the 400 answer.
pub fn read_delivery(body: &[u8]) -> Result<Vec<Event>, String> {
    let d: Delivery = serde_json::from_slice(body).map_err(|e| {
        format!("the body is not an Okta event-hook delivery ({e}); expected {{\"eventType\":\"com.okta.event_hook\",\"data\":{{\"events\":[…]}}}}")
    })?;
    if d.event_type != "com.okta.event_hook" {
        return Err(format!(
            "eventType is \"{}\"; an event hook delivers \"com.okta.event_hook\"",
            d.event_type
        ));
    }
    Ok(d.data.events.iter().filter_map(read_event).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(kind: &str, targets: serde_json::Value) -> serde_json::Value {
        json!({"uuid": "u-1", "published": "2026-01-14T02:42:49.379Z", "eventType": kind,
               "outcome": {"result": "SUCCESS", "reason": null}, "target": targets})
    }

    #[test]
    fn membership_targets_are_found_by_type_not_position() {
        let raw = ev(
            "group.user_membership.remove",
            json!([{"id": "00g1", "type": "UserGroup"}, {"id": "00u1", "type": "User"}]),
        );
        let e = read_event(&raw).expect("an event");
        assert_eq!(
            e.targets,
            vec![Target::Membership {
                user_id: "00u1".into(),
                group_id: "00g1".into()
            }]
        );
        assert!(e.published.is_some());
    }

    #[test]
    fn user_group_and_import_events() {
        let u = read_event(&ev(
            "user.lifecycle.delete.completed",
            json!([{"id": "00u2", "type": "User"}]),
        ));
        assert_eq!(
            u.map(|e| e.targets),
            Some(vec![Target::User("00u2".into())])
        );
        let g = read_event(&ev(
            "group.profile.update",
            json!([{"id": "00g2", "type": "UserGroup"}]),
        ));
        assert_eq!(
            g.map(|e| e.targets),
            Some(vec![Target::Group("00g2".into())])
        );
        let m = read_event(&ev(
            "system.import.group_membership.complete",
            json!([{"id": "00g3", "type": "UserGroup"}]),
        ));
        assert_eq!(
            m.map(|e| e.targets),
            Some(vec![Target::GroupMembers("00g3".into())])
        );
    }

    #[test]
    fn failed_unrelated_and_targetless_events_name_nothing() {
        let mut failed = ev(
            "user.lifecycle.activate",
            json!([{"id": "00u1", "type": "User"}]),
        );
        failed["outcome"]["result"] = json!("FAILURE");
        assert!(read_event(&failed).is_none());
        assert!(
            read_event(&ev(
                "user.session.start",
                json!([{"id": "00u1", "type": "User"}])
            ))
            .is_none()
        );
        assert!(
            read_event(&ev(
                "application.user_membership.add",
                json!([{"id": "0ua1", "type": "AppUser"}])
            ))
            .is_none()
        );
        assert!(read_event(&json!({"eventType": "user.lifecycle.create"})).is_none());
    }

    #[test]
    fn deliveries_are_checked_and_read() {
        let body = json!({"eventType": "com.okta.event_hook", "eventId": "x",
            "data": {"events": [ev("user.lifecycle.create", json!([{"id": "00u9", "type": "User"}]))]}});
        let events = read_delivery(body.to_string().as_bytes()).expect("valid");
        assert_eq!(events.len(), 1);
        let wrong =
            json!({"eventType": "com.okta.oauth2.tokens.transform", "data": {"events": []}});
        assert!(
            read_delivery(wrong.to_string().as_bytes())
                .unwrap_err()
                .contains("com.okta.event_hook")
        );
        assert!(
            read_delivery(b"not json")
                .unwrap_err()
                .contains("not an Okta event-hook delivery")
        );
    }
}
