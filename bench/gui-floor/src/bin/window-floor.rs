//! The smallest Tauri window: a static page with one focused field, no commands. With
//! `MFA_TRAY_TRACE=FILE` it appends `start` and `ready` (the page loaded) to FILE as
//! mfa-tray-window does, so bench/footprint.sh times both the same way.

#[path = "../../../../tray/trace.rs"]
mod trace;

use tauri::webview::PageLoadEvent;
use tauri::{WebviewUrl, WebviewWindowBuilder};

fn main() {
    trace::step("start");
    tauri::Builder::default()
        .on_page_load(|_, payload| {
            if payload.event() == PageLoadEvent::Finished {
                trace::step("ready");
            }
        })
        .setup(|app| {
            WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into())).title("window-floor").inner_size(400.0, 600.0).focused(true).build()?;
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("window-floor runs");
}
