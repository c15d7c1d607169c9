//! `twin_bba.bob`: the BBA service — run and abort, state, progress, the
//! fitted centres against s, and a row per multiplexer quad with its run
//! button and results. Clearing results is the instructors' (not here).
use super::{PITCH, ROW, readings};
use crate::machine::Machine;
use crate::names;
use crate::ops::bob::{BLUE, RED, Trace, at, display, group, heading, label, value, write_button, xy_plot};
use crate::ops::xml::El;

/// Columns of quad rows and the width of one column [pixels].
const COLUMNS: usize = 3;
const COLUMN_W: i32 = 585;
/// Per-quad results: (suffix, column title).
const RESULTS: [(&str, &str); 5] = [
    ("offsetX", "x [m]"),
    ("offsetY", "y [m]"),
    ("sigmaX", "sigma x [m]"),
    ("sigmaY", "sigma y [m]"),
    ("chi2", "chi2 [um2]"),
];

fn service(m: &Machine) -> Vec<El> {
    let mut rows: Vec<(String, String)> = [
        ("State", "status"),
        ("Message", "message"),
        ("Quad being measured", "current"),
        ("Progress", "progress"),
        ("Time left", "eta"),
    ]
    .iter()
    .map(|(t, w)| (t.to_string(), names::bba(w)))
    .collect();
    if let Some(x) = &m.profile.multiplexer {
        rows.push(("Multiplexer".into(), x.name.clone()));
        rows.push(("Auxiliary supply".into(), format!("{}:rdbk", x.supply)));
    }
    vec![
        write_button("Run all", &names::bba("runAll"), "1", at(10, 50, 120, 30)),
        write_button("Abort", &names::bba("abort"), "1", at(140, 50, 120, 30)),
        readings("Service", 10, 90, (150, 300), &rows),
    ]
}

fn plots() -> Vec<El> {
    let trace = |name: &str, y: &str, err: &str, color| Trace {
        err_pv: Some(names::bba(err)),
        ..Trace::line(name, &names::bba("S"), &names::bba(y), color)
    };
    vec![
        xy_plot("Centres x", at(500, 50, 620, 260), "s [m]", "x [m]", &[trace("x", "OFFSETX", "SIGMAX", BLUE)]),
        xy_plot("Centres y", at(1130, 50, 620, 260), "s [m]", "y [m]", &[trace("y", "OFFSETY", "SIGMAY", RED)]),
    ]
}

fn quad_row(quad: &str, x: i32, y: i32) -> Vec<El> {
    let mut w = vec![
        label(quad, at(x, y, 85, ROW)),
        write_button("Run", &names::bba_quad(quad, "run"), "1", at(x + 90, y, 50, ROW)),
    ];
    for (k, (what, _)) in RESULTS.iter().enumerate() {
        let at_x = x + 145 + k as i32 * 85;
        w.push(value(&format!("{quad} {what}"), &names::bba_quad(quad, what), at(at_x, y, 80, ROW)));
    }
    w
}

/// The quads' group and its height.
fn quads(m: &Machine, y: i32) -> (El, i32) {
    let quads: Vec<&str> = m.schema.multiplexer_quads().map(|q| q.name.as_str()).collect();
    let per_column = quads.len().div_ceil(COLUMNS);
    let mut children = Vec::new();
    for c in 0..quads.len().div_ceil(per_column) {
        let x = c as i32 * COLUMN_W;
        children.push(label("Quad", at(x, 0, 85, ROW)));
        children
            .extend(RESULTS.iter().enumerate().map(|(k, (_, t))| label(t, at(x + 145 + k as i32 * 85, 0, 80, ROW))));
    }
    for (k, q) in quads.iter().enumerate() {
        let (c, i) = (k / per_column, k % per_column);
        children.extend(quad_row(q, c as i32 * COLUMN_W, (i as i32 + 1) * PITCH));
    }
    let title = format!("Quads on the multiplexer ({})", quads.len());
    let height = super::box_height(per_column + 1);
    (group(&title, at(10, y, COLUMNS as i32 * COLUMN_W + 20, height), children), height)
}

pub(super) fn screen(m: &Machine) -> String {
    let mut widgets = vec![heading(&format!("{}: beam-based alignment", m.profile.name), at(10, 10, 700, 30))];
    widgets.extend(service(m));
    widgets.extend(plots());
    let (table, height) = quads(m, 330);
    widgets.push(table);
    display("Twin BBA", COLUMNS as i32 * COLUMN_W + 40, 330 + height + 20, widgets)
}
