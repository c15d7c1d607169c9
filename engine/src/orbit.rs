//! Closed orbits: 4D at fixed δ (pyAT `find_orbit4`) and 6D with the RF
//! cavities, optionally with radiation (pyAT `find_orbit6`). Newton's
//! method with exact one-turn Jacobians.
use nalgebra::{Matrix4, Matrix6, Vector4, Vector6};

use crate::constants::SPEED_OF_LIGHT_M_PER_S;
use crate::coords::{CT, Coords, DELTA};
use crate::integrators::Dynamics;
use crate::jacobian::one_turn;
use crate::lattice::{ElementId, Lattice};
use crate::tracking::{Lost, context, track_turn};

/// Newton stops when the correction is below this norm [m, rad] (pyAT's
/// OrbConvergence is 1e-12; the exact Jacobian reaches it in fewer steps).
pub const CONVERGENCE: f64 = 1e-12;
/// At most this many Newton iterations (pyAT OrbMaxIter).
pub const MAX_ITERATIONS: usize = 20;

/// A converged closed orbit at the entrance of the first element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClosedOrbit {
    pub coords: Coords<f64>,
    pub iterations: usize,
    /// max |track(z) − z − θ| at the solution [m, rad].
    pub residual: f64,
}

/// Why no closed orbit was found.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OrbitError {
    #[error("closed orbit search lost the particle: {0}")]
    Lost(#[from] Lost),
    #[error("closed orbit did not converge in {iterations} iterations (last step {step:.3e})")]
    NotConverged { iterations: usize, step: f64 },
    #[error("one-turn map has no unique fixed point (singular Jacobian: integer tune?)")]
    Singular,
    #[error("6D closed orbit needs an RF cavity with non-zero voltage")]
    NoCavity,
}

/// 4D closed orbit at momentum deviation `delta` (cavities are drifts).
pub fn closed_orbit_4d(lattice: &Lattice, delta: f64, guess: Option<&Coords<f64>>) -> Result<ClosedOrbit, OrbitError> {
    let ctx = context(lattice, Dynamics::FourD, 0);
    let mut z = guess.copied().unwrap_or([0.0; 6]);
    z[DELTA] = delta;
    z[CT] = 0.0;
    let mut last_step = f64::NAN;
    for iteration in 1..=MAX_ITERATIONS {
        let m = one_turn(lattice, &z, &ctx)?;
        let f = Vector4::from_fn(|i, _| m.coords[i] - z[i]);
        let j: Matrix4<f64> = m.jacobian.fixed_view::<4, 4>(0, 0) - Matrix4::identity();
        let step = j.lu().solve(&(-f)).ok_or(OrbitError::Singular)?;
        (0..4).for_each(|i| z[i] += step[i]);
        last_step = step.norm();
        if last_step < CONVERGENCE {
            let mut end = z;
            track_turn(lattice, &mut end, &ctx)?;
            let residual = (0..4).map(|i| (end[i] - z[i]).abs()).fold(0.0, f64::max);
            return Ok(ClosedOrbit { coords: z, iterations: iteration, residual });
        }
        if !last_step.is_finite() {
            break;
        }
    }
    Err(OrbitError::NotConverged { iterations: MAX_ITERATIONS, step: last_step })
}

/// 6D closed orbit with the cavities (and radiation if `dynamics` says
/// so). The RF frequency sets the revolution time: the fixed point
/// satisfies track(z) = z + (0, 0, 0, 0, 0, c·h/f_RF − C).
pub fn closed_orbit_6d(
    lattice: &Lattice,
    dynamics: Dynamics,
    guess: Option<&Coords<f64>>,
) -> Result<ClosedOrbit, OrbitError> {
    let (f_rf, h) = match (lattice.rf_frequency_hz(), lattice.harmonic_number()) {
        (Some(f), Some(h)) => (f, h),
        _ => return Err(OrbitError::NoCavity),
    };
    let ctx = context(lattice, dynamics, 0);
    let mut theta = Vector6::zeros();
    theta[CT] = SPEED_OF_LIGHT_M_PER_S * h / f_rf - lattice.circumference_m();
    let mut z = guess.copied().unwrap_or([0.0; 6]);
    let mut last_step = f64::NAN;
    for iteration in 1..=MAX_ITERATIONS {
        let m = one_turn(lattice, &z, &ctx)?;
        let f = m.coords - Vector6::from(z) - theta;
        let j: Matrix6<f64> = m.jacobian - Matrix6::identity();
        let step = j.lu().solve(&(-f)).ok_or(OrbitError::Singular)?;
        (0..6).for_each(|i| z[i] += step[i]);
        last_step = step.norm();
        if last_step < CONVERGENCE {
            let mut end = z;
            track_turn(lattice, &mut end, &ctx)?;
            let residual = (Vector6::from(end) - Vector6::from(z) - theta).amax();
            return Ok(ClosedOrbit { coords: z, iterations: iteration, residual });
        }
        if !last_step.is_finite() {
            break;
        }
    }
    Err(OrbitError::NotConverged { iterations: MAX_ITERATIONS, step: last_step })
}

/// The closed orbit (x, y) [m] after each of the elements `at`: 4D at
/// δ = 0 for `Dynamics::FourD`, otherwise the 6D (fixed-RF) orbit.
pub fn closed_orbit_xy(
    lattice: &Lattice,
    dynamics: Dynamics,
    guess: Option<&Coords<f64>>,
    at: &[ElementId],
) -> Result<[Vec<f64>; 2], OrbitError> {
    let start = match dynamics {
        Dynamics::FourD => closed_orbit_4d(lattice, 0.0, guess)?,
        six_d => closed_orbit_6d(lattice, six_d, guess)?,
    };
    let along = crate::tracking::orbit_along(lattice, &start.coords, dynamics)?;
    Ok([at.iter().map(|e| along[e.0][0]).collect(), at.iter().map(|e| along[e.0][2]).collect()])
}
