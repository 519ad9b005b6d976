//! The engine of mfa-tray: everything it does, with no window, menu or terminal.
//!
//! Data flows one way: the AWS files ([`file`], [`ini`]) and STS ([`aws`]) become typed
//! values ([`profiles`], [`credentials`]); [`engine::Engine`] runs the flows and
//! [`status::Status`] reports the state; a shell (the CLI, the tray) shows it.

pub mod aws;
pub mod channel;
pub mod console;
pub mod credentials;
pub mod endpoint;
pub mod engine;
pub mod env;
pub mod error;
pub mod file;
pub mod ini;
pub mod keychain;
pub mod mfa_process;
pub mod profiles;
pub mod schedule;
pub mod secret;
pub mod settings;
pub mod sso;
pub mod status;
pub mod types;
#[cfg(windows)]
mod win;

pub use engine::{AssumeOutcome, Engine, LoginOutcome, Plan, RefreshItem, Snapshot, Strategy};
pub use error::{Error, ErrorKind};
