//! `mfa-tray-app`: the tray app (`mfa-tray` with no arguments starts it).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args_os().len() > 1 {
        eprintln!("usage: mfa-tray-app (the tray; it takes no arguments: `mfa-tray --help` has the command line)");
        return ExitCode::from(2);
    }
    mfa_tray::desktop::on_a_desktop("the tray cannot start", mfa_tray::run_tray)
}
