//! Whether there is a desktop to show the tray or the window on: without one, one line
//! saying so and what works instead, not GTK's panic. (Used by both programs; imports
//! nothing of the tray's.)

use std::process::ExitCode;

/// The exit code of the tray and the window when there is no desktop to show them on.
pub const NO_DESKTOP: u8 = 6;

/// Runs `app` (the tray, or the window) if there is a graphical session to show it in;
/// else says so in one line and exits with [`NO_DESKTOP`], instead of GTK's panic.
pub fn on_a_desktop(what: &str, app: impl FnOnce() -> ExitCode) -> ExitCode {
    let no_desktop = |why: &str| {
        eprintln!("mfa-tray: {why}, so {what}. Everything works from the command line: `mfa-tray login PROFILE`, `mfa-tray status`, and `mfa-tray --help` for the rest");
        ExitCode::from(NO_DESKTOP)
    };
    if cfg!(all(unix, not(target_os = "macos"))) {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        // (GDK_BACKEND=broadway draws in a browser, with neither.)
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("GDK_BACKEND") {
            return no_desktop("there is no graphical session here (DISPLAY and WAYLAND_DISPLAY are not set)");
        }
    }
    // A display that is set but cannot be opened: GTK's start-up panics (in tao).
    let default_hook = std::sync::Arc::new(std::panic::take_hook());
    let hook = default_hook.clone();
    std::panic::set_hook(Box::new(move |info| {
        if !gtk_failed(info.payload()) {
            hook(info);
        }
    }));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(app)) {
        Ok(code) => code,
        Err(payload) if gtk_failed(&*payload) => {
            let display = std::env::var("DISPLAY").or_else(|_| std::env::var("WAYLAND_DISPLAY")).unwrap_or_default();
            no_desktop(&format!("the graphical session ({display}) cannot be opened"))
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Whether a panic is GTK failing to start (tao's "Failed to initialize gtk backend!").
fn gtk_failed(payload: &(dyn std::any::Any + Send)) -> bool {
    let text = payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str)).unwrap_or("");
    text.contains("initialize gtk")
}
