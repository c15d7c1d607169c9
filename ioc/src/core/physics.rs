//! One model computation: the fixed-RF closed orbit (6D with cavities and
//! radiation, what the BPMs see), 6D tunes, 4D optics, chromaticity and the
//! radiation integrals.
use std::time::{Duration, Instant};

use twin_engine::coords::{Coords, DELTA, X, Y};
use twin_engine::integrators::Dynamics;
use twin_engine::lattice::Lattice;
use twin_engine::optics::{
    OpticsError, RadiationSummary, RingOptics, chromaticity_4d, linear_optics_4d, radiation_integrals, tunes_6d,
};
use twin_engine::orbit::OrbitError;
use twin_engine::tracking::orbit_along;

/// Physics of one valid computation.
#[derive(Clone, Debug)]
pub struct Physics {
    /// 6D closed orbit (x, px, y, py, δ, cτ) at each element entrance; the
    /// last point is the end of the ring [m, rad, 1, m].
    pub orbit: Vec<Coords<f64>>,
    /// (horizontal, vertical, synchrotron) fractional tunes, 6D.
    pub tunes: [f64; 3],
    /// 4D optics at δ = 0 (β, α, phase, dispersion).
    pub optics: RingOptics,
    pub chromaticity: [f64; 2],
    pub radiation: RadiationSummary,
}

/// Why the model has no valid state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    Unstable(String),
    NoOrbit(String),
}

impl Physics {
    /// Closed orbit (x, y) at the entrance of element `index` [m].
    pub fn position_m(&self, index: usize) -> [f64; 2] {
        let o = &self.orbit[index];
        [o[X], o[Y]]
    }

    /// Momentum deviation δ of the fixed-RF closed orbit.
    pub fn delta(&self) -> f64 {
        self.orbit[0][DELTA]
    }
}

impl Invalid {
    pub fn message(&self) -> &str {
        match self {
            Invalid::Unstable(m) | Invalid::NoOrbit(m) => m,
        }
    }
}

fn classify(e: OpticsError) -> Invalid {
    match e {
        OpticsError::Orbit(o) => Invalid::NoOrbit(o.to_string()),
        other => Invalid::Unstable(other.to_string()),
    }
}

/// Computes the physics of `lattice`; returns it with the time it took.
pub fn compute(lattice: &Lattice) -> (Result<Physics, Invalid>, Duration) {
    let t0 = Instant::now();
    let result = physics(lattice);
    (result, t0.elapsed())
}

fn physics(lattice: &Lattice) -> Result<Physics, Invalid> {
    // the fixed-RF orbit with its 6D tunes and the 4D optics with the
    // chromaticity are independent: one on each core
    let (six_d, four_d) = rayon::join(|| six_d_orbit(lattice), || four_d_optics(lattice));
    let ((orbit, tunes), (optics, chromaticity)) = (six_d?, four_d?);
    let radiation = radiation_integrals(lattice, &optics);
    Ok(Physics { orbit, tunes, optics, chromaticity, radiation })
}

/// The 6D closed orbit at the master clock with radiation, along the ring,
/// and the 6D tunes.
fn six_d_orbit(lattice: &Lattice) -> Result<(Vec<Coords<f64>>, [f64; 3]), Invalid> {
    let six = tunes_6d(lattice, Dynamics::SixDRadiation, None).map_err(classify)?;
    let mut orbit = vec![six.orbit.coords];
    orbit.extend(
        orbit_along(lattice, &six.orbit.coords, Dynamics::SixDRadiation)
            .map_err(|lost| Invalid::NoOrbit(OrbitError::from(lost).to_string()))?,
    );
    Ok((orbit, six.tunes))
}

/// The 4D optics at δ = 0 and the chromaticity.
fn four_d_optics(lattice: &Lattice) -> Result<(RingOptics, [f64; 2]), Invalid> {
    let optics = linear_optics_4d(lattice, 0.0, None).map_err(classify)?;
    let chromaticity = chromaticity_4d(lattice, 0.0, Some(&optics.orbit.coords)).map_err(classify)?;
    Ok((optics, chromaticity))
}
