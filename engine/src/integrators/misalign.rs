//! Entrance/exit transformations of a misaligned element (AT T1/R1, R2/T2
//! as made by `shift_elem` and `tilt_elem`).
use crate::coords::{Coords, PX, PY, X, Y};
use crate::lattice::Misalignment;
use crate::real::Real;

/// Into the element frame: translate by −(dx, dy), then rotate by the roll.
#[inline]
pub fn enter<R: Real>(r: &mut Coords<R>, m: &Misalignment) {
    r[X] -= R::cst(m.dx_m);
    r[Y] -= R::cst(m.dy_m);
    if m.roll_rad != 0.0 {
        rotate(r, m.roll_rad);
    }
}

/// Back to the lab frame: rotate back, then translate by +(dx, dy).
#[inline]
pub fn exit<R: Real>(r: &mut Coords<R>, m: &Misalignment) {
    if m.roll_rad != 0.0 {
        rotate(r, -m.roll_rad);
    }
    r[X] += R::cst(m.dx_m);
    r[Y] += R::cst(m.dy_m);
}

/// x' = C x + S y, y' = −S x + C y (same for the momenta).
#[inline]
fn rotate<R: Real>(r: &mut Coords<R>, angle_rad: f64) {
    let (s, c) = angle_rad.sin_cos();
    for (i, j) in [(X, Y), (PX, PY)] {
        let (a, b) = (r[i], r[j]);
        r[i] = a * c + b * s;
        r[j] = b * c - a * s;
    }
}
