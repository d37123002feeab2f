//! Secrets in the OS keyring (`okta_token_keyring`): the Linux kernel keyring (keyutils: no
//! desktop session or daemon needed) or the macOS Keychain. Errors never hold the secret.

use super::Secret;

/// Why the keyring could not give or take a secret: one sentence with the fix.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No entry of that name.
    #[error(
        "the OS keyring holds no entry \"{0}\": store it with `oktamirror keyring set {0}` (it reads the secret from standard input), as the user the mirror runs as"
    )]
    Missing(String),
    /// The keyring cannot be used in this environment at all.
    #[error("the OS keyring cannot be used here: {0}")]
    Unavailable(String),
    /// The name is not usable.
    #[error(
        "\"{0}\" is not a keyring entry name: use letters, digits and . _ - / : @, like oktamirror/acme"
    )]
    BadName(String),
    /// Anything else the keyring answered.
    #[error("the OS keyring refused \"{name}\": {detail}")]
    Failed {
        /// The entry's name.
        name: String,
        /// What the keyring said (never the secret).
        detail: String,
    },
}

/// Entry names: what a shell and the keyring's own tools take without quoting.
fn check_name(name: &str) -> Result<(), KeyringError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(KeyringError::BadName(name.to_owned()))
    }
}

/// The secret stored under `name`, trimmed.
pub fn read(name: &str) -> Result<Secret, KeyringError> {
    check_name(name)?;
    let text = backend::read(name)?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(KeyringError::Failed {
            name: name.to_owned(),
            detail: "the entry is empty; store the secret again with `oktamirror keyring set`"
                .into(),
        });
    }
    Ok(Secret::new(trimmed))
}

/// Stores `secret` under `name`, replacing what was there.
pub fn store(name: &str, secret: &Secret) -> Result<(), KeyringError> {
    check_name(name)?;
    backend::store(name, secret.expose())
}

/// Removes the entry `name`; `Missing` when there is none.
pub fn delete(name: &str) -> Result<(), KeyringError> {
    check_name(name)?;
    backend::delete(name)
}

/// Where the entries live, for messages: `the Linux kernel keyring (the user keyring of uid …)`.
pub fn describe() -> String {
    backend::describe()
}

/// The Linux kernel keyring: entries are `user` keys, described by their name, in the calling
/// user's user keyring (`@u`), readable by every process of the user (whatever its session
/// keyring) and no other user, kept after logout, lost at reboot (the kernel keeps keys in
/// memory only).
#[cfg(target_os = "linux")]
mod backend {
    use linux_keyutils::{KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};

    use super::KeyringError;

    /// The largest payload of a `user` key.
    const MAX_PAYLOAD: usize = 32_767;

    fn user_keyring() -> Result<KeyRing, KeyringError> {
        KeyRing::from_special_id(KeyRingIdentifier::User, true).map_err(|e| failed("", e))
    }

    /// Maps a keyutils error, telling apart a keyring that the environment forbids (seccomp's
    /// EPERM, a kernel without keys: ENOSYS) from an absent entry.
    fn failed(name: &str, e: KeyError) -> KeyringError {
        match e {
            KeyError::KeyDoesNotExist | KeyError::KeyRevoked | KeyError::KeyExpired => {
                KeyringError::Missing(name.to_owned())
            }
            KeyError::PermissionDenied => KeyringError::Unavailable(
                "the kernel refused the keyctl call (EPERM): a container's seccomp profile, like Docker's default, blocks the kernel keyring; use okta_token_file (or a systemd credential) instead".into(),
            ),
            // 38 is ENOSYS on Linux.
            KeyError::Unknown(38) => KeyringError::Unavailable(
                "this kernel has no keyring (keyctl: ENOSYS); use okta_token_file (or a systemd credential) instead".into(),
            ),
            KeyError::AccessDenied => KeyringError::Failed {
                name: name.to_owned(),
                detail: "this process may not read the entry (EACCES): store it again with `oktamirror keyring set`, as the user the mirror runs as (it lets every process of that user read it)".into(),
            },
            KeyError::OperationNotSupported => KeyringError::Unavailable(
                "the kernel keyring does not support this (ENOTSUP); use okta_token_file instead"
                    .into(),
            ),
            other => KeyringError::Failed {
                name: name.to_owned(),
                detail: format!("keyctl failed: {other:?}"),
            },
        }
    }

    pub(super) fn read(name: &str) -> Result<String, KeyringError> {
        let key = user_keyring()?.search(name).map_err(|e| failed(name, e))?;
        let bytes = key.read_to_vec().map_err(|e| failed(name, e))?;
        String::from_utf8(bytes).map_err(|_| KeyringError::Failed {
            name: name.to_owned(),
            detail: "the entry is not UTF-8 text".into(),
        })
    }

    pub(super) fn store(name: &str, secret: &str) -> Result<(), KeyringError> {
        if secret.len() > MAX_PAYLOAD {
            return Err(KeyringError::Failed {
                name: name.to_owned(),
                detail: format!(
                    "the secret is {} bytes; the kernel keyring holds at most {MAX_PAYLOAD}",
                    secret.len()
                ),
            });
        }
        let key = user_keyring()?
            .add_key(name, secret.as_bytes())
            .map_err(|e| failed(name, e))?;
        // By default only a process that possesses the key (its session keyring links the
        // user keyring) may read it; a service has a session of its own (systemd's default
        // `KeyringMode=private`), so every process of the user may read it, no other user.
        let perms = KeyPermissionsBuilder::builder()
            .posessor(Permission::ALL)
            .user(Permission::VIEW | Permission::READ | Permission::WRITE | Permission::SEARCH)
            .build();
        key.set_perms(perms).map_err(|e| failed(name, e))
    }

    pub(super) fn delete(name: &str) -> Result<(), KeyringError> {
        let ring = user_keyring()?;
        let key = ring.search(name).map_err(|e| failed(name, e))?;
        // Unlinked from the user keyring, the key is garbage-collected; invalidating it first
        // makes it unreadable at once through any other link.
        key.invalidate()
            .or_else(|_| ring.unlink_key(key))
            .map_err(|e| failed(name, e))
    }

    pub(super) fn describe() -> String {
        "the Linux kernel keyring (your user keyring: shared by your processes, kept after logout, lost at reboot)".into()
    }
}

/// The macOS Keychain, through the `keyring` crate: service `oktamirror`, account `name`.
#[cfg(target_os = "macos")]
mod backend {
    use super::KeyringError;

    fn entry(name: &str) -> Result<keyring::Entry, KeyringError> {
        keyring::Entry::new("oktamirror", name).map_err(|e| failed(name, e))
    }

    fn failed(name: &str, e: keyring::Error) -> KeyringError {
        match e {
            keyring::Error::NoEntry => KeyringError::Missing(name.to_owned()),
            keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_) => {
                KeyringError::Unavailable(format!("the Keychain refused access: {e}"))
            }
            other => KeyringError::Failed {
                name: name.to_owned(),
                detail: other.to_string(),
            },
        }
    }

    pub(super) fn read(name: &str) -> Result<String, KeyringError> {
        entry(name)?.get_password().map_err(|e| failed(name, e))
    }

    pub(super) fn store(name: &str, secret: &str) -> Result<(), KeyringError> {
        entry(name)?
            .set_password(secret)
            .map_err(|e| failed(name, e))
    }

    pub(super) fn delete(name: &str) -> Result<(), KeyringError> {
        entry(name)?
            .delete_credential()
            .map_err(|e| failed(name, e))
    }

    pub(super) fn describe() -> String {
        "the macOS Keychain (service oktamirror)".into()
    }
}

/// Elsewhere there is no keyring support: every call says so.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod backend {
    use super::KeyringError;

    fn unsupported() -> KeyringError {
        KeyringError::Unavailable(
            "okta_token_keyring works on Linux (the kernel keyring) and macOS (the Keychain); use okta_token_file here".into(),
        )
    }

    pub(super) fn read(_: &str) -> Result<String, KeyringError> {
        Err(unsupported())
    }

    pub(super) fn store(_: &str, _: &str) -> Result<(), KeyringError> {
        Err(unsupported())
    }

    pub(super) fn delete(_: &str) -> Result<(), KeyringError> {
        Err(unsupported())
    }

    pub(super) fn describe() -> String {
        "no OS keyring (unsupported on this system)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("oktamirror/acme").is_ok());
        assert!(check_name("a b").is_err());
        assert!(check_name("").is_err());
        let e = read("bad name").unwrap_err().to_string();
        assert!(e.contains("not a keyring entry name"), "{e}");
    }
}

/// The kernel keyring for real: store, read, replace, delete. Where the environment forbids
/// keyctl (seccomp's EPERM, ENOSYS) the test says so precisely instead of passing silently.
#[cfg(all(test, target_os = "linux"))]
mod kernel_tests {
    use super::*;

    #[test]
    fn secrets_round_trip_through_the_user_keyring() {
        let name = format!("oktamirror-unit/{}", std::process::id());
        match store(&name, &Secret::new("first-secret")) {
            Err(KeyringError::Unavailable(why)) => {
                eprintln!("NOT RUN: the kernel keyring is forbidden here: {why}");
                return;
            }
            other => other.expect("store"),
        }
        assert_eq!(read(&name).expect("read").expose(), "first-secret");
        store(&name, &Secret::new("  second-secret\n")).expect("replace");
        assert_eq!(read(&name).expect("read").expose(), "second-secret");
        delete(&name).expect("delete");
        let e = read(&name).unwrap_err();
        assert!(matches!(e, KeyringError::Missing(_)), "{e}");
        assert!(!e.to_string().contains("secret-"), "{e}");
        assert!(matches!(delete(&name), Err(KeyringError::Missing(_))));
    }
}
