//! The 4th-order symplectic drift–kick splitting of Forest & Ruth (1990)
//! and Yoshida (1990), as in AT's `*Symplectic4Pass`: per step
//! D(c1) K(d1) D(c2) K(d2) D(c2) K(d1) D(c1), generic over the kick.
use crate::coords::Coords;
use crate::real::Real;

use super::drift::drift;

/// Cube root of two, the only irrational in the coefficients.
fn cbrt2() -> f64 {
    2f64.cbrt()
}

/// Kick weight d1 = 1 / (2 − 2^(1/3)).
pub fn kick1() -> f64 {
    1.0 / (2.0 - cbrt2())
}

/// Kick weight d2 = −2^(1/3) / (2 − 2^(1/3)).
pub fn kick2() -> f64 {
    -cbrt2() / (2.0 - cbrt2())
}

/// Drift weight c1 = d1 / 2.
pub fn drift1() -> f64 {
    kick1() / 2.0
}

/// Drift weight c2 = (d1 + d2) / 2.
pub fn drift2() -> f64 {
    (kick1() + kick2()) / 2.0
}

/// Integrates a body of `length_m` in `n_steps` steps; `kick(r, l)` applies
/// a thin kick of integrated length `l` [m].
pub fn integrate<R: Real>(r: &mut Coords<R>, length_m: f64, n_steps: usize, mut kick: impl FnMut(&mut Coords<R>, f64)) {
    let step = length_m / n_steps as f64;
    let (l1, l2) = (step * drift1(), step * drift2());
    let (k1, k2) = (step * kick1(), step * kick2());
    for _ in 0..n_steps {
        drift(r, l1);
        kick(r, k1);
        drift(r, l2);
        kick(r, k2);
        drift(r, l2);
        kick(r, k1);
        drift(r, l1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
