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
    assert_eq!(names, [".credentials.mfa-tray.lock", "credentials"]);
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
    assert!(err.to_string().contains("being written by another process"));
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
