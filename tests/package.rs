//! The .deb as a user meets it: installed with apt (which resolves its declared
//! libraries), run from /usr/bin, started from its desktop entry as a desktop would, and
//! removed, leaving the user's files alone. It installs a package system-wide, so it is
//! ignored by `scripts/test`: `scripts/test-package` builds the .deb (`scripts/package`)
//! and runs this with `MFA_TRAY_TEST_PACKAGE` naming it. Needs root (or sudo) and a display.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::desktop::{Bus, Watcher};
use support::*;

fn root(args: &[&str]) -> std::process::Output {
    let mut cmd = if is_root() { Command::new(args[0]) } else { let mut c = Command::new("sudo"); c.arg(args[0]); c };
    cmd.args(&args[1..]).env("DEBIAN_FRONTEND", "noninteractive").output().unwrap()
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)) == Some("0")
}

/// Removes the package when dropped, if it is still installed (a failed test included).
struct Uninstall;

impl Drop for Uninstall {
    fn drop(&mut self) {
        if Path::new("/usr/bin/mfa-tray").exists() {
            let _ = root(&["dpkg", "-r", "mfa-tray"]);
        }
    }
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
#[ignore = "installs a package system-wide: scripts/test-package runs it"]
fn the_deb_installs_starts_from_its_desktop_entry_and_uninstalls_cleanly() {
    let deb = std::env::var_os("MFA_TRAY_TEST_PACKAGE").expect("MFA_TRAY_TEST_PACKAGE names the .deb (scripts/test-package sets it)");
    let deb = std::fs::canonicalize(deb).unwrap();
    // What it declares.
    let depends = text(&Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Depends").output().unwrap());
    for lib in ["libwebkit2gtk-4.1-0", "libgtk-3-0", "libayatana-appindicator3-1"] {
        assert!(depends.contains(lib), "Depends lacks {lib}: {depends}");
    }
    // A user's files before the install.
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    std::fs::create_dir_all(s.path("mfa-tray-config")).unwrap();
    std::fs::write(s.path("mfa-tray-config/settings.toml"), "# mine\nauto_refresh = true\n").unwrap();

    let installed = root(&["apt-get", "install", "-y", "-qq", deb.to_str().unwrap()]);
    assert!(installed.status.success(), "apt-get install: {}", text(&installed));
    // Whatever happens below, the machine does not keep the package.
    let _remove = Uninstall;
    let files = text(&Command::new("dpkg").args(["-L", "mfa-tray"]).output().unwrap());
    for f in ["/usr/bin/mfa-tray", "/usr/bin/mfa-tray-app", "/usr/bin/mfa-tray-window", "/usr/share/applications/mfa-tray.desktop", "/usr/share/icons/hicolor/128x128/apps/mfa-tray.png"] {
        assert!(files.lines().any(|l| l == f), "{f} not installed: {files}");
    }
    // The CLI from /usr/bin, not from the build tree, against moto.
    let version = Command::new("/usr/bin/mfa-tray").arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("mfa-tray {}", env!("CARGO_PKG_VERSION")));
    let mut login = Command::new("/usr/bin/mfa-tray");
    s.sandbox(&mut login);
    let run = Run::from(login.args(["login", "corp", "--code", &s.code(0)]).output().unwrap());
    run.ok();
    let after_login = s.credentials();

    // Started as the desktop starts it: the entry's Exec, which registers a tray icon.
    let entry = std::fs::read_to_string("/usr/share/applications/mfa-tray.desktop").unwrap();
    let exec = entry.lines().find_map(|l| l.strip_prefix("Exec=")).expect("an Exec line").to_owned();
    let program = exec.split_whitespace().next().unwrap();
    assert!(Path::new(program).is_absolute() || program == "mfa-tray", "{exec}");
    let bus = Bus::start();
    let (watcher, _w) = Watcher::serve(&bus);
    let program = if program == "mfa-tray" { "/usr/bin/mfa-tray" } else { program };
    let mut cmd = Command::new(program);
    s.sandbox(&mut cmd);
    cmd.env("DBUS_SESSION_BUS_ADDRESS", &bus.address).env("NO_AT_BRIDGE", "1").env("GDK_BACKEND", "x11");
    let mut app = cmd.stdout(Stdio::null()).spawn().unwrap();
    let (item_bus, _path) = watcher.item(Duration::from_secs(30));
    assert!(!item_bus.is_empty());
    // Logged in already, so it starts with the session from now on, at its installed path.
    let autostart = support::desktop::wait_for(Duration::from_secs(15), "the autostart entry", || {
        std::fs::read_to_string(s.path(".config/autostart/mfa-tray.desktop")).ok()
    });
    assert!(autostart.lines().any(|l| l.trim_end() == "Exec=/usr/bin/mfa-tray-app"), "{autostart}");
    let _ = app.kill();
    let _ = app.wait();

    // Removed: the binaries go, the user's files stay as they were.
    let removed = root(&["dpkg", "-r", "mfa-tray"]);
    assert!(removed.status.success(), "dpkg -r: {}", text(&removed));
    assert!(!Path::new("/usr/bin/mfa-tray").exists() && !Path::new("/usr/bin/mfa-tray-app").exists());
    assert_eq!(s.credentials(), after_login);
    assert_eq!(std::fs::read_to_string(s.path(".aws/config")).unwrap(), CONFIG);
    let settings = std::fs::read_to_string(s.path("mfa-tray-config/settings.toml")).unwrap();
    assert!(settings.starts_with("# mine\nauto_refresh = true\n"), "{settings}");
}
