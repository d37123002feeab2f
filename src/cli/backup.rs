//! `oktamirror backup` (from a stopped mirror's data directory, or from a running server's
//! `/admin/backup`) and `oktamirror restore` (into an empty data directory).

use std::fs::File;
use std::io::{BufReader, Seek, Write};
use std::path::Path;

use oktamirror::store::{SnapshotSummary, Store};

use super::CliError;

/// Backs up the mirror in `data_dir` (no server running on it), or the server at `server`
/// when given, into `out`. The file appears only once it is complete and checked.
pub async fn backup(
    data_dir: &Path,
    server: Option<&str>,
    key: Option<&str>,
    out: &Path,
) -> Result<(), CliError> {
    let mut tmp = spool_next_to(out)?;
    let summary = match server {
        Some(url) => download(url, key, tmp.as_file_mut()).await?,
        None => {
            let store = open_stopped(data_dir)?;
            store.write_snapshot(tmp.as_file_mut())?;
            // Check what reached the disk, as for a download.
            verify(tmp.as_file_mut())?
        }
    };
    tmp.as_file().sync_all().map_err(|e| written(out, e))?;
    tmp.persist(out).map_err(|e| written(out, e.error))?;
    println!(
        "backed up {} entries ({} bytes, change #{}) into {}",
        summary.records,
        summary.bytes,
        summary.seq,
        out.display()
    );
    Ok(())
}

/// Restores the backup `from` into `data_dir`, which must be empty or missing.
pub fn restore(data_dir: &Path, from: &Path) -> Result<(), CliError> {
    let file = File::open(from).map_err(|e| {
        CliError::Failed(format!(
            "cannot read the backup {}: {e}. Check --from",
            from.display()
        ))
    })?;
    let summary = Store::restore_snapshot(data_dir, BufReader::new(file))?;
    println!(
        "restored {} entries (change #{}) into {}. Start `oktamirror serve` on it: the sync resumes the System Log from the backup's position and the search index rebuilds from the store",
        summary.records,
        summary.seq,
        data_dir.display()
    );
    Ok(())
}

fn open_stopped(data_dir: &Path) -> Result<Store, CliError> {
    let empty = std::fs::read_dir(data_dir).map_or(true, |mut d| d.next().is_none());
    if empty {
        return Err(CliError::Failed(format!(
            "there is no mirror in {}: check --data-dir",
            data_dir.display()
        )));
    }
    Store::open(data_dir).map_err(|e| {
        CliError::Failed(format!(
            "{e}. If `oktamirror serve` is running on it, back it up through the server instead: oktamirror backup --server http://127.0.0.1:8080 --key ADMIN_KEY --out FILE"
        ))
    })
}

/// An owner-only temporary file beside `out`, renamed onto it once complete.
fn spool_next_to(out: &Path) -> Result<tempfile::NamedTempFile, CliError> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".oktamirror-backup")
        .tempfile_in(dir)
        .map_err(|e| written(out, e))
}

fn written(out: &Path, e: std::io::Error) -> CliError {
    CliError::Failed(format!(
        "cannot write the backup {}: {e}. Check --out (its directory must exist and be writable, with space)",
        out.display()
    ))
}

fn verify(file: &mut File) -> Result<SnapshotSummary, CliError> {
    file.rewind()
        .map_err(|e| CliError::Failed(format!("cannot read back the backup: {e}")))?;
    Ok(Store::verify_snapshot(BufReader::new(file))?)
}

/// Streams the server's `/admin/backup` into `file`, then checks it whole.
async fn download(
    url: &str,
    key: Option<&str>,
    file: &mut File,
) -> Result<SnapshotSummary, CliError> {
    let endpoint = format!("{}/admin/backup", url.trim_end_matches('/'));
    let mut req = reqwest::Client::new().get(&endpoint);
    if let Some(key) = key {
        req = req.bearer_auth(key.trim());
    }
    let mut resp = req.send().await.map_err(|e| {
        CliError::Failed(format!(
            "cannot reach the server at {endpoint}: {e}. Check --server (like http://127.0.0.1:8080)"
        ))
    })?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        let hint = match status.as_u16() {
            401 => " Give an admin key with --key or OKTAMIRROR_API_KEY.",
            403 => " Backups need a key with the admin role.",
            _ => "",
        };
        return Err(CliError::Failed(format!(
            "the server refused the backup (HTTP {status}): {}.{hint}",
            body.trim().trim_end_matches('.')
        )));
    }
    let broken = |e: reqwest::Error| {
        CliError::Failed(format!(
            "the download from {endpoint} broke off: {e}. Run the backup again"
        ))
    };
    while let Some(chunk) = resp.chunk().await.map_err(broken)? {
        file.write_all(&chunk)
            .map_err(|e| CliError::Failed(format!("cannot write the backup: {e}")))?;
    }
    verify(file)
}
