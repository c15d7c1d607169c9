//! Courant–Snyder parameters of an uncoupled plane from transfer matrices.
use std::f64::consts::TAU;

use nalgebra::Matrix2;

/// Twiss parameters of one plane.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PlaneTwiss {
    pub beta_m: f64,
    pub alpha: f64,
}

/// Periodic solution of a one-turn 2×2 block: (Twiss, fractional tune in
/// [0, 1)), or None if |cos μ| ≥ 1 (unstable).
pub fn periodic(m: &Matrix2<f64>) -> Option<(PlaneTwiss, f64)> {
    let cos_mu = (m[(0, 0)] + m[(1, 1)]) / 2.0;
    if cos_mu.is_nan() || cos_mu.abs() >= 1.0 {
        return None;
    }
    let sin_mu = m[(0, 1)].signum() * (1.0 - cos_mu * cos_mu).sqrt();
    let twiss = PlaneTwiss { beta_m: m[(0, 1)] / sin_mu, alpha: (m[(0, 0)] - m[(1, 1)]) / (2.0 * sin_mu) };
    let tune = sin_mu.atan2(cos_mu).rem_euclid(TAU) / TAU;
    Some((twiss, tune))
}

/// Propagates `t0` through `m`; returns the Twiss at the end and the phase
/// advance in (−π, π].
pub fn propagate(t0: &PlaneTwiss, m: &Matrix2<f64>) -> (PlaneTwiss, f64) {
    let a = m[(0, 0)] * t0.beta_m - m[(0, 1)] * t0.alpha;
    let c = m[(1, 0)] * t0.beta_m - m[(1, 1)] * t0.alpha;
    let beta = (a * a + m[(0, 1)] * m[(0, 1)]) / t0.beta_m;
    let alpha = -(a * c + m[(0, 1)] * m[(1, 1)]) / t0.beta_m;
    (PlaneTwiss { beta_m: beta, alpha }, m[(0, 1)].atan2(a))
}
