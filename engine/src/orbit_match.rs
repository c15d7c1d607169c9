//! The analyst's model of a measured machine: the lattice as set, steered
//! with its own steerers until its fixed-RF orbit at the BPMs is the one
//! measured ("orbit-matched model"). The optics a quad step sees depend on
//! the orbit through the sextupoles; a model that knows the settings but
//! not the errors behind the measured orbit (the steerers were set to
//! correct them) follows a different orbit and has different optics.
use nalgebra::{DMatrix, DVector};

use crate::bba::BbaError;
use crate::bba_model::{Reference, reference_at};
use crate::coords::X;
use crate::lattice::{ElementId, Lattice, Plane};
use crate::optics::{OpticsError, RingOptics, linear_optics_4d};
use crate::orm::{Corrector, orbit_response};
use crate::recompute::{orbit_6d, orbit_6d_continued};

/// Singular values the analyst's model keeps, relative to the largest: the measured orbit comes
/// from kicks between the steerers (offset quads); the steerers reproduce
/// its smooth part, the rest would need large alternating kicks that put
/// the model orbit far off between the BPMs.
pub const ANALYST_SINGULAR_CUT: f64 = 0.1;
/// Newton iterations (the orbit is nearly linear in the kicks).
pub const ITERATIONS: usize = 2;

/// One plane's steerers and the pseudo-inverse of their response.
struct PlaneSteering {
    plane: Plane,
    steerers: Vec<ElementId>,
    /// Orbit response to the steerers [m/rad].
    response: DMatrix<f64>,
    /// Δkicks = pinv · (measured − model), on the orbit without its
    /// energy part when `energy` is set [rad/m].
    pinv: DMatrix<f64>,
    /// Horizontal: the orbit per unit δ at the BPMs (dispersion) [m].
    energy: Option<DVector<f64>>,
}

fn steering(
    lattice: &Lattice,
    optics: &RingOptics,
    bpms: &[ElementId],
    plane: Plane,
    singular_cut: f64,
) -> Result<Option<PlaneSteering>, OpticsError> {
    let steerers = lattice.steerers(plane);
    if steerers.is_empty() {
        return Ok(None);
    }
    let correctors: Vec<Corrector> = steerers.iter().map(|&element| Corrector { element, plane }).collect();
    let orm = orbit_response(lattice, optics, &correctors, bpms)?;
    let response = if plane == Plane::Horizontal { orm.x } else { orm.y };
    let energy = (plane == Plane::Horizontal)
        .then(|| DVector::from_iterator(bpms.len(), bpms.iter().map(|b| optics.points[b.0 + 1].dispersion[X])))
        .filter(|eta| eta.norm() > 0.0);
    // the steerers fit what the energy does not explain
    let projected = match &energy {
        Some(eta) => project_out(eta, &response),
        None => response.clone(),
    };
    let svd = projected.svd(true, true);
    let (Some(u), Some(vt)) = (svd.u, svd.v_t) else { return Err(OpticsError::Singular) };
    let largest = svd.singular_values.max();
    let mut pinv = DMatrix::zeros(steerers.len(), bpms.len());
    for (k, s) in svd.singular_values.iter().enumerate() {
        if *s > singular_cut * largest {
            pinv += vt.row(k).transpose() * u.column(k).transpose() / *s;
        }
    }
    Ok(Some(PlaneSteering { plane, steerers, response, pinv, energy }))
}

/// (1 − η·ηᵀ/|η|²)·m: the part of each column of m orthogonal to η.
fn project_out(eta: &DVector<f64>, m: &DMatrix<f64>) -> DMatrix<f64> {
    let unit = eta / eta.norm();
    m - &unit * (unit.transpose() * m)
}

/// How a model is steered: each plane's steerers with the pseudo-inverse
/// of their response, and the momentum compaction for the energy. Computed
/// from one model and reusable for models close to it (the matching
/// iterates to the measured orbit; the response only sets the path).
pub struct Steering {
    /// The BPMs the responses are for.
    bpms: Vec<ElementId>,
    planes: Vec<PlaneSteering>,
    momentum_compaction: f64,
}

impl Steering {
    /// The BPMs the responses are for.
    pub fn bpms(&self) -> &[ElementId] {
        &self.bpms
    }

    /// Singular values above `singular_cut` × the largest are kept.
    pub fn new(lattice: &Lattice, bpms: &[ElementId], singular_cut: f64) -> Result<Self, BbaError> {
        if bpms.is_empty() {
            return Err(BbaError::NoBpms);
        }
        let optics = linear_optics_4d(lattice, 0.0, None)?;
        let steer = |plane| steering(lattice, &optics, bpms, plane, singular_cut);
        let (h, v) = rayon::join(|| steer(Plane::Horizontal), || steer(Plane::Vertical));
        let planes = [h?, v?].into_iter().flatten().collect();
        Ok(Self { bpms: bpms.to_vec(), planes, momentum_compaction: optics.momentum_compaction })
    }
}

/// Steers `lattice` onto `measured` ([x, y] at `bpms`, metres) with its
/// steerers and, horizontally, its energy (the RF frequency stands in for
/// the path length the unknown errors change) and returns the fixed-RF
/// reference of the matched lattice.
pub fn match_orbit_6d(
    lattice: &mut Lattice,
    bpms: &[ElementId],
    measured: [&[f64]; 2],
    steering: &Steering,
) -> Result<Reference, BbaError> {
    if steering.bpms != bpms {
        return Err(BbaError::Inconsistent("the steering was computed for other BPMs".into()));
    }
    if let Some(m) = measured.iter().find(|m| m.len() != bpms.len()) {
        return Err(BbaError::Inconsistent(format!("{} orbit readings for {} BPMs", m.len(), bpms.len())));
    }
    // the orbit alone while steering (each solve warm from the last one);
    // the maps once, around the final orbit
    let mut six = orbit_6d_continued(lattice)?;
    for _ in 0..ITERATIONS {
        let mut changes: Vec<KickChange> = Vec::new();
        let mut rf_change = None;
        for s in &steering.planes {
            let (k, p) = (s.plane.position(), s.plane.index());
            let miss = DVector::from_iterator(
                bpms.len(),
                bpms.iter().zip(measured[p]).map(|(b, m)| m - six.orbit[b.0 + 1][k]),
            );
            let kicks = match &s.energy {
                Some(eta) => &s.pinv * project_out(eta, &DMatrix::from_column_slice(miss.len(), 1, miss.as_slice())),
                None => &s.pinv * DMatrix::from_column_slice(miss.len(), 1, miss.as_slice()),
            };
            changes.extend(s.steerers.iter().zip(kicks.iter()).map(|(&element, &delta_rad)| KickChange {
                element,
                plane: s.plane,
                before_rad: lattice.kick_rad(element, s.plane),
                delta_rad,
            }));
            if let (Some(eta), Some(f)) = (&s.energy, lattice.rf_frequency_hz()) {
                let rest = miss - &s.response * kicks.column(0);
                let delta = eta.dot(&rest) / eta.norm_squared();
                // fixed RF: Δf/f = −α_c·δ
                rf_change = Some((f, -f * steering.momentum_compaction * delta));
            }
        }
        six = damped(lattice, &changes, rf_change, &six)?;
    }
    Ok(reference_at(lattice, &six.orbit[0])?)
}

/// One steerer's part of a matching step.
struct KickChange {
    element: ElementId,
    plane: Plane,
    before_rad: f64,
    delta_rad: f64,
}

/// Halvings of a matching step whose model has no closed orbit.
const HALVINGS: usize = 4;

/// Applies a matching step (the steerers' `changes`, the RF frequency
/// (before, change) [Hz]) to
/// `lattice` and solves its orbit warm from `six`; where the stepped model
/// has no closed orbit (a target orbit far off between the BPMs drives the
/// model through the sextupoles onto a resonance), the step is halved, up
/// to `HALVINGS` times: the model then matches the reading less closely,
/// but has the machine's stable motion. When no fraction works, the
/// lattice is put back as before the step and the full step's error is
/// returned.
fn damped(
    lattice: &mut Lattice,
    changes: &[KickChange],
    rf_change: Option<(f64, f64)>,
    six: &crate::recompute::SixD,
) -> Result<crate::recompute::SixD, BbaError> {
    let mut first_error = None;
    for halving in 0..=HALVINGS {
        step_by(lattice, changes, rf_change, 0.5f64.powi(halving as i32))?;
        match orbit_6d(lattice, Some(&six.fixed)) {
            Ok(next) => return Ok(next),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    step_by(lattice, changes, rf_change, 0.0)?;
    Err(first_error.expect("at least one try").into())
}

/// Sets each changed setting to its value before the step plus `fraction`
/// of the change.
fn step_by(
    lattice: &mut Lattice,
    changes: &[KickChange],
    rf_change: Option<(f64, f64)>,
    fraction: f64,
) -> Result<(), BbaError> {
    for c in changes {
        lattice.set_kick_rad(c.element, c.plane, c.before_rad + fraction * c.delta_rad)?;
    }
    if let Some((f, df)) = rf_change {
        lattice.set_rf_frequency_hz(f + fraction * df)?;
    }
    Ok(())
}
