//! Drift (AT `DriftPass`, `drift6`): expanded Hamiltonian, paraxial.
use crate::coords::{CT, Coords, DELTA, PX, PY, X, Y};
use crate::real::Real;

/// Drifts `r` through `length_m` [m] using the current δ.
#[inline]
pub fn drift<R: Real>(r: &mut Coords<R>, length_m: f64) {
    let p_norm = (r[DELTA] + 1.0).recip();
    let norm_l = p_norm * length_m;
    r[X] += norm_l * r[PX];
    r[Y] += norm_l * r[PY];
    r[CT] += norm_l * p_norm * (r[PX] * r[PX] + r[PY] * r[PY]) * 0.5;
}
