//! IAM users' long-term keys in the OS keychain: the Secret Service on Linux (GNOME
//! Keyring, KWallet, KeePassXC), the Keychain on macOS, the Credential Manager on
//! Windows, all through the `keyring` crate.
//!
//! One item per account: service `mfa-tray`, user the account's profile name, and as its
//! secret a small JSON object with the access key id and the secret access key. On Linux
//! `secret-tool lookup service mfa-tray username NAME` finds it. A call may block while
//! the desktop asks the user to unlock the keychain.

use zeroize::Zeroizing;

use crate::credentials::LongTermKeys;
use crate::secret::Secret;

/// The keychain service name of every item mfa-tray stores.
pub const SERVICE: &str = "mfa-tray";

/// Why the keychain could not be used. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeychainError {
    /// No keychain answers (no Secret Service on the session bus, say), or it is locked
    /// and was not unlocked.
    #[error("the OS keychain is not available ({0}). Unlock it or start one (GNOME Keyring, KWallet, KeePassXC), or keep the keys in the credentials file with --store file")]
    Unavailable(String),
    /// The item exists but does not hold what mfa-tray stored.
    #[error("the keychain item for {0} (service mfa-tray) is not one mfa-tray wrote; remove it with your keychain's tool, then add the account again")]
    Garbled(String),
}

fn entry(account: &str) -> Result<keyring::Entry, KeychainError> {
    keyring::Entry::new(SERVICE, account).map_err(unavailable)
}

fn unavailable(e: keyring::Error) -> KeychainError {
    // The keyring's messages name the platform's failure (a D-Bus error, a locked
    // collection); they never carry the secret.
    let text = match &e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => inner.to_string(),
        other => other.to_string(),
    };
    KeychainError::Unavailable(crate::secret::scrub(&text, &[]))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    aws_access_key_id: String,
    aws_secret_access_key: String,
}

/// The keys stored for `account`, if any.
pub fn load(account: &str) -> Result<Option<LongTermKeys>, KeychainError> {
    let text = match entry(account)?.get_password() {
        Ok(text) => Zeroizing::new(text),
        Err(keyring::Error::NoEntry) => return Ok(None),
        Err(e) => return Err(unavailable(e)),
    };
    let stored: Stored = serde_json::from_str(&text).map_err(|_| KeychainError::Garbled(account.to_owned()))?;
    // The secret moves into a Secret, which wipes it when dropped.
    Ok(Some(LongTermKeys { access_key_id: stored.aws_access_key_id, secret_access_key: Secret::new(stored.aws_secret_access_key) }))
}

/// Stores `keys` for `account` (replacing what was there), then reads them back: the
/// keys are stored only if the keychain returns exactly them.
pub fn store(account: &str, keys: &LongTermKeys) -> Result<(), KeychainError> {
    let stored = Stored { aws_access_key_id: keys.access_key_id.clone(), aws_secret_access_key: keys.secret_access_key.expose().to_owned() };
    let text = Zeroizing::new(serde_json::to_string(&stored).expect("two strings serialise"));
    drop(Zeroizing::new(stored.aws_secret_access_key));
    entry(account)?.set_password(&text).map_err(unavailable)?;
    match load(account)? {
        Some(back) if &back == keys => Ok(()),
        _ => Err(KeychainError::Unavailable("it did not return the keys just stored".into())),
    }
}

/// Removes the keys of `account`; `false` if there were none.
pub fn delete(account: &str) -> Result<bool, KeychainError> {
    match entry(account)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(unavailable(e)),
    }
}
