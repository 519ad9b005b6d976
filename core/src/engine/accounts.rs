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
        // The keychain may take two names for one (Windows' compares them without case).
        if account == Some(KeyStore::Keychain) {
            if let Some(p) = snap.profiles.sessions.iter().find(|p| p.keys == KeyStore::Keychain && p.name != name && keychain::same_item(&p.name, name)) {
                return Err(keychain_error(name, keychain::KeychainError::OtherCase { asked: name.to_owned(), held: p.name.clone() }));
            }
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
        let in_keychain = match (account, self.keychain.load(name)) {
            (None, _) => false,
            (Some(_), Ok(found)) => found.is_some(),
            // Keys bound for the file do not need the keychain.
            (Some(KeyStore::File), Err(_)) => false,
            (Some(KeyStore::Keychain), Err(e @ keychain::KeychainError::OtherCase { .. })) => return Err(keychain_error(name, e)),
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
        let wrote = match store {
            KeyStore::Keychain => {
                self.keychain.store(name, keys).map_err(|e| offer_file(keychain_error(name, e)))?;
                None
            }
            KeyStore::File => Some(self.write_new_keys(&long_term, keys)?),
        };
        let written = file::update(&self.files.config, self.settings.lock_timeout, |doc| {
            let fresh = config_profiles(doc).iter().all(|(n, _)| n != name) || section_in(doc, &section, KEYS_KEY, KeyStore::Keychain.as_str());
            if !fresh {
                return Err(taken(&self.files.config, &section));
            }
            doc.set(&section, &entries).map_err(|source| FileError::Edit { path: self.files.config.clone(), source })
        });
        if let Err(e) = written {
            // Take the keys back: the profile that would use them was not written.
            match wrote {
                None => {
                    let _ = self.keychain.delete(name);
                }
                Some(written) => {
                    let _ = self.take_back_new_keys(&long_term, keys, written);
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
        let before = self.keychain.load(name).map_err(|e| keychain_error(name, e))?;
        if before.as_ref().is_some_and(|k| *k != keys) {
            return Err(Error::bad_input(
                "name_taken",
                format!("the keychain already holds other keys for {name}; `mfa-tray keys remove {name}` removes them, then import again"),
            ));
        }
        self.keychain.store(name, &keys).map_err(|e| keychain_error(name, e))?;
        let told = file::update(&self.files.config, self.settings.lock_timeout, |doc| {
            doc.set(&config_section, &entries).map_err(|source| FileError::Edit { path: self.files.config.clone(), source })
        });
        if let Err(e) = told {
            // The keys stay where they were; the copy in the keychain goes again.
            if before.is_none() {
                let _ = self.keychain.delete(name);
            }
            return Err(e.into());
        }
        self.remove_long_term(&section, &keys).map_err(|e| {
            e.reworded(|m| format!("{m}. The keys are now in the keychain too (mfa-tray uses them from there); run `mfa-tray keys import {name}` again to remove them from the file"))
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
        let keys = self.keychain.load(name)
            .map_err(|e| keychain_error(name, e))?
            .ok_or_else(|| Error::bad_input("no_keys", format!("the keychain has no keys for {name}")))?;
        let section = p.long_term_section.clone();
        let config_section = config_section(&snap.config, name);
        let entries = [(KEYS_KEY, KeyStore::File.as_str())];
        self.try_edit(&self.files.config, &snap.config, |doc| doc.set(&config_section, &entries))?;
        let wrote = match LongTermKeys::read(&snap.credentials, &section) {
            Some(there) if there == keys => None,
            Some(_) => return Err(self.not_ours(&section, "it holds other keys")),
            None => {
                self.try_edit(&self.files.credentials, &snap.credentials, |doc| doc.set(&section, &key_entries(&keys)))?;
                Some(self.write_new_keys(&section, &keys)?)
            }
        };
        let told = file::update(&self.files.config, self.settings.lock_timeout, |doc| {
            doc.set(&config_section, &entries).map_err(|source| FileError::Edit { path: self.files.config.clone(), source })
        });
        if let Err(e) = told {
            // The profile still says keychain, where the keys still are: the copy just
            // written to the file goes again.
            let e = Error::from(e);
            let Some(written) = wrote else { return Err(e) };
            let tail = match self.take_back_new_keys(&section, &keys, written) {
                Ok(()) => "the keys written to [{section}] were taken out again (they stay in the keychain, where the profile says they are)".replace("{section}", &section),
                Err(left) => format!("and the keys written to [{section}] could not be taken out again ({}): delete that section", left.message),
            };
            return Err(e.reworded(|m| format!("{m}; {tail}")));
        }
        Ok(self.keychain.delete(name).err().map(|e| {
            format!("the keys are in the file now and mfa-tray uses them from there, but their copy in the keychain stays ({}); `mfa-tray keys remove {name}` removes it", keychain_error(name, e).message)
        }))
    }

    /// Removes account `name`'s keys from the keychain: those of an account whose
    /// profile says they are there, or left there with no profile at all. Keys in the
    /// credentials file are the user's to delete: mfa-tray says where they are instead.
    pub fn remove_keys(&self, name: &str) -> Result<(), Error> {
        self.check_remove_keys(name)?;
        match self.keychain.delete(name).map_err(|e| keychain_error(name, e))? {
            true => Ok(()),
            false => Err(Error::bad_input("no_keys", format!("the keychain has no keys for {name}"))),
        }
    }

    /// Why [`Engine::remove_keys`] would refuse, before anyone is asked to confirm.
    pub fn check_remove_keys(&self, name: &str) -> Result<(), Error> {
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
        match self.keychain.load(name).map_err(|e| keychain_error(name, e))? {
            Some(_) => Ok(()),
            None => Err(Error::bad_input("no_keys", format!("the keychain has no keys for {name}"))),
        }
    }

    /// The access key id `keys rotate` would replace, or why it cannot: asked before
    /// anyone is asked to confirm.
    pub fn rotation_key(&self, name: &str) -> Result<String, Error> {
        let snap = self.snapshot()?;
        let p = snap.session_profile(name)?;
        Ok(self.long_term_keys(&snap, p)?.access_key_id)
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
            KeyStore::Keychain => self.keychain.store(name, &new).map_err(|e| keychain_error(name, e)),
            KeyStore::File => self.replace_keys(&p.long_term_section, &old, &new),
        };
        if let Err(e) = stored {
            // A store that failed may still have taken (a keychain that wrote, then could
            // not be read back): what is stored now decides which key may go. A key that
            // may be stored is never deleted in IAM. A keychain that did not answer in time
            // may still be storing: nothing read now can be trusted.
            let now = match p.keys {
                _ if e.code == "keychain_timeout" => None,
                KeyStore::Keychain => self.keychain.load(name).ok().flatten(),
                KeyStore::File => self.snapshot().ok().and_then(|snap| LongTermKeys::read(&snap.credentials, &p.long_term_section)),
            };
            match now {
                Some(k) if k == new => {} // stored after all: go on, the old key goes
                Some(k) if k == old => return Err(take_back(e, &who, &old, &new, &endpoints).await),
                _ => {
                    return Err(Error::new(
                        e.kind,
                        e.code,
                        format!(
                            "{}. Both keys stay active in IAM, as it is not known which one {} holds now: the new {} and the old {}; check with `mfa-tray whoami --profile {name}` after a login, then delete the one not in use in the IAM console",
                            e.message,
                            if p.keys == KeyStore::Keychain { "the keychain" } else { "the credentials file" },
                            new.access_key_id,
                            old.access_key_id
                        ),
                    ))
                }
            }
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
    /// `mfa-tray` on the PATH (if any) is not this one; quoted as botocore splits
    /// `credential_process` on this platform (POSIX shell rules; on Windows the C
    /// runtime's, which `cmd /C` also leaves whole).
    pub fn credential_process_command(&self, profile: &str) -> String {
        let on_path = self.env.var("PATH").and_then(|path| find_program(&path, "mfa-tray", self.env.var_str("PATHEXT").as_deref()));
        let ours = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join(format!("mfa-tray{}", std::env::consts::EXE_SUFFIX)))).filter(|p| p.is_file());
        let program = match (on_path, ours) {
            (Some(found), Some(ours)) if !same_file(&found, &ours) => ours.to_string_lossy().into_owned(),
            (None, Some(ours)) => ours.to_string_lossy().into_owned(),
            _ => "mfa-tray".to_owned(),
        };
        command_line(&[&program, "credential-process", profile], cfg!(windows))
    }

    /// Writes `keys` into the new section `section` of the credentials file. Returns
    /// what the file was and became, so that the write can be taken back byte for byte
    /// ([`Engine::take_back_new_keys`]).
    fn write_new_keys(&self, section: &str, keys: &LongTermKeys) -> Result<Written, Error> {
        let path = &self.files.credentials;
        let written = file::update(path, self.settings.lock_timeout, |doc| {
            if doc.has_section(section) {
                return Err(taken(path, section));
            }
            let before = doc.clone();
            doc.set(section, &key_entries(keys)).map_err(|source| FileError::Edit { path: path.clone(), source })?;
            Ok(Written { before, after: doc.clone() })
        })?;
        Ok(written)
    }

    /// Takes back a [`Engine::write_new_keys`]: the file as it was before, if nobody
    /// wrote it since (and the copy of the previous version, which now holds the keys,
    /// becomes that version too); else the section alone, if it still holds just those
    /// keys.
    fn take_back_new_keys(&self, section: &str, keys: &LongTermKeys, written: Written) -> Result<(), Error> {
        let path = &self.files.credentials;
        let restored = file::update(path, self.settings.lock_timeout, |doc| {
            if doc.to_bytes() != written.after.to_bytes() {
                return Ok(false);
            }
            *doc = written.before.clone();
            Ok(true)
        })?;
        if !restored {
            return self.remove_long_term(section, keys);
        }
        file::replace_backup(path, &written.before.to_bytes()).map_err(|source| FileError::Write { path: file::backup_path(path), source })?;
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

/// A section added to the credentials file: the file before and after.
struct Written {
    before: Document,
    after: Document,
}

/// Deletes a new key that could not be put to use, with the old key, and says so.
async fn take_back(why: Error, who: &Identity, old: &LongTermKeys, new: &LongTermKeys, endpoints: &crate::aws::Endpoints) -> Error {
    let tail = match Iam::new(Signer::LongTerm(old), endpoints).delete_access_key(who.user_name(), &new.access_key_id).await {
        Ok(()) => "the new key was deleted again; the old one still works".to_owned(),
        Err(e) => format!("the new key {} could not be deleted again ({e}); delete it in the IAM console", new.access_key_id),
    };
    why.reworded(|m| format!("{m}; {tail}"))
}

/// A keychain failure while adding an account: the file is the alternative.
fn offer_file(e: Error) -> Error {
    e.reworded(|m| format!("{m}; or keep the keys in the credentials file with --store file"))
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

/// A command line that botocore's `compat_shell_split` splits back into `words`, on
/// Windows (`windows`) or elsewhere.
pub fn command_line(words: &[&str], windows: bool) -> String {
    let word = if windows { windows_word } else { shell_word };
    words.iter().map(|w| word(w)).collect::<Vec<_>>().join(" ")
}

/// Where `name` is found on `path` as the platform's command search finds it: on
/// Windows with each extension of `PATHEXT` (`.COM;.EXE;.BAT;.CMD` when unset), else as
/// it is.
fn find_program(path: &std::ffi::OsStr, name: &str, pathext: Option<&str>) -> Option<std::path::PathBuf> {
    let extensions: Vec<String> = match cfg!(windows) {
        true => pathext.unwrap_or(".COM;.EXE;.BAT;.CMD").split(';').filter(|e| !e.is_empty()).map(str::to_owned).collect(),
        false => vec![String::new()],
    };
    std::env::split_paths(path).flat_map(|dir| extensions.iter().map(move |ext| dir.join(format!("{name}{ext}")))).find(|p| p.is_file())
}

/// A word as botocore splits `credential_process` on Windows (the C runtime's rules:
/// only double quotes quote, and backslashes are literal unless they lead up to one),
/// quoted too where `cmd /C` (which the Go and Rust SDKs run it through) would take a
/// character for its own. `cmd /C` keeps a line whose one quoted word holds none of
/// `( ) @ & ^ |` as it is; a path with those (`Program Files (x86)`) cannot be written
/// for both botocore and cmd, and is written for botocore.
fn windows_word(word: &str) -> String {
    if !word.is_empty() && !word.chars().any(|c| c.is_whitespace() || "\"&|<>^()%!,;=".contains(c)) {
        return word.to_owned();
    }
    let mut out = String::from('"');
    let mut backslashes = 0;
    for c in word.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                // Backslashes before a quote are doubled, and the quote escaped.
                out.push_str(&"\\".repeat(backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            c => {
                out.push_str(&"\\".repeat(backslashes));
                out.push(c);
                backslashes = 0;
            }
        }
    }
    // Backslashes before the closing quote are doubled.
    out.push_str(&"\\".repeat(backslashes * 2));
    out.push('"');
    out
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
            let line = command_line(&[word, "credential-process", "ci"], false);
            assert_eq!(crate::profiles::shlex_split(&line).unwrap(), [word, "credential-process", "ci"], "{line}");
        }
        assert_eq!(shell_word("/usr/bin/mfa-tray"), "/usr/bin/mfa-tray");
        // Windows: double quotes, never POSIX single quotes (kept as part of the name).
        let line = command_line(&[r"C:\Users\Ann Lee\AppData\Local\Programs\mfa-tray\mfa-tray.exe", "credential-process", "ci"], true);
        assert_eq!(line, r#""C:\Users\Ann Lee\AppData\Local\Programs\mfa-tray\mfa-tray.exe" credential-process ci"#);
        assert_eq!(windows_word(r"C:\tools\mfa-tray.exe"), r"C:\tools\mfa-tray.exe");
        assert_eq!(windows_word(r#"a "b" \"#), r#""a \"b\" \\""#);
    }

    /// A keychain that does what it is told: a store that takes but then reports a
    /// failure (as one that wrote but could not read back), a store that does not take,
    /// or one after which nothing can be read.
    #[derive(Default)]
    struct Flaky {
        held: std::sync::Mutex<Option<LongTermKeys>>,
        store_takes: bool,
        store_times_out: bool,
        unreadable_after_store: bool,
        stored: std::sync::atomic::AtomicBool,
    }

    impl keychain::Keychain for Flaky {
        fn load(&self, _: &str) -> Result<Option<LongTermKeys>, keychain::KeychainError> {
            if self.unreadable_after_store && self.stored.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(keychain::KeychainError::Unavailable("no answer".into()));
            }
            Ok(self.held.lock().unwrap().clone())
        }
        fn store(&self, _: &str, keys: &LongTermKeys) -> Result<(), keychain::KeychainError> {
            self.stored.store(true, std::sync::atomic::Ordering::SeqCst);
            if self.store_takes {
                *self.held.lock().unwrap() = Some(keys.clone());
            }
            if self.store_times_out {
                return Err(keychain::KeychainError::TimedOut(1));
            }
            Err(keychain::KeychainError::Unavailable("it did not return the keys just stored".into()))
        }
        fn delete(&self, _: &str) -> Result<bool, keychain::KeychainError> {
            Ok(self.held.lock().unwrap().take().is_some())
        }
    }

    /// moto (from the test venv) on a free port, killed when dropped.
    struct Moto(std::process::Child, String);

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    impl Moto {
        fn start() -> Moto {
            use std::io::BufRead;
            let venv = std::env::var_os("MFA_TRAY_VENV").map(std::path::PathBuf::from).unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv"));
            let mut child = std::process::Command::new(venv.join("bin/moto_server"))
                .args(["-H", "127.0.0.1", "-p", "0"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("moto_server from the test venv (scripts/test makes it)");
            let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
            let url = lines.by_ref().map_while(Result::ok).find_map(|l| l.split_once("Running on ").map(|(_, u)| u.trim().to_owned())).unwrap();
            std::thread::spawn(move || lines.for_each(drop));
            Moto(child, url)
        }

        /// An unsigned IAM call (moto checks no signatures by default).
        fn iam(&self, params: &str) -> String {
            let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
            let auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0";
            let body = format!("{params}&Version=2010-05-08");
            let mut answer = agent.post(&self.1).header("Content-Type", "application/x-www-form-urlencoded").header("Authorization", auth).send(body.as_str()).unwrap();
            answer.body_mut().read_to_string().unwrap()
        }

        fn tags<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
            xml.split(&format!("<{tag}>")).skip(1).filter_map(|t| t.split(&format!("</{tag}>")).next()).collect()
        }
    }

    /// Rotates the keys of an account against moto with `keychain`; returns the
    /// outcome, the keys IAM lists for the user afterwards, and the old and new key.
    fn rotate_with(keychain: Flaky) -> (Result<Rotated, Error>, Vec<String>, Option<LongTermKeys>, String) {
        let moto = Moto::start();
        moto.iam("Action=CreateUser&UserName=alice");
        let created = moto.iam("Action=CreateAccessKey&UserName=alice");
        let old = LongTermKeys { access_key_id: Moto::tags(&created, "AccessKeyId")[0].to_owned(), secret_access_key: Secret::new(Moto::tags(&created, "SecretAccessKey")[0]) };
        *keychain.held.lock().unwrap() = Some(old.clone());
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("config"), "[profile corp]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\nmfa_tray_keys = keychain\n").unwrap();
        let path = |n: &str| home.path().join(n).display().to_string();
        let vars = [("AWS_ENDPOINT_URL", moto.1.clone()), ("AWS_CONFIG_FILE", path("config")), ("AWS_SHARED_CREDENTIALS_FILE", path("credentials")), ("MFA_TRAY_CONFIG_DIR", path("settings"))];
        let env = crate::env::FakeEnvironment { vars: vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(), home: Some(home.path().to_owned()) };
        let keychain = std::sync::Arc::new(keychain);
        let engine = Engine::new(std::sync::Arc::new(env), std::sync::Arc::new(crate::env::SystemClock)).unwrap().with_keychain(keychain.clone());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let outcome = runtime.block_on(engine.rotate_keys("corp"));
        let listed = moto.iam("Action=ListAccessKeys&UserName=alice");
        let active = Moto::tags(&listed, "AccessKeyId").into_iter().map(str::to_owned).collect();
        let held = keychain.held.lock().unwrap().clone();
        (outcome, active, held, old.access_key_id)
    }

    #[test]
    fn a_rotation_never_ends_with_no_working_key() {
        // The store took but could not be read back: the new key is what the keychain
        // holds, so it stays, and the old one goes.
        let (outcome, active, held, old) = rotate_with(Flaky { store_takes: true, ..Flaky::default() });
        let held = held.unwrap().access_key_id;
        assert_ne!(held, old);
        assert_eq!(active, std::slice::from_ref(&held), "IAM keeps the key the keychain holds: {outcome:?}");
        assert_eq!(outcome.unwrap().new_key, held);

        // What the keychain holds cannot be known: both keys stay active, and both are named.
        let (outcome, active, held, old) = rotate_with(Flaky { store_takes: true, unreadable_after_store: true, ..Flaky::default() });
        let e = outcome.unwrap_err();
        assert_eq!(active.len(), 2, "{active:?}");
        assert!(active.contains(&old) && active.contains(&held.unwrap().access_key_id));
        assert!(e.message.contains("Both keys stay active in IAM") && e.message.contains(&old), "{}", e.message);

        // The keychain did not answer in time: it may still be storing, so nothing it says
        // now is believed, and both keys stay.
        let (outcome, active, _, old) = rotate_with(Flaky { store_times_out: true, ..Flaky::default() });
        assert_eq!(active.len(), 2, "{active:?}");
        assert!(active.contains(&old) && outcome.unwrap_err().message.contains("Both keys stay active in IAM"));

        // The store did not take: the keychain still holds the old key, and the new one goes.
        let (outcome, active, held, old) = rotate_with(Flaky::default());
        assert!(outcome.unwrap_err().message.contains("the new key was deleted again; the old one still works"));
        assert_eq!(active, std::slice::from_ref(&old));
        assert_eq!(held.unwrap().access_key_id, old);
    }
}
