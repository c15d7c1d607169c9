//! `twin_power_converters.bob`: every converter, one group per family, a
//! row per converter: setpoint entry, readback and |readback − setpoint|
//! (its alarm shows as the widget's border), in columns.
use twin_engine::lattice::Plane;

use super::{PITCH, ROW};
use crate::machine::{Machine, MagnetKind, Setpoint, UnmodelledId};
use crate::names;
use crate::ops::bob::{at, display, group, heading, label, text_entry, value};
use crate::ops::xml::El;

/// Columns of rows in a group, and the width of one column [pixels].
const COLUMNS: usize = 4;
const COLUMN_W: i32 = 370;

/// One converter: name, setpoint, readback, deviation (none: unmodelled).
struct Row {
    name: String,
    set: String,
    rdbk: String,
    dev: Option<String>,
}

fn families(m: &Machine) -> Vec<(&'static str, Vec<Row>)> {
    let suffix = &m.profile.magnets.readback_suffix;
    let mut out: Vec<(&'static str, Vec<Row>)> =
        ["Quadrupoles", "Sextupoles", "Horizontal steerers", "Vertical steerers"]
            .into_iter()
            .map(|f| (f, Vec::new()))
            .collect();
    for pc in &m.schema.power_converters {
        let Some(set) = m.catalogue.entry(Setpoint::PcCurrent(pc.id)) else { continue };
        let k = match pc.magnets[0].kind {
            MagnetKind::Quadrupole => 0,
            MagnetKind::Sextupole => 1,
            MagnetKind::Steerer(Plane::Horizontal) => 2,
            MagnetKind::Steerer(Plane::Vertical) => 3,
        };
        let dev = Some(names::converter_deviation(&pc.name));
        out[k].1.push(Row { name: pc.name.clone(), set: set.pv.clone(), rdbk: format!("{}{suffix}", pc.name), dev });
    }
    let unmodelled = m.schema.unmodelled.iter().enumerate().filter_map(|(i, u)| {
        let set = m.catalogue.entry(Setpoint::Unmodelled(UnmodelledId(i)))?;
        Some(Row { name: u.name.clone(), set: set.pv.clone(), rdbk: format!("{}{suffix}", u.name), dev: None })
    });
    out.push(("Converters without a magnet in the model", unmodelled.collect()));
    out.retain(|(_, rows)| !rows.is_empty());
    out
}

fn row(r: &Row, x: i32, y: i32) -> Vec<El> {
    let mut w = vec![
        label(&r.name, at(x, y, 90, ROW)),
        text_entry(&format!("{} setpoint", r.name), &r.set, at(x + 95, y, 85, ROW)),
        value(&format!("{} readback", r.name), &r.rdbk, at(x + 185, y, 85, ROW)),
    ];
    if let Some(dev) = &r.dev {
        w.push(value(&format!("{} deviation", r.name), dev, at(x + 275, y, 85, ROW)));
    }
    w
}

fn header(x: i32) -> Vec<El> {
    [("Converter", 0), ("set [A]", 95), ("rdbk [A]", 185), ("|rdbk-set|", 275)]
        .into_iter()
        .map(|(t, dx)| label(t, at(x + dx, 0, 85, ROW)))
        .collect()
}

/// A family's group: header, then rows filling the columns top to bottom.
fn family(title: &str, rows: &[Row], y: i32) -> (El, i32) {
    let per_column = rows.len().div_ceil(COLUMNS);
    let columns = rows.len().div_ceil(per_column);
    let mut children: Vec<El> = (0..columns).flat_map(|c| header(c as i32 * COLUMN_W)).collect();
    for (k, r) in rows.iter().enumerate() {
        let (c, i) = (k / per_column, k % per_column);
        children.extend(row(r, c as i32 * COLUMN_W, (i as i32 + 1) * PITCH));
    }
    let height = super::box_height(per_column + 1);
    (group(title, at(10, y, COLUMNS as i32 * COLUMN_W + 20, height), children), height)
}

pub(super) fn screen(m: &Machine) -> String {
    let mut widgets = vec![heading(&format!("{}: power converters", m.profile.name), at(10, 10, 700, 30))];
    let mut y = 50;
    for (title, rows) in families(m) {
        let (g, height) = family(&format!("{title} ({})", rows.len()), &rows, y);
        widgets.push(g);
        y += height + 10;
    }
    display("Twin power converters", COLUMNS as i32 * COLUMN_W + 40, y + 10, widgets)
}
