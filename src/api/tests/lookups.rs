//! Single lookups: person by id/login/email/employeeNumber, group by id/name, argument rules.

use serde_json::json;

use super::Server;

const PERSON: &str = "query($id: ID, $login: String, $email: String, $n: String) {
  person(id: $id, login: $login, email: $email, employeeNumber: $n) {
    id login email displayName firstName department city countryCode status employeeNumber
    created lastUpdated profile
  }
}";

#[tokio::test]
async fn person_by_each_key() {
    let s = Server::start().await;
    for vars in [
        json!({"id": "00u1"}),
        json!({"login": "CEO@example.com"}),
        json!({"email": "ceo@EXAMPLE.com"}),
        json!({"n": "1001"}),
    ] {
        let d = s.data(PERSON, vars.clone()).await;
        let p = &d["person"];
        assert_eq!(p["id"], "00u1", "{vars}");
        assert_eq!(p["displayName"], "Cara Chief");
        assert_eq!(p["status"], "ACTIVE");
        assert_eq!(p["countryCode"], "FR");
        assert_eq!(p["created"], "2024-01-02T03:04:05+00:00");
        assert_eq!(p["profile"]["badgeColour"], "gold", "custom attributes");
    }
    let d = s.data(PERSON, json!({"login": "nobody@example.com"})).await;
    assert!(d["person"].is_null());
    // displayName falls back to "first last".
    let d = s.data(PERSON, json!({"n": "1003"})).await;
    assert_eq!(d["person"]["displayName"], "00u3 Test");
}

#[tokio::test]
async fn person_needs_exactly_one_argument() {
    let s = Server::start().await;
    for vars in [json!({}), json!({"id": "00u1", "login": "ceo@example.com"})] {
        let msg = s.error(PERSON, vars).await;
        assert!(msg.contains("exactly one"), "{msg}");
    }
}

#[tokio::test]
async fn group_by_id_or_name() {
    let s = Server::start().await;
    let q = "query($id: ID, $name: String) { group(id: $id, name: $name) {
        id name description type memberCount profile created lastMembershipUpdated } }";
    let d = s.data(q, json!({"name": "engineering"})).await;
    assert_eq!(d["group"]["id"], "00g1");
    assert_eq!(d["group"]["type"], "OKTA_GROUP");
    assert_eq!(d["group"]["memberCount"], 4);
    assert_eq!(d["group"]["profile"]["custom"], 7);
    assert!(d["group"]["lastMembershipUpdated"].is_null());
    let d = s.data(q, json!({"id": "00g2"})).await;
    assert_eq!(d["group"]["type"], "BUILT_IN");
    let msg = s.error(q, json!({"id": "00g2", "name": "Everyone"})).await;
    assert!(msg.contains("exactly one"), "{msg}");
}
