//! A watchdog over the whole e2e run: a test still running `LIMIT` after it started its first
//! simulator or mirror ends the run, naming itself, instead of holding CI until its own limit.
//!
//! Every wait in these tests has a deadline (`STUCK`), but a deadline that keeps moving (a
//! timeout per frame on a socket the server pings) once hung CI for 90 minutes with no name.

use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long one test may run. The slowest take about a minute on a loaded 2-core machine.
pub const LIMIT: Duration = Duration::from_secs(15 * 60);

/// The tests being watched: name (libtest names each test's thread after it), since when, and
/// how many guards of it are alive.
static WATCHED: Mutex<Vec<(String, Instant, usize)>> = Mutex::new(Vec::new());

/// Held by each `TestSim` and `TestApp`: the test running on this thread is watched until the
/// last of its guards drops (at its end, or as a panic unwinds it).
#[derive(Debug)]
pub struct Watch {
    name: String,
}

impl Watch {
    pub fn new() -> Watch {
        static DOG: OnceLock<()> = OnceLock::new();
        DOG.get_or_init(|| {
            std::thread::Builder::new()
                .name("e2e watchdog".into())
                .spawn(|| {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        let late = overdue(&watched(), Instant::now(), LIMIT);
                        if let Some(name) = late {
                            // Past libtest's capture, which this thread inherited from the
                            // test that started it and which an exit would never print.
                            let _ = writeln!(
                                std::io::stderr(),
                                "e2e watchdog: `{name}` has run for more than {} minutes; ending the run \
                                 (a wait in it never ends, or its deadline keeps moving)",
                                LIMIT.as_secs() / 60
                            );
                            std::process::exit(101);
                        }
                    }
                })
                .map(drop)
                .expect("start the e2e watchdog");
        });
        let name = std::thread::current()
            .name()
            .unwrap_or("a test on an unnamed thread")
            .to_owned();
        let mut w = watched();
        match w.iter_mut().find(|(n, _, _)| *n == name) {
            Some(entry) => entry.2 += 1,
            None => w.push((name.clone(), Instant::now(), 1)),
        }
        Watch { name }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut w = watched();
        if let Some(at) = w.iter().position(|(n, _, _)| *n == self.name) {
            w[at].2 -= 1;
            if w[at].2 == 0 {
                w.remove(at);
            }
        }
    }
}

fn watched() -> std::sync::MutexGuard<'static, Vec<(String, Instant, usize)>> {
    WATCHED.lock().unwrap_or_else(|e| e.into_inner())
}

/// The first watched test that started more than `limit` before `now`.
fn overdue(watched: &[(String, Instant, usize)], now: Instant, limit: Duration) -> Option<String> {
    watched
        .iter()
        .find(|(_, since, _)| now.saturating_duration_since(*since) > limit)
        .map(|(n, _, _)| n.clone())
}

#[test]
fn the_watchdog_names_a_test_past_its_limit_and_forgets_one_that_ended() {
    let guard = Watch::new();
    let me = std::thread::current().name().map(str::to_owned);
    let entry = watched()
        .iter()
        .find(|(n, _, _)| Some(n) == me.as_ref())
        .cloned()
        .expect("this test is watched");
    assert_eq!(entry.2, 1);
    let second = Watch::new();
    let now = Instant::now();
    let later = now + LIMIT + Duration::from_secs(1);
    let mine = vec![entry.clone()];
    assert_eq!(overdue(&mine, now, LIMIT), None);
    assert_eq!(overdue(&mine, later, LIMIT), me);
    drop(second);
    assert!(watched().iter().any(|(n, _, _)| Some(n) == me.as_ref()));
    drop(guard);
    assert!(!watched().iter().any(|(n, _, _)| Some(n) == me.as_ref()));
}
