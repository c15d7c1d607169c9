//! Linear optics around the ring (pyAT `get_optics` for an uncoupled
//! lattice): closed orbit, β, α, phase advance and dispersion at every
//! element, tunes, chromaticity and momentum compaction.
mod coupled;
mod envelope;
mod radiation;
mod six_d;
mod twiss;

use std::f64::consts::TAU;

use nalgebra::{Matrix2, Matrix4, Matrix6, Vector4};

pub use coupled::NormalModes;
pub use envelope::{Envelope, envelope};
pub use radiation::{RadiationIntegrals, RadiationSummary, radiation_integrals};
pub use six_d::{SixDOptics, eigen_tunes, tunes_6d};
pub use twiss::PlaneTwiss;

use crate::coords::{CT, Coords, DELTA, TRANSVERSE, position};
use crate::integrators::Dynamics;
use crate::jacobian::{Linearised, along_ring_4d, one_turn, transverse};
use crate::lattice::{ElementId, Lattice};
use crate::orbit::{ClosedOrbit, OrbitError, closed_orbit_4d};
use crate::tracking::context;

/// δ step for chromaticity (pyAT DPStep).
pub const DP_STEP: f64 = 3e-6;

/// Optics at one point of the ring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpticsPoint {
    pub s_m: f64,
    pub orbit: Coords<f64>,
    /// (horizontal, vertical)
    pub twiss: [PlaneTwiss; 2],
    /// Phase advance from the start [rad], unwrapped.
    pub mu_rad: [f64; 2],
    /// Dispersion (η_x, η_px, η_y, η_py) [m, rad].
    pub dispersion: [f64; 4],
}

/// Why optics could not be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OpticsError {
    #[error(transparent)]
    Orbit(#[from] OrbitError),
    #[error("{plane} motion is unstable (|cos μ| = {cos_mu:.6} ≥ 1)")]
    Unstable { plane: &'static str, cos_mu: f64 },
    #[error("the 4D one-turn map has a δ-independent fixed point problem (singular I − M)")]
    Singular,
    #[error("the lattice has no elements")]
    EmptyLattice,
    #[error("the one-turn matrix (trace {0:.6}) has no stable, distinct normal modes")]
    NoNormalModes(f64),
    #[error("corrector {0} has no magnet body to kick")]
    NotACorrector(String),
}

/// Linear optics of the whole ring at momentum deviation δ.
#[derive(Clone, Debug, PartialEq)]
pub struct RingOptics {
    pub orbit: ClosedOrbit,
    /// Point i is the entrance of element i; the last is the ring's end.
    pub points: Vec<OpticsPoint>,
    /// Fractional tunes in [0, 1).
    pub tunes: [f64; 2],
    pub one_turn: Matrix6<f64>,
    /// Transfer matrix from the start to the exit of element i.
    pub transfer: Vec<Matrix6<f64>>,
    /// Momentum compaction factor α_c (first order).
    pub momentum_compaction: f64,
}

impl RingOptics {
    /// Total tunes (phase advance over the ring / 2π).
    pub fn tunes_total(&self) -> [f64; 2] {
        let end = self.points.last().expect("ring has points");
        [end.mu_rad[0] / TAU, end.mu_rad[1] / TAU]
    }

    /// Optics at the entrance of element `id`.
    pub fn at(&self, id: ElementId) -> &OpticsPoint {
        &self.points[id.0]
    }
}

/// The 2×2 block of transverse plane `plane` (0, 1).
fn block(m: &Matrix6<f64>, plane: usize) -> Matrix2<f64> {
    m.fixed_view::<2, 2>(position(plane), position(plane)).into_owned()
}

fn plane_name(plane: usize) -> &'static str {
    if plane == 0 { "horizontal" } else { "vertical" }
}

/// Periodic Twiss and fractional tunes of a one-turn matrix.
fn periodic_twiss(m: &Matrix6<f64>) -> Result<([PlaneTwiss; 2], [f64; 2]), OpticsError> {
    let mut twiss = [PlaneTwiss::default(); 2];
    let mut tunes = [0.0; 2];
    for plane in 0..2 {
        let b = block(m, plane);
        let (t, q) = twiss::periodic(&b)
            .ok_or(OpticsError::Unstable { plane: plane_name(plane), cos_mu: (b[(0, 0)] + b[(1, 1)]) / 2.0 })?;
        twiss[plane] = t;
        tunes[plane] = q;
    }
    Ok((twiss, tunes))
}

/// Fractional tunes at momentum deviation `delta` (4D).
pub fn tunes_4d(lattice: &Lattice, delta: f64, guess: Option<&Coords<f64>>) -> Result<[f64; 2], OpticsError> {
    let orbit = closed_orbit_4d(lattice, delta, guess)?;
    let m = one_turn(lattice, &orbit.coords, &context(lattice, Dynamics::FourD, 0)).map_err(OrbitError::from)?;
    Ok(periodic_twiss(&m.jacobian)?.1)
}

/// Chromaticity dQ/dδ from the tunes at δ ± DP_STEP/2 (as pyAT), a tune
/// crossing 0/1 between the two points unwrapped.
pub fn chromaticity_from(up: [f64; 2], down: [f64; 2]) -> [f64; 2] {
    [0, 1].map(|p| {
        let mut d = up[p] - down[p];
        d -= d.round();
        d / DP_STEP
    })
}

/// Chromaticity dQ/dδ from the transverse one-turn matrix M and its
/// derivative per unit δ along the closed orbit
/// (`jacobian::one_turn_chromatic`): with cos μ = tr(B)/2 for each plane's
/// 2×2 block B, dQ/dδ = −(tr(dB)/2) / (2π sin μ), sin μ signed as the
/// tune (by B₁₂). The same quantity `chromaticity_4d` approximates by a
/// central difference, without its step.
pub fn chromaticity_from_derivative(m: &Matrix4<f64>, dm: &Matrix4<f64>) -> Result<[f64; 2], OpticsError> {
    let mut xi = [0.0; 2];
    for (plane, xi) in xi.iter_mut().enumerate() {
        let k = position(plane);
        let cos_mu = (m[(k, k)] + m[(k + 1, k + 1)]) / 2.0;
        if cos_mu.is_nan() || cos_mu.abs() >= 1.0 {
            return Err(OpticsError::Unstable { plane: plane_name(plane), cos_mu });
        }
        let sin_mu = m[(k, k + 1)].signum() * (1.0 - cos_mu * cos_mu).sqrt();
        let d_cos = (dm[(k, k)] + dm[(k + 1, k + 1)]) / 2.0;
        *xi = -d_cos / (TAU * sin_mu);
    }
    Ok(xi)
}

/// Chromaticity dQ/dδ by central difference of the tunes at ±DP_STEP/2
/// (as pyAT).
pub fn chromaticity_4d(lattice: &Lattice, delta: f64, guess: Option<&Coords<f64>>) -> Result<[f64; 2], OpticsError> {
    let up = tunes_4d(lattice, delta + DP_STEP / 2.0, guess)?;
    let down = tunes_4d(lattice, delta - DP_STEP / 2.0, guess)?;
    Ok(chromaticity_from(up, down))
}

/// Wraps an angle into (−π, π]: the phase advance of one element.
fn wrap_pi(a: f64) -> f64 {
    // |a| < 2π (differences of atan2 values): what rem_euclid gives, without fmod
    let w = match a.abs() < TAU {
        true if a < 0.0 => a + TAU,
        true => a,
        false => a.rem_euclid(TAU),
    };
    if w > std::f64::consts::PI { w - TAU } else { w }
}

/// Linear optics (4D) at momentum deviation `delta`.
pub fn linear_optics_4d(lattice: &Lattice, delta: f64, guess: Option<&Coords<f64>>) -> Result<RingOptics, OpticsError> {
    let orbit = closed_orbit_4d(lattice, delta, guess)?;
    let ctx = context(lattice, Dynamics::FourD, 0);
    let maps = along_ring_4d(lattice, &orbit.coords, &ctx).map_err(OrbitError::from)?;
    optics_from_maps(lattice, orbit, &maps)
}

/// Linear optics (4D) from the closed orbit and the maps from its start to
/// the exit of every element (`jacobian::along_ring_4d`).
pub fn optics_from_maps(lattice: &Lattice, orbit: ClosedOrbit, maps: &[Linearised]) -> Result<RingOptics, OpticsError> {
    let one_turn = maps.last().ok_or(OpticsError::EmptyLattice)?.jacobian;
    let (t0, tunes) = periodic_twiss(&one_turn)?;

    let m44 = transverse(&one_turn);
    let m_delta = Vector4::from_fn(|i, _| one_turn[(i, DELTA)]);
    let eta0 = (Matrix4::identity() - m44).lu().solve(&m_delta).ok_or(OpticsError::Singular)?;

    let mut prev = OpticsPoint { s_m: 0.0, orbit: orbit.coords, twiss: t0, mu_rad: [0.0; 2], dispersion: eta0.into() };
    let mut points = Vec::with_capacity(maps.len() + 1);
    points.push(prev);
    let mut last_raw = [0.0; 2];
    // filled in the same pass: the maps are read once
    let mut transfer = Vec::with_capacity(maps.len());
    for (i, map) in maps.iter().enumerate() {
        transfer.push(map.jacobian);
        let mut point =
            OpticsPoint { s_m: lattice.s_exit_m(ElementId(i)), orbit: std::array::from_fn(|k| map.coords[k]), ..prev };
        for plane in 0..2 {
            let (t, raw) = twiss::propagate(&t0[plane], &block(&map.jacobian, plane));
            point.twiss[plane] = t;
            point.mu_rad[plane] = prev.mu_rad[plane] + wrap_pi(raw - last_raw[plane]);
            last_raw[plane] = raw;
        }
        let eta = transverse(&map.jacobian) * eta0 + Vector4::from_fn(|k, _| map.jacobian[(k, DELTA)]);
        point.dispersion = eta.into();
        points.push(point);
        prev = point;
    }
    let dct = one_turn[(CT, DELTA)] + (0..TRANSVERSE).map(|k| one_turn[(CT, k)] * eta0[k]).sum::<f64>();
    Ok(RingOptics { orbit, points, tunes, one_turn, transfer, momentum_compaction: dct / lattice.circumference_m() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_pi_is_the_rem_euclid_wrap_to_the_bit() {
        let reference = |a: f64| {
            let w = a.rem_euclid(TAU);
            if w > std::f64::consts::PI { w - TAU } else { w }
        };
        let mut a = -3.0 * TAU;
        while a < 3.0 * TAU {
            for v in [a, -a, a.next_up(), TAU, -TAU, 0.0, -0.0] {
                assert_eq!(wrap_pi(v).to_bits(), reference(v).to_bits(), "{v}");
            }
            a += 0.001_234_567;
        }
    }
}
