//! Tauri's build step for window-floor (tauri.conf.json and capabilities/ beside it).
fn main() {
    tauri_build::build();
}
