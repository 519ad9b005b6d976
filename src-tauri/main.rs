//! The mfa-tray binary: everything happens in the library.
fn main() -> std::process::ExitCode {
    mfa_tray::run()
}
