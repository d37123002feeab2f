//! Probes and syncStatus: /healthz always, /readyz 503 until a full sync succeeded, then 200.

use serde_json::json;

use super::Server;
use crate::model::{ChangeCounts, ManagerReport, RunKind, SyncRun};
use crate::store::meta;

#[tokio::test]
async fn probes_and_sync_status_follow_the_first_full_sync() {
    let s = Server::start().await;
    let a = s.send(s.get("/healthz")).await;
    assert_eq!((a.status, a.json()), (200, json!({"status": "ok"})));

    let a = s.send(s.get("/readyz")).await;
    assert_eq!(a.status, 503);
    assert_eq!(a.json()["ready"], false);
    assert_eq!(
        a.json()["reason"],
        "the first full sync has not completed yet"
    );
    let q = "{ syncStatus { ready people groups memberships lastChangeSeq unresolvedManagers
        managerCycles lastFullSync { ok } lastSuccessfulFullSync { kind ok usersFetched requests
        warnings error startedAt changes { peopleCreated membersAdded total } } } }";
    let d = s.data(q, json!({})).await;
    let st = &d["syncStatus"];
    assert_eq!(st["ready"], false);
    assert!(st["lastSuccessfulFullSync"].is_null());
    assert_eq!(st["people"], 6);
    assert_eq!(st["groups"], 3);
    assert_eq!(st["memberships"], 11);
    // 6 people + 3 groups + one membership entry per group (the 11 pairs came in one batch).
    assert_eq!(st["lastChangeSeq"], "12");

    let run = SyncRun {
        ok: true,
        users_fetched: 6,
        groups_fetched: 3,
        memberships_fetched: 11,
        requests: 9,
        changes: ChangeCounts {
            people_created: 6,
            members_added: 11,
            ..Default::default()
        },
        warnings: vec!["a warning".into()],
        ..SyncRun::start(RunKind::Full)
    };
    s.store
        .put_meta_json(meta::LAST_GOOD_FULL_SYNC, &run)
        .expect("put run");
    s.store
        .put_meta_json(
            meta::MANAGER_REPORT,
            &ManagerReport {
                unresolved: vec![("00u6".into(), "E404".into())],
                cycles: vec![],
            },
        )
        .expect("put report");

    let a = s.send(s.get("/readyz")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["ready"], true);
    let d = s.data(q, json!({})).await;
    let st = &d["syncStatus"];
    assert_eq!(st["ready"], true);
    assert_eq!(st["unresolvedManagers"], 1);
    assert_eq!(st["managerCycles"], 0);
    let run = &st["lastSuccessfulFullSync"];
    assert_eq!(run["kind"], "FULL");
    assert_eq!(run["usersFetched"], 6);
    assert_eq!(run["requests"], 9);
    assert_eq!(run["warnings"], json!(["a warning"]));
    assert!(run["error"].is_null());
    assert_eq!(run["changes"]["total"], 17);
}
