//! Unit tests of `api::scim::users` (the User written as JSON text and the `Value` path agree
//! byte for byte, for every role): kept under `tests/`, they build a store below the API.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::access::{Caller, Mirror, Policy, Role};
use crate::model::{Group, PROVISIONED_DOCUMENT};
use crate::store::{Op, Store};

fn person(id: &str, status: &str, manager: Option<&str>, profile: Value, extra: Value) -> Op {
    let mut raw = json!({"id": id, "status": status, "profile": profile,
        "created": "2024-01-02T03:04:05.000Z", "lastUpdated": "2024-02-03T04:05:06.000Z"});
    if let (Some(r), Some(e)) = (raw.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    let mut person = Person::from_okta(&raw, &Default::default()).expect("valid user");
    person.manager_id = manager.map(str::to_owned);
    Op::PutPerson {
        person: Box::new(person),
        raw: (&raw).into(),
    }
}

/// People with every attribute a User reads, and with none; strings to escape, numbers,
/// blank and empty values, nested custom attributes; a chain of managers through a
/// deprovisioned one; groups; and a pushed document.
fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("open");
    let every = json!({"login": "ann@x.example", "email": "ann@x.example",
        "secondEmail": "a.n.n@y.example", "firstName": "Ann \"Q\"", "lastName": "Lée\\n",
        "middleName": "M", "honorificPrefix": "Dr.", "honorificSuffix": "PhD",
        "displayName": "Ann Q. Lée", "nickName": "Annie", "title": "Chief\tOfficer",
        "profileUrl": "https://x.example/ann", "primaryPhone": "+1 555 0100",
        "mobilePhone": 5550101, "streetAddress": "1 Main St", "city": "Zürich",
        "state": "ZH", "zipCode": "8000", "countryCode": "CH", "preferredLanguage": "de",
        "locale": "de_CH", "timezone": "Europe/Zurich", "userType": "Employee",
        "employeeNumber": "1042", "costCenter": "CC-1", "organization": "Org",
        "division": "Div", "department": "Eng", "managerId": "m-ref",
        "badge": {"colour": "red", "n": [1, 2.5, null, true]}, "empty": "", "blank": "  ",
        "zz\u{1}ctl": "a\u{7f}b\u{2028}c"});
    let mut ops = vec![
        person(
            "u0",
            "ACTIVE",
            None,
            json!({"login": "root@x.example", "firstName": "Root"}),
            json!({}),
        ),
        person(
            "u1",
            "DEPROVISIONED",
            Some("u0"),
            json!({"login": "gone@x.example", "lastName": "Gone", "department": "Eng"}),
            json!({}),
        ),
        person(
            "u2",
            "ACTIVE",
            Some("u1"),
            json!({"login": "mid@x.example", "email": ""}),
            json!({}),
        ),
        person("u3", "ACTIVE", Some("u2"), every, json!({})),
        person(
            "u4",
            "SUSPENDED",
            Some("u9"),
            json!({"login": "lone@x.example",
            "secondEmail": "only@second", "mobilePhone": "   ", "zipCode": "1",
            "firstName": "", "lastName": "Solo"}),
            json!({}),
        ),
        person(
            "u5",
            "STAGED",
            None,
            json!({"login": "bare@x.example"}),
            json!({}),
        ),
        person(
            "u6",
            "ACTIVE",
            Some("u3"),
            json!({"login": "pushed@x.example"}),
            json!({(PROVISIONED_DOCUMENT): {"userName": "pushed@x.example", "title": "T"}}),
        ),
    ];
    for (id, name) in [("g1", "Eng \"core\""), ("g2", "All")] {
        let raw = json!({"id": id, "type": "OKTA_GROUP", "profile": {"name": name}});
        ops.push(Op::PutGroup {
            group: Group::from_okta(&raw).expect("group"),
            raw: (&raw).into(),
        });
    }
    for (g, u) in [
        ("g1", "u3"),
        ("g2", "u3"),
        ("g2", "u1"),
        ("g2", "u4"),
        ("g1", "u6"),
    ] {
        ops.push(Op::AddMember {
            group_id: g.into(),
            user_id: u.into(),
        });
    }
    store.apply(&ops, &[]).expect("apply");
    (dir, store)
}

/// A whole User written as text is the `Value` path's User serialised, version included,
/// byte for byte, for every role (a directory key with and without raw attributes, hr,
/// admin, and a provisioning client), from an empty memo and from a shared one already
/// filled; a pushed person is left to the `Value` path.
#[test]
fn whole_user_text_is_the_value_path_byte_for_byte() {
    let (_dir, store) = store();
    let some = vec!["primaryPhone".into(), "secondEmail".into(), "badge".into()];
    for (role, directory_attributes, provisioning) in [
        (Role::Directory, Vec::new(), false),
        (Role::Directory, some, false),
        (Role::Hr, Vec::new(), false),
        (Role::Admin, Vec::new(), false),
        (Role::Provisioner, Vec::new(), true),
    ] {
        let policy = Policy {
            directory_attributes,
            provisioning,
            ..Policy::default()
        };
        let mirror = Mirror::new(store.clone(), None, policy);
        let view = mirror.view(Caller {
            name: Some("k".into()),
            role,
        });
        let shared = Arc::new(SharedMemo::default());
        let mut written = 0;
        for round in 0..2 {
            let mut memo = Memo::with_shared(&shared, &view);
            for id in ["u0", "u1", "u2", "u3", "u4", "u5", "u6"] {
                let Some(p) = view.person(id).expect("read") else {
                    assert_eq!((role, id), (Role::Directory, "u1"), "hidden");
                    continue;
                };
                let mut text = b"[".to_vec();
                let whole = write_user(&view, &p, &mut memo, &mut text).expect("write");
                let pushed = provisioning && id == "u6";
                assert_eq!(whole, !pushed, "{role:?} {id}");
                if pushed {
                    assert_eq!(text, b"[");
                    continue;
                }
                let mut r =
                    resource_with(&view, &p, Parts::ALL, &mut Memo::default()).expect("build");
                super::super::query::with_version(&mut r);
                let mut want = b"[".to_vec();
                want.extend(super::super::errors::json_bytes(&r));
                assert_eq!(
                    String::from_utf8_lossy(&text),
                    String::from_utf8_lossy(&want),
                    "{role:?} {id}, round {round}"
                );
                written += 1;
            }
        }
        assert!(written >= 10, "{role:?}: {written}");
    }
}
