//! The desktop side of the tray tests, played for real over D-Bus: a private session bus
//! per test, a notification server that records every Notify call, and a
//! StatusNotifierWatcher that a tray registers with, as a desktop panel would.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zbus::zvariant::{OwnedValue, Structure, Value};

/// A dbus-daemon of our own, so tests can own well-known names side by side.
pub struct Bus {
    daemon: Child,
    pub address: String,
}

impl Bus {
    pub fn start() -> Bus {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start dbus-daemon (package dbus)");
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().unwrap()).read_line(&mut address).unwrap();
        Bus { daemon, address: address.trim().to_owned() }
    }

    pub fn connect(&self) -> zbus::blocking::Connection {
        zbus::blocking::connection::Builder::address(self.address.as_str()).unwrap().build().unwrap()
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// One recorded notification.
#[derive(Debug, Clone)]
pub struct Note {
    pub app: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
    pub urgency: Option<u8>,
}

#[derive(Clone, Default)]
pub struct Notifications(pub Arc<Mutex<Vec<Note>>>);

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        let mut notes = self.0.lock().unwrap();
        notes.push(Note { app: app_name, summary, body, actions, urgency });
        notes.len() as u32
    }
    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }
    fn get_server_information(&self) -> (String, String, String, String) {
        ("mfa-tray-test".into(), "mfa-tray".into(), "1".into(), "1.2".into())
    }
    fn close_notification(&self, _id: u32) {}
}

impl Notifications {
    /// Serves org.freedesktop.Notifications on the bus until the connection drops.
    pub fn serve(bus: &Bus) -> (Notifications, zbus::blocking::Connection) {
        let notes = Notifications::default();
        let conn = zbus::blocking::connection::Builder::address(bus.address.as_str())
            .unwrap()
            .name("org.freedesktop.Notifications")
            .unwrap()
            .serve_at("/org/freedesktop/Notifications", notes.clone())
            .unwrap()
            .build()
            .unwrap();
        (notes, conn)
    }

    pub fn all(&self) -> Vec<Note> {
        self.0.lock().unwrap().clone()
    }
}

/// The panel's side of StatusNotifierItem: records who registered.
#[derive(Clone, Default)]
pub struct Watcher(pub Arc<Mutex<Vec<(String, String)>>>);

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(&self, service: String, #[zbus(header)] header: zbus::message::Header<'_>) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        self.0.lock().unwrap().push((sender, service));
    }
    fn register_status_notifier_host(&self, _service: String) {}
    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|(_, s)| s.clone()).collect()
    }
    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }
    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

impl Watcher {
    pub fn serve(bus: &Bus) -> (Watcher, zbus::blocking::Connection) {
        let watcher = Watcher::default();
        let conn = zbus::blocking::connection::Builder::address(bus.address.as_str())
            .unwrap()
            .name("org.kde.StatusNotifierWatcher")
            .unwrap()
            .serve_at("/StatusNotifierWatcher", watcher.clone())
            .unwrap()
            .build()
            .unwrap();
        (watcher, conn)
    }

    /// The (bus name, object path) of the first registered item, waiting for one.
    pub fn item(&self, timeout: Duration) -> (String, String) {
        let (sender, service) = wait_for(timeout, "a tray item to register", || self.0.lock().unwrap().first().cloned());
        if service.starts_with('/') {
            (sender, service)
        } else {
            (service, "/StatusNotifierItem".to_owned())
        }
    }
}

/// A menu item as dbusmenu describes it.
#[derive(Debug, Clone)]
pub struct MenuEntry {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
    pub toggle_state: Option<i32>,
}

/// Reads the item's menu the way a panel does: the Menu property, then GetLayout.
pub fn menu(conn: &zbus::blocking::Connection, bus: &str, item_path: &str) -> (String, Vec<MenuEntry>) {
    let props = zbus::blocking::fdo::PropertiesProxy::builder(conn).destination(bus).unwrap().path(item_path).unwrap().build().unwrap();
    let iface = zbus::names::InterfaceName::try_from("org.kde.StatusNotifierItem").unwrap();
    let path: zbus::zvariant::OwnedObjectPath = props.get(iface, "Menu").unwrap().try_into().unwrap();
    let reply = conn
        .call_method(Some(bus), path.as_str(), Some("com.canonical.dbusmenu"), "GetLayout", &(0i32, -1i32, Vec::<String>::new()))
        .unwrap();
    type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);
    let (_revision, layout): (u32, Layout) = reply.body().deserialize().unwrap();
    let mut entries = Vec::new();
    for child in layout.2 {
        flatten(&child, &mut entries);
    }
    (path.to_string(), entries)
}

fn flatten(value: &Value<'_>, out: &mut Vec<MenuEntry>) {
    let value = match value {
        Value::Value(inner) => inner.as_ref(),
        v => v,
    };
    let Value::Structure(s) = value else { return };
    let fields = Structure::fields(s);
    let id = match &fields[0] {
        Value::I32(i) => *i,
        _ => return,
    };
    let mut label = String::new();
    let mut enabled = true;
    let mut toggle_state = None;
    if let Value::Dict(d) = &fields[1] {
        for (k, v) in d.iter() {
            let key = match k {
                Value::Str(s) => s.as_str().to_owned(),
                _ => continue,
            };
            let v = match v {
                Value::Value(inner) => inner.as_ref(),
                v => v,
            };
            match (key.as_str(), v) {
                ("label", Value::Str(s)) => label = s.as_str().replace('_', ""),
                ("enabled", Value::Bool(b)) => enabled = *b,
                ("toggle-state", Value::I32(t)) => toggle_state = Some(*t),
                _ => {}
            }
        }
    }
    out.push(MenuEntry { id, label, enabled, toggle_state });
    if let Value::Array(children) = &fields[2] {
        for c in children.iter() {
            flatten(c, out);
        }
    }
}

/// Clicks a menu item, as a panel does. An app that exits on the click (Quit) may leave
/// the bus before it replies; that is not a failure of the click.
pub fn click(conn: &zbus::blocking::Connection, bus: &str, menu_path: &str, id: i32) {
    let result = conn.call_method(Some(bus), menu_path, Some("com.canonical.dbusmenu"), "Event", &(id, "clicked", Value::from(0i32), 0u32));
    match result {
        Ok(_) => {}
        Err(zbus::Error::MethodError(name, _, _)) if name.as_str() == "org.freedesktop.DBus.Error.NoReply" => {}
        Err(e) => panic!("clicking menu item {id}: {e}"),
    }
}

/// Clicks the menu item labelled `label`, looked up afresh: the tray rebuilds its menu
/// when what it shows changes, and an item's id from before a rebuild no longer exists,
/// so a stale id is looked up again (for up to 15 s).
pub fn click_label(conn: &zbus::blocking::Connection, bus: &str, item_path: &str, label: &str) {
    let start = Instant::now();
    loop {
        let (menu_path, entries) = menu(conn, bus, item_path);
        let id = entries.iter().find(|e| e.label == label).unwrap_or_else(|| panic!("no menu item {label:?}: {entries:?}")).id;
        let result = conn.call_method(Some(bus), menu_path.as_str(), Some("com.canonical.dbusmenu"), "Event", &(id, "clicked", Value::from(0i32), 0u32));
        match result {
            Ok(_) => return,
            Err(zbus::Error::MethodError(name, _, _)) if name.as_str() == "org.freedesktop.DBus.Error.NoReply" => return,
            Err(e) if e.to_string().contains("does not refer to a menu item") && start.elapsed() < Duration::from_secs(15) => {}
            Err(e) => panic!("clicking menu item {label:?} ({id}): {e}"),
        }
    }
}

pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The command line of the tray's window process (the tray is `pid`), once it has one.
pub fn window_process(pid: u32) -> String {
    window_child(pid).1
}

/// The child processes of `pid`, by pid (children are listed under the thread that
/// spawned them).
pub fn children(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    let lists: String = tasks.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok()).collect();
    lists.split_whitespace().map(str::to_owned).collect()
}

/// The tray's window process (the tray is `pid`), once it has one: its pid and command line.
pub fn window_child(pid: u32) -> (u32, String) {
    wait_for(Duration::from_secs(10), "a window process", || {
        // A child between fork and exec still shows the tray's own command line.
        children(pid).into_iter().find_map(|child| {
            let line = std::fs::read_to_string(format!("/proc/{child}/cmdline")).ok()?.replace('\0', " ");
            line.contains(" --window ").then_some(())?;
            Some((child.parse().ok()?, line))
        })
    })
}
