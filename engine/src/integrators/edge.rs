//! Dipole edge focusing with linear fringe (AT `edge_fringe_entrance/exit`,
//! FringeBend method 1, "Brown first order").
use crate::coords::{Coords, DELTA, PX, PY, X, Y};
use crate::real::Real;

/// Applies the edge kick of a pole face rotated by `edge_angle_rad`.
/// `full_gap_m` and `fint` give the fringe correction of the vertical
/// focusing (0 for a hard edge).
#[inline]
pub fn edge<R: Real>(r: &mut Coords<R>, irho: f64, edge_angle_rad: f64, fint: f64, full_gap_m: f64) {
    let fringe_corr = if fint == 0.0 || full_gap_m == 0.0 {
        0.0
    } else {
        let (s, c) = edge_angle_rad.sin_cos();
        irho * full_gap_m * fint * (1.0 + s * s) / c
    };
    let fx = irho * edge_angle_rad.tan();
    let psi = R::cst(edge_angle_rad) - R::cst(fringe_corr) / (r[DELTA] + 1.0);
    let fy = psi.tan() * irho;
    r[PX] += r[X] * fx;
    r[PY] -= r[Y] * fy;
}
