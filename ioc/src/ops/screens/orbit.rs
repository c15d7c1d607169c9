//! `twin_orbit.bob`: the closed orbit x and y at the BPMs against s (the
//! model's `TWIN:BPM:*` waveforms) and the orbit table of the BPMs (PVA).
use super::{PITCH, ROW};
use crate::machine::Machine;
use crate::names;
use crate::ops::bob::{BLUE, RED, Trace, at, display, heading, label, table, text_update, xy_plot};
use crate::records::columns::OpticsColumn;

fn bpm(c: OpticsColumn) -> String {
    names::optics("BPM", c.suffix())
}

pub(super) fn screen(m: &Machine) -> String {
    let o = &m.profile.orbit;
    let s = bpm(OpticsColumn::S);
    let x = Trace::line("x", &s, &bpm(OpticsColumn::X), BLUE);
    let y = Trace::line("y", &s, &bpm(OpticsColumn::Y), RED);
    let widgets = vec![
        heading(&format!("{}: closed orbit at the BPMs", m.profile.name), at(10, 10, 700, 30)),
        xy_plot("Horizontal orbit", at(10, 50, 900, 300), "s [m]", "x [m]", &[x]),
        xy_plot("Vertical orbit", at(10, 360, 900, 300), "s [m]", "y [m]", &[y]),
        label("Orbit updates", at(930, 50, 120, ROW)),
        text_update("Orbit updates", &o.count, at(1055, 50, 100, ROW)),
        label("BPM readings (nm, PVA table)", at(930, 50 + PITCH, 300, ROW)),
        table("Orbit table", &o.table, at(930, 50 + 2 * PITCH, 460, 610 - 2 * PITCH)),
    ];
    display("Twin orbit", 1400, 680, widgets)
}
