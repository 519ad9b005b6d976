//! A desktop panel for bench/footprint.sh: starts a D-Bus session bus of its own, serves
//! a StatusNotifierWatcher on it (tests/support/desktop.rs, as the tray tests do),
//! prints the bus address, then takes commands on stdin, one per line:
//! - `item`: waits for a tray to register, prints `ok`;
//! - `click LABEL`: clicks that item of the newest tray's menu over dbusmenu, and prints
//!   the moment of the click (microseconds since the Unix epoch).

#[path = "../../../../tests/support/desktop.rs"]
mod desktop;

use std::io::BufRead;
use std::time::{Duration, SystemTime};

fn main() {
    let bus = desktop::Bus::start();
    let (watcher, _serving) = desktop::Watcher::serve(&bus);
    let conn = bus.connect();
    println!("{}", bus.address);
    let newest = || {
        let (sender, service) = desktop::wait_for(Duration::from_secs(30), "a tray", || watcher.0.lock().unwrap().last().cloned());
        if service.starts_with('/') { (sender, service) } else { (service, "/StatusNotifierItem".to_owned()) }
    };
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        if line == "item" {
            newest();
            println!("ok");
        } else if let Some(label) = line.strip_prefix("click ") {
            let (item_bus, item_path) = newest();
            let (menu_path, entries) = desktop::menu(&conn, &item_bus, &item_path);
            let id = entries.iter().find(|e| e.label == label).unwrap_or_else(|| panic!("no item {label:?} in {entries:?}")).id;
            let at = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_micros();
            desktop::click(&conn, &item_bus, &menu_path, id);
            println!("{at}");
        }
    }
}
