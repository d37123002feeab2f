//! Store checkpoints (`Store::checkpoint`: sled's snapshot written while the store runs) under
//! SIGKILL: a child process writes and checkpoints until it is killed, inside a checkpoint or
//! after one, and the store it leaves must open with every write it had flushed.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use oktamirror::store::Store;

/// Set in the child process: the store directory it writes to, and its round.
const CHILD_DIR: &str = "OKTAMIRROR_E2E_CHECKPOINT_DIR";
const CHILD_ROUND: &str = "OKTAMIRROR_E2E_CHECKPOINT_ROUND";

/// Writes between flushes, and flushes between checkpoints, in the child.
const PER_FLUSH: usize = 50;
const FLUSHES_PER_CHECKPOINT: usize = 20;

/// The value of write `i` of round `round`: 2 KB that zstd cannot shrink much, so that the
/// log grows and a checkpoint has a few MB to read.
fn value(round: u64, i: u64) -> String {
    let mut x = round
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(i.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        | 1;
    (0..128)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{:016x}", x)
        })
        .collect()
}

/// The second writer's round is the child's plus this.
const BESIDE: u64 = 1_000;

fn key(round: u64, i: u64) -> String {
    format!("checkpoint-test-{round}-{i:08}")
}

/// The child: writes round `round`'s values in order, flushing every `PER_FLUSH` and saying
/// so ("durable N": writes 0..=N are on disk), and checkpointing every
/// `FLUSHES_PER_CHECKPOINT` flushes between "checkpointing" and "checkpointed", until killed.
fn child(dir: &Path, round: u64) {
    let store = Store::open(dir).expect("the child opens the store");
    // A second writer beside the checkpoints, as the sync engine writes beside `serve`'s
    // checkpoint task: its own keys, flushed and reported as "also durable N".
    let other = store.clone();
    std::thread::spawn(move || write_until_killed(&other, round + BESIDE, "also durable", false));
    write_until_killed(&store, round, "durable", true);
}

/// Writes `round`'s values in order, flushing every `PER_FLUSH` and saying "`durable` N", and
/// with `checkpoints` checkpointing every `FLUSHES_PER_CHECKPOINT` flushes between
/// "checkpointing" and "checkpointed".
fn write_until_killed(store: &Store, round: u64, durable: &str, checkpoints: bool) {
    let mut out = std::io::stdout();
    for i in 0..2_000_000u64 {
        store
            .put_meta_json(&key(round, i), &value(round, i))
            .expect("write");
        if (i as usize + 1) % PER_FLUSH == 0 {
            store.flush().expect("flush");
            say(&mut out, &format!("{durable} {i}"));
            if checkpoints && (i as usize + 1) % (PER_FLUSH * FLUSHES_PER_CHECKPOINT) == 0 {
                say(&mut out, "checkpointing");
                let at = store.checkpoint(0).expect("checkpoint");
                say(&mut out, &format!("checkpointed {at:?}"));
            }
        }
    }
}

fn say(out: &mut std::io::Stdout, line: &str) {
    use std::io::Write;
    // Straight to the pipe, line by line: the parent kills on what it reads.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Where a round's kill lands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kill {
    /// Inside the second checkpoint: after its "checkpointing", before its "checkpointed".
    InCheckpoint,
    /// Three flushes after the second checkpoint ended.
    AfterCheckpoint,
}

/// Runs one child round and kills it where `kill` says. Returns the last write of each writer
/// reported durable (the checkpointing one, the one beside it), and whether the kill is proven
/// to have landed where asked.
fn run_round(dir: &Path, round: u64, kill: Kill) -> ((u64, Option<u64>), bool) {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "checkpoint::sigkill_inside_and_after_a_store_checkpoint_loses_no_flushed_write",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_ROUND, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child");
    let mut lines = BufReader::new(child.stdout.take().expect("the child's stdout"));
    let (mut durable, mut checkpoints, mut after) = (None, 0, 0);
    let mut beside: Option<u64> = None;
    let mut line = String::new();
    loop {
        line.clear();
        let n = lines.read_line(&mut line).expect("read the child");
        assert!(n > 0, "the child ended before its kill (round {round})");
        let l = line.trim();
        if let Some(n) = l.strip_prefix("also durable ") {
            beside = Some(n.parse::<u64>().expect("a write number"));
        } else if let Some(n) = l.strip_prefix("durable ") {
            durable = Some(n.parse::<u64>().expect("a write number"));
            if checkpoints >= 2 && kill == Kill::AfterCheckpoint {
                after += 1;
                if after == 3 {
                    break;
                }
            }
        } else if l == "checkpointing" {
            checkpoints += 1;
            if checkpoints == 2 && kill == Kill::InCheckpoint {
                break;
            }
        } else if l.starts_with("checkpointed") {
            assert!(
                l.starts_with("checkpointed Some("),
                "a checkpoint after 1,000 writes wrote nothing: {l}"
            );
        }
    }
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    // What the child printed before the kill reached it: for a kill inside a checkpoint,
    // proof that the checkpoint had not ended.
    let mut rest = String::new();
    let _ = lines.read_to_string(&mut rest);
    let landed = match kill {
        Kill::InCheckpoint => !rest.contains("checkpointed"),
        Kill::AfterCheckpoint => true,
    };
    let last = |prefix: &str| {
        rest.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|n| n.parse::<u64>().ok())
            .max()
    };
    let durable = last("durable ")
        .or(durable)
        .expect("the child flushed something");
    let beside = last("also durable ").or(beside);
    ((durable, beside), landed)
}

/// Every write of every round up to the last one reported durable reads back exactly.
fn assert_flushed_writes_survived(dir: &Path, rounds: &[(u64, u64)]) {
    let store = Store::open(dir).expect("the store opens after the kill");
    for &(round, durable) in rounds {
        // Read back in the round's order: a write missing in the middle is a hole.
        for i in 0..=durable {
            let got: Option<String> = store.meta_json(&key(round, i)).expect("read back");
            assert!(
                got.as_deref() == Some(value(round, i).as_str()),
                "round {round}: write {i} of 0..={durable} (flushed before the kill) is {}",
                if got.is_some() { "wrong" } else { "missing" }
            );
        }
    }
}

#[test]
fn sigkill_inside_and_after_a_store_checkpoint_loses_no_flushed_write() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        let round = std::env::var(CHILD_ROUND)
            .ok()
            .and_then(|r| r.parse().ok())
            .expect("the child's round");
        return child(Path::new(&dir), round);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut done: Vec<(u64, u64)> = Vec::new();
    let mut landed_inside = 0;
    // Kills inside a checkpoint, after one, and inside one again on the store the first two
    // left (each reopen also replays from whichever snapshot the kill left behind).
    for (round, kill) in [
        Kill::InCheckpoint,
        Kill::AfterCheckpoint,
        Kill::InCheckpoint,
    ]
    .into_iter()
    .enumerate()
    {
        let round = round as u64;
        let ((durable, beside), landed) = run_round(dir.path(), round, kill);
        if kill == Kill::InCheckpoint && landed {
            landed_inside += 1;
        }
        done.push((round, durable));
        if let Some(b) = beside {
            done.push((round + BESIDE, b));
        }
        assert_flushed_writes_survived(dir.path(), &done);
    }
    assert!(
        landed_inside > 0,
        "no kill landed inside a checkpoint (each ended before its SIGKILL arrived)"
    );
    // And the store goes on: a checkpoint on it writes, and what it holds still reads back.
    {
        let store = Store::open(dir.path()).expect("reopen");
        store
            .put_meta_json("after", &value(9, 9))
            .expect("write after the kills");
        assert!(
            store.checkpoint(0).expect("checkpoint").is_some(),
            "a checkpoint after a write"
        );
    }
    assert_flushed_writes_survived(dir.path(), &done);
}

/// The log offsets of the snapshots sled keeps in a store directory (`snap.<offset in hex>`).
fn snapshots(dir: &Path) -> Vec<u64> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    u64::from_str_radix(name.strip_prefix("snap.")?, 16).ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `serve` checkpoints a first sync's load as soon as the search index holds it: a snapshot
/// past the load appears while the server runs. A few hundred people are far less log than the
/// minute's checkpoint waits for (`CHECKPOINT_BYTES`), so without the checkpoint after a load
/// none would appear before the stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_checkpoints_a_first_load_once_it_is_indexed() {
    use crate::support::{TestApp, TestSim, wait_for};
    let ts = TestSim::start(300, 17).await;
    let mut app = TestApp::builder(&ts).spawn().await;
    assert!(
        app.store().initial_load_seq().expect("seq") > 0,
        "not an initial load"
    );
    let dir = app.data_dir().to_path_buf();
    wait_for(
        "a snapshot past the first load",
        std::time::Duration::from_millis(50),
        || async { snapshots(&dir).iter().any(|&at| at > 0) },
    )
    .await;
    app.stop().await;
}
