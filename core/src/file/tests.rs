use super::*;
use std::os::unix::fs::PermissionsExt;

fn set(doc: &mut Document) -> Result<(), FileError> {
    doc.set("corp", &[("k", "v")]).map_err(|source| FileError::Edit { path: PathBuf::new(), source })
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn creates_missing_dir_and_file_private() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join(".aws/credentials");
    update(&path, Duration::from_secs(1), set).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "[corp]\nk = v\n");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
}

#[test]
fn tightens_a_loose_file_and_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, "# mine\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    update(&path, Duration::from_secs(1), set).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "# mine\n\n[corp]\nk = v\n");
    assert_eq!(mode(&path), 0o600);
    let names: Vec<String> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let mut names = names;
    names.sort();
    // Beside it: the lock, and the version the write displaced (0600 too).
    assert_eq!(names, [".credentials.mfa-tray-previous", ".credentials.mfa-tray.lock", "credentials"]);
    assert_eq!(fs::read_to_string(dir.path().join(".credentials.mfa-tray-previous")).unwrap(), "# mine\n");
    assert_eq!(mode(&dir.path().join(".credentials.mfa-tray-previous")), 0o600);
}

#[test]
fn writes_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("dotfiles/aws-credentials");
    fs::create_dir(real.parent().unwrap()).unwrap();
    fs::write(&real, "[a]\nx = 1\n").unwrap();
    let link = dir.path().join("credentials");
    std::os::unix::fs::symlink("dotfiles/aws-credentials", &link).unwrap();
    update(&link, Duration::from_secs(1), set).unwrap();
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert_eq!(fs::read_to_string(&real).unwrap(), "[a]\nx = 1\n\n[corp]\nk = v\n");
}

#[test]
fn refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");

    fs::write(&path, "[a]\nnot ini at all\n").unwrap();
    let err = update(&path, Duration::from_secs(1), set).unwrap_err();
    assert!(matches!(err, FileError::Malformed { source: ParseError::Garbage { line: 2 }, .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), b"[a]\nnot ini at all\n");

    fs::write(&path, "[a]\nx = 1\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    let err = update(&path, Duration::from_secs(1), set).unwrap_err();
    assert!(matches!(err, FileError::ReadOnly { .. }), "{err}");
    assert!(err.to_string().contains("read-only"));
    assert_eq!(fs::read(&path).unwrap(), b"[a]\nx = 1\n");
    assert_eq!(mode(&path), 0o400);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();

    let big = vec![b'#'; MAX_FILE_BYTES as usize + 1];
    fs::write(&path, &big).unwrap();
    assert!(matches!(update(&path, Duration::from_secs(1), set), Err(FileError::TooLarge { .. })));
    assert!(matches!(read_document(&path), Err(FileError::TooLarge { .. })));
    assert_eq!(fs::metadata(&path).unwrap().len(), big.len() as u64);
}

#[test]
fn a_held_lock_times_out_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, "[a]\n").unwrap();
    let other = File::create(dir.path().join(".credentials.mfa-tray.lock")).unwrap();
    other.lock().unwrap();
    let err = update(&path, Duration::from_millis(200), set).unwrap_err();
    assert!(matches!(err, FileError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("being written by another mfa-tray"));
    assert!(!err.to_string().contains("remove the lock"), "never advise removing a lock: {err}");
    assert_eq!(fs::read(&path).unwrap(), b"[a]\n");
    other.unlock().unwrap();
    update(&path, Duration::from_millis(200), set).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"[a]\n\n[corp]\nk = v\n");
}

#[test]
fn an_edit_error_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, "[a]\n").unwrap();
    let before = fs::metadata(&path).unwrap().modified().unwrap();
    let err = update(&path, Duration::from_secs(1), |doc| {
        doc.set("a", &[("k", "v")]).unwrap();
        Err::<(), _>(FileError::NotOurs { path: PathBuf::new(), section: "a".into(), reason: "test".into() })
    })
    .unwrap_err();
    assert!(matches!(err, FileError::NotOurs { .. }));
    assert_eq!(fs::read(&path).unwrap(), b"[a]\n");
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
}

#[test]
fn missing_file_reads_as_none() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read_document(&dir.path().join("nope")).unwrap().is_none());
}

#[test]
fn each_write_keeps_the_version_it_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    let previous = backup_path(&path);
    assert_eq!(previous, dir.path().join(".credentials.mfa-tray-previous"));
    update(&path, Duration::from_secs(1), set).unwrap();
    assert!(!previous.exists(), "a new file displaces nothing");
    fs::write(&path, "[corp]\nk = v\n# the user's note\n").unwrap();
    update(&path, Duration::from_secs(1), |doc| doc.set("corp", &[("k", "w")]).map_err(|source| FileError::Edit { path: PathBuf::new(), source })).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "[corp]\nk = w\n# the user's note\n");
    assert_eq!(fs::read_to_string(&previous).unwrap(), "[corp]\nk = v\n# the user's note\n");
}

/// Rewrites the file in place, as the AWS CLI and editors do: truncate, then write.
fn rewrite_in_place(path: &Path, text: &str) {
    let mut f = OpenOptions::new().write(true).truncate(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn a_file_rewritten_in_place_during_a_write_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, "[user]\nk = 1\n").unwrap();
    let mut runs = 0;
    update(&path, Duration::from_secs(1), |doc| {
        runs += 1;
        if runs == 1 {
            // Another program writes between mfa-tray's read and its rename.
            rewrite_in_place(&path, "[user]\nk = 2\n[added]\nby = them\n");
        }
        set(doc)
    })
    .unwrap();
    assert_eq!(runs, 2, "the edit ran again on the new contents");
    assert_eq!(fs::read_to_string(&path).unwrap(), "[user]\nk = 2\n[added]\nby = them\n\n[corp]\nk = v\n");
}

#[test]
fn a_write_into_the_displaced_file_is_not_lost() {
    // An in-place writer that opened the file before mfa-tray's rename writes into the
    // version mfa-tray displaced: mfa-tray notices, puts theirs back and writes again.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, "[user]\nk = 1\n").unwrap();
    let mut held = OpenOptions::new().write(true).open(&path).unwrap();
    let previous = backup_path(&path);
    let writer = std::thread::spawn(move || {
        let start = Instant::now();
        while !previous.exists() && start.elapsed() < Duration::from_secs(10) {
            std::hint::spin_loop();
        }
        held.set_len(0).unwrap();
        held.write_all(b"[user]\nk = late\n").unwrap();
    });
    let mut runs = 0;
    update(&path, Duration::from_secs(1), |doc| {
        runs += 1;
        set(doc)
    })
    .unwrap();
    writer.join().unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "[user]\nk = late\n\n[corp]\nk = v\n");
    assert_eq!(runs, 2);
}

#[test]
fn an_emptied_file_is_not_trusted_until_it_settles() {
    // A writer truncated the file and writes the rest a moment later: mfa-tray must not
    // write a file holding only its own section.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, "[user]\nk = 1\n").unwrap();
    update(&path, Duration::from_secs(1), set).unwrap();
    rewrite_in_place(&path, "");
    let later = path.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(60));
        rewrite_in_place(&later, "[user]\nk = 1\n\n[corp]\nk = v\n[more]\nx = 1\n");
    });
    update(&path, Duration::from_secs(1), |doc| doc.set("corp", &[("k", "w")]).map_err(|source| FileError::Edit { path: PathBuf::new(), source })).unwrap();
    writer.join().unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "[user]\nk = 1\n\n[corp]\nk = w\n[more]\nx = 1\n");
}

#[test]
fn a_directory_that_cannot_take_a_file_fails_the_preflight() {
    let dir = tempfile::tempdir().unwrap();
    // A path whose "directory" is a file: nothing can be created there, even by root.
    let blocker = dir.path().join("aws");
    fs::write(&blocker, "").unwrap();
    let err = preflight(&blocker.join("credentials"), Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, FileError::Write { .. }), "{err}");
    assert!(preflight(&dir.path().join("new/.aws/credentials"), Duration::from_secs(1)).is_ok());
    assert!(!dir.path().join("new").exists(), "the preflight creates nothing");
}

#[test]
fn new_directories_and_files_belong_to_the_owner_of_the_directory_they_are_made_in() {
    use std::os::unix::fs::MetadataExt;
    // As root (sudo with a user's HOME) they are handed to that user; as anyone else
    // they are simply one's own.
    let home = tempfile::tempdir().unwrap();
    let euid = fs::metadata("/proc/self").unwrap().uid();
    let user = if euid == 0 { 65534 } else { euid };
    if euid == 0 {
        std::os::unix::fs::chown(home.path(), Some(user), Some(user)).unwrap();
    }
    let path = home.path().join("new/.aws/credentials");
    update(&path, Duration::from_secs(1), set).unwrap();
    for p in [home.path().join("new"), home.path().join("new/.aws"), path.clone(), home.path().join("new/.aws/.credentials.mfa-tray.lock")] {
        assert_eq!(fs::metadata(&p).unwrap().uid(), user, "{}", p.display());
    }
    assert_eq!(mode(&home.path().join("new/.aws")), 0o700);
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_late_write_into_the_backup_is_kept_aside_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    let previous = backup_path(&path);
    let late = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.to_string_lossy().contains("mfa-tray-late-")).collect();
        v.sort();
        v
    };
    fs::write(&path, "[user]\nx = 1\n").unwrap();
    update(&path, Duration::from_secs(1), set).unwrap();
    assert_eq!(fs::read_to_string(&previous).unwrap(), "[user]\nx = 1\n");
    // An unchanged backup is simply replaced by the next write's.
    update(&path, Duration::from_secs(1), |doc| doc.set("corp", &[("k", "w")]).map_err(|source| FileError::Edit { path: PathBuf::new(), source })).unwrap();
    assert_eq!(fs::read_to_string(&previous).unwrap(), "[user]\nx = 1\n\n[corp]\nk = v\n");
    assert!(late(dir.path()).is_empty());

    // An in-place writer that had the old file open writes into it after the rename: its
    // write landed in the backup.
    let mut f = OpenOptions::new().write(true).truncate(true).open(&previous).unwrap();
    f.write_all(b"[user]\nx = 2\n[theirs]\ny = 1\n").unwrap();
    drop(f);
    update(&path, Duration::from_secs(1), |doc| doc.set("corp", &[("k", "z")]).map_err(|source| FileError::Edit { path: PathBuf::new(), source })).unwrap();
    let kept = late(dir.path());
    assert_eq!(kept.len(), 1, "kept aside once");
    assert_eq!(fs::read_to_string(&kept[0]).unwrap(), "[user]\nx = 2\n[theirs]\ny = 1\n");
    assert_eq!(mode(&kept[0]), 0o600);
    assert_eq!(fs::read_to_string(&previous).unwrap(), "[user]\nx = 1\n\n[corp]\nk = w\n", "the new backup is the version just replaced");
    // And the next write does not set the new backup aside.
    update(&path, Duration::from_secs(1), set).unwrap();
    assert_eq!(late(dir.path()).len(), 1);
}

#[test]
fn a_backup_that_cannot_be_kept_does_not_fail_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, "[user]\nx = 1\n").unwrap();
    // Something else holds the backup's name.
    fs::create_dir(backup_path(&path)).unwrap();
    fs::write(backup_path(&path).join("keep"), "theirs").unwrap();
    update(&path, Duration::from_secs(1), set).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "[user]\nx = 1\n\n[corp]\nk = v\n");
    assert_eq!(fs::read_to_string(backup_path(&path).join("keep")).unwrap(), "theirs");
}
