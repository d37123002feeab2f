//! Backup format tests: round trip, truncation and corruption refused with nothing left behind,
//! non-empty targets refused, and snapshots taken during writes never tearing a batch.

use serde_json::json;

use super::*;
use crate::model::{AuditEntry, Group, Person};
use crate::store::Op;

fn person(id: &str) -> Op {
    let raw = json!({"id": id, "status": "ACTIVE",
        "profile": {"login": format!("{id}@x.com"), "email": format!("{id}@x.com")}});
    let p = Person::from_okta(&raw, &Default::default()).expect("valid");
    Op::PutPerson {
        person: Box::new(p),
        raw: (&raw).into(),
    }
}

fn group(id: &str) -> Op {
    let raw = json!({"id": id, "type": "OKTA_GROUP", "profile": {"name": format!("G {id}")}});
    let g = Group::from_okta(&raw).expect("valid");
    Op::PutGroup {
        group: g,
        raw: (&raw).into(),
    }
}

/// A small mirror: people, a group with members, a log position and an audit entry.
fn filled(dir: &Path) -> Store {
    let s = Store::open(dir).expect("open");
    let mut ops: Vec<Op> = (0..50).map(|i| person(&format!("u{i}"))).collect();
    ops.push(group("g1"));
    s.apply(&ops, &[(meta::LOG_CURSOR, b"\"log:42\"".to_vec())])
        .expect("apply");
    let members: Vec<Op> = (0..20)
        .map(|i| Op::AddMember {
            group_id: "g1".into(),
            user_id: format!("u{i}"),
        })
        .collect();
    s.apply(&members, &[]).expect("members");
    s.append_audit(AuditEntry {
        id: 0,
        at: chrono::Utc::now(),
        actor: "ops".into(),
        action: "syncNow".into(),
        outcome: "ok".into(),
    })
    .expect("audit");
    s
}

/// A tree's name and its entries.
type TreeDump = (&'static str, Vec<(Vec<u8>, Vec<u8>)>);

/// Every entry of every tree a backup holds, by tree.
fn dump(s: &Store) -> Vec<TreeDump> {
    s.snapshot_trees()
        .expect("trees")
        .into_iter()
        .map(|(name, t)| {
            let entries = t
                .iter()
                .map(|kv| {
                    let (k, v) = kv.expect("read");
                    (k.to_vec(), v.to_vec())
                })
                .collect();
            (name, entries)
        })
        .collect()
}

fn backup_of(s: &Store) -> Vec<u8> {
    let mut out = Vec::new();
    s.write_snapshot(&mut out).expect("snapshot");
    out
}

#[test]
fn a_restored_backup_holds_exactly_the_store() {
    let src = tempfile::tempdir().expect("tempdir");
    let s = filled(src.path());
    let file = backup_of(&s);
    let summary = Store::verify_snapshot(file.as_slice()).expect("verifies");
    assert_eq!(summary.bytes, file.len() as u64);
    assert_eq!(summary.trees, TREE_NAMES.len() as u64 + 1);

    let dst = tempfile::tempdir().expect("tempdir");
    let target = dst.path().join("restored");
    let restored = Store::restore_snapshot(&target, file.as_slice()).expect("restore");
    assert_eq!(restored, summary);
    assert!(!target.join(RESTORE_MARKER).exists());
    // sled's snapshot is written by the restore itself, so that the first open does not replay
    // the whole restored log.
    let snapshots = std::fs::read_dir(&target)
        .expect("read the restored directory")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("snap."))
        .count();
    assert_eq!(snapshots, 1, "one snapshot in the restored store");
    let r = Store::open(&target).expect("open restored");
    assert_eq!(dump(&r), dump(&s));
    assert_eq!(r.last_seq().expect("seq"), s.last_seq().expect("seq"));
    assert_eq!(summary.seq, s.last_seq().expect("seq"));
    assert_eq!(r.membership_count().expect("count"), 20);
    let cursor: Option<String> = r.meta_json(meta::LOG_CURSOR).expect("cursor");
    assert_eq!(cursor.as_deref(), Some("log:42"));
    // The audit log continues after the restored entries instead of overwriting them.
    let next = r
        .append_audit(AuditEntry {
            id: 0,
            at: chrono::Utc::now(),
            actor: "ops".into(),
            action: "after restore".into(),
            outcome: "ok".into(),
        })
        .expect("audit");
    assert_eq!(r.audit(10).expect("audit").len(), 2, "{next:?}");
}

#[test]
fn truncated_or_corrupted_backups_are_refused_and_leave_nothing() {
    let src = tempfile::tempdir().expect("tempdir");
    let file = backup_of(&filled(src.path()));
    let dst = tempfile::tempdir().expect("tempdir");
    let mut cuts: Vec<usize> = (0..file.len()).step_by(file.len() / 37 + 1).collect();
    cuts.extend([file.len() - 1, file.len() - 32, file.len() - 33]);
    for cut in cuts {
        let target = dst.path().join(format!("cut{cut}"));
        let e = Store::restore_snapshot(&target, &file[..cut]).expect_err("truncated");
        let msg = e.to_string();
        assert!(
            msg.contains("truncated") || msg.contains("not an oktamirror backup"),
            "cut at {cut}: {msg}"
        );
        assert!(!target.exists(), "cut at {cut} left {target:?}");
        assert!(Store::verify_snapshot(&file[..cut]).is_err());
    }
    for at in (BACKUP_MAGIC.len()..file.len()).step_by(file.len() / 41 + 1) {
        let mut bad = file.clone();
        bad[at] ^= 0x5a;
        // An existing empty directory stays, emptied again.
        let target = dst.path().join(format!("flip{at}"));
        std::fs::create_dir(&target).expect("mkdir");
        let e = Store::restore_snapshot(&target, bad.as_slice()).expect_err("corrupt");
        assert!(
            ["corrupt", "truncated", "does not know"]
                .iter()
                .any(|w| e.to_string().contains(w)),
            "flip at {at}: {e}"
        );
        assert_eq!(
            std::fs::read_dir(&target).expect("dir").count(),
            0,
            "flip at {at}"
        );
    }
    let mut longer = file.clone();
    longer.push(0);
    let e = Store::verify_snapshot(longer.as_slice()).expect_err("trailing");
    assert!(e.to_string().contains("bytes after its end"), "{e}");
    let e = Store::verify_snapshot(&b"hello world, not a backup"[..]).expect_err("magic");
    assert!(e.to_string().contains("not an oktamirror backup"), "{e}");
}

#[test]
fn a_restore_refuses_a_directory_that_is_not_empty() {
    let src = tempfile::tempdir().expect("tempdir");
    let file = backup_of(&filled(src.path()));
    let e = Store::restore_snapshot(src.path(), file.as_slice()).expect_err("not empty");
    assert!(e.to_string().contains("is not empty"), "{e}");
    assert!(e.to_string().contains("Move its contents away"), "{e}");
    // The store there is untouched.
    Store::open(src.path()).expect("still opens");
}

#[test]
fn an_unfinished_restore_is_refused_by_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    File::create(dir.path().join(RESTORE_MARKER)).expect("marker");
    let e = Store::open(dir.path()).err().expect("refused");
    assert!(e.to_string().contains("did not finish"), "{e}");
}

#[test]
fn snapshots_taken_during_writes_never_hold_part_of_a_batch() {
    const BATCHES: u64 = 300;
    let src = tempfile::tempdir().expect("tempdir");
    let s = Store::open(src.path()).expect("open");
    let writer = {
        let s = s.clone();
        std::thread::spawn(move || {
            for i in 0..BATCHES {
                // Ten people and the log position naming how many batches went before, in one
                // batch: a torn copy shows a count or a position that disagree with the trees.
                let ops: Vec<Op> = (0..10).map(|j| person(&format!("u{i}-{j}"))).collect();
                let cursor = serde_json::to_vec(&format!("log:{}", i + 1)).expect("json");
                s.apply(&ops, &[(meta::LOG_CURSOR, cursor)]).expect("apply");
            }
        })
    };
    let mut mid_write = 0;
    loop {
        let finished = writer.is_finished();
        let file = backup_of(&s);
        // What the snapshot holds, read from the file itself.
        let (mut people, mut changes) = (0u64, 0u64);
        let mut metas = std::collections::HashMap::new();
        let summary = read_snapshot(file.as_slice(), |tree, k, v| {
            match tree {
                "people" => people += 1,
                "changes" => changes += 1,
                "meta" => {
                    metas.insert(String::from_utf8(k).expect("utf-8"), v);
                }
                _ => {}
            }
            Ok(())
        })
        .expect("a valid snapshot");
        let u64_of = |k: &str| metas.get(k).map_or(0, |v| keys::read_u64(v));
        assert_eq!(u64_of(meta::PEOPLE), people);
        assert_eq!(u64_of(meta::SEQ), people);
        assert_eq!(summary.seq, people);
        assert_eq!(changes, people);
        let cursor = metas
            .get(meta::LOG_CURSOR)
            .map(|v| serde_json::from_slice::<String>(v).expect("json"));
        let batches = people / 10;
        assert_eq!(people % 10, 0, "a batch cut in half");
        assert_eq!(cursor, (batches > 0).then(|| format!("log:{batches}")));
        if batches > 0 && batches < BATCHES {
            mid_write += 1;
        }
        if finished {
            assert_eq!(batches, BATCHES);
            break;
        }
    }
    writer.join().expect("writer");
    assert!(mid_write > 0, "no snapshot was taken while the writer ran");
}

#[test]
fn a_spool_reads_the_snapshot_while_it_is_written() {
    let src = tempfile::tempdir().expect("tempdir");
    let s = filled(src.path());
    let direct = backup_of(&s);
    // Small reads, so the reader keeps catching up with the writer and waiting for it.
    let mut spool = s.spool_snapshot().expect("spool");
    let mut read = Vec::new();
    let mut buf = [0u8; 97];
    loop {
        let n = spool.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        read.extend_from_slice(&buf[..n]);
    }
    assert_eq!(read, direct, "the spool holds the same snapshot");
    let summary = spool.summary().expect("complete");
    assert_eq!(
        summary,
        Store::verify_snapshot(read.as_slice()).expect("valid")
    );
    // The spool file is anonymous: nothing is left in the data directory.
    let names: Vec<String> = std::fs::read_dir(src.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
}
