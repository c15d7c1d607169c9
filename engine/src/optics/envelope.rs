//! The equilibrium beam envelope with radiation (Ohmi et al., PRE 49
//! (1994); pyAT `ohmi_envelope`, `envelope_parameters`): the beam matrix
//! Σ at the ring's start solves Σ = M Σ Mᵀ + B, where M is the 6D one-turn
//! matrix with radiation and B the quantum diffusion of one turn
//! propagated to the start. Every radiating thin kick adds, in the
//! coordinates after it (pyAT `thinkickB`),
//!   b = K (x'², x'y', x'; x'y', y'², y'; x', y', 1) on (px, py, δ),
//!   K = (55/24√3) r_e ƛ_c γ⁵ |e×B|³ (1 + x/ρ + (x'² + y'²)/2) (1+δ)⁴ L,
//! evaluated on the orbit before the kick; it reaches the end of the turn
//! through M J_k⁻¹, with J_k the map from the start to just after the
//! kick (one dual-number pass gives every J_k). Coupling enters through
//! M and the kicks, so a rolled quadrupole gives a vertical emittance.
use nalgebra::{DMatrix, DVector, Matrix3, Matrix6};

use super::coupled::block_emittance;
use super::{NormalModes, OpticsError};
use crate::constants::{CLASSICAL_ELECTRON_RADIUS_M, ELECTRON_REST_ENERGY_EV, HBAR_C_EV_M, electron_gamma};
use crate::coords::{Coords, DELTA, PX, PY, X};
use crate::integrators::{Dynamics, KickSite, b2_perp, field, pass_observed};
use crate::lattice::Lattice;
use crate::real::{Dual, Real};
use crate::tracking::context;

/// The equilibrium envelope at the ring's start.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// Σ (x, px, y, py, δ, cτ) [m², m·rad, ...].
    pub sigma: Matrix6<f64>,
    /// Emittances of the three normal modes [m] (pyAT `envelope_parameters().emittances`).
    pub mode_emittances_m: [f64; 3],
    /// √det of Σ's (x, px), (y, py), (δ, cτ) blocks [m] (pyAT `ohmi_envelope` `emitXYZ`).
    pub projected_emittances_m: [f64; 3],
    /// The 6D one-turn matrix with radiation at the start.
    pub one_turn: Matrix6<f64>,
}

/// (55/24√3) r_e ƛ_c γ⁵ [m²], ƛ_c = ħc / (m_e c²).
fn diffusion_constant(energy_ev: f64) -> f64 {
    55.0 / 24.0 / 3f64.sqrt()
        * CLASSICAL_ELECTRON_RADIUS_M
        * (HBAR_C_EV_M / ELECTRON_REST_ENERGY_EV)
        * electron_gamma(energy_ev).powi(5)
}

/// The diffusion b of one radiating kick on the orbit `r` before it.
fn kick_diffusion(r: &Coords<f64>, site: &KickSite, constant: f64) -> Matrix6<f64> {
    let (re, im) = field(r, site.coefficients);
    let p_norm = 1.0 / (1.0 + r[DELTA]);
    let (x, xpr, ypr) = (r[X], r[PX] * p_norm, r[PY] * p_norm);
    let curv = 1.0 + x * site.irho;
    let b2p = b2_perp(im, re + site.irho, curv, xpr, ypr);
    let k =
        constant * b2p * b2p.sqrt() * (curv + (xpr * xpr + ypr * ypr) / 2.0) * (1.0 + r[DELTA]).powi(4) * site.length_m;
    let u = [xpr, ypr, 1.0];
    let block = Matrix3::from_fn(|i, j| k * u[i] * u[j]);
    let mut b = Matrix6::zeros();
    for (bi, &i) in [PX, PY, DELTA].iter().enumerate() {
        for (bj, &j) in [PX, PY, DELTA].iter().enumerate() {
            b[(i, j)] = block[(bi, bj)];
        }
    }
    b
}

fn jacobian(r: &Coords<Dual<6>>) -> Matrix6<f64> {
    Matrix6::from_fn(|i, j| r[i].d[j])
}

/// Σ solving Σ = M Σ Mᵀ + B: (I − M⊗M) vec Σ = vec B (column-major).
fn lyapunov(m: &Matrix6<f64>, b: &Matrix6<f64>) -> Result<Matrix6<f64>, OpticsError> {
    let md = DMatrix::from_fn(6, 6, |i, j| m[(i, j)]);
    let system = DMatrix::<f64>::identity(36, 36) - md.kronecker(&md);
    let rhs = DVector::from_iterator(36, b.iter().copied());
    let solved = system.lu().solve(&rhs).ok_or(OpticsError::NoNormalModes(m.trace()))?;
    let sigma = Matrix6::from_iterator(solved.iter().copied());
    Ok((sigma + sigma.transpose()) * 0.5)
}

/// The envelope of `lattice` with radiation from the 6D closed orbit with
/// radiation at the start, `start` (`closed_orbit_6d` / `orbit_6d`).
pub fn envelope(lattice: &Lattice, start: &Coords<f64>) -> Result<Envelope, OpticsError> {
    let ctx = context(lattice, Dynamics::SixDRadiation, 0);
    let constant = diffusion_constant(lattice.energy_ev());
    let mut r: Coords<Dual<6>> = std::array::from_fn(|i| Dual::seed(start[i], i));
    // (J_k, b_k) of every radiating kick
    let mut kicks: Vec<(Matrix6<f64>, Matrix6<f64>)> = Vec::new();
    for el in lattice.elements() {
        pass_observed(el, &mut r, &ctx, |before, after, site| {
            if site.radiation.is_some() {
                let b = kick_diffusion(&before.map(Real::value), site, constant);
                kicks.push((jacobian(after), b));
            }
        });
    }
    let one_turn = jacobian(&r);
    let mut diffusion = Matrix6::zeros();
    for (j, b) in &kicks {
        let to_end = one_turn * j.try_inverse().ok_or(OpticsError::NoNormalModes(j.trace()))?;
        diffusion += to_end * b * to_end.transpose();
    }
    let sigma = lyapunov(&one_turn, &diffusion)?;
    let modes = NormalModes::<6>::of(&one_turn)?;
    let emittances = modes.emittances(&sigma)?;
    let projected = std::array::from_fn(|k| block_emittance(&sigma, k));
    Ok(Envelope {
        sigma,
        mode_emittances_m: [emittances[0], emittances[1], emittances[2]],
        projected_emittances_m: projected,
        one_turn,
    })
}
