//! `mfa-tray-app`: the tray app. `mfa-tray` with no arguments starts it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    mfa_tray::run_tray()
}
