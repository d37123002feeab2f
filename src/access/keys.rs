//! API keys: making them, the keys file that holds only their hashes, and the `KeyRing` a
//! server authenticates requests with (reloaded when the file changes, so keys are added,
//! revoked and rotated without a restart).
//!
//! # The keys file
//!
//! JSON lines, one key per line; blank lines and lines starting with `#` are ignored:
//!
//! ```text
//! {"name":"hr-portal","role":"hr","sha256":"9f86d0…(64 hex digits)","created":"2026-05-01T09:30:00Z"}
//! ```
//!
//! `name` is unique (letters, digits, `.`, `_`, `-`; at most 64), `role` one of
//! [`Role::ALL`], `sha256` the SHA-256 of the whole key (`om_…`) in lower-case hex, `created`
//! an RFC 3339 time. Any other field is an error (an older server must not silently ignore a
//! restriction a newer one added). The key itself is never stored: `oktamirror keys new` prints
//! it once. The file is created `0600`; an append is one `write` of one line, and a revoke
//! writes a new file beside it and renames it over, so a server reading it never sees half a
//! revoke.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{Caller, Role};
use crate::secret::Secret;

/// Every key starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const KEY_PREFIX: &str = "om_";

/// Random bytes in a key: 256 bits.
const KEY_BYTES: usize = 32;

/// A keys-file problem, as one sentence saying what to fix. Never quotes a key or a line.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The keys file does not exist where it is read (`serve`, `keys list`, `keys revoke`).
    #[error(
        "the keys file {path} does not exist: create it with `oktamirror keys new --keys-file {path} --name NAME --role ROLE`"
    )]
    Missing {
        /// The keys file's path.
        path: String,
    },
    /// The keys file exists but cannot be read.
    #[error("cannot read the keys file {path}: {detail}")]
    Read {
        /// The keys file's path.
        path: String,
        /// The I/O error.
        detail: String,
    },
    /// Appending a key, or writing and renaming the file for a revoke, failed.
    #[error("cannot write the keys file {path}: {detail}")]
    Write {
        /// The keys file's path.
        path: String,
        /// The I/O error.
        detail: String,
    },
    /// A line is not a valid key entry (bad JSON, an unknown field, a bad name or hash).
    #[error(
        "line {line} of the keys file {path} is not a key entry ({detail}): fix or delete that line (each line is {{\"name\", \"role\", \"sha256\", \"created\"}}, as `oktamirror keys new` writes it)"
    )]
    Line {
        /// The keys file's path.
        path: String,
        /// The line number, from 1.
        line: usize,
        /// What is wrong, without quoting the line (it may hold a pasted key).
        detail: String,
    },
    /// Two lines of the file carry the same name.
    #[error(
        "the keys file {path} has two keys named \"{name}\" (lines {first} and {second}): delete or rename one of them"
    )]
    DuplicateInFile {
        /// The keys file's path.
        path: String,
        /// The name used twice.
        name: String,
        /// The first line with it, from 1.
        first: usize,
        /// The second line with it, from 1.
        second: usize,
    },
    /// `keys new` was given a name the file already holds.
    #[error(
        "a key named \"{name}\" already exists in {path}: pick another --name, or revoke it first with `oktamirror keys revoke --keys-file {path} --name {name}`"
    )]
    DuplicateName {
        /// The keys file's path.
        path: String,
        /// The name asked for.
        name: String,
    },
    /// `keys revoke` was given a name the file does not hold.
    #[error(
        "no key named \"{name}\" in {path}: `oktamirror keys list --keys-file {path}` shows the names"
    )]
    UnknownName {
        /// The keys file's path.
        path: String,
        /// The name asked for.
        name: String,
    },
    /// A key name that is empty, too long or has other characters (its first 80 kept).
    #[error(
        "\"{0}\" is not a key name: use 1 to 64 letters, digits, '.', '_' or '-', like hr-portal"
    )]
    BadName(String),
    /// A name that looks like a key itself (pasted in the wrong place): never echoed, since
    /// names are written to the keys file, logs and the audit log.
    #[error(
        "that key name starts with om_ like a key does; if you pasted a key, revoke it now (oktamirror keys revoke) and choose a name like hr-portal"
    )]
    NameLooksLikeKey,
    /// A role name that is not one of `Role::ALL`; the sentence listing the roles.
    #[error("{0}")]
    BadRole(String),
    /// The system random generator failed while making a key.
    #[error("cannot make a random key: the system random generator failed")]
    Random,
}

/// One line of the keys file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// The key's unique name, shown in logs and the audit log instead of the key.
    pub name: String,
    /// What the key may do.
    pub role: Role,
    /// SHA-256 of the key, lower-case hex.
    pub sha256: String,
    /// When `oktamirror keys new` made the key (UTC, whole seconds in the file).
    pub created: DateTime<Utc>,
}

impl KeyRecord {
    fn line(&self) -> String {
        // Hand-written so the field order and the time format are stable for people reading
        // the file; every value is JSON-escaped by serde_json.
        format!(
            "{{\"name\":{},\"role\":\"{}\",\"sha256\":\"{}\",\"created\":\"{}\"}}",
            serde_json::Value::String(self.name.clone()),
            self.role.as_str(),
            self.sha256,
            self.created.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

/// Checks a key name: short, and safe to show in a shell command or a log line.
pub fn check_name(name: &str) -> Result<(), KeysError> {
    if name.starts_with("om_") {
        return Err(KeysError::NameLooksLikeKey);
    }
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(KeysError::BadName(name.chars().take(80).collect()))
    }
}

/// Reads a role name; the error lists the roles.
pub fn parse_role(role: &str) -> Result<Role, KeysError> {
    role.parse::<Role>().map_err(KeysError::BadRole)
}

/// SHA-256 of `key` in lower-case hex, as stored in the file.
pub fn hash_hex(key: &str) -> String {
    sha256_hex(key.as_bytes(), 32)
}

/// The first `bytes` bytes (at most 32) of the SHA-256 of `data`, in lower-case hex: key hashes
/// (all 32) and the ETags the API derives from what it serves.
pub fn sha256_hex(data: &[u8], bytes: usize) -> String {
    let d = digest::digest(&digest::SHA256, data);
    hex(&d.as_ref()[..bytes.min(32)])
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

/// A new random key: `om_` and 32 random bytes in base64url (43 characters).
pub fn generate() -> Result<Secret, KeysError> {
    let mut bytes = [0u8; KEY_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| KeysError::Random)?;
    Ok(Secret::new(format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )))
}

/// Parses the text of a keys file (`path` only names it in errors).
pub fn parse(path: &Path, text: &str) -> Result<Vec<KeyRecord>, KeysError> {
    let shown = path.display().to_string();
    let mut out: Vec<(usize, KeyRecord)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |detail: String| KeysError::Line {
            path: shown.clone(),
            line: i + 1,
            detail,
        };
        let rec: KeyRecord = serde_json::from_str(line).map_err(|e| bad(describe(&e)))?;
        check_name(&rec.name).map_err(|e| bad(e.to_string()))?;
        if unhex(&rec.sha256).is_none() {
            return Err(bad(
                "sha256 must be 64 lower-case hex digits: the hash, never the key".into(),
            ));
        }
        if let Some((first, _)) = out.iter().find(|(_, r)| r.name == rec.name) {
            return Err(KeysError::DuplicateInFile {
                path: shown,
                name: rec.name,
                first: *first,
                second: i + 1,
            });
        }
        out.push((i + 1, rec));
    }
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

/// serde_json's message when it is about a field name (`missing field`, `unknown field`), else
/// a description that quotes nothing: a key pasted into the wrong place must not reach a log.
fn describe(e: &serde_json::Error) -> String {
    let m = e.to_string();
    if m.starts_with("missing field") || m.starts_with("unknown field") {
        return m;
    }
    let what = if m.starts_with("unknown variant") {
        format!(
            "role must be one of {}",
            Role::ALL.map(Role::as_str).join(", ")
        )
    } else {
        match e.classify() {
            serde_json::error::Category::Data => "a field has a value of the wrong type".into(),
            serde_json::error::Category::Eof => "the line ends too early".into(),
            _ => "it is not a JSON object".into(),
        }
    };
    format!("{what}, at column {}", e.column())
}

fn read_text(path: &Path) -> Result<String, KeysError> {
    fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => KeysError::Missing {
            path: path.display().to_string(),
        },
        _ => KeysError::Read {
            path: path.display().to_string(),
            detail: e.to_string(),
        },
    })
}

/// The keys in the file at `path`.
pub fn list(path: &Path) -> Result<Vec<KeyRecord>, KeysError> {
    parse(path, &read_text(path)?)
}

fn write_error(path: &Path, e: std::io::Error) -> KeysError {
    KeysError::Write {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// Makes a key named `name` with `role`, appends its hash to the file at `path` (created
/// `0600` if missing; its directory must exist and is left as it is) and returns the key, which
/// exists nowhere else from then on.
pub fn create(path: &Path, name: &str, role: Role) -> Result<(Secret, KeyRecord), KeysError> {
    check_name(name)?;
    let existing = match read_text(path) {
        Ok(text) => text,
        Err(KeysError::Missing { .. }) => String::new(),
        Err(e) => return Err(e),
    };
    if parse(path, &existing)?.iter().any(|r| r.name == name) {
        return Err(KeysError::DuplicateName {
            path: path.display().to_string(),
            name: name.to_owned(),
        });
    }
    let key = generate()?;
    let rec = KeyRecord {
        name: name.to_owned(),
        role,
        sha256: hash_hex(key.expose()),
        created: Utc::now(),
    };
    let mut line = String::new();
    if !existing.is_empty() && !existing.ends_with('\n') {
        line.push('\n');
    }
    line.push_str(&rec.line());
    line.push('\n');
    let mut file = private_options()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| write_error(path, e))?;
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| write_error(path, e))?;
    Ok((key, rec))
}

/// Removes the key named `name`: the file is rewritten beside itself (`0600`) and renamed
/// over, keeping every other line (comments included) as it was.
pub fn revoke(path: &Path, name: &str) -> Result<KeyRecord, KeysError> {
    let text = read_text(path)?;
    let records = parse(path, &text)?;
    let Some(gone) = records.into_iter().find(|r| r.name == name) else {
        return Err(KeysError::UnknownName {
            path: path.display().to_string(),
            name: name.to_owned(),
        });
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<KeyRecord>(l.trim())
                .map(|r| r.name != name)
                .unwrap_or(true)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // tempfile creates its files 0600.
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| write_error(path, e))?;
    tmp.write_all(kept.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| write_error(path, e))?;
    tmp.persist(path).map_err(|e| write_error(path, e.error))?;
    Ok(gone)
}

/// Open options that create a file readable by its owner only.
fn private_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// What identifies one version of a file without reading it: a revoke renames a new file in
/// (new inode), an append changes the length, an edit the modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    inode: u64,
}

impl FileStamp {
    /// The stamp of the file at `path` now; `None` if it cannot be read.
    pub fn of(path: &Path) -> Option<FileStamp> {
        let m = fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp {
            modified: m.modified().ok(),
            len: m.len(),
            inode,
        })
    }
}

#[derive(Debug)]
struct Entry {
    hash: [u8; 32],
    caller: Caller,
}

/// The keys a server accepts, loaded from the keys file and swapped whole when it changes.
#[derive(Debug)]
pub struct KeyRing {
    path: PathBuf,
    keys: RwLock<Arc<Vec<Entry>>>,
    /// The file version last read (good or broken), so a broken file is reported once.
    seen: Mutex<Option<FileStamp>>,
}

impl KeyRing {
    /// Loads the keys file at `path`; a missing or broken file is an error here (at start),
    /// but only a warning on a later [`KeyRing::refresh`].
    pub fn load(path: &Path) -> Result<KeyRing, KeysError> {
        let ring = KeyRing {
            path: path.to_path_buf(),
            keys: RwLock::new(Arc::new(Vec::new())),
            seen: Mutex::new(None),
        };
        ring.reload()?;
        Ok(ring)
    }

    /// The keys file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many keys are loaded.
    pub fn len(&self) -> usize {
        self.current().len()
    }

    /// Whether no key is loaded (every request needing one is refused).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The callers of the keys in force (names and roles; never hashes), for telling what a
    /// reload changed.
    pub fn callers(&self) -> Vec<Caller> {
        self.current().iter().map(|e| e.caller.clone()).collect()
    }

    fn current(&self) -> Arc<Vec<Entry>> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn reload(&self) -> Result<(), KeysError> {
        let stamp = FileStamp::of(&self.path);
        let result = list(&self.path);
        if let Ok(mut seen) = self.seen.lock() {
            *seen = stamp;
        }
        let entries = result?
            .into_iter()
            .filter_map(|r| {
                Some(Entry {
                    hash: unhex(&r.sha256)?,
                    caller: Caller {
                        name: Some(r.name),
                        role: r.role,
                    },
                })
            })
            .collect();
        match self.keys.write() {
            Ok(mut k) => *k = Arc::new(entries),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(entries),
        }
        Ok(())
    }

    /// Re-reads the file if it changed since the last read: `Ok(true)` when new keys are in
    /// force, `Ok(false)` when nothing changed, `Err` when the changed file is missing or
    /// broken, in which case the keys loaded before stay in force (and the same broken
    /// version is not reported again).
    pub fn refresh(&self) -> Result<bool, KeysError> {
        let now = FileStamp::of(&self.path);
        let changed = match self.seen.lock() {
            Ok(seen) => *seen != now,
            Err(_) => true,
        };
        if !changed {
            return Ok(false);
        }
        self.reload().map(|()| true)
    }

    /// The caller `key` belongs to, if it is a current key. Every stored hash is compared, in
    /// constant time, so the answer's timing says nothing about which key came close.
    pub fn authenticate(&self, key: &str) -> Option<Caller> {
        let given = digest::digest(&digest::SHA256, key.as_bytes());
        let keys = self.current();
        let mut found = None;
        for e in keys.iter() {
            if aws_lc_rs::constant_time::verify_slices_are_equal(given.as_ref(), &e.hash).is_ok() {
                found = Some(&e.caller);
            }
        }
        found.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, role: &str, hash: &str) -> String {
        format!(
            "{{\"name\":\"{name}\",\"role\":\"{role}\",\"sha256\":\"{hash}\",\"created\":\"2026-05-01T09:30:00Z\"}}"
        )
    }

    #[test]
    fn parses_lines_comments_and_blanks() {
        let h = hash_hex("om_x");
        let text = format!(
            "# keys\n\n{}\n  {}  \n",
            line("a", "hr", &h),
            line("b.c-d_e", "directory", &h)
        );
        let r = parse(Path::new("k"), &text).expect("parse");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].name, "a");
        assert_eq!(r[0].role, Role::Hr);
        assert_eq!(r[1].role, Role::Directory);
        assert_eq!(parse(Path::new("k"), "").expect("empty").len(), 0);
    }

    #[test]
    fn bad_lines_name_the_line_and_the_fix() {
        let h = hash_hex("om_x");
        let p = Path::new("/etc/k");
        let e = parse(p, &format!("{}\nnot json\n", line("a", "hr", &h))).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("line 2 of the keys file /etc/k"), "{m}");
        assert!(!m.contains("not json"), "the line is never quoted: {m}");
        let e = parse(p, &line("a", "root", &h)).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        let e = parse(p, &line("a", "hr", "om_secretkey"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("64 lower-case hex") && !e.contains("om_secret"),
            "{e}"
        );
        let e = parse(p, &line("a b", "hr", &h)).unwrap_err().to_string();
        assert!(e.contains("not a key name"), "{e}");
        let e = parse(
            p,
            &format!("{}\n{}\n", line("a", "hr", &h), line("a", "admin", &h)),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("two keys named \"a\" (lines 1 and 2)"), "{e}");
        let e = parse(p, &line("a", "om_pasted", &h))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && !e.contains("om_pasted"), "{e}");
        assert!(e.contains("role must be one of directory, hr"), "{e}");
        let e = parse(p, &line("a", "hr", &h).replace("\"a\"", "\"om_x\"]"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not a JSON object") && !e.contains("om_x"),
            "{e}"
        );
        let extra = line("a", "hr", &h).replace('}', ",\"expires\":\"x\"}");
        let e = parse(p, &extra).unwrap_err().to_string();
        assert!(e.contains("expires"), "{e}");
    }

    #[test]
    fn unknown_roles_list_the_roles() {
        let e = parse_role("root").unwrap_err().to_string();
        assert!(
            e.contains("directory, hr, admin, provisioner, metrics"),
            "{e}"
        );
    }

    #[test]
    fn a_pasted_key_is_not_taken_as_a_name_and_not_echoed() {
        let key = generate().expect("key");
        let e = check_name(key.expose()).unwrap_err().to_string();
        assert!(e.contains("revoke"), "{e}");
        assert!(!e.contains(&key.expose()[3..]), "{e}");
        assert!(check_name("hr-portal").is_ok());
    }

    #[test]
    fn keys_are_random_long_and_hashed() {
        let a = generate().expect("key");
        let b = generate().expect("key");
        assert_ne!(a, b);
        assert!(a.expose().starts_with(KEY_PREFIX));
        assert_eq!(a.expose().len(), 3 + 43);
        assert_eq!(
            hash_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn create_list_revoke_and_the_ring_follows() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("keys.jsonl");
        assert!(matches!(list(&path), Err(KeysError::Missing { .. })));
        let (k1, _) = create(&path, "app1", Role::Directory).expect("create");
        let (k2, _) = create(&path, "app2", Role::Admin).expect("create");
        assert!(matches!(
            create(&path, "app1", Role::Hr),
            Err(KeysError::DuplicateName { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = fs::read_to_string(&path).expect("read");
        assert!(!text.contains(k1.expose()) && text.contains(&hash_hex(k1.expose())));

        let ring = KeyRing::load(&path).expect("load");
        assert_eq!(ring.len(), 2);
        let c = ring.authenticate(k1.expose()).expect("k1");
        assert_eq!((c.name.as_deref(), c.role), (Some("app1"), Role::Directory));
        assert!(ring.authenticate("om_nope").is_none());
        assert!(!ring.refresh().expect("unchanged"));

        revoke(&path, "app1").expect("revoke");
        assert!(matches!(
            revoke(&path, "app1"),
            Err(KeysError::UnknownName { .. })
        ));
        assert!(ring.refresh().expect("changed"));
        assert!(ring.authenticate(k1.expose()).is_none());
        assert!(ring.authenticate(k2.expose()).is_some());

        // A broken file keeps the keys loaded before, and is reported once.
        fs::write(&path, "{broken\n").expect("write");
        assert!(ring.refresh().is_err());
        assert!(!ring.refresh().expect("same broken version"));
        assert!(ring.authenticate(k2.expose()).is_some());
        fs::remove_file(&path).expect("rm");
        assert!(matches!(ring.refresh(), Err(KeysError::Missing { .. })));
        assert!(ring.authenticate(k2.expose()).is_some());
    }

    #[test]
    fn revoke_keeps_comments_and_other_lines() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("keys");
        fs::write(&path, "# mine\n").expect("write");
        create(&path, "a", Role::Hr).expect("a");
        create(&path, "b", Role::Hr).expect("b");
        revoke(&path, "a").expect("revoke");
        let text = fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("# mine\n"));
        assert_eq!(
            list(&path)
                .expect("list")
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["b"]
        );
    }
}
