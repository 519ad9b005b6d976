//! An adapter: the tray icon and its menu (tray-icon and muda, the crates Tauri's own
//! tray is made of), rebuilt from the core's [`Status`] whenever what it shows changes.
//! A click on an item hands its [`Action`] to the event loop. Linux trays deliver no
//! clicks on the icon, so every action is a menu item; on macOS and Windows a left click
//! opens the MFA window too. Icon and menu live on the event loop's thread.

use std::time::Duration;

use mfa_tray_core::status::{State, Status};
use mfa_tray_core::types::human_duration;
use tray_icon::menu::{CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use crate::state::{Action, Event, Sink};

/// Everything the tray shows; the menu is rebuilt only when this changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayModel {
    /// Which icon.
    pub icon: State,
    /// The status line.
    pub status: String,
    /// Role profiles and whether each is the active one.
    pub roles: Vec<(String, bool)>,
    /// Identity Center roles by session, then by account (its ID), each role with
    /// whether it is active: a company's dozens of roles in two levels of submenus.
    pub sso_roles: Vec<(String, Vec<AccountRoles>)>,
    /// No account yet: the menu leads to adding one.
    pub first_run: bool,
    /// The accounts item's label: what the user needs most.
    pub accounts: String,
    /// Identity Center sessions that need a sign-in.
    pub sign_in: Vec<String>,
    /// MFA sessions are configured (else "Enter MFA code…" has nothing to do).
    pub mfa: bool,
    /// Identity Center sessions are configured.
    pub identity_center: bool,
}

/// One account's roles in the menu: its id, and each role with whether it is active.
pub type AccountRoles = (String, Vec<(String, bool)>);

impl TrayModel {
    /// What the tray shows for a status. Minutes only, so it changes at most once a minute.
    pub fn from_status(s: &Status) -> TrayModel {
        let left = |secs: Option<u64>| human_duration(Duration::from_secs((secs.unwrap_or(0) + 30) / 60 * 60));
        let session = s
            .sessions
            .iter()
            .max_by_key(|p| (matches!(p.state, State::Valid | State::Expiring), p.seconds_left.unwrap_or(0)));
        // An Identity Center session works while its token does, or renews.
        let sso_ok = |p: &&mfa_tray_core::status::SsoSessionStatus| p.renewable || matches!(p.state, State::Valid | State::Expiring);
        let sign_in: Vec<String> = s.sso_sessions.iter().filter(|p| !sso_ok(p) && !p.name.contains("://")).map(|p| p.name.clone()).collect();
        let mfa_icon = match session.map(|p| p.state) {
            Some(State::Valid) => State::Valid,
            Some(State::Expiring) => State::Expiring,
            _ => State::Expired,
        };
        let icon = match (session.is_some(), s.sso_sessions.is_empty(), sign_in.is_empty()) {
            // Identity Center only: green while every session works, grey when none does.
            (false, false, true) => State::Valid,
            (false, false, false) if s.sso_sessions.iter().any(|p| sso_ok(&p)) => State::Expiring,
            (false, false, false) => State::Expired,
            // An MFA session too: a session that needs a sign-in makes a green icon amber.
            (true, _, false) if mfa_icon == State::Valid => State::Expiring,
            _ => mfa_icon,
        };
        let session_text = match session {
            Some(p) if matches!(p.state, State::Valid | State::Expiring) => format!("MFA session {}: {} left", p.name, left(p.seconds_left)),
            Some(p) if p.state == State::Expired => format!("MFA session {} expired", p.name),
            Some(_) => "No MFA session: enter a code".to_owned(),
            None => match s.sso_sessions.iter().max_by_key(|p| (sso_ok(p), p.seconds_left.unwrap_or(0))) {
                Some(p) if p.renewable => format!("Identity Center {}: signed in", p.name),
                Some(p) if sso_ok(&p) => format!("Identity Center {}: {} left", p.name, left(p.seconds_left)),
                Some(p) => format!("Identity Center {}: sign in", p.name),
                None => "No MFA session profile configured".to_owned(),
            },
        };
        let active = s.roles.iter().find(|r| r.active);
        let status = match active {
            Some(r) if matches!(r.state, State::Valid | State::Expiring) => format!("{} ({} left) · {session_text}", r.name, left(r.seconds_left)),
            Some(r) => format!("{} (expired) · {session_text}", r.name),
            None => session_text,
        };
        let accounts = if s.sessions.is_empty() {
            "Add your AWS account…"
        } else if s.sessions.iter().any(|p| p.keys == mfa_tray_core::profiles::KeyStore::File) {
            "Move your keys to the keychain…"
        } else {
            "Accounts and roles…"
        };
        let first_run = s.sessions.is_empty() && s.sso_sessions.is_empty();
        let mut sso_roles: Vec<(String, Vec<AccountRoles>)> = Vec::new();
        for r in s.roles.iter().filter(|r| r.identity_center) {
            let account = r.role_arn.split(':').nth(4).unwrap_or_default().to_owned();
            let i = sso_roles.iter().position(|(name, _)| *name == r.source).unwrap_or_else(|| {
                sso_roles.push((r.source.clone(), Vec::new()));
                sso_roles.len() - 1
            });
            let session = &mut sso_roles[i].1;
            match session.iter_mut().find(|(a, _)| *a == account) {
                Some((_, roles)) => roles.push((r.name.clone(), r.active)),
                None => session.push((account, vec![(r.name.clone(), r.active)])),
            }
        }
        let roles = s.roles.iter().filter(|r| !r.on_demand && !r.identity_center).map(|r| (r.name.clone(), r.active)).collect();
        TrayModel { icon, status, roles, sso_roles, first_run, accounts: accounts.to_owned(), sign_in, mfa: !s.sessions.is_empty(), identity_center: !s.sso_sessions.is_empty() }
    }
}

/// The icon of a state, decoded from the PNG built in.
fn icon(state: State) -> Icon {
    let bytes: &'static [u8] = match state {
        State::Valid => include_bytes!("../icons/tray-valid.png"),
        State::Expiring => include_bytes!("../icons/tray-expiring.png"),
        State::Expired | State::Absent => include_bytes!("../icons/tray-expired.png"),
    };
    let (rgba, width, height) = rgba(bytes).expect("the tray icons are RGBA PNGs");
    Icon::from_rgba(rgba, width, height).expect("the tray icons are whole")
}

/// An 8-bit RGBA PNG's pixels and size.
fn rgba(png_bytes: &[u8]) -> Result<(Vec<u8>, u32, u32), String> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().map_err(|e| e.to_string())?;
    let mut pixels = vec![0; reader.output_buffer_size().ok_or("too large")?];
    let frame = reader.next_frame(&mut pixels).map_err(|e| e.to_string())?;
    if (frame.color_type, frame.bit_depth) != (png::ColorType::Rgba, png::BitDepth::Eight) {
        return Err(format!("{:?} {:?}, not 8-bit RGBA", frame.color_type, frame.bit_depth));
    }
    pixels.truncate(frame.buffer_size());
    Ok((pixels, frame.width, frame.height))
}

/// What a status shows: the model, or the problem reading the files.
pub fn model(status: Result<Status, mfa_tray_core::Error>) -> TrayModel {
    match status {
        Ok(status) => TrayModel::from_status(&status),
        Err(e) => TrayModel { icon: State::Expired, status: format!("Problem: {}", e.message), roles: vec![], sso_roles: vec![], first_run: false, accounts: "Accounts and roles…".into(), sign_in: vec![], mfa: true, identity_center: false },
    }
}

/// The tray icon and its one menu (on Linux a set menu cannot be replaced, only its
/// items), with what it shows now.
pub struct Tray {
    icon: TrayIcon,
    menu: Menu,
    shown: Option<TrayModel>,
}

impl Tray {
    /// Creates the icon with an empty menu; clicks go to `sink`.
    pub fn create(sink: &Sink) -> Result<Tray, String> {
        let menu = Menu::new();
        let clicked = sink.clone();
        MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
            if let Some(action) = Action::from_id(&event.id.0) {
                clicked(Event::Do(action));
            }
        }));
        #[cfg(not(target_os = "linux"))]
        {
            use tray_icon::{MouseButton, MouseButtonState, TrayIconEvent};
            let clicked = sink.clone();
            TrayIconEvent::set_event_handler(Some(move |event: TrayIconEvent| {
                if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
                    clicked(Event::Do(Action::CodeWindow));
                }
            }));
        }
        let icon = TrayIconBuilder::new()
            .with_id("mfa-tray")
            .with_icon(icon(State::Expired))
            .with_tooltip("mfa-tray")
            .with_menu(Box::new(menu.clone()))
            .with_menu_on_left_click(cfg!(target_os = "linux"))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Tray { icon, menu, shown: None })
    }

    /// Shows `model`, unless it is what is shown already (and `force` is not set).
    pub fn show(&mut self, model: TrayModel, force: bool) {
        if !force && self.shown.as_ref() == Some(&model) {
            return;
        }
        match self.rebuild(&model) {
            Ok(()) => self.shown = Some(model),
            Err(e) => eprintln!("mfa-tray: cannot update the tray menu: {e}"),
        }
    }

    fn rebuild(&self, model: &TrayModel) -> Result<(), String> {
        let menu = &self.menu;
        let err = |e: tray_icon::menu::Error| e.to_string();
        while menu.remove_at(0).is_some() {}
        let item = |action: Action, label: &str, enabled: bool| MenuItem::with_id(action.id(), label, enabled, None);
        let check = |role: &str, active: bool| CheckMenuItem::with_id(Action::Role(role.to_owned()).id(), role, true, active, None);
        let mut items: Vec<Box<dyn IsMenuItem>> = Vec::new();
        let separator = || Box::new(PredefinedMenuItem::separator());
        items.push(Box::new(item(Action::Status, &model.status, false)));
        items.push(separator());
        if model.first_run {
            // A first run: nothing to type a code for yet.
            items.push(Box::new(item(Action::Accounts, &model.accounts, true)));
        } else if model.mfa {
            items.push(Box::new(item(Action::EnterCode, "Enter MFA code…", true)));
        }
        for session in &model.sign_in {
            items.push(Box::new(item(Action::SignIn(session.clone()), &format!("Sign in to Identity Center {session}…"), true)));
        }
        if !model.roles.is_empty() || !model.sso_roles.is_empty() {
            items.push(separator());
            for (role, active) in &model.roles {
                items.push(Box::new(check(role, *active)));
            }
            for (session, accounts) in &model.sso_roles {
                let group = Submenu::new(format!("Identity Center {session}"), true);
                for (account, roles) in accounts {
                    let sub = Submenu::new(account, true);
                    for (role, active) in roles {
                        sub.append(&check(role, *active)).map_err(err)?;
                    }
                    group.append(&sub).map_err(err)?;
                }
                items.push(Box::new(group));
            }
        }
        items.push(separator());
        let sso_active = model.sso_roles.iter().flat_map(|(_, a)| a.iter().flat_map(|(_, r)| r.iter()));
        if let Some((active, _)) = model.roles.iter().chain(sso_active).find(|(_, active)| *active) {
            items.push(Box::new(item(Action::Console(active.clone()), &format!("Open AWS console as {active}"), true)));
        }
        items.push(Box::new(item(Action::Refresh, "Refresh now", true)));
        items.push(Box::new(item(Action::WhoAmI, "Who am I / S3 buckets", true)));
        if !model.first_run {
            items.push(Box::new(item(Action::Accounts, &model.accounts, true)));
        }
        if model.identity_center {
            items.push(Box::new(item(Action::IdentityCenter, "Identity Center…", true)));
        }
        items.push(Box::new(item(Action::Settings, "Settings…", true)));
        items.push(separator());
        items.push(Box::new(item(Action::About, &format!("mfa-tray {}", env!("CARGO_PKG_VERSION")), false)));
        items.push(Box::new(item(Action::Quit, "Quit", true)));
        for item in &items {
            menu.append(item.as_ref()).map_err(err)?;
        }
        self.icon.set_icon(Some(icon(model.icon))).map_err(|e| e.to_string())?;
        self.icon.set_tooltip(Some(&model.status)).map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfa_tray_core::status::{RoleStatus, SessionStatus};

    #[test]
    fn the_icons_decode() {
        for state in [State::Valid, State::Expiring, State::Expired] {
            let bytes = match state {
                State::Valid => &include_bytes!("../icons/tray-valid.png")[..],
                State::Expiring => &include_bytes!("../icons/tray-expiring.png")[..],
                _ => &include_bytes!("../icons/tray-expired.png")[..],
            };
            let (pixels, w, h) = rgba(bytes).unwrap();
            assert_eq!(pixels.len(), (w * h * 4) as usize);
            assert!(w >= 16 && w == h, "{w}x{h}");
        }
        assert!(rgba(b"not a png").is_err());
    }

    #[test]
    fn model_shows_active_role_and_session() {
        let mut s = Status {
            version: 1,
            now: String::new(),
            credentials_file: String::new(),
            target: "default".into(),
            active_role: Some("admin".into()),
            sessions: vec![SessionStatus { name: "corp".into(), state: State::Valid, expires_at: None, seconds_left: Some(3 * 3600 + 125), keys: mfa_tray_core::profiles::KeyStore::File, mfa_serial: String::new() }],
            roles: vec![
                RoleStatus { name: "admin".into(), state: State::Valid, expires_at: None, seconds_left: Some(3000), source: "corp".into(), role_arn: String::new(), active: true, sections: vec![], on_demand: false, identity_center: false },
                RoleStatus { name: "dev".into(), state: State::Absent, expires_at: None, seconds_left: None, source: "corp".into(), role_arn: String::new(), active: false, sections: vec![], on_demand: false, identity_center: false },
            ],
            problems: vec![],
            sso_sessions: vec![],
        };
        let m = TrayModel::from_status(&s);
        assert_eq!(m.icon, State::Valid);
        assert_eq!(m.status, "admin (50m left) · MFA session corp: 3h 02m left");
        assert_eq!(m.roles, [("admin".to_owned(), true), ("dev".to_owned(), false)]);
        assert_eq!(m.accounts, "Move your keys to the keychain…");
        s.sessions[0].keys = mfa_tray_core::profiles::KeyStore::Keychain;
        assert_eq!(TrayModel::from_status(&s).accounts, "Accounts and roles…");
        s.sessions[0].state = State::Expired;
        s.roles[0].state = State::Expired;
        let m = TrayModel::from_status(&s);
        assert_eq!(m.icon, State::Expired);
        assert_eq!(m.status, "admin (expired) · MFA session corp expired");
        s.sessions.clear();
        assert_eq!(TrayModel::from_status(&s).accounts, "Add your AWS account…");
        assert!(TrayModel::from_status(&s).first_run);
    }

    #[test]
    fn identity_center_roles_are_grouped_by_session_and_account() {
        let role = |name: &str, session: &str, account: &str, active| RoleStatus { name: name.into(), state: State::Absent, expires_at: None, seconds_left: None, source: session.into(), role_arn: format!("arn:aws:iam::{account}:role/R"), active, sections: vec![], on_demand: false, identity_center: true };
        let mut plain = role("admin", "corp", "", false);
        plain.identity_center = false;
        let s = Status {
            version: 1,
            now: String::new(),
            credentials_file: String::new(),
            target: "default".into(),
            active_role: None,
            sessions: vec![],
            roles: vec![plain, role("a-admin", "corp", "111", false), role("b-read", "corp", "222", true), role("a-read", "corp", "111", false), role("x", "other", "111", false)],
            problems: vec![],
            sso_sessions: vec![],
        };
        let m = TrayModel::from_status(&s);
        assert_eq!(m.roles, [("admin".to_owned(), false)]);
        let own = |v: &[(&str, bool)]| v.iter().map(|(n, a)| (n.to_string(), *a)).collect::<Vec<_>>();
        assert_eq!(m.sso_roles, [
            ("corp".to_owned(), vec![("111".to_owned(), own(&[("a-admin", false), ("a-read", false)])), ("222".to_owned(), own(&[("b-read", true)]))]),
            ("other".to_owned(), vec![("111".to_owned(), own(&[("x", false)]))]),
        ]);
    }

    #[test]
    fn identity_center_sessions_show_in_the_icon_and_offer_a_sign_in() {
        use mfa_tray_core::status::SsoSessionStatus;
        let sso = |state, renewable| SsoSessionStatus { name: "corp-sso".into(), start_url: String::new(), region: "eu-west-1".into(), state, expires_at: None, seconds_left: Some(7200), renewable };
        let mut s = Status { version: 1, now: String::new(), credentials_file: String::new(), target: "default".into(), active_role: None, sessions: vec![], roles: vec![], problems: vec![], sso_sessions: vec![sso(State::Valid, true)] };
        let m = TrayModel::from_status(&s);
        assert_eq!((m.icon, m.first_run, m.sign_in.len()), (State::Valid, false, 0));
        assert_eq!((m.mfa, m.identity_center), (false, true), "no code to enter; the Identity Center view");
        assert_eq!(m.status, "Identity Center corp-sso: signed in");
        s.sso_sessions[0] = sso(State::Expired, false);
        let m = TrayModel::from_status(&s);
        assert_eq!((m.icon, m.sign_in.clone()), (State::Expired, vec!["corp-sso".to_owned()]));
        assert_eq!(m.status, "Identity Center corp-sso: sign in");
        // With a valid MFA session, a session that needs a sign-in turns the icon amber.
        s.sessions.push(SessionStatus { name: "corp".into(), state: State::Valid, expires_at: None, seconds_left: Some(3600), keys: mfa_tray_core::profiles::KeyStore::Keychain, mfa_serial: String::new() });
        assert_eq!(TrayModel::from_status(&s).icon, State::Expiring);
    }
}
