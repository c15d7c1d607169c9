//! The feedback's knowledge of the machine: the orbit response of the
//! lattice BPMs to every steering converter [m/A], from the engine's
//! fixed-RF orbit of the design lattice with the nominal calibrations (the
//! twin's own response matrix; the hidden errors are not in it, as on the
//! machine),
//! and the correction of one plane by its pseudo-inverse with a
//! singular-value cut.
use nalgebra::{DMatrix, DVector};
use twin_engine::coords::{X, Y};
use twin_engine::lattice::{Lattice, Plane};
use twin_engine::recompute::orbit_6d;

use crate::machine::{PcId, Schema};

/// The response of one plane: rows are lattice BPMs (`BpmId` order),
/// columns the converters of that plane's steerers.
pub struct PlaneResponse {
    pub converters: Vec<PcId>,
    pub matrix: DMatrix<f64>,
}

/// Both planes (x, y), and the orbit they are taken around.
pub struct Response {
    pub planes: [PlaneResponse; 2],
    /// What the lattice BPMs read on the design orbit (x, y) [m].
    pub design_m: [Vec<f64>; 2],
}

/// Kick of the central differences [rad]: the fixed-RF orbit is linear in
/// it far below the noise.
const KICK_STEP_RAD: f64 = 1e-6;

impl Response {
    /// From central differences of the 6D fixed-RF closed orbit (what the
    /// BPMs see: a steerer also changes the path length and hence the
    /// energy, which shows through dispersion) of the design lattice.
    pub fn of(design: &Lattice, schema: &Schema) -> anyhow::Result<Self> {
        let mut lattice = design.clone();
        let reference = orbit_6d(&lattice, None)?;
        let design_m = [X, Y].map(|k| schema.bpms.iter().map(|b| reference.orbit[b.element.0 + 1][k]).collect());
        let planes = [Plane::Horizontal, Plane::Vertical].map(|plane| -> anyhow::Result<PlaneResponse> {
            let converters: Vec<_> = schema.steering_converters(plane).collect();
            let mut matrix = DMatrix::zeros(schema.bpms.len(), converters.len());
            for (j, pc) in converters.iter().enumerate() {
                for m in &pc.magnets {
                    let base = lattice.kick_rad(m.element, plane);
                    let mut at = |kick: f64| -> anyhow::Result<Vec<f64>> {
                        lattice.set_kick_rad(m.element, plane, base + kick)?;
                        let orbit = orbit_6d(&lattice, Some(&reference.fixed))?.orbit;
                        let k = if plane == Plane::Horizontal { X } else { Y };
                        Ok(schema.bpms.iter().map(|b| orbit[b.element.0 + 1][k]).collect())
                    };
                    let (plus, minus) = (at(KICK_STEP_RAD)?, at(-KICK_STEP_RAD)?);
                    lattice.set_kick_rad(m.element, plane, base)?;
                    let rad_per_a = m.strength(1.0, schema.rigidity_tm);
                    for (i, (a, b)) in plus.iter().zip(&minus).enumerate() {
                        matrix[(i, j)] += (a - b) / (2.0 * KICK_STEP_RAD) * rad_per_a;
                    }
                }
            }
            Ok(PlaneResponse { converters: converters.iter().map(|pc| pc.id).collect(), matrix })
        });
        let [x, y] = planes;
        Ok(Self { planes: [x?, y?], design_m })
    }
}

impl PlaneResponse {
    /// The current changes [A] (by `converters`) that move the orbit by
    /// −`error` [m] at the BPMs `used` (indices into the rows), in the
    /// least-squares sense, singular values below `cut` × the largest left
    /// out.
    pub fn correction(&self, error: &[f64], used: &[usize], cut: f64) -> Option<DVector<f64>> {
        let a = DMatrix::from_fn(used.len(), self.matrix.ncols(), |i, j| self.matrix[(used[i], j)]);
        let svd = a.svd(true, true);
        let largest = svd.singular_values.max();
        if largest.is_nan() || largest <= 0.0 {
            return None;
        }
        let pinv = svd.pseudo_inverse(cut * largest).ok()?;
        let e = DVector::from_iterator(used.len(), used.iter().map(|&i| error[i]));
        Some(-(pinv * e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Machine;

    #[test]
    fn a_correction_undoes_an_orbit_the_matrix_made() {
        let m = Machine::fodo();
        let r = Response::of(&m.lattice, &m.schema).expect("response");
        for p in &r.planes {
            assert!(!p.converters.is_empty() && p.matrix.nrows() == m.schema.bpms.len());
            let kick = DVector::from_fn(p.matrix.ncols(), |j, _| 0.1 * (j as f64 + 1.0).sin());
            let orbit = &p.matrix * &kick;
            let used: Vec<usize> = (0..orbit.len()).collect();
            let fix = p.correction(orbit.as_slice(), &used, 0.0).expect("a correction");
            let left = &orbit + &p.matrix * fix;
            assert!(left.norm() < 1e-9 * orbit.norm().max(1e-12), "{}", left.norm());
        }
    }
}
