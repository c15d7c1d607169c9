//! The 4th-order symplectic drift–kick splitting of Forest & Ruth (1990)
//! and Yoshida (1990), as in AT's `*Symplectic4Pass`: per step
//! D(c1) K(d1) D(c2) K(d2) D(c2) K(d1) D(c1), generic over the kick.
use crate::coords::{Coords, DELTA};
use crate::real::Real;

use super::drift::drift_at;

/// Cube root of two, the only irrational in the coefficients (the f64
/// nearest to it, `2f64.cbrt()`; a test checks they agree).
const CBRT2: f64 = 1.259_921_049_894_873_2;

/// Kick weight d1 = 1 / (2 − 2^(1/3)).
pub const fn kick1() -> f64 {
    1.0 / (2.0 - CBRT2)
}

/// Kick weight d2 = −2^(1/3) / (2 − 2^(1/3)).
pub const fn kick2() -> f64 {
    -CBRT2 / (2.0 - CBRT2)
}

/// Drift weight c1 = d1 / 2.
pub const fn drift1() -> f64 {
    kick1() / 2.0
}

/// Drift weight c2 = (d1 + d2) / 2.
pub const fn drift2() -> f64 {
    (kick1() + kick2()) / 2.0
}

/// The steps through a body: lengths of the drifts and kicks.
#[derive(Clone, Copy, Debug)]
pub struct Steps {
    n_steps: usize,
    drifts: [f64; 2],
    kicks: [f64; 2],
    /// The kicks change δ (radiation): every drift needs its own 1/(1+δ).
    kicks_change_delta: bool,
}

impl Steps {
    /// `n_steps` steps through `length_m` [m].
    #[inline]
    pub fn new(length_m: f64, n_steps: usize, kicks_change_delta: bool) -> Self {
        let step = length_m / n_steps as f64;
        Self {
            n_steps,
            drifts: [step * drift1(), step * drift2()],
            kicks: [step * kick1(), step * kick2()],
            kicks_change_delta,
        }
    }

    /// Integrates; `kick(r, l, p)` applies a thin kick of integrated
    /// length `l` [m] with p = 1/(1+δ) of the coordinates it is given. The
    /// last drift of a step and the first of the next are one drift of
    /// twice the length (nothing acts between them; equal up to rounding).
    /// Without radiation δ is constant through the body, so 1/(1+δ) is
    /// computed once; with radiation once after each kick, for the drift
    /// and the kick that follow (the same value each would compute).
    #[inline]
    pub fn integrate<R: Real>(&self, r: &mut Coords<R>, mut kick: impl FnMut(&mut Coords<R>, f64, R)) {
        let ([l1, l2], [k1, k2]) = (self.drifts, self.kicks);
        if self.n_steps == 0 {
            return;
        }
        let joined = 2.0 * l1;
        let mut p = (r[DELTA] + 1.0).recip();
        if self.kicks_change_delta {
            drift_at(r, l1, p);
            for step in 0..self.n_steps {
                kick(r, k1, p);
                p = (r[DELTA] + 1.0).recip();
                drift_at(r, l2, p);
                kick(r, k2, p);
                p = (r[DELTA] + 1.0).recip();
                drift_at(r, l2, p);
                kick(r, k1, p);
                p = (r[DELTA] + 1.0).recip();
                drift_at(r, if step + 1 == self.n_steps { l1 } else { joined }, p);
            }
            return;
        }
        drift_at(r, l1, p);
        for step in 0..self.n_steps {
            kick(r, k1, p);
            drift_at(r, l2, p);
            kick(r, k2, p);
            drift_at(r, l2, p);
            kick(r, k1, p);
            drift_at(r, if step + 1 == self.n_steps { l1 } else { joined }, p);
        }
    }
}

/// Integrates a body of `length_m` in `n_steps` steps; `kick(r, l)` applies
/// a thin kick of integrated length `l` [m] that may change δ.
pub fn integrate<R: Real>(r: &mut Coords<R>, length_m: f64, n_steps: usize, kick: impl FnMut(&mut Coords<R>, f64, R)) {
    Steps::new(length_m, n_steps, true).integrate(r, kick);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cube_root_of_two_is_the_nearest_f64() {
        assert_eq!(CBRT2.to_bits(), 2f64.cbrt().to_bits());
    }

    #[test]
    fn coefficients_match_ats_constants() {
        // atconstants.h: DRIFT1, DRIFT2, KICK1, KICK2
        assert!((drift1() - 0.675_603_595_979_828_7).abs() < 1e-15);
        assert!((drift2() + 0.175_603_595_979_828_7).abs() < 1e-15);
        assert!((kick1() - 1.351_207_191_959_657_3).abs() < 1e-15);
        assert!((kick2() + 1.702_414_383_919_314_7).abs() < 1e-15);
        assert!((2.0 * drift1() + 2.0 * drift2() - 1.0).abs() < 1e-15);
        assert!((2.0 * kick1() + kick2() - 1.0).abs() < 1e-15);
    }
}
