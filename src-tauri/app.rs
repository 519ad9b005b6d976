//! `mfa-tray-app`: the tray app (`mfa-tray` with no arguments starts it), or with
//! `--window VIEW [--profile P] [--reason TEXT]` the MFA window on its own.
//!
//! The window runs in a process of its own, started by the tray when needed: when it
//! closes, everything WebKit took goes with it and the tray stays small all day.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return mfa_tray::on_a_desktop("the tray cannot start", mfa_tray::run_tray);
    }
    match mfa_tray::WindowArgs::parse(&args) {
        Some(window) => mfa_tray::on_a_desktop("the window cannot open", || mfa_tray::run_window(window)),
        None => {
            eprintln!("usage: mfa-tray-app [--window code|whoami|account|sso|settings|ask [--profile P] [--reason TEXT]]");
            ExitCode::from(2)
        }
    }
}
