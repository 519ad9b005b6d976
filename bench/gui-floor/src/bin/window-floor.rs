//! The smallest Tauri window: a static page with one focused field, no commands. With
//! `MFA_TRAY_TRACE=FILE` it appends `start` and `ready` (the page loaded) to FILE as
//! mfa-tray-window does, so bench/footprint.sh times both the same way.

use tauri::webview::PageLoadEvent;
use tauri::{WebviewUrl, WebviewWindowBuilder};

fn trace(step: &str) {
    let Some(path) = std::env::var_os("MFA_TRAY_TRACE") else { return };
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
    use std::io::Write;
    let _ = std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| f.write_all(format!("{step} {micros}\n").as_bytes()));
}

fn main() {
    trace("start");
    tauri::Builder::default()
        .on_page_load(|_, payload| {
            if payload.event() == PageLoadEvent::Finished {
                trace("ready");
            }
        })
        .setup(|app| {
            WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into())).title("window-floor").inner_size(400.0, 600.0).focused(true).build()?;
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("window-floor runs");
}
