//! Beam-based alignment fit (as done at BESSY II): from orbit readings at
//! all BPMs while the strength of one quadrupole is stepped, find the
//! beam-to-quad displacement and the quad's magnetic centre as seen by the
//! BPMs.
//!
//! Measurement model, per plane: reading(b, k, r) = o_b + s · I_k · R_b +
//! noise, with o_b one offset per BPM, I_k the auxiliary current of step k,
//! R_b the model orbit response at BPM b to a unit kick at the quad, and s
//! the kick per ampere. Linear least squares over all BPMs and readings;
//! symmetric steps make even-order terms in I drop out of s. The kick of a
//! quad displaced by d from the beam changes by ΔK·L·d, so d = ∓s / (dK/dI ·
//! L) (− horizontally, + vertically). The quad's centre in BPM coordinates
//! is then the beam position at the quad, reconstructed from the two BPMs
//! around it with the design optics and the quad's own offset kick, minus d.
use nalgebra::{Matrix2, Vector2};

use crate::lattice::Plane;

/// Readings taken at one auxiliary-supply current.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Auxiliary current [A].
    pub current_a: f64,
    /// readings[r][b]: reading r at BPM b [m] (plane of the fit).
    pub readings: Vec<Vec<f64>>,
}

/// Design-optics geometry around the quad (one plane).
#[derive(Clone, Debug, PartialEq)]
pub struct LocalOptics {
    /// Index (into the BPM list) of the BPM upstream and downstream.
    pub upstream_bpm: usize,
    pub downstream_bpm: usize,
    /// Transfer upstream BPM → quad centre, and quad centre → downstream BPM,
    /// linearised around the model orbit.
    pub to_centre: Matrix2<f64>,
    pub from_centre: Matrix2<f64>,
    /// Model orbit (no offsets, known settings) at the upstream BPM, the
    /// quad centre and the downstream BPM [m]: readings are reconstructed
    /// as deviations from it, so known kicks (steerers) cancel.
    pub model_orbit_m: [f64; 3],
    /// Model orbit slope at the quad centre [rad].
    pub model_centre_slope_rad: f64,
    /// Offset of this quad already in the model (a previous estimate) [m]:
    /// its kick is part of the model orbit, only the rest is unknown.
    pub model_offset_m: f64,
}

/// What the fit needs besides the readings.
#[derive(Clone, Debug, PartialEq)]
pub struct BbaModel {
    pub plane: Plane,
    /// Model response at every BPM to a unit kick at the quad [m/rad].
    pub response_m_per_rad: Vec<f64>,
    /// Response per unit slope of the beam in the quad (non-uniform kick
    /// of a strength change, see `bba_model`) [m/rad per rad].
    pub response_gradient: Vec<f64>,
    /// Change of K1 per ampere of the auxiliary supply [1/m²/A].
    pub dk1_per_a: f64,
    /// Model response at the quad itself to its own unit kick [m/rad]:
    /// the kick change ΔK·L·(x − x0) moves the orbit at the quad, which
    /// changes the kick again (exact for linear optics:
    /// Δθ = −ΔK·L·d / (1 + ΔK·L·R_qq)).
    pub self_response_m_per_rad: f64,
    /// Design K1 of the quad [1/m²] and its length [m].
    pub k1_per_m2: f64,
    pub length_m: f64,
    pub local: LocalOptics,
}

/// Result for one quad and plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BbaFit {
    /// Kick change per ampere at small currents [rad/A].
    pub kick_per_a_rad: f64,
    /// Beam-to-quad displacement d at the quad [m].
    pub displacement_m: f64,
    /// Quad centre in BPM coordinates: the reading that centres the beam [m].
    pub offset_m: f64,
    /// One-sigma uncertainty of `offset_m` [m].
    pub sigma_m: f64,
    /// Fit residual: residual sum of squares per degree of freedom [m²].
    pub chi2: f64,
    /// Residual rms of the readings [m].
    pub residual_rms_m: f64,
    pub readings: usize,
}

/// Why no result.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BbaError {
    #[error("no current steps: the auxiliary supply was not varied")]
    NoSteps,
    #[error("insufficient signal: the orbit response to the quad is {0:.2e} (too small to fit)")]
    InsufficientSignal(f64),
    #[error("inconsistent data: {0}")]
    Inconsistent(String),
}

/// The floor of the noise estimate [m]: readings are never more exact.
const NOISE_FLOOR_M: f64 = 1e-12;

pub fn fit(model: &BbaModel, steps: &[Step]) -> Result<BbaFit, BbaError> {
    // pass 1: uniform kick; pass 2: with the slope of the beam in the quad
    // from the reconstruction of pass 1, and again with the improved slope
    let first = fit_with_slope(model, steps, 0.0)?;
    let second = fit_with_slope(model, steps, first.slope_rad)?;
    fit_with_slope(model, steps, second.slope_rad).map(|r| r.fit)
}

struct Pass {
    fit: BbaFit,
    slope_rad: f64,
}

fn fit_with_slope(model: &BbaModel, steps: &[Step], slope_rad: f64) -> Result<Pass, BbaError> {
    let nb = model.response_m_per_rad.len();
    let rows: Vec<(f64, &Vec<f64>)> =
        steps.iter().flat_map(|s| s.readings.iter().map(move |r| (s.current_a, r))).collect();
    if rows.len() < 3 || steps.iter().all(|s| s.current_a == steps[0].current_a) {
        return Err(BbaError::NoSteps);
    }
    if rows.iter().any(|(_, r)| r.len() != nb) {
        return Err(BbaError::Inconsistent(format!("readings do not have {nb} BPMs")));
    }
    let n = rows.len() as f64;
    // regressor: kick per unit displacement at this current (see BbaModel)
    let sign = match model.plane {
        Plane::Horizontal => -1.0,
        Plane::Vertical => 1.0,
    };
    let g = |i: f64| {
        let dkl = sign * model.dk1_per_a * i * model.length_m;
        dkl / (1.0 - dkl * model.self_response_m_per_rad)
    };
    // readings corrected for the non-uniform part of the kick
    let corrected: Vec<(f64, Vec<f64>)> = rows
        .into_iter()
        .map(|(i, r)| {
            let gi = g(i);
            (gi, r.iter().zip(&model.response_gradient).map(|(x, k)| x - gi * slope_rad * k).collect())
        })
        .collect();
    let rows: Vec<(f64, &Vec<f64>)> = corrected.iter().map(|(g, r)| (*g, r)).collect();
    let i_mean = rows.iter().map(|(i, _)| i).sum::<f64>() / n;
    let means: Vec<f64> = (0..nb).map(|b| rows.iter().map(|(_, r)| r[b]).sum::<f64>() / n).collect();
    let (mut num, mut den) = (0.0, 0.0);
    for (i, r) in &rows {
        let di = i - i_mean;
        for b in 0..nb {
            let rb = model.response_m_per_rad[b];
            num += (r[b] - means[b]) * di * rb;
            den += di * di * rb * rb;
        }
    }
    if den.sqrt() < 1e-6 {
        return Err(BbaError::InsufficientSignal(den.sqrt()));
    }
    let s = num / den;
    let mut ss = 0.0;
    for (i, r) in &rows {
        for b in 0..nb {
            let e = r[b] - means[b] - s * (i - i_mean) * model.response_m_per_rad[b];
            ss += e * e;
        }
    }
    let dof = (rows.len() * nb).saturating_sub(nb + 1).max(1) as f64;
    let noise = (ss / dof).sqrt().max(NOISE_FLOOR_M);
    let sigma_s = noise / den.sqrt();
    // with the regressor g(I), the slope is the displacement itself
    let d = s;
    let sigma_d = sigma_s;

    // Beam position at the quad centre from the readings at I = 0.
    let at_zero: Vec<&Vec<f64>> = rows.iter().filter(|(gi, _)| *gi == 0.0).map(|(_, r)| *r).collect();
    if at_zero.is_empty() {
        return Err(BbaError::Inconsistent("no readings at zero current".into()));
    }
    let avg = |b: usize| at_zero.iter().map(|r| r[b]).sum::<f64>() / at_zero.len() as f64;
    let (xa, xb) = (avg(model.local.upstream_bpm), avg(model.local.downstream_bpm));
    let centre = |xa: f64, xb: f64, d: f64| centre_position(model, xa, xb, d).0;
    let (xc, slope) = centre_position(model, xa, xb, d);
    let offset = xc - d;
    // Linear error propagation through the reconstruction.
    let sigma_mean = noise / (at_zero.len() as f64).sqrt();
    let h = 1e-6;
    let dxa = (centre(xa + h, xb, d) - xc) / h;
    let dxb = (centre(xa, xb + h, d) - xc) / h;
    let dd = (centre(xa, xb, d + h) - xc) / h - 1.0;
    let sigma = ((dxa * sigma_mean).powi(2) + (dxb * sigma_mean).powi(2) + (dd * sigma_d).powi(2)).sqrt();
    Ok(Pass {
        slope_rad: slope,
        fit: BbaFit {
            kick_per_a_rad: sign * model.dk1_per_a * model.length_m * d,
            displacement_m: d,
            offset_m: offset,
            sigma_m: sigma,
            chi2: ss / dof,
            residual_rms_m: (ss / (rows.len() * nb) as f64).sqrt(),
            readings: rows.len(),
        },
    })
}

/// Beam position at the quad centre: x_a at the upstream BPM with unknown
/// angle, transported to the centre, kicked by the quad's offset dipole
/// term (±K·L·(x_c − d)), transported on to the downstream BPM where it
/// must read x_b; linear in the unknown angle.
fn centre_position(model: &BbaModel, xa: f64, xb: f64, d: f64) -> (f64, f64) {
    let kappa = match model.plane {
        Plane::Horizontal => model.k1_per_m2 * model.length_m,
        Plane::Vertical => -model.k1_per_m2 * model.length_m,
    };
    let [oa, oc, ob] = model.local.model_orbit_m;
    // deviations from the model orbit; the offset's dipole kick is the
    // one source the model does not have: κ·dx with dx = x_c − d
    let at_centre = |pa: f64| model.local.to_centre * Vector2::new(xa - oa, pa);
    let after = |pa: f64| -> f64 {
        let c = at_centre(pa);
        let kicked = Vector2::new(c[0], c[1] + kappa * (oc + c[0] - d - model.local.model_offset_m));
        (model.local.from_centre * kicked)[0]
    };
    let (b0, b1) = (after(0.0), after(1.0));
    let pa = (xb - ob - b0) / (b1 - b0);
    let c = at_centre(pa);
    // slope in the quad: before the centre kick plus half of it (the
    // model orbit's own slope is part of the deviation-free reference)
    let slope = model.local.model_centre_slope_rad + c[1] + kappa * (oc + c[0] - d - model.local.model_offset_m) / 2.0;
    (oc + c[0], slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> BbaModel {
        BbaModel {
            plane: Plane::Horizontal,
            response_m_per_rad: vec![10.0, -5.0, 3.0, 8.0],
            response_gradient: vec![0.0; 4],
            dk1_per_a: -0.03,
            self_response_m_per_rad: 0.0,
            k1_per_m2: 2.0,
            length_m: 0.25,
            local: LocalOptics {
                upstream_bpm: 0,
                downstream_bpm: 1,
                to_centre: Matrix2::new(1.0, 0.5, 0.0, 1.0),
                from_centre: Matrix2::new(1.0, 0.5, 0.0, 1.0),
                model_orbit_m: [0.0; 3],
                model_centre_slope_rad: 0.0,
                model_offset_m: 0.0,
            },
        }
    }

    #[test]
    fn recovers_a_synthetic_kick_exactly() {
        let m = model();
        let s_true = 2e-6;
        let offsets = [1e-4, -2e-4, 5e-5, 0.0];
        let steps: Vec<Step> = [0.0, -2.0, 0.0, 2.0, 0.0]
            .iter()
            .map(|&i| Step {
                current_a: i,
                readings: vec![(0..4).map(|b| offsets[b] + s_true * i * m.response_m_per_rad[b]).collect(); 2],
            })
            .collect();
        let f = fit(&m, &steps).unwrap();
        assert!((f.kick_per_a_rad - s_true).abs() < 1e-18);
        assert!((f.displacement_m - (-s_true / (-0.03 * 0.25))).abs() < 1e-15);
        assert!((f.offset_m - (f.displacement_m * 0.0 + f.offset_m)).abs() < 1e-18);
        assert!(f.residual_rms_m < 1e-18);
    }

    #[test]
    fn no_variation_is_an_error() {
        let steps = vec![Step { current_a: 0.0, readings: vec![vec![0.0; 4]; 3] }];
        assert_eq!(fit(&model(), &steps), Err(BbaError::NoSteps));
    }
}
