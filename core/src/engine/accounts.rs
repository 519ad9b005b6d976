//! Accounts and roles: adding an IAM user (its keys checked with STS, its MFA device
//! found with IAM), moving its long-term keys between the credentials file and the OS
//! keychain, rotating and removing them, and adding role profiles.
//!
//! Every change is checked first (the name, the keys, both files' preflight and a trial
//! of each edit) and then made in an order that can be undone: keys are stored before
//! the profile that points at them is written, and a failed step takes back the ones
//! before it. The one deletion mfa-tray makes in the credentials file is the long-term
//! section that `import` has just moved into the keychain and read back.

use std::time::Duration;

use crate::aws::{check_region, Iam, Identity, Signer, Sts};
use crate::credentials::{is_access_key_id, is_secret_access_key, Holds, LongTermKeys, SectionState};
use crate::error::{Error, ErrorKind};
use crate::file::{self, FileError};
use crate::ini::{check_section_name, Document};
use crate::keychain;
use crate::profiles::{config_profiles, KeyStore, KEYS_KEY, ON_DEMAND_ARN_KEY};
use crate::types::{check_duration, MfaSerial, RoleArn, ROLE_DURATION};

use super::{keychain_error, Engine, Snapshot};

const ACCESS_KEY: &str = "aws_access_key_id";
const SECRET_KEY: &str = "aws_secret_access_key";
/// aws-mfa's name for the device, in the long-term section.
const AWS_MFA_DEVICE: &str = "aws_mfa_device";

/// What a new account's keys turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCheck {
    /// Who the keys belong to (GetCallerIdentity).
    pub identity: Identity,
    /// The user's MFA devices (ListMFADevices), when IAM let the user list them.
    pub devices: Result<Vec<String>, String>,
}

/// A role profile to add.
#[derive(Debug, Clone, Default)]
pub struct NewRole {
    /// The profile name.
    pub name: String,
    /// The role's ARN.
    pub arn: String,
    /// The account (MFA session profile) that assumes it.
    pub source: String,
    /// ExternalId, if the role's trust policy wants one.
    pub external_id: Option<String>,
    /// `duration_seconds`.
    pub duration: Option<Duration>,
    /// `role_session_name`.
    pub session_name: Option<String>,
    /// Tools fetch it with `credential_process` (the tray keeps its credentials in
    /// memory) instead of mfa-tray writing it to the credentials file.
    pub credential_process: bool,
}

/// What `rotate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The new access key id, now stored.
    pub new_key: String,
    /// The old one, and whether IAM deleted it (if not, why).
    pub old_key: String,
    /// `None` if the old key was deleted; else why it is still active.
    pub old_key_left: Option<String>,
}

/// Checks a profile name mfa-tray will write: one word of letters, digits and
/// `_ - . @ + = ,` (what every AWS tool reads as the same name), at most 64.
pub fn check_profile_name(name: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.@+=,".contains(c));
    if ok && check_section_name(name).is_ok() {
        Ok(())
    } else {
        Err(Error::bad_input("bad_name", format!("{name:?} cannot be a profile name: use up to 64 letters, digits and _ - . @ + = , (no spaces)")))
    }
}

/// Checks that pasted keys look like an IAM user's long-term keys.
pub fn check_keys(keys: &LongTermKeys) -> Result<(), Error> {
    let id = &keys.access_key_id;
    if id.starts_with("ASIA") {
        return Err(Error::bad_input(
            "bad_keys",
            "that access key id (ASIA...) belongs to temporary credentials; an account needs the IAM user's own access key (AKIA...)",
        ));
    }
    if !is_access_key_id(id) {
        return Err(Error::bad_input("bad_keys", "that is not an access key id: it is 16 to 128 capital letters and digits, like AKIAIOSFODNN7EXAMPLE"));
    }
    if !is_secret_access_key(keys.secret_access_key.expose()) {
        return Err(Error::bad_input("bad_keys", "that is not a secret access key: it is 16 to 128 characters with no spaces (40 for IAM keys)"));
    }
    Ok(())
}

/// The config section of profile `name`: the one that names it now, else the spelling
/// mfa-tray writes.
fn config_section(config: &Document, name: &str) -> String {
    match config_profiles(config).into_iter().find(|(n, _)| n == name) {
        Some((_, section)) => section.to_owned(),
        None if name == "default" => "default".to_owned(),
        None => format!("profile {name}"),
    }
}

impl Engine {
    /// Refuses a name some profile, section or keychain item already uses. An account
    /// whose profile says its keys are in the keychain, with no keys anywhere (removed,
    /// or never stored), may be added again. `account` is where a new account's keys
    /// will go (`None` for a role): for the keychain, an unreachable keychain is refused
    /// here, before any key is asked for.
    pub fn check_new_name(&self, snap: &Snapshot, name: &str, account: Option<KeyStore>) -> Result<(), Error> {
        check_profile_name(name)?;
        let taken = |what: String| Err(Error::bad_input("name_taken", format!("{name} already exists: {what}; pick another name")));
        if name == self.settings.target_profile {
            return taken(format!("[{name}] is where the active role's credentials go (target_profile in the settings)"));
        }
        let suffix = &self.settings.long_term_suffix;
        if name.ends_with(suffix.as_str()) {
            return Err(Error::bad_input("bad_name", format!("{name} ends with {suffix}, which mfa-tray keeps for long-term keys in the credentials file")));
        }
        let long_term = format!("{name}{suffix}");
        if snap.credentials.has_section(&long_term) {
            return taken(format!("[{long_term}] in {} holds its keys (`mfa-tray keys import {name}` moves them to the keychain)", snap.files.credentials.display()));
        }
        let rekey = account.is_some() && snap.profiles.session(name).is_some_and(|p| p.keys == KeyStore::Keychain);
        if config_profiles(&snap.config).iter().any(|(n, _)| n == name) && !rekey {
            return taken(format!("[{}] in {}", config_section(&snap.config, name), snap.files.config.display()));
        }
        // Re-keying an account that has logged in: its MFA session's section is mfa-tray's.
        let own_session = rekey
            && matches!(SectionState::of(&snap.credentials, name), SectionState::Managed(m) if m.holds == Holds::Session(name.to_owned()));
        if snap.credentials.has_section(name) && !own_session {
            return taken(format!("[{name}] in {}", snap.files.credentials.display()));
        }
        let in_keychain = match (account, keychain::load(name)) {
            (None, _) => false,
            (Some(_), Ok(found)) => found.is_some(),
            // Keys bound for the file do not need the keychain.
            (Some(KeyStore::File), Err(_)) => false,
            (Some(KeyStore::Keychain), Err(e)) => return Err(offer_file(keychain_error(name, e))),
        };
        if in_keychain {
            return taken(format!("the keychain holds keys for it (`mfa-tray keys remove {name}` removes them)"));
        }
        Ok(())
    }

    /// Checks new keys with AWS: who they belong to (GetCallerIdentity, which refuses
    /// wrong keys), and the user's MFA devices (ListMFADevices) unless `list_devices` is
    /// false. Stores nothing.
    pub async fn check_account(&self, keys: &LongTermKeys, region: Option<&str>, list_devices: bool) -> Result<AccountCheck, Error> {
        check_keys(keys)?;
        if let Some(r) = region {
            check_region(r)?;
        }
        let endpoints = self.endpoints(region, None);
        let identity = Sts::new(Signer::LongTerm(keys), &endpoints)
            .caller_identity()
            .await
            .map_err(|e| self.account_error(e, "checking the keys (GetCallerIdentity)"))?;
        let devices = if list_devices {
            match Iam::new(Signer::LongTerm(keys), &endpoints).mfa_devices(identity.user_name()).await {
                Ok(d) => Ok(d),
                Err(crate::aws::AwsError::Refused { code, message }) => Err(format!("{code}: {message}")),
                Err(e) => return Err(self.account_error(e, "listing the MFA devices (IAM ListMFADevices)")),
            }
        } else {
            Ok(Vec::new())
        };
        Ok(AccountCheck { identity, devices })
    }

    fn account_error(&self, e: crate::aws::AwsError, what: &str) -> Error {
        let fixes = crate::error::Fixes { keys_section: "the keys you entered", serial_section: "the config file", login: "mfa-tray login" };
        Error::from_aws(e, what, fixes)
    }

    /// Adds account `name`: stores `keys` in `store` and writes `[profile NAME]` with
    /// the device (and region) into the config file. Nothing is left behind on failure.
    pub fn add_account(&self, name: &str, keys: &LongTermKeys, serial: &MfaSerial, region: Option<&str>, store: KeyStore) -> Result<(), Error> {
        check_keys(keys)?;
        if let Some(r) = region {
            check_region(r)?;
        }
        let snap = self.snapshot()?;
        self.check_new_name(&snap, name, Some(store))?;
        let section = config_section(&snap.config, name);
        let mut entries = vec![("mfa_serial", serial.as_str()), (KEYS_KEY, store.as_str())];
        if let Some(r) = region {
            entries.push(("region", r));
        }
        // Both edits tried on copies, both files checked for writing, before anything.
        let long_term = format!("{name}{}", self.settings.long_term_suffix);
        self.try_edit(&self.files.config, &snap.config, |doc| doc.set(&section, &entries))?;
        if store == KeyStore::File {
            self.try_edit(&self.files.credentials, &snap.credentials, |doc| doc.set(&long_term, &key_entries(keys)))?;
        }
        match store {
            KeyStore::Keychain => keychain::store(name, keys).map_err(|e| offer_file(keychain_error(name, e)))?,
            KeyStore::File => self.write_new_keys(&long_term, keys)?,
        }
        let written = file::update(&self.files.config, self.settings.lock_timeout, |doc| {
            let fresh = config_profiles(doc).iter().all(|(n, _)| n != name) || section_in(doc, &section, KEYS_KEY, KeyStore::Keychain.as_str());
            if !fresh {
                return Err(taken(&self.files.config, &section));
            }
            doc.set(&section, &entries).map_err(|source| FileError::Edit { path: self.files.config.clone(), source })
        });
        if let Err(e) = written {
            // Take the keys back: the profile that would use them was not written.
            match store {
                KeyStore::Keychain => {
                    let _ = keychain::delete(name);
                }
                KeyStore::File => {
                    let _ = self.remove_long_term(&long_term, keys);
                }
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// Moves account `name`'s keys from `[NAME-long-term]` into the keychain: stored,
    /// read back, the config profile told, and only then the section removed from the
    /// credentials file (byte-exact elsewhere; the previous version kept as a backup).
    pub fn import_keys(&self, name: &str) -> Result<(), Error> {
        let snap = self.snapshot()?;
        let p = snap.session_profile(name)?;
        let section = p.long_term_section.clone();
        let Some(keys) = LongTermKeys::read(&snap.credentials, &section) else {
            return Err(Error::bad_input("no_keys", format!("there are no keys in [{section}] of {} to import", self.files.credentials.display())));
        };
        let props = snap.credentials.properties(&section);
        let extra: Vec<&str> = props.iter().map(|(k, _)| *k).filter(|k| ![ACCESS_KEY, SECRET_KEY, AWS_MFA_DEVICE].contains(k)).collect();
        if !extra.is_empty() {
            return Err(Error::bad_input(
                "import_would_lose",
                format!("[{section}] also holds {}; move those to [profile {name}] in the config file first, so removing the section loses nothing", extra.join(", ")),
            ));
        }
        let config_section = config_section(&snap.config, name);
        let serial = p.mfa_serial.to_string();
        let mut entries = vec![(KEYS_KEY, KeyStore::Keychain.as_str())];
        if crate::profiles::profile_value(&snap.config, &Document::default(), name, "mfa_serial").is_none() {
            // The device was aws-mfa's key in the section that goes: keep it in the profile.
            entries.push(("mfa_serial", serial.as_str()));
        }
        self.try_edit(&self.files.config, &snap.config, |doc| doc.set(&config_section, &entries))?;
        self.try_edit(&self.files.credentials, &snap.credentials, |doc| doc.remove_section(&section).map(|_| ()))?;
        let before = keychain::load(name).map_err(|e| keychain_error(name, e))?;
        if before.as_ref().is_some_and(|k| *k != keys) {
            return Err(Error::bad_input(
                "name_taken",
                format!("the keychain already holds other keys for {name}; `mfa-tray keys remove {name}` removes them, then import again"),
            ));
        }
        keychain::store(name, &keys).map_err(|e| keychain_error(name, e))?;
        let told = file::update(&self.files.config, self.settings.lock_timeout, |doc| {
            doc.set(&config_section, &entries).map_err(|source| FileError::Edit { path: self.files.config.clone(), source })
        });
        if let Err(e) = told {
            // The keys stay where they were; the copy in the keychain goes again.
            if before.is_none() {
                let _ = keychain::delete(name);
            }
            return Err(e.into());
        }
        self.remove_long_term(&section, &keys).map_err(|e| {
            Error::new(
                e.kind,
                e.code,
                format!("{}. The keys are now in the keychain too (mfa-tray uses them from there); run `mfa-tray keys import {name}` again to remove them from the file", e.message),
            )
        })
    }

    /// Moves account `name`'s keys from the keychain back into `[NAME-long-term]`.
    /// Returns a warning if all is done but the keychain's copy could not be removed.
    pub fn export_keys(&self, name: &str) -> Result<Option<String>, Error> {
        let snap = self.snapshot()?;
        let p = snap.session_profile(name)?;
        if p.keys != KeyStore::Keychain {
            return Err(Error::bad_input("not_in_keychain", format!("the keys of {name} are already in [{}] of the credentials file", p.long_term_section)));
        }
        let keys = keychain::load(name)
            .map_err(|e| keychain_error(name, e))?
            .ok_or_else(|| Error::bad_input("no_keys", format!("the keychain has no keys for {name}")))?;
        let section = p.long_term_section.clone();
        let config_section = config_section(&snap.config, name);
        let entries = [(KEYS_KEY, KeyStore::File.as_str())];
        self.try_edit(&self.files.config, &snap.config, |doc| doc.set(&config_section, &entries))?;
        match LongTermKeys::read(&snap.credentials, &section) {
            Some(there) if there == keys => {}
            Some(_) => return Err(self.not_ours(&section, "it holds other keys")),
            None => {
                self.try_edit(&self.files.credentials, &snap.credentials, |doc| doc.set(&section, &key_entries(&keys)))?;
                self.write_new_keys(&section, &keys)?;
            }
        }
        file::update(&self.files.config, self.settings.lock_timeout, |doc| {
            doc.set(&config_section, &entries).map_err(|source| FileError::Edit { path: self.files.config.clone(), source })
        })?;
        Ok(keychain::delete(name).err().map(|e| {
            format!("the keys are in the file now and mfa-tray uses them from there, but their copy in the keychain stays ({}); `mfa-tray keys remove {name}` removes it", keychain_error(name, e).message)
        }))
    }

    /// Removes account `name`'s keys from the keychain: those of an account whose
    /// profile says they are there, or left there with no profile at all. Keys in the
    /// credentials file are the user's to delete: mfa-tray says where they are instead.
    pub fn remove_keys(&self, name: &str) -> Result<(), Error> {
        let snap = self.snapshot()?;
        if let Some(p) = snap.profiles.session(name) {
            if p.keys == KeyStore::File {
                return Err(Error::bad_input(
                    "keys_in_file",
                    format!("the keys of {name} are in [{}] of {}; mfa-tray does not delete from that file: delete the section yourself", p.long_term_section, self.files.credentials.display()),
                ));
            }
        } else if config_profiles(&snap.config).iter().any(|(n, _)| n == name) {
            return Err(Error::bad_input("not_an_account", format!("{name} is not an account whose keys mfa-tray keeps (see `mfa-tray status`)")));
        }
        match keychain::delete(name).map_err(|e| keychain_error(name, e))? {
            true => Ok(()),
            false => Err(Error::bad_input("no_keys", format!("the keychain has no keys for {name}"))),
        }
    }

    /// Rotates account `name`'s access key: CreateAccessKey, the new pair checked with
    /// GetCallerIdentity (same user), stored where the old one was, then DeleteAccessKey
    /// of the old one. If storing fails, the new key is deleted again.
    pub async fn rotate_keys(&self, name: &str) -> Result<Rotated, Error> {
        let snap = self.snapshot()?;
        let p = snap.session_profile(name)?.clone();
        let old = self.long_term_keys(&snap, &p)?;
        let endpoints = self.endpoints(p.region.as_deref(), p.endpoint_url.as_deref());
        if p.keys == KeyStore::File {
            let section = p.long_term_section.clone();
            self.try_edit(&self.files.credentials, &snap.credentials, |doc| doc.set(&section, &key_entries(&old)))?;
        }
        let who = Sts::new(Signer::LongTerm(&old), &endpoints).caller_identity().await.map_err(|e| self.account_error(e, "checking the current keys"))?;
        let new = Iam::new(Signer::LongTerm(&old), &endpoints)
            .create_access_key(who.user_name())
            .await
            .map_err(|e| self.account_error(e, &format!("creating a new access key for {name} (IAM CreateAccessKey; a user has at most two)")))?;
        // IAM takes a few seconds to make a new key usable everywhere.
        let mut check = Err(Error::bad_input("rotate", "not checked"));
        for _ in 0..15 {
            check = Sts::new(Signer::LongTerm(&new), &endpoints).caller_identity().await.map_err(|e| self.account_error(e, "checking the new key"));
            match &check {
                Ok(_) => break,
                Err(e) if e.code == "invalid_keys" => tokio::time::sleep(Duration::from_secs(1)).await,
                Err(_) => break,
            }
        }
        match check {
            Ok(id) if id.arn == who.arn => {}
            Ok(id) => {
                let why = Error::new(ErrorKind::AwsRefused, "rotate", format!("the new key belongs to {}, not {}", id.arn, who.arn));
                return Err(take_back(why, &who, &old, &new, &endpoints).await);
            }
            Err(e) => return Err(take_back(e, &who, &old, &new, &endpoints).await),
        }
        let stored = match p.keys {
            KeyStore::Keychain => keychain::store(name, &new).map_err(|e| keychain_error(name, e)),
            KeyStore::File => self.replace_keys(&p.long_term_section, &old, &new),
        };
        match stored {
            Ok(()) => {}
            // The keychain may still store the new key: both stay active, and the user is told.
            Err(e) if e.code == "keychain_timeout" => {
                return Err(Error::new(
                    e.kind,
                    e.code,
                    format!("{}. Both keys stay active in IAM: the new {} (in the keychain if it finished) and the old {}; check with `mfa-tray whoami --profile {name}` after a login, then delete the one not in use in the IAM console", e.message, new.access_key_id, old.access_key_id),
                ))
            }
            Err(e) => return Err(take_back(e, &who, &old, &new, &endpoints).await),
        }
        let old_key_left = Iam::new(Signer::LongTerm(&new), &endpoints).delete_access_key(who.user_name(), &old.access_key_id).await.err().map(|e| e.to_string());
        Ok(Rotated { new_key: new.access_key_id.clone(), old_key: old.access_key_id.clone(), old_key_left })
    }

    /// Adds a role profile to the config file.
    pub fn add_role(&self, role: &NewRole) -> Result<(), Error> {
        let snap = self.snapshot()?;
        self.check_new_name(&snap, &role.name, None)?;
        let arn: RoleArn = role.arn.parse().map_err(|e| Error::bad_input("bad_arn", format!("{e}")))?;
        if snap.profiles.session(&role.source).is_none() {
            return Err(snap.unknown(&role.source, "account (MFA session)", snap.profiles.sessions.iter().map(|p| p.name.as_str()).collect()));
        }
        let duration = role.duration.map(|d| d.as_secs().to_string());
        if let Some(d) = role.duration {
            check_duration(d, ROLE_DURATION, "AssumeRole").map_err(|e| Error::bad_input("bad_duration", e.to_string()))?;
        }
        let word = |what: &str, v: &str, max: usize| {
            let ok = (2..=max).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
            if ok {
                Ok(())
            } else {
                Err(Error::bad_input("bad_input", format!("{v:?} is not a valid {what}")))
            }
        };
        let command = self.credential_process_command(&role.name);
        let mut entries = match role.credential_process {
            // botocore runs credential_process only for a profile without role_arn.
            true => vec![("credential_process", command.as_str()), (ON_DEMAND_ARN_KEY, arn.as_str()), ("source_profile", role.source.as_str())],
            false => vec![("role_arn", arn.as_str()), ("source_profile", role.source.as_str())],
        };
        if let Some(x) = &role.external_id {
            word("external id", x, 1224)?;
            entries.push(("external_id", x));
        }
        if let Some(d) = &duration {
            entries.push(("duration_seconds", d));
        }
        if let Some(s) = &role.session_name {
            word("role session name", s, 64)?;
            entries.push(("role_session_name", s));
        }
        let section = config_section(&snap.config, &role.name);
        file::update(&self.files.config, self.settings.lock_timeout, |doc| {
            if config_profiles(doc).iter().any(|(n, _)| *n == role.name) {
                return Err(taken(&self.files.config, &section));
            }
            doc.set(&section, &entries).map_err(|source| FileError::Edit { path: self.files.config.clone(), source })
        })?;
        Ok(())
    }

    /// `mfa-tray credential-process NAME`, naming the CLI by its full path when the
    /// `mfa-tray` on the PATH (if any) is not this one.
    pub fn credential_process_command(&self, profile: &str) -> String {
        let on_path = self.env.var("PATH").and_then(|path| std::env::split_paths(&path).map(|d| d.join("mfa-tray")).find(|p| p.is_file()));
        let ours = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join(format!("mfa-tray{}", std::env::consts::EXE_SUFFIX)))).filter(|p| p.is_file());
        let program = match (on_path, ours) {
            (Some(found), Some(ours)) if !same_file(&found, &ours) => shell_word(&ours.to_string_lossy()),
            (None, Some(ours)) => shell_word(&ours.to_string_lossy()),
            _ => "mfa-tray".to_owned(),
        };
        format!("{program} credential-process {}", shell_word(profile))
    }

    /// Writes `keys` into the new section `section` of the credentials file.
    fn write_new_keys(&self, section: &str, keys: &LongTermKeys) -> Result<(), Error> {
        let path = &self.files.credentials;
        file::update(path, self.settings.lock_timeout, |doc| {
            if doc.has_section(section) {
                return Err(taken(path, section));
            }
            doc.set(section, &key_entries(keys)).map_err(|source| FileError::Edit { path: path.clone(), source })
        })?;
        Ok(())
    }

    /// Puts `new` in place of `old` in `section`, if it still holds `old`.
    fn replace_keys(&self, section: &str, old: &LongTermKeys, new: &LongTermKeys) -> Result<(), Error> {
        let path = &self.files.credentials;
        file::update(path, self.settings.lock_timeout, |doc| {
            if LongTermKeys::read(doc, section).as_ref() != Some(old) {
                return Err(FileError::Superseded { path: path.clone(), section: section.to_owned() });
            }
            doc.set(section, &key_entries(new)).map_err(|source| FileError::Edit { path: path.clone(), source })
        })?;
        Ok(())
    }

    /// Removes `section` from the credentials file if it holds exactly `keys` (and at
    /// most aws-mfa's device key besides).
    fn remove_long_term(&self, section: &str, keys: &LongTermKeys) -> Result<(), Error> {
        let path = &self.files.credentials;
        file::update(path, self.settings.lock_timeout, |doc| {
            let same = LongTermKeys::read(doc, section).as_ref() == Some(keys)
                && doc.properties(section).iter().all(|(k, _)| [ACCESS_KEY, SECRET_KEY, AWS_MFA_DEVICE].contains(k))
                && SectionState::of(doc, section) == SectionState::LongTermKeys;
            if !same {
                return Err(FileError::Superseded { path: path.clone(), section: section.to_owned() });
            }
            doc.remove_section(section).map(|_| ()).map_err(|source| FileError::Edit { path: path.clone(), source })
        })?;
        Ok(())
    }

    fn not_ours(&self, section: &str, reason: &str) -> Error {
        FileError::NotOurs { path: self.files.credentials.clone(), section: section.to_owned(), reason: reason.to_owned() }.into()
    }
}

/// Deletes a new key that could not be put to use, with the old key, and says so.
async fn take_back(why: Error, who: &Identity, old: &LongTermKeys, new: &LongTermKeys, endpoints: &crate::aws::Endpoints) -> Error {
    let tail = match Iam::new(Signer::LongTerm(old), endpoints).delete_access_key(who.user_name(), &new.access_key_id).await {
        Ok(()) => "the new key was deleted again; the old one still works".to_owned(),
        Err(e) => format!("the new key {} could not be deleted again ({e}); delete it in the IAM console", new.access_key_id),
    };
    Error::new(why.kind, why.code, format!("{}; {tail}", why.message))
}

/// A keychain failure while adding an account: the file is the alternative.
fn offer_file(e: Error) -> Error {
    Error::new(e.kind, e.code, format!("{}; or keep the keys in the credentials file with --store file", e.message))
}

fn key_entries(keys: &LongTermKeys) -> [(&str, &str); 2] {
    [(ACCESS_KEY, keys.access_key_id.as_str()), (SECRET_KEY, keys.secret_access_key.expose())]
}

fn section_in(doc: &Document, section: &str, key: &str, value: &str) -> bool {
    doc.get(section, key).is_some_and(|v| v == value)
}

fn taken(path: &std::path::Path, section: &str) -> FileError {
    FileError::NotOurs { path: path.to_owned(), section: section.to_owned(), reason: "another program added it a moment ago".to_owned() }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// A word as botocore splits `credential_process` (POSIX shell rules): quoted when it
/// has anything but plain characters.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,".contains(c)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn names_and_keys() {
        for ok in ["corp", "my-corp_2", "a.b@c+d=e,f"] {
            assert!(check_profile_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a]b", "x\ny", "\"q\"", &"a".repeat(65), "ü"] {
            assert_eq!(check_profile_name(bad).unwrap_err().code, "bad_name", "{bad:?}");
        }
        let keys = |id: &str, secret: &str| LongTermKeys { access_key_id: id.into(), secret_access_key: Secret::new(secret) };
        assert!(check_keys(&keys("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")).is_ok());
        assert!(check_keys(&keys("ASIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")).unwrap_err().message.contains("temporary"));
        assert!(check_keys(&keys("akia", "x")).unwrap_err().message.contains("not an access key id"));
        assert!(check_keys(&keys("AKIAIOSFODNN7EXAMPLE", "has a space in it somewhere")).unwrap_err().message.contains("not a secret"));
        assert!(check_region("eu-west-1").is_ok() && check_region("EU west").is_err());
        let id = |arn: &str| Identity { account: "1".into(), arn: arn.into(), user_id: "u".into() };
        assert_eq!(id("arn:aws:iam::123456789012:user/alice").user_name(), Some("alice"));
        assert_eq!(id("arn:aws:iam::123456789012:user/team/a/bob").user_name(), Some("bob"));
        assert_eq!(id("arn:aws:iam::123456789012:root").user_name(), None);
        assert_eq!(id("arn:aws:sts::123456789012:assumed-role/R/s").user_name(), None);
    }

    #[test]
    fn credential_process_words_split_back_as_botocore_splits_them() {
        for word in ["/usr/bin/mfa-tray", "/home/a b/mfa-tray", "it's", "$HOME", "a\\b", ""] {
            let line = format!("{} credential-process ci", shell_word(word));
            assert_eq!(crate::profiles::shlex_split(&line).unwrap(), [word, "credential-process", "ci"], "{line}");
        }
        assert_eq!(shell_word("/usr/bin/mfa-tray"), "/usr/bin/mfa-tray");
    }
}
