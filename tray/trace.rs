//! Timing marks for bench/footprint.sh, across the tray's and the window's processes
//! (and the benchmark's own floor program, which includes this file). Imports nothing.

use std::time::SystemTime;

/// With `MFA_TRAY_TRACE=FILE`, appends `STEP MICROSECONDS` (since the Unix epoch) to
/// FILE: how bench/footprint.sh sees where the time from a click to the window goes,
/// across the tray's and the window's processes. Without it, nothing.
pub fn step(name: &str) {
    let Some(path) = std::env::var_os("MFA_TRAY_TRACE") else { return };
    let micros = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_micros());
    let line = format!("{name} {micros}\n");
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path);
    if let Ok(mut file) = file {
        use std::io::Write;
        let _ = file.write_all(line.as_bytes());
    }
}
