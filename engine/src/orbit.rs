//! Closed orbits: 4D at fixed δ (pyAT `find_orbit4`) and 6D with the RF
//! cavities, optionally with radiation (pyAT `find_orbit6`). Newton's
//! method (`newton`) with exact one-turn Jacobians; the 6D orbit's by two
//! segments of the ring on two cores (`shooting`).
use nalgebra::{Matrix4, Matrix6, Vector4, Vector6};

use crate::constants::SPEED_OF_LIGHT_M_PER_S;
use crate::coords::{CT, Coords, DELTA, TRANSVERSE, X, Y};
use crate::integrators::Dynamics;
use crate::jacobian::one_turn_transverse;
use crate::lattice::{ElementId, Lattice};
use crate::newton::{self, Linearisation, NewtonError, NewtonOptions};
use crate::shooting;
use crate::tracking::{Lost, context};

/// A converged closed orbit at the entrance of the first element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClosedOrbit {
    pub coords: Coords<f64>,
    pub iterations: usize,
    /// max |track(z) − z − θ| at the last iterate Newton evaluated, one step
    /// (below the tolerance) before `coords`; at `coords` it is smaller
    /// still, by the square of that step [m, rad].
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

impl From<NewtonError<Lost>> for OrbitError {
    fn from(e: NewtonError<Lost>) -> Self {
        match e {
            NewtonError::NotConverged { iterations, step } => OrbitError::NotConverged { iterations, step },
            NewtonError::Singular { .. } => OrbitError::Singular,
            NewtonError::Evaluation { source, .. } => OrbitError::Lost(source),
        }
    }
}

/// 4D closed orbit at momentum deviation `delta` (cavities are drifts),
/// Newton with the default options.
pub fn closed_orbit_4d(lattice: &Lattice, delta: f64, guess: Option<&Coords<f64>>) -> Result<ClosedOrbit, OrbitError> {
    closed_orbit_4d_with(lattice, delta, guess, &NewtonOptions::default())
}

/// 4D closed orbit at momentum deviation `delta`: the fixed point of the
/// one-turn map in (x, px, y, py) at fixed δ (cτ starts at 0 and is not
/// closed).
pub fn closed_orbit_4d_with(
    lattice: &Lattice,
    delta: f64,
    guess: Option<&Coords<f64>>,
    options: &NewtonOptions,
) -> Result<ClosedOrbit, OrbitError> {
    let ctx = context(lattice, Dynamics::FourD, 0);
    let mut z = guess.copied().unwrap_or([0.0; 6]);
    z[DELTA] = delta;
    z[CT] = 0.0;
    // the full coordinates with the transverse part `x`
    let full = |x: &Vector4<f64>| -> Coords<f64> {
        let mut r = z;
        r[..TRANSVERSE].copy_from_slice(x.as_slice());
        r
    };
    let start = Vector4::from_fn(|i, _| z[i]);
    let solution = newton::solve(start, options, |x| {
        let (end, m) = one_turn_transverse(lattice, &full(x), &ctx)?;
        Ok(Linearisation { value: end - x, jacobian: m - Matrix4::identity() })
    })?;
    Ok(ClosedOrbit { coords: full(&solution.x), iterations: solution.iterations, residual: solution.last.value.amax() })
}

/// 6D closed orbit with the cavities (and radiation if `dynamics` says
/// so), Newton with the default options.
pub fn closed_orbit_6d(
    lattice: &Lattice,
    dynamics: Dynamics,
    guess: Option<&Coords<f64>>,
) -> Result<ClosedOrbit, OrbitError> {
    closed_orbit_6d_with(lattice, dynamics, guess, &NewtonOptions::default())
}

/// θ of the 6D fixed point track(z) = z + θ: (0, 0, 0, 0, 0, c·h/f_RF − C),
/// the path length the RF frequency asks for beyond the circumference [m].
pub fn rf_path_offset(lattice: &Lattice) -> Result<Vector6<f64>, OrbitError> {
    match (lattice.rf_frequency_hz(), lattice.harmonic_number()) {
        (Some(f_rf), Some(h)) => {
            let mut theta = Vector6::zeros();
            theta[CT] = SPEED_OF_LIGHT_M_PER_S * h / f_rf - lattice.circumference_m();
            Ok(theta)
        }
        _ => Err(OrbitError::NoCavity),
    }
}

/// 6D closed orbit with the cavities (and radiation if `dynamics` says
/// so). The RF frequency sets the revolution time: the fixed point
/// satisfies track(z) = z + (0, 0, 0, 0, 0, c·h/f_RF − C).
pub fn closed_orbit_6d_with(
    lattice: &Lattice,
    dynamics: Dynamics,
    guess: Option<&Coords<f64>>,
    options: &NewtonOptions,
) -> Result<ClosedOrbit, OrbitError> {
    closed_orbit_6d_map(lattice, dynamics, guess, options).map(|(orbit, _)| orbit)
}

/// `closed_orbit_6d_with` and the one-turn matrix at the last iterate
/// Newton evaluated (within a step below the tolerance of the orbit).
pub fn closed_orbit_6d_map(
    lattice: &Lattice,
    dynamics: Dynamics,
    guess: Option<&Coords<f64>>,
    options: &NewtonOptions,
) -> Result<(ClosedOrbit, Matrix6<f64>), OrbitError> {
    let theta = rf_path_offset(lattice)?;
    let ctx = context(lattice, dynamics, 0);
    let start = Vector6::from(guess.copied().unwrap_or([0.0; 6]));
    let solution = shooting::fixed_point(lattice, &ctx, &theta, start, options)?;
    let orbit = ClosedOrbit { coords: solution.x.into(), iterations: solution.iterations, residual: solution.residual };
    Ok((orbit, solution.one_turn))
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
    Ok([X, Y].map(|k| at.iter().map(|e| along[e.0][k]).collect()))
}
