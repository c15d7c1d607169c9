//! Drift (AT `DriftPass`, `drift6`): expanded Hamiltonian, paraxial.
use crate::coords::{CT, Coords, DELTA, PX, PY, X, Y};
use crate::real::Real;

/// Drifts `r` through `length_m` [m] using the current δ.
#[inline]
pub fn drift<R: Real>(r: &mut Coords<R>, length_m: f64) {
    drift_at(r, length_m, (r[DELTA] + 1.0).recip());
}

/// Drifts `r` through `length_m` [m] with `p_norm` = 1/(1 + δ) already
/// known (δ unchanged since it was computed: the result is the same).
#[inline(always)]
pub fn drift_at<R: Real>(r: &mut Coords<R>, length_m: f64, p_norm: R) {
    let norm_l = p_norm * length_m;
    r[X] += norm_l * r[PX];
    r[Y] += norm_l * r[PY];
    if R::PATH_LENGTH {
        r[CT] += norm_l * p_norm * (r[PX] * r[PX] + r[PY] * r[PY]) * 0.5;
    }
}
