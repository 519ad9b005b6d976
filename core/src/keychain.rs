//! IAM users' long-term keys in the OS keychain: the Secret Service on Linux (GNOME
//! Keyring, KWallet, KeePassXC), the Keychain on macOS, the Credential Manager on
//! Windows, all through the `keyring` crate.
//!
//! One item per account: service `mfa-tray`, user the account's profile name, and as its
//! secret a small JSON object with the access key id and the secret access key. On Linux
//! `secret-tool lookup service mfa-tray username NAME` finds it.
//!
//! A locked keychain asks the desktop to prompt for its password, and a call waits for
//! the answer; with no prompt to show (a headless session) it would wait for ever. So
//! each call runs on a thread of its own and is given up after [`timeout`] (a minute, or
//! `MFA_TRAY_KEYCHAIN_TIMEOUT` seconds), as "not available".

use std::sync::mpsc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::credentials::{is_access_key_id, is_secret_access_key, LongTermKeys};
use crate::secret::Secret;

/// The keychain service name of every item mfa-tray stores.
pub const SERVICE: &str = "mfa-tray";

/// Why the keychain could not be used. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeychainError {
    /// No keychain answers (no Secret Service on the session bus, say), or it is locked
    /// and was not unlocked.
    #[error("the OS keychain is not available ({0}). Unlock it, or start one (GNOME Keyring, KWallet, KeePassXC)")]
    Unavailable(String),
    /// The keychain did not answer in time: it may still do what it was asked.
    #[error("the OS keychain did not answer within {0} s (is it locked, waiting for its password?); whether it did what was asked is not known")]
    TimedOut(u64),
    /// The item exists but does not hold what mfa-tray stored.
    #[error("the keychain item for {0} (service mfa-tray) is not one mfa-tray wrote; remove it with your keychain's tool, then add the account again")]
    Garbled(String),
    /// More than one item matches (another program added one with the same attributes).
    #[error("the keychain holds several items for {0} (service mfa-tray); remove the extras with your keychain's tool")]
    Ambiguous(String),
    /// The item found belongs to an account whose name differs only in case: the
    /// keychain (Windows' Credential Manager) does not tell such names apart.
    #[error("{asked} and the account {held} differ only in case, and {KEYCHAIN} does not tell such names apart: it holds one item for both. Pick a name that differs in more than case")]
    OtherCase {
        /// The name asked for.
        asked: String,
        /// The account whose item it is.
        held: String,
    },
}

/// The keychain, named for people.
const KEYCHAIN: &str = if cfg!(windows) { "the Windows Credential Manager" } else { "the keychain" };

/// Whether the keychain takes two account names for one: on Windows, the Credential
/// Manager compares names without regard to case.
pub fn same_item(a: &str, b: &str) -> bool {
    if cfg!(windows) {
        a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
    } else {
        a == b
    }
}

/// How long a keychain call may take, unlock prompt included.
pub fn timeout() -> Duration {
    let secs = std::env::var("MFA_TRAY_KEYCHAIN_TIMEOUT").ok().and_then(|v| v.parse::<u64>().ok()).filter(|s| (1..=600).contains(s));
    Duration::from_secs(secs.unwrap_or(60))
}

/// Runs a keychain call on its own thread, giving up after [`timeout`].
fn bounded<T: Send + 'static>(call: impl FnOnce() -> Result<T, KeychainError> + Send + 'static) -> Result<T, KeychainError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("keychain".into())
        .spawn(move || {
            let _ = tx.send(call());
        })
        .map_err(|e| KeychainError::Unavailable(e.to_string()))?;
    let limit = timeout();
    rx.recv_timeout(limit).unwrap_or(Err(KeychainError::TimedOut(limit.as_secs())))
}

fn entry(account: &str) -> Result<keyring::Entry, KeychainError> {
    keyring::Entry::new(SERVICE, account).map_err(unavailable)
}

/// A keyring failure for `account`'s item.
fn failed(account: &str, e: keyring::Error) -> KeychainError {
    match e {
        keyring::Error::Ambiguous(_) => KeychainError::Ambiguous(account.to_owned()),
        other => unavailable(other),
    }
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

/// Where accounts' keys are kept. [`OsKeychain`] is the OS keychain; a test puts in
/// one that fails when told, to reach what a real keychain does only rarely (a store
/// that took but could not be read back).
pub trait Keychain: Send + Sync {
    /// The keys stored for `account`, if any ([`load`]).
    fn load(&self, account: &str) -> Result<Option<LongTermKeys>, KeychainError>;
    /// Stores `keys` for `account` and reads them back ([`store`]).
    fn store(&self, account: &str, keys: &LongTermKeys) -> Result<(), KeychainError>;
    /// Removes the keys of `account`; `false` if there were none ([`delete`]).
    fn delete(&self, account: &str) -> Result<bool, KeychainError>;
    /// The secret kept under `item` (not an account's keys: an MFA session kept for
    /// tools), if any ([`load_item`]).
    fn load_item(&self, item: &str) -> Result<Option<Secret>, KeychainError> {
        Err(KeychainError::Unavailable(format!("no item {item} in this keychain")))
    }
    /// Keeps `secret` under `item`, replacing what was there ([`store_item`]).
    fn store_item(&self, item: &str, _secret: &Secret) -> Result<(), KeychainError> {
        Err(KeychainError::Unavailable(format!("no item {item} in this keychain")))
    }
    /// Removes `item`; `false` if there was none.
    fn delete_item(&self, item: &str) -> Result<bool, KeychainError> {
        Err(KeychainError::Unavailable(format!("no item {item} in this keychain")))
    }
}

/// The OS keychain.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsKeychain;

impl Keychain for OsKeychain {
    fn load(&self, account: &str) -> Result<Option<LongTermKeys>, KeychainError> {
        load(account)
    }
    fn store(&self, account: &str, keys: &LongTermKeys) -> Result<(), KeychainError> {
        store(account, keys)
    }
    fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        delete(account)
    }
    fn load_item(&self, item: &str) -> Result<Option<Secret>, KeychainError> {
        load_item(item)
    }
    fn store_item(&self, item: &str, secret: &Secret) -> Result<(), KeychainError> {
        let (item, secret) = (item.to_owned(), secret.clone());
        bounded(move || entry(&item)?.set_password(secret.expose()).map_err(|e| failed(&item, e)))
    }
    fn delete_item(&self, item: &str) -> Result<bool, KeychainError> {
        let item = item.to_owned();
        bounded(move || match entry(&item)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(failed(&item, e)),
        })
    }
}

/// The secret kept under `item` (service `mfa-tray`), if any.
pub fn load_item(item: &str) -> Result<Option<Secret>, KeychainError> {
    let item = item.to_owned();
    bounded(move || match entry(&item)?.get_password() {
        Ok(text) => Ok(Some(Secret::new(text))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(failed(&item, e)),
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    /// The account, checked on reading: some keychains (Windows') match names without
    /// regard to case, and `Corp` must not read or remove the keys of `corp`.
    #[serde(default)]
    account: Option<String>,
    aws_access_key_id: String,
    aws_secret_access_key: String,
}

/// The keys stored for `account`, if any.
pub fn load(account: &str) -> Result<Option<LongTermKeys>, KeychainError> {
    let account = account.to_owned();
    bounded(move || load_now(&account))
}

fn load_now(account: &str) -> Result<Option<LongTermKeys>, KeychainError> {
    let text = match entry(account)?.get_password() {
        Ok(text) => Zeroizing::new(text),
        Err(keyring::Error::NoEntry) => return Ok(None),
        Err(e) => return Err(failed(account, e)),
    };
    let garbled = || KeychainError::Garbled(account.to_owned());
    let stored: Stored = serde_json::from_str(&text).map_err(|_| garbled())?;
    match stored.account.as_deref() {
        // Another account's item, found by a keychain that folds case: never read,
        // replaced or removed for this one.
        Some(held) if held != account => return Err(KeychainError::OtherCase { asked: account.to_owned(), held: held.to_owned() }),
        _ => {}
    }
    // The secret moves into a Secret, which wipes it when dropped.
    let keys = LongTermKeys { access_key_id: stored.aws_access_key_id, secret_access_key: Secret::new(stored.aws_secret_access_key) };
    // Whatever else put an item here, only the shape of keys goes further.
    if !is_access_key_id(&keys.access_key_id) || !is_secret_access_key(keys.secret_access_key.expose()) {
        return Err(garbled());
    }
    Ok(Some(keys))
}

/// Stores `keys` for `account` (replacing what was there), then reads them back: the
/// keys are stored only if the keychain returns exactly them.
pub fn store(account: &str, keys: &LongTermKeys) -> Result<(), KeychainError> {
    let (account, keys) = (account.to_owned(), keys.clone());
    bounded(move || store_now(&account, &keys))
}

fn store_now(account: &str, keys: &LongTermKeys) -> Result<(), KeychainError> {
    // Never over another account's item (a keychain that folds case).
    if let Err(e @ KeychainError::OtherCase { .. }) = load_now(account) {
        return Err(e);
    }
    let stored = Stored {
        account: Some(account.to_owned()),
        aws_access_key_id: keys.access_key_id.clone(),
        aws_secret_access_key: keys.secret_access_key.expose().to_owned(),
    };
    let text = Zeroizing::new(serde_json::to_string(&stored).expect("two strings serialise"));
    drop(Zeroizing::new(stored.aws_secret_access_key));
    entry(account)?.set_password(&text).map_err(|e| failed(account, e))?;
    match load_now(account)? {
        Some(back) if &back == keys => Ok(()),
        _ => Err(KeychainError::Unavailable("it did not return the keys just stored".into())),
    }
}

/// Removes the keys of `account`; `false` if there were none.
pub fn delete(account: &str) -> Result<bool, KeychainError> {
    let account = account.to_owned();
    bounded(move || delete_now(&account))
}

fn delete_now(account: &str) -> Result<bool, KeychainError> {
    // Only this account's item (see `Stored::account`); a garbled one may go.
    match load_now(account) {
        Ok(None) => return Ok(false),
        Err(e @ KeychainError::OtherCase { .. }) => return Err(e),
        _ => {}
    }
    match entry(account)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(failed(account, e)),
    }
}
