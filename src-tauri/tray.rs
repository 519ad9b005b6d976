//! The tray icon and its menu, rebuilt from the core's [`Status`] whenever it changes.
//! Linux trays deliver no clicks, so every action is a menu item; on macOS and Windows
//! a left click opens the MFA window too.

use std::time::Duration;

use mfa_tray_core::status::{State, Status};
use mfa_tray_core::types::human_duration;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use crate::state::{lock, AppState};
use crate::window::{self, View};

const TRAY_ID: &str = "mfa-tray";

/// A menu action, converted to and from menu item ids in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuAction {
    /// The status line (not clickable).
    Status,
    /// "Enter MFA code…".
    EnterCode,
    /// Switch the active role to this role profile.
    Role(String),
    /// "Refresh now".
    Refresh,
    /// "Who am I / S3 buckets".
    WhoAmI,
    /// "Settings…".
    Settings,
    /// "Add your AWS account…" / "Accounts and roles…".
    Accounts,
    /// "Open AWS console as ROLE".
    Console(String),
    /// "Sign in to Identity Center SESSION…".
    SignIn(String),
    /// "Identity Center…": the window's Identity Center view.
    IdentityCenter,
    /// "mfa-tray VERSION" (not clickable): which version runs; a new one is a new package.
    About,
    /// "Quit".
    Quit,
}

impl MenuAction {
    /// The menu item id.
    pub fn id(&self) -> String {
        match self {
            MenuAction::Status => "status".into(),
            MenuAction::EnterCode => "enter-code".into(),
            MenuAction::Role(r) => format!("role:{r}"),
            MenuAction::Refresh => "refresh".into(),
            MenuAction::WhoAmI => "whoami".into(),
            MenuAction::Settings => "settings".into(),
            MenuAction::IdentityCenter => "identity-center".into(),
            MenuAction::Accounts => "accounts".into(),
            MenuAction::Console(r) => format!("console:{r}"),
            MenuAction::SignIn(s) => format!("sso-sign-in:{s}"),
            MenuAction::About => "about".into(),
            MenuAction::Quit => "quit".into(),
        }
    }

    /// The action of a menu item id.
    pub fn from_id(id: &str) -> Option<MenuAction> {
        Some(match id {
            "status" => MenuAction::Status,
            "enter-code" => MenuAction::EnterCode,
            "refresh" => MenuAction::Refresh,
            "whoami" => MenuAction::WhoAmI,
            "settings" => MenuAction::Settings,
            "identity-center" => MenuAction::IdentityCenter,
            "accounts" => MenuAction::Accounts,
            "about" => MenuAction::About,
            "quit" => MenuAction::Quit,
            _ => match (id.strip_prefix("console:"), id.strip_prefix("sso-sign-in:")) {
                (Some(role), _) => MenuAction::Console(role.to_owned()),
                (_, Some(session)) => MenuAction::SignIn(session.to_owned()),
                _ => MenuAction::Role(id.strip_prefix("role:")?.to_owned()),
            },
        })
    }
}

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

fn icon(state: State) -> Image<'static> {
    let bytes: &'static [u8] = match state {
        State::Valid => include_bytes!("../icons/tray-valid.png"),
        State::Expiring => include_bytes!("../icons/tray-expiring.png"),
        State::Expired | State::Absent => include_bytes!("../icons/tray-expired.png"),
    };
    Image::from_bytes(bytes).expect("tray icons are valid PNGs")
}

/// Creates the tray icon with an initial menu.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let menu = Menu::new(app)?;
    let builder = TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(State::Expired))
        .tooltip("mfa-tray")
        .menu(&menu)
        .show_menu_on_left_click(cfg!(target_os = "linux"))
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()));
    #[cfg(not(target_os = "linux"))]
    let builder = builder.on_tray_icon_event(|tray, event| {
        use tauri::tray::{MouseButton, MouseButtonState, TrayIconEvent};
        if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
            window::open(tray.app_handle(), View::Code, None);
        }
    });
    builder.build(app)?;
    app.manage(TrayMenu(std::sync::Mutex::new(menu)));
    refresh(app);
    Ok(())
}

/// The tray's one menu: on Linux a set menu cannot be replaced, only its items.
struct TrayMenu<R: Runtime>(std::sync::Mutex<Menu<R>>);

/// Re-reads the files and updates the icon and menu if anything shown changed.
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let model = match state.engine().status() {
        Ok(status) => TrayModel::from_status(&status),
        Err(e) => TrayModel { icon: State::Expired, status: format!("Problem: {}", e.message), roles: vec![], sso_roles: vec![], first_run: false, accounts: "Accounts and roles…".into(), sign_in: vec![], mfa: true, identity_center: false },
    };
    let mut last = lock(&state.menu_model);
    if last.as_ref() == Some(&model) {
        return;
    }
    if let Err(e) = rebuild(app, &model) {
        eprintln!("mfa-tray: cannot update the tray menu: {e}");
        return;
    }
    *last = Some(model);
}

fn rebuild<R: Runtime>(app: &AppHandle<R>, model: &TrayModel) -> tauri::Result<()> {
    let holder = app.state::<TrayMenu<R>>();
    let menu = lock(&holder.0);
    for item in menu.items()? {
        menu.remove(&item)?;
    }
    menu.append(&MenuItem::with_id(app, MenuAction::Status.id(), &model.status, false, None::<&str>)?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    if model.first_run {
        // A first run: nothing to type a code for yet.
        menu.append(&MenuItem::with_id(app, MenuAction::Accounts.id(), &model.accounts, true, None::<&str>)?)?;
    } else if model.mfa {
        menu.append(&MenuItem::with_id(app, MenuAction::EnterCode.id(), "Enter MFA code…", true, None::<&str>)?)?;
    }
    for session in &model.sign_in {
        menu.append(&MenuItem::with_id(app, MenuAction::SignIn(session.clone()).id(), format!("Sign in to Identity Center {session}…"), true, None::<&str>)?)?;
    }
    if !model.roles.is_empty() || !model.sso_roles.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
        for (role, active) in &model.roles {
            menu.append(&CheckMenuItem::with_id(app, MenuAction::Role(role.clone()).id(), role, true, *active, None::<&str>)?)?;
        }
        for (session, accounts) in &model.sso_roles {
            let group = Submenu::new(app, format!("Identity Center {session}"), true)?;
            for (account, roles) in accounts {
                let sub = Submenu::new(app, account, true)?;
                for (role, active) in roles {
                    sub.append(&CheckMenuItem::with_id(app, MenuAction::Role(role.clone()).id(), role, true, *active, None::<&str>)?)?;
                }
                group.append(&sub)?;
            }
            menu.append(&group)?;
        }
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    let sso_active = model.sso_roles.iter().flat_map(|(_, a)| a.iter().flat_map(|(_, r)| r.iter()));
    if let Some((active, _)) = model.roles.iter().chain(sso_active).find(|(_, active)| *active) {
        menu.append(&MenuItem::with_id(app, MenuAction::Console(active.clone()).id(), format!("Open AWS console as {active}"), true, None::<&str>)?)?;
    }
    menu.append(&MenuItem::with_id(app, MenuAction::Refresh.id(), "Refresh now", true, None::<&str>)?)?;
    menu.append(&MenuItem::with_id(app, MenuAction::WhoAmI.id(), "Who am I / S3 buckets", true, None::<&str>)?)?;
    if !model.first_run {
        menu.append(&MenuItem::with_id(app, MenuAction::Accounts.id(), &model.accounts, true, None::<&str>)?)?;
    }
    if model.identity_center {
        menu.append(&MenuItem::with_id(app, MenuAction::IdentityCenter.id(), "Identity Center…", true, None::<&str>)?)?;
    }
    menu.append(&MenuItem::with_id(app, MenuAction::Settings.id(), "Settings…", true, None::<&str>)?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    let about = format!("mfa-tray {}", env!("CARGO_PKG_VERSION"));
    menu.append(&MenuItem::with_id(app, MenuAction::About.id(), about, false, None::<&str>)?)?;
    menu.append(&MenuItem::with_id(app, MenuAction::Quit.id(), "Quit", true, None::<&str>)?)?;
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        tray.set_icon(Some(icon(model.icon)))?;
        tray.set_tooltip(Some(&model.status))?;
    }
    Ok(())
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    match MenuAction::from_id(id) {
        Some(MenuAction::EnterCode) => enter_code(app.clone()),
        Some(MenuAction::Role(role)) => switch_role(app.clone(), role),
        Some(MenuAction::Refresh) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move { crate::background::refresh_now(&app).await });
        }
        Some(MenuAction::WhoAmI) => window::open(app, View::WhoAmI, None),
        Some(MenuAction::Settings) => window::open(app, View::Settings, None),
        Some(MenuAction::IdentityCenter) => window::open(app, View::Sso, None),
        Some(MenuAction::Accounts) => window::open(app, View::Account, None),
        Some(MenuAction::Console(role)) => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let engine = app.state::<AppState>().engine();
                let opened = match engine.console(&role, None, None, None).await {
                    // The opener may wait for the browser: off the async threads.
                    Ok(link) => tauri::async_runtime::spawn_blocking(move || mfa_tray_core::console::open_in_browser(&mfa_tray_core::env::OsEnvironment, &link.url))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.map_err(|e| format!("cannot open the browser ({e})"))),
                    Err(e) => Err(e.message),
                };
                if let Err(message) = opened {
                    crate::notifier::error(&app, &format!("Could not open the AWS console as {role}"), &message);
                }
            });
        }
        Some(MenuAction::SignIn(session)) => sso_sign_in(app, &session),
        Some(MenuAction::Quit) => app.exit(0),
        Some(MenuAction::Status | MenuAction::About) | None => {}
    }
}

/// Signs in to Identity Center session `session` in the browser, from the tray (a menu
/// item, a notification's "Sign in"), and says how it went.
pub fn sso_sign_in<R: Runtime>(app: &AppHandle<R>, session: &str) {
    let (app, session) = (app.clone(), session.to_owned());
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        match state.engine().sso_login(&session, mfa_tray_core::sso::Flow::Pkce, &|_| {}).await {
            Ok(token) => {
                let until = mfa_tray_core::credentials::format_time(token.expires_at);
                crate::notifier::info(&app, &format!("Signed in to {session}"), &format!("Identity Center session {session}: its token is valid until {until}{}.", if token.refresh_token.is_some() { " and renews itself" } else { "" }));
            }
            Err(e) => crate::notifier::error(&app, &format!("Could not sign in to {session}"), &e.message),
        }
        *lock(&state.menu_model) = None;
        refresh(&app);
        state.wake.notify_one();
    });
}

/// "Enter MFA code…": the window, unless every MFA session that needs a login can get its
/// code from its profile's `mfa_process`: then no typing at all.
fn enter_code<R: Runtime>(app: AppHandle<R>) {
    let state = app.state::<AppState>();
    let engine = state.engine();
    let Ok(snap) = engine.snapshot() else { return window::open(&app, View::Code, None) };
    let due: Vec<(String, Option<String>)> = snap
        .profiles
        .sessions
        .iter()
        .filter(|p| snap.valid_session(&p.name, mfa_tray_core::engine::SESSION_MARGIN).is_none())
        .map(|p| (p.name.clone(), p.mfa_process.clone()))
        .collect();
    if due.is_empty() || due.iter().any(|(_, process)| process.is_none()) {
        return window::open(&app, View::Code, None);
    }
    tauri::async_runtime::spawn(async move {
        for (profile, process) in due {
            crate::background::login_with_process(&app, &profile, process.as_deref().unwrap_or_default()).await;
        }
    });
}

/// Switches the active role: through the MFA session when it can serve, otherwise with
/// a code from the role's `mfa_process`, otherwise the window asks for a code with the
/// role preselected.
fn switch_role<R: Runtime>(app: AppHandle<R>, role: String) {
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let engine = state.engine();
        let plan = engine.snapshot().and_then(|snap| engine.plan(&snap, &role, None, false));
        match plan {
            Ok(plan) if matches!(plan.strategy, mfa_tray_core::Strategy::ViaSession | mfa_tray_core::Strategy::IdentityCenter) => {
                if let Err(e) = engine.assume(&role, None, None, None).await {
                    crate::notifier::error(&app, &format!("Could not switch to {role}"), &e.message);
                }
            }
            Ok(plan) => match engine.snapshot().ok().and_then(|snap| snap.profiles.role(&role).and_then(|r| r.mfa_process.clone())) {
                Some(process) => {
                    let result = match crate::background::code_from_process(engine.clone(), &role, &process).await {
                        Ok(code) => engine.assume(&role, Some(&code), None, None).await.map(drop),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = result {
                        crate::notifier::error(&app, &format!("Could not switch to {role}"), &e.message);
                    }
                }
                None => window::open(&app, View::Code, Some(crate::state::Pending { profile: role, reason: Some(plan.reason) })),
            },
            Err(e) => crate::notifier::error(&app, &format!("Could not switch to {role}"), &e.message),
        }
        // Rebuild even on failure: the check mark GTK toggled must go back.
        *lock(&state.menu_model) = None;
        refresh(&app);
        state.wake.notify_one();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfa_tray_core::status::{RoleStatus, SessionStatus};

    #[test]
    fn menu_ids_round_trip() {
        for a in [MenuAction::Status, MenuAction::EnterCode, MenuAction::Role("prod:admin".into()), MenuAction::Refresh, MenuAction::WhoAmI, MenuAction::Settings, MenuAction::Accounts, MenuAction::Console("prod:admin".into()), MenuAction::SignIn("corp".into()), MenuAction::IdentityCenter, MenuAction::About, MenuAction::Quit] {
            assert_eq!(MenuAction::from_id(&a.id()), Some(a));
        }
        assert_eq!(MenuAction::from_id("nonsense"), None);
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
