//! A writer for the crash-safety test (tests/crash.rs): rewrites one section of a
//! credentials file through the real writer, forever, until it is killed.
//! Usage: rewrite_forever <file> <tag>

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (path, tag) = (std::path::PathBuf::from(&args[1]), &args[2]);
    for n in 0u64.. {
        let value = format!("{tag}-{n}");
        mfa_tray_core::file::update(&path, std::time::Duration::from_secs(10), |doc| {
            doc.set("corp", &[("aws_session_token", &value), ("mfa_tray_holds", "mfa-session corp")])
                .map_err(|source| mfa_tray_core::file::FileError::Edit { path: path.clone(), source })
        })
        .expect("write");
    }
}
