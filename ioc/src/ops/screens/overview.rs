//! `twin_overview.bob`: beam, tunes, RF, model and store status, the
//! twin's health, and buttons to the other screens.
use super::{BBA, CONVERTERS, MODEL, ORBIT, PITCH, ROW, has_bba, readings};
use crate::machine::Machine;
use crate::names;
use crate::ops::bob::{GREEN, RED, at, display, group, heading, label, led, open_button, text_entry, text_update};
use crate::ops::xml::El;

fn beam(m: &Machine) -> Vec<(String, String)> {
    let b = &m.profile.beam;
    let mut rows = Vec::new();
    if let Some(c) = b.current.first() {
        rows.push(("Beam current".into(), c.clone()));
    }
    if let Some(l) = b.lifetime.first() {
        rows.push(("Lifetime".into(), l.clone()));
    }
    if let Some(t) = &m.profile.topup {
        rows.push(("Top-up".into(), t.state.clone()));
        rows.push(("Next injection".into(), t.countdown.clone()));
    }
    rows
}

fn tunes(m: &Machine) -> Vec<(String, String)> {
    let t = &m.profile.tunes;
    vec![
        ("Tune H (frac x f_rev)".into(), t.horizontal.clone()),
        ("Tune V (frac x f_rev)".into(), t.vertical.clone()),
        ("Model Qx".into(), names::model("QX")),
        ("Model Qy".into(), names::model("QY")),
    ]
}

/// Master clock: readback, and an entry writing the setpoint.
fn rf(m: &Machine, x: i32, y: i32) -> El {
    let rf = &m.profile.rf;
    let readback = rf.hardware_readback.as_ref().unwrap_or(&rf.master_clock);
    let children = vec![
        label("Master clock", at(0, 0, 140, ROW)),
        text_update("Master clock readback", readback, at(145, 0, 140, ROW)),
        label("Set", at(0, PITCH, 140, ROW)),
        text_entry("Master clock setpoint", &rf.master_clock, at(145, PITCH, 140, ROW)),
    ];
    group("RF", at(x, y, 310, super::box_height(2)), children)
}

/// An mbbi status (LED off at state 0) and its message.
fn status(title: &str, status: &str, message: &str, x: i32, y: i32) -> El {
    let children = vec![
        led(&format!("{title} LED"), status, at(0, 0, ROW, ROW), GREEN, RED),
        text_update(&format!("{title} status"), status, at(30, 0, 255, ROW)),
        text_update(&format!("{title} message"), message, at(0, PITCH, 285, ROW)),
    ];
    group(title, at(x, y, 310, super::box_height(2)), children)
}

fn health() -> Vec<(String, String)> {
    ["VERSION", "UPTIME", "HEARTBEAT"].iter().map(|w| (w.to_lowercase(), names::twin(w))).collect()
}

pub(super) fn screen(m: &Machine) -> String {
    let mut widgets = vec![heading(&format!("{} digital twin", m.profile.name), at(10, 10, 600, 30))];
    let beam = beam(m);
    widgets.push(readings("Beam", 10, 50, (140, 140), &beam));
    let y = 50 + super::box_height(beam.len()) + 10;
    widgets.push(readings("Tunes", 10, y, (140, 140), &tunes(m)));
    let y = y + super::box_height(4) + 10;
    widgets.push(rf(m, 10, y));
    widgets.push(status("Model", &names::model("STATUS"), &names::model("MESSAGE"), 340, 50));
    let y = 50 + super::box_height(2) + 10;
    widgets.push(status("Store", &names::store("STATUS"), &names::store("MESSAGE"), 340, y));
    let y = y + super::box_height(2) + 10;
    widgets.push(readings("Twin", 340, y, (140, 140), &health()));
    let mut screens = vec![ORBIT, CONVERTERS, MODEL];
    if has_bba(m) {
        screens.push(BBA);
    }
    let nav =
        screens.iter().enumerate().map(|(k, s)| open_button(s.title, s.file, at(670, 50 + k as i32 * 35, 180, 30)));
    widgets.extend(nav);
    display("Twin overview", 870, 420, widgets)
}
