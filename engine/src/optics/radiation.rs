//! Synchrotron radiation integrals and equilibrium parameters, computed
//! analytically through each dipole from the optics at its ends, as pyAT's
//! `get_radiation_integrals` / `radiation_parameters` do.
use std::f64::consts::TAU;

use crate::constants::{c_gamma_m_per_ev3, c_q_m, electron_gamma};
use crate::coords::{DELTA, PX, X};
use crate::lattice::{ElementKind, Lattice};

use super::{OpticsPoint, RingOptics};

/// The five radiation integrals I1 [m], I2 [1/m], I3 [1/m²], I4 [1/m], I5 [1/m].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RadiationIntegrals {
    pub i: [f64; 5],
}

/// Equilibrium parameters from the radiation integrals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RadiationSummary {
    pub integrals: RadiationIntegrals,
    /// Energy loss per turn U0 [eV].
    pub energy_loss_ev: f64,
    /// Natural horizontal emittance [m·rad].
    pub emittance_m: f64,
    /// Relative energy spread σ_δ.
    pub energy_spread: f64,
    /// Damping partition numbers (Jx, Jy, Jδ).
    pub damping_partition: [f64; 3],
}

/// Bend-like parameters of an element seen by the radiation integrals.
struct Bending {
    length_m: f64,
    angle_rad: f64,
    k1_per_m2: f64,
    entrance_rad: f64,
    exit_rad: f64,
}

fn bending(kind: &ElementKind, start: &OpticsPoint, end: &OpticsPoint) -> Option<Bending> {
    match kind {
        ElementKind::Dipole(b) => Some(Bending {
            length_m: b.length_m,
            angle_rad: b.angle_rad,
            k1_per_m2: b.body.polynom_b.get(1).copied().unwrap_or(0.0),
            entrance_rad: b.entrance_angle_rad,
            exit_rad: b.exit_angle_rad,
        }),
        ElementKind::Quadrupole(q) => {
            // an off-axis orbit through a quadrupole bends the beam
            let xp = |p: &OpticsPoint| p.orbit[PX] / (1.0 + p.orbit[DELTA]);
            Some(Bending {
                length_m: q.length_m,
                angle_rad: xp(start) - xp(end),
                k1_per_m2: q.body.polynom_b.get(1).copied().unwrap_or(0.0),
                entrance_rad: 0.0,
                exit_rad: 0.0,
            })
        }
        _ => None,
    }
}

/// Contribution of one bending element (pyAT's analytic formulas).
fn element_integrals(b: &Bending, vin: &OpticsPoint, vout: &OpticsPoint) -> [f64; 5] {
    let theta = b.angle_rad;
    if theta.abs() < 1e-7 {
        return [0.0; 5];
    }
    let (beta0, alpha0) = (vin.twiss[0].beta_m, vin.twiss[0].alpha);
    let (eta0, etap0) = (vin.dispersion[X], vin.dispersion[PX]);
    let ll = b.length_m;
    let rho = ll / theta;
    let rho2 = rho * rho;
    let k2 = b.k1_per_m2 + 1.0 / rho2;
    let eps1 = b.entrance_rad.tan() / rho;
    let eps2 = b.exit_rad.tan() / rho;
    let eta3 = vout.dispersion[X];
    let alpha1 = alpha0 - beta0 * eps1;
    let gamma1 = (1.0 + alpha1 * alpha1) / beta0;
    let etap1 = etap0 + eta0 * eps1;
    let etap2 = vout.dispersion[PX] - eta3 * eps2;
    let h0 = gamma1 * eta0 * eta0 + 2.0 * alpha1 * eta0 * etap1 + beta0 * etap1 * etap1;
    let (eta_ave, h_ave) = if k2 != 0.0 {
        let kl = ll * k2.abs().sqrt();
        let (ss, cc) = if k2 > 0.0 { (kl.sin() / kl, kl.cos()) } else { (kl.sinh() / kl, kl.cosh()) };
        let eta_ave = (theta - (etap2 - etap1)) / k2 / ll;
        let bb = 2.0 * (alpha1 * eta0 + beta0 * etap1) * rho;
        let aa = -2.0 * (alpha1 * etap1 + gamma1 * eta0) * rho;
        let h_ave = h0
            + (aa * (1.0 - ss) + bb * (1.0 - cc) / ll + gamma1 * (3.0 - 4.0 * ss + ss * cc) / 2.0 / k2
                - alpha1 * (1.0 - cc).powi(2) / k2 / ll
                + beta0 * (1.0 - ss * cc) / 2.0)
                / k2
                / rho2;
        (eta_ave, h_ave)
    } else {
        let eta_ave = 0.5 * (eta0 + eta3) - ll * ll / 12.0 / rho;
        let hp0 = 2.0 * (alpha1 * eta0 + beta0 * etap1) / rho;
        let h2p0 = 2.0 * (-alpha1 * etap1 + beta0 / rho - gamma1 * eta0) / rho;
        let h_ave = h0 + hp0 * ll / 2.0 + h2p0 * ll * ll / 6.0 - alpha1 * ll.powi(3) / 4.0 / rho2
            + gamma1 * ll.powi(4) / 20.0 / rho2;
        (eta_ave, h_ave)
    };
    [
        eta_ave * ll / rho,
        ll / rho2,
        ll / rho.abs() / rho2,
        eta_ave * ll * (2.0 * b.k1_per_m2 + 1.0 / rho2) / rho - (eta0 * eps1 + eta3 * eps2) / rho,
        h_ave * ll / rho.abs() / rho2,
    ]
}

/// Radiation integrals and equilibrium parameters of an uncoupled ring.
pub fn radiation_integrals(lattice: &Lattice, optics: &RingOptics) -> RadiationSummary {
    let mut i = [0.0; 5];
    for (k, el) in lattice.elements().iter().enumerate() {
        let (vin, vout) = (&optics.points[k], &optics.points[k + 1]);
        if let Some(b) = bending(&el.kind, vin, vout) {
            let d = element_integrals(&b, vin, vout);
            (0..5).for_each(|n| i[n] += d[n]);
        }
    }
    let energy = lattice.energy_ev();
    let gamma = electron_gamma(energy);
    let jx = 1.0 - i[3] / i[1];
    let je = 2.0 + i[3] / i[1];
    RadiationSummary {
        integrals: RadiationIntegrals { i },
        energy_loss_ev: c_gamma_m_per_ev3() / TAU * energy.powi(4) * i[1],
        emittance_m: c_q_m() * gamma * gamma * i[4] / jx / i[1],
        energy_spread: (c_q_m() * gamma * gamma * i[2] / je / i[1]).sqrt(),
        damping_partition: [jx, 1.0, je],
    }
}
