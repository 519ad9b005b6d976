//! The mfa-tray app: thin shells over `mfa-tray-core`. Today that is the command line
//! ([`cli`]); the tray arrives on top of the same engine.

mod cli;

/// Runs mfa-tray with the process's arguments and returns its exit code.
pub fn run() -> std::process::ExitCode {
    cli::main(std::env::args_os())
}
