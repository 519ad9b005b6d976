//! Tauri's build step: embeds tauri.conf.json and capabilities/, and declares the app's
//! own commands so each gets an `allow-<command>` permission that capabilities/ grants.

/// Every command the window may call. commands.rs registers the same list.
const COMMANDS: &[&str] = &["state", "ready", "login", "assume", "choose_role", "whoami", "get_settings", "save_settings", "check_account", "add_account", "cancel_account", "import_keys", "add_role", "asks", "give_code", "cancel_asks", "close_window", "sso_add", "sso_login", "sso_progress", "sso_sync"];

fn main() {
    let attributes = tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    tauri_build::try_build(attributes).expect("tauri build step");
}
