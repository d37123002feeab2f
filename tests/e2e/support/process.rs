//! The real `oktamirror` binary as a child process: one-shot commands, and `serve` with its
//! stderr captured line by line (to find its address, to act on progress it logs, and to
//! check what it never logs).

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{TOKEN, wait_for};

/// Runs the binary to the end and returns (success, stderr).
pub fn cli(args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oktamirror"));
    cmd.args(args)
        .env_remove("OKTA_API_TOKEN")
        .env_remove("OKTAMIRROR_OKTA_URL")
        .env_remove("OKTAMIRROR_CONFIG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run oktamirror");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary to the end with `stdin` as its standard input; returns (success, stderr
/// and stdout together).
pub fn cli_with_stdin(args: &[&str], stdin: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_oktamirror"))
        .args(args)
        .env_remove("OKTA_API_TOKEN")
        .env_remove("OKTAMIRROR_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run oktamirror");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait for oktamirror");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ),
    )
}

/// A predicate on a log line that makes the reader SIGKILL the process at once.
pub type KillWhen = Box<dyn Fn(&str) -> bool + Send>;

/// A running `oktamirror serve`.
pub struct Serve {
    child: Arc<Mutex<Child>>,
    lines: Arc<Mutex<Vec<String>>>,
    /// The line that triggered a `KillWhen`, once it did.
    killed_on: Arc<Mutex<Option<String>>>,
}

impl Serve {
    /// `serve` of the simulator at `sim` into `dir`, with the SSWS token, the log filter
    /// `log`, `extra` arguments and environment.
    pub fn start(
        sim: SocketAddr,
        dir: &Path,
        log: &str,
        extra: &[&str],
        envs: &[(&str, &str)],
        kill_when: Option<KillWhen>,
    ) -> Serve {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oktamirror"));
        cmd.arg("serve")
            .args(["--okta-url", &format!("http://{sim}")])
            .arg("--data-dir")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("OKTAMIRROR_CONFIG")
            .env_remove("RUST_LOG")
            .env("OKTA_API_TOKEN", TOKEN)
            .env("OKTAMIRROR_LOG", log)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn oktamirror serve");
        let stderr = child.stderr.take().expect("stderr");
        let child = Arc::new(Mutex::new(child));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let killed_on = Arc::new(Mutex::new(None));
        let (c, l, k) = (child.clone(), lines.clone(), killed_on.clone());
        // Reads every line (so the child never blocks on a full pipe) and kills on the spot.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(when) = &kill_when {
                    let mut killed = k.lock().unwrap_or_else(PoisonError::into_inner);
                    if killed.is_none() && when(&line) {
                        let _ = c.lock().unwrap_or_else(PoisonError::into_inner).kill();
                        *killed = Some(line.clone());
                    }
                }
                l.lock().unwrap_or_else(PoisonError::into_inner).push(line);
            }
        });
        Serve {
            child,
            lines,
            killed_on,
        }
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n")
    }

    /// Where it serves, once it logged it (panics if it exits first).
    pub async fn addr(&self) -> SocketAddr {
        let mut found = None;
        wait_for("serve to listen", Duration::from_millis(20), || {
            found = self
                .log()
                .split("serving on http://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .and_then(|a| a.parse().ok());
            let done = found.is_some() || self.exited();
            async move { done }
        })
        .await;
        found.unwrap_or_else(|| panic!("serve exited:\n{}", self.log()))
    }

    fn exited(&self) -> bool {
        self.child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_wait()
            .ok()
            .flatten()
            .is_some()
    }

    /// Waits until the process has ended (after a `KillWhen` fired, say).
    pub async fn wait_exit(&self) {
        wait_for("serve to exit", Duration::from_millis(10), || {
            let e = self.exited();
            async move { e }
        })
        .await;
    }

    /// The line a `KillWhen` fired on, if it did.
    pub fn killed_on(&self) -> Option<String> {
        self.killed_on
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// SIGKILL: no shutdown code runs, as when a machine loses power.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM and wait: a clean shutdown that flushes the store.
    pub async fn stop(&self) {
        let pid = self
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .id();
        let _ = Command::new("kill").arg(pid.to_string()).status();
        self.wait_exit().await;
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}
