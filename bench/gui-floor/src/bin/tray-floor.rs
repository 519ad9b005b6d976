//! The bare tray: tao's event loop, a tray-icon with mfa-tray's icon and a three-item
//! menu (muda), over StatusNotifierItem on Linux; nothing else. bench/footprint.sh
//! measures mfa-tray-app against it.

use tao::event_loop::{ControlFlow, EventLoopBuilder};
use tray_icon::menu::{Menu, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIconBuilder};

fn main() {
    // As mfa-tray-app does: GTK's GL set-up is memory a tray never uses.
    std::env::set_var("GDK_GL", "disable");
    let event_loop = EventLoopBuilder::new().build();
    let mut _tray = None;
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        if let tao::event::Event::NewEvents(tao::event::StartCause::Init) = event {
            let menu = Menu::new();
            for label in ["Status", "Enter MFA code…"] {
                menu.append(&MenuItem::new(label, true, None)).unwrap();
            }
            menu.append(&PredefinedMenuItem::separator()).unwrap();
            menu.append(&MenuItem::new("Quit", true, None)).unwrap();
            let mut reader = png::Decoder::new(std::io::Cursor::new(&include_bytes!("../../../../icons/tray-valid.png")[..])).read_info().unwrap();
            let mut rgba = vec![0; reader.output_buffer_size().unwrap()];
            let frame = reader.next_frame(&mut rgba).unwrap();
            let icon = Icon::from_rgba(rgba, frame.width, frame.height).unwrap();
            _tray = Some(TrayIconBuilder::new().with_icon(icon).with_tooltip("tray-floor").with_menu(Box::new(menu)).build().unwrap());
        }
    })
}
