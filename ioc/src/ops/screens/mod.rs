//! The Phoebus screens of the twin, one module each, and the layout
//! helpers they share.
mod bba;
mod converters;
mod model;
mod orbit;
mod overview;

use super::Artefact;
use super::bob::{at, group, labelled};
use super::xml::El;
use crate::machine::Machine;

/// A screen: file name in `screens/` and display name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Screen {
    pub file: &'static str,
    pub title: &'static str,
}

pub const OVERVIEW: Screen = Screen { file: "twin_overview.bob", title: "Twin overview" };
pub const ORBIT: Screen = Screen { file: "twin_orbit.bob", title: "Twin orbit" };
pub const CONVERTERS: Screen = Screen { file: "twin_power_converters.bob", title: "Twin power converters" };
pub const BBA: Screen = Screen { file: "twin_bba.bob", title: "Twin BBA" };
pub const MODEL: Screen = Screen { file: "twin_model.bob", title: "Twin model" };

/// Whether the machine has the BBA service (quads on a multiplexer).
fn has_bba(m: &Machine) -> bool {
    m.schema.multiplexer_quads().next().is_some()
}

/// The screens of the machine (BBA only on a machine with the service).
pub(super) fn screens(m: &Machine) -> Vec<Artefact> {
    let mut out = vec![
        (OVERVIEW, overview::screen(m)),
        (ORBIT, orbit::screen(m)),
        (CONVERTERS, converters::screen(m)),
        (MODEL, model::screen(m)),
    ];
    if has_bba(m) {
        out.push((BBA, bba::screen(m)));
    }
    out.into_iter().map(|(s, text)| Artefact::new(&format!("screens/{}", s.file), text)).collect()
}

/// Height of one row of widgets and the distance between rows [pixels].
const ROW: i32 = 20;
const PITCH: i32 = 25;

/// A group box of labelled text updates, one row each: (label, PV).
fn readings(title: &str, x: i32, y: i32, widths: (i32, i32), rows: &[(String, String)]) -> El {
    let children = rows.iter().enumerate().flat_map(|(k, (text, pv))| labelled(text, pv, 0, k as i32 * PITCH, widths));
    group(title, at(x, y, widths.0 + widths.1 + 25, box_height(rows.len())), children.collect())
}

/// Height of a group box holding `rows` rows.
fn box_height(rows: usize) -> i32 {
    rows as i32 * PITCH + 35
}
