//! 6D tunes from the eigenvalues of the one-turn matrix at the 6D closed
//! orbit (with cavities, optionally radiation), as pyAT's `linopt6`.
use std::f64::consts::TAU;

use nalgebra::Matrix6;

use crate::coords::{CONJUGATE_PAIRS, Coords};
use crate::integrators::Dynamics;
use crate::lattice::Lattice;
use crate::newton::NewtonOptions;
use crate::orbit::{ClosedOrbit, closed_orbit_6d_map};

use super::OpticsError;

/// 6D closed orbit, one-turn matrix and the three fractional tunes.
#[derive(Clone, Debug, PartialEq)]
pub struct SixDOptics {
    pub orbit: ClosedOrbit,
    pub one_turn: Matrix6<f64>,
    /// (horizontal, vertical, synchrotron) in [0, 1).
    pub tunes: [f64; 3],
}

/// Tune estimate of a 2×2 diagonal block (ignores coupling); used only to
/// label the exact eigen-tunes with their plane and their side of 0.5.
fn block_estimate(m: &Matrix6<f64>, k: usize) -> f64 {
    let (q, p) = CONJUGATE_PAIRS[k];
    let (a, d, b) = (m[(q, q)], m[(p, p)], m[(q, p)]);
    let c = ((a + d) / 2.0).clamp(-1.0, 1.0);
    let s = b.signum() * (1.0 - c * c).sqrt();
    s.atan2(c).rem_euclid(TAU) / TAU
}

/// Distance between two tunes on the unit circle.
fn tune_distance(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(1.0);
    d.min(1.0 - d)
}

/// The (horizontal, vertical, synchrotron) fractional tunes of a 6D
/// one-turn matrix, each eigen-tune labelled with its plane.
pub fn eigen_tunes(m: &Matrix6<f64>) -> Result<[f64; 3], OpticsError> {
    let lambdas = m.complex_eigenvalues();
    let mut nus: Vec<f64> = lambdas.iter().filter(|l| l.im > 0.0).map(|l| l.im.atan2(l.re) / TAU).collect();
    if nus.len() != 3 {
        let cos_mu = lambdas.iter().map(|l| l.re).fold(0.0, f64::max);
        return Err(OpticsError::Unstable { plane: "6D", cos_mu });
    }
    let mut tunes = [0.0; 3];
    for (k, tune) in tunes.iter_mut().enumerate() {
        let est = block_estimate(m, k);
        let (pos, cand) = nus
            .iter()
            .enumerate()
            .flat_map(|(i, &nu)| [(i, nu), (i, 1.0 - nu)])
            .min_by(|a, b| tune_distance(a.1, est).total_cmp(&tune_distance(b.1, est)))
            .ok_or(OpticsError::Unstable { plane: "6D", cos_mu: f64::NAN })?;
        *tune = cand;
        nus.remove(pos);
    }
    // The (δ, cτ) block turns the other way round with AT's sign of cτ; the
    // synchrotron tune is reported in (0, 0.5) as pyAT does.
    tunes[2] = tunes[2].min(1.0 - tunes[2]);
    Ok(tunes)
}

/// 6D closed orbit and tunes, from the one-turn matrix of Newton's last
/// evaluation (within a step below the tolerance of the orbit).
pub fn tunes_6d(lattice: &Lattice, dynamics: Dynamics, guess: Option<&Coords<f64>>) -> Result<SixDOptics, OpticsError> {
    let (orbit, one_turn) = closed_orbit_6d_map(lattice, dynamics, guess, &NewtonOptions::default())?;
    Ok(SixDOptics { orbit, one_turn, tunes: eigen_tunes(&one_turn)? })
}
