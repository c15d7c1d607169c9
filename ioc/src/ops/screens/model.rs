//! `twin_model.bob`: the twin's model — status and counters, the scalars
//! of the last valid computation, the BPM read-out settings, and the
//! optics along the ring.
use super::{PITCH, ROW, readings};
use crate::machine::{Machine, Setpoint, SetpointEntry};
use crate::names;
use crate::ops::bob::{
    BLUE, DARK_GREEN, RED, Trace, at, display, group, heading, label, text_entry, text_update, write_button, xy_plot,
};
use crate::ops::xml::El;
use crate::records::columns::OpticsColumn;
use crate::records::{ENVELOPE_SCALARS, MODEL_SCALARS};

fn status() -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = [
        ("State", "STATUS"),
        ("Message", "MESSAGE"),
        ("Recomputes", "RECOMPUTES"),
        ("Writes", "WRITES"),
        ("Writes merged", "MERGED"),
        ("Duration", "DURATION"),
    ]
    .iter()
    .map(|(t, w)| (t.to_string(), names::model(w)))
    .collect();
    rows.push(("Closed orbit found".into(), names::dt4acc::orbit("found")));
    rows
}

fn scalars() -> Vec<(String, String)> {
    MODEL_SCALARS.iter().chain(&ENVELOPE_SCALARS).map(|(n, desc, ..)| (desc.to_string(), names::model(n))).collect()
}

/// The BPM read-out settings: value, and an entry or on/off buttons.
fn readout(m: &Machine, x: i32, y: i32) -> El {
    let settings = |e: &&SetpointEntry| matches!(e.setpoint, Setpoint::BpmNoise | Setpoint::BpmNoiseRms);
    let entries: Vec<&SetpointEntry> = m.catalogue.entries().iter().filter(settings).collect();
    let mut children = Vec::new();
    for (k, e) in entries.iter().enumerate() {
        let row = k as i32 * PITCH;
        children.push(label(&e.description, at(0, row, 190, ROW)));
        children.push(text_update(&e.description, &e.pv, at(195, row, 90, ROW)));
        match e.setpoint {
            Setpoint::BpmNoise => {
                children.push(write_button("On", &e.pv, "1", at(290, row, 45, ROW)));
                children.push(write_button("Off", &e.pv, "0", at(340, row, 45, ROW)));
            }
            _ => children.push(text_entry(&format!("{} setpoint", e.pv), &e.pv, at(290, row, 95, ROW))),
        }
    }
    group("BPM read-out", at(x, y, 410, super::box_height(entries.len())), children)
}

fn optics(c: OpticsColumn) -> String {
    names::optics("OPTICS", c.suffix())
}

fn plots() -> Vec<El> {
    let s = optics(OpticsColumn::S);
    let beta = [
        Trace::line("beta x", &s, &optics(OpticsColumn::BetaX), BLUE),
        Trace::line("beta y", &s, &optics(OpticsColumn::BetaY), RED),
    ];
    let eta = [Trace::line("eta x", &s, &optics(OpticsColumn::EtaX), DARK_GREEN)];
    let orbit =
        [Trace::line("x", &s, &optics(OpticsColumn::X), BLUE), Trace::line("y", &s, &optics(OpticsColumn::Y), RED)];
    vec![
        xy_plot("Beta functions", at(440, 50, 900, 260), "s [m]", "beta [m]", &beta),
        xy_plot("Dispersion", at(440, 320, 900, 200), "s [m]", "eta x [m]", &eta),
        xy_plot("Closed orbit", at(440, 530, 900, 200), "s [m]", "x, y [m]", &orbit),
    ]
}

pub(super) fn screen(m: &Machine) -> String {
    let mut widgets = vec![heading(&format!("{}: the twin's model", m.profile.name), at(10, 10, 700, 30))];
    let status = status();
    widgets.push(readings("Status", 10, 50, (150, 250), &status));
    let y = 50 + super::box_height(status.len()) + 10;
    let scalars = scalars();
    widgets.push(readings("Last valid computation", 10, y, (200, 200), &scalars));
    let y = y + super::box_height(scalars.len()) + 10;
    widgets.push(readout(m, 10, y));
    widgets.extend(plots());
    display("Twin model", 1360, (y + 120).max(750), widgets)
}
