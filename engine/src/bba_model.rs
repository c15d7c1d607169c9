//! Builds the BBA measurement model of one quad from the analyst's model
//! (linear maps around its closed orbit).
//!
//! The orbit change a strength step causes depends only on the beam's
//! state relative to the quad's magnetic axis. With Q the quad's map (about
//! its axis) and T the map of the rest of the ring (quad exit → quad
//! entrance), the closed orbit at the entrance, relative to the axis, is
//! u = (1 − T·Q)⁻¹·c, where c collects everything else and does not change
//! when Q does. Stepping Q → Q′ therefore moves the beam at the quad exit
//! by D·u with D = Q′·(1 − T·Q′)⁻¹·(1 − T·Q) − Q: exact for linear optics,
//! thick quad, every order of the step, and, with the 6D maps of a ring
//! with cavities, the energy change of a fixed RF frequency.
use nalgebra::{DMatrix, Matrix6, Vector4};
use rayon::prelude::*;

use crate::bba::{BbaError, BbaModel, LocalOptics, StepResponse};
use crate::coords::{PX, PY, X, Y};
use crate::integrators::{Dynamics, PassContext, pass};
use crate::jacobian::{Linearised, through_element, transverse};
use crate::lattice::{Element, ElementId, ElementKind, Lattice};
use crate::optics::{OpticsError, RingOptics};
use crate::orbit::closed_orbit_xy;
use crate::recompute::{Fixed, orbit_6d};
use crate::tracking::context;

/// The transverse state (x, px, y, py) of full coordinates.
fn state(z: &[f64; 6]) -> Vector4<f64> {
    Vector4::new(z[X], z[PX], z[Y], z[PY])
}

/// The first half of a quad (entrance → centre).
pub fn first_half(element: &Element) -> Element {
    let mut half = element.clone();
    if let ElementKind::Quadrupole(q) | ElementKind::Sextupole(q) = &mut half.kind {
        q.length_m /= 2.0;
        q.body.n_steps = (q.body.n_steps / 2).max(1);
    }
    half
}

/// Transfer from the exit of element `from` to the exit of element `to`
/// (wrapping once around the ring if `to` does not come after `from`).
fn exit_to_exit(reference: &Reference, from: ElementId, to: ElementId) -> Result<Matrix6<f64>, BbaError> {
    let (exit_from, exit_to) = (reference.transfer[from.0], reference.transfer[to.0]);
    let inverse = exit_from.try_inverse().ok_or(BbaError::SingularTransfer { element: from })?;
    Ok(if to.0 > from.0 { exit_to * inverse } else { exit_to * reference.one_turn * inverse })
}

/// Transfer from the exit of element `from` to the entrance of `to`.
fn exit_to_entrance(reference: &Reference, from: ElementId, to: ElementId) -> Result<Matrix6<f64>, BbaError> {
    if to.0 == 0 {
        return exit_to_exit(reference, from, ElementId(reference.transfer.len() - 1));
    }
    exit_to_exit(reference, from, ElementId(to.0 - 1))
}

/// The orbit and transfer maps the readings are compared with: the 4D
/// optics' own (fixed momentum), or the 6D closed orbit of the analyst's
/// model with the maps around it (fixed RF, `reference_6d`).
#[derive(Clone, Debug)]
pub struct Reference {
    /// Orbit at the entrance of each element (and the ring end).
    pub orbit: Vec<[f64; 6]>,
    /// Transfer from the start to the exit of element i.
    pub transfer: Vec<Matrix6<f64>>,
    pub one_turn: Matrix6<f64>,
    pub dynamics: Dynamics,
}

impl Reference {
    pub fn from_optics(optics: &RingOptics) -> Self {
        Self {
            orbit: optics.points.iter().map(|p| p.orbit).collect(),
            transfer: optics.transfer.clone(),
            one_turn: optics.one_turn,
            dynamics: Dynamics::FourD,
        }
    }
}

/// The reference of fixed-RF readings: the 6D closed orbit (cavities,
/// radiation) of `lattice` and the linear maps around it; `guess` (e.g.
/// the orbit of a nearby setting) starts the closed-orbit search.
pub fn reference_6d(lattice: &Lattice, guess: Option<&[f64; 6]>) -> Result<Reference, OpticsError> {
    let orbit0 = crate::orbit::closed_orbit_6d(lattice, Dynamics::SixDRadiation, guess)?;
    reference_at(lattice, &orbit0.coords)
}

/// The reference of fixed-RF readings around the 6D closed orbit that
/// starts at `start` (from `recompute::orbit_6d`, say).
pub fn reference_at(lattice: &Lattice, start: &[f64; 6]) -> Result<Reference, OpticsError> {
    let ctx = context(lattice, Dynamics::SixDRadiation, 0);
    let maps = crate::jacobian::along_ring(lattice, start, &ctx).map_err(crate::orbit::OrbitError::from)?;
    let mut orbit = vec![*start];
    orbit.extend(maps.iter().map(|m| std::array::from_fn(|i| m.coords[i])));
    let transfer: Vec<Matrix6<f64>> = maps.iter().map(|m| m.jacobian).collect();
    let one_turn = *transfer.last().ok_or(OpticsError::EmptyLattice)?;
    Ok(Reference { orbit, transfer, one_turn, dynamics: Dynamics::SixDRadiation })
}

/// The closed-orbit problem's dimension: the transverse block for fixed
/// momentum (4D: δ and ct are not closed), all six coordinates for fixed
/// RF (a ring with cavities: a kick changes the path length, the energy
/// follows).
fn dimension(dynamics: Dynamics) -> usize {
    match dynamics {
        Dynamics::FourD => 4,
        _ => 6,
    }
}

fn sub(m: &Matrix6<f64>, n: usize) -> DMatrix<f64> {
    DMatrix::from_fn(n, n, |i, j| m[(i, j)])
}

/// The model beam from the upstream BPM `from` (state `start` at its exit)
/// through the elements `as_set` has up to the downstream BPM `to`: its
/// state at the centre of `quad` and at the exit of `to`.
fn local_orbit(
    as_set: &Lattice,
    ctx: &PassContext,
    start: [f64; 6],
    from: ElementId,
    quad: ElementId,
    to: ElementId,
) -> ([f64; 6], [f64; 6]) {
    let n = as_set.len();
    let mut z = start;
    let mut i = (from.0 + 1) % n;
    while i != quad.0 {
        pass(as_set.element(ElementId(i)), &mut z, ctx);
        i = (i + 1) % n;
    }
    let mut centre = z;
    pass(&first_half(as_set.element(quad)), &mut centre, ctx);
    while i != to.0 {
        pass(as_set.element(ElementId(i)), &mut z, ctx);
        i = (i + 1) % n;
    }
    pass(as_set.element(to), &mut z, ctx);
    (centre, z)
}

/// The quad in the analyst's model around the reference orbit: what the
/// response at each auxiliary current needs.
struct QuadModel<'a> {
    lattice: &'a Lattice,
    reference: &'a Reference,
    ctx: PassContext,
    quad: ElementId,
    element: &'a Element,
    /// Design K1 [1/m²] and its change per ampere [1/m²/A].
    k1_per_m2: f64,
    dk1_per_a: f64,
    bpms: &'a [ElementId],
    /// Reference orbit at the quad entrance.
    entrance: [f64; 6],
    /// The closed-orbit problem's dimension (`dimension`).
    n: usize,
    /// The quad's map Q, its first half (H1 and the reference orbit at
    /// the quad centre) and H1⁻¹.
    q0: Matrix6<f64>,
    first_half: Linearised,
    h1_inv: Matrix6<f64>,
    /// Quad exit → quad entrance: the rest of the ring, T.
    rest: Matrix6<f64>,
    /// 1 − T·Q (n × n).
    closing: DMatrix<f64>,
    /// Quad exit → exit of each BPM.
    to_bpm: Vec<Matrix6<f64>>,
    /// Reference orbit (x, y) at the BPMs [m].
    at_zero: [Vec<f64>; 2],
}

impl<'a> QuadModel<'a> {
    fn new(
        lattice: &'a Lattice,
        reference: &'a Reference,
        quad: ElementId,
        k1_per_m2: f64,
        dk1_per_a: f64,
        bpms: &'a [ElementId],
    ) -> Result<Self, BbaError> {
        let ctx = context(lattice, reference.dynamics, 0);
        let element = lattice.element(quad);
        let entrance = reference.orbit[quad.0];
        let q0 = through_element(element, &ctx, entrance).jacobian;
        let first_half = through_element(&first_half(element), &ctx, entrance);
        let h1_inv = first_half
            .jacobian
            .try_inverse()
            .ok_or(BbaError::SingularOptics("the quad's half map is not invertible"))?;
        let n = dimension(reference.dynamics);
        let rest = exit_to_entrance(reference, quad, quad)?;
        let closing = DMatrix::<f64>::identity(n, n) - sub(&(rest * q0), n);
        let to_bpm = bpms.iter().map(|b| exit_to_exit(reference, quad, *b)).collect::<Result<Vec<_>, _>>()?;
        let at_zero = [X, Y].map(|k| bpms.iter().map(|b| reference.orbit[b.0 + 1][k]).collect());
        Ok(Self {
            lattice,
            reference,
            ctx,
            quad,
            element,
            k1_per_m2,
            dk1_per_a,
            bpms,
            entrance,
            n,
            q0,
            first_half,
            h1_inv,
            rest,
            closing,
            to_bpm,
            at_zero,
        })
    }

    /// The orbit change at the BPMs at auxiliary current `current_a`.
    fn response(&self, current_a: f64) -> Result<StepResponse, BbaError> {
        let n = self.n;
        let mut stepped = self.element.clone();
        if let Some(b) = stepped.body_mut() {
            b.polynom_b[1] += self.dk1_per_a * current_a;
        }
        let q1 = through_element(&stepped, &self.ctx, self.entrance).jacobian;
        let one = DMatrix::<f64>::identity(n, n);
        let open = (&one - sub(&(self.rest * q1), n))
            .lu()
            .solve(&self.closing)
            .ok_or(BbaError::SingularOptics("no closed orbit with the stepped quad"))?;
        // D·H1⁻¹: change at the quad exit per unit state at the centre
        let d = (sub(&q1, n) * open - sub(&self.q0, n)) * sub(&self.h1_inv, n);
        let at = |m: &Matrix6<f64>, row: usize, col: usize| (0..n).map(|j| m[(row, j)] * d[(j, col)]).sum::<f64>();
        let plane = |row: usize| std::array::from_fn(|c| self.to_bpm.iter().map(|m| at(m, row, c)).collect());
        let model_change = self.model_change(current_a)?;
        Ok(StepResponse { current_a, change: [plane(X), plane(Y)], model_change })
    }

    /// The model itself stepped: what its beam, |d_model| away from the
    /// axis, does, with the sextupoles' nonlinear terms [m].
    fn model_change(&self, current_a: f64) -> Result<[Vec<f64>; 2], BbaError> {
        if current_a == 0.0 {
            return Ok([vec![0.0; self.bpms.len()], vec![0.0; self.bpms.len()]]);
        }
        let mut model = self.lattice.clone();
        model.set_polynom_b(self.quad, 1, self.k1_per_m2 + self.dk1_per_a * current_a)?;
        let reference = self.reference;
        let stepped = match reference.dynamics {
            // warm: the reference's fixed point and one-turn Jacobian start
            // the stepped solve (a few scalar passes instead of Newton's
            // dual ones)
            Dynamics::SixDRadiation => {
                let fixed = Fixed { x: reference.orbit[0].into(), jacobian: reference.one_turn - Matrix6::identity() };
                let six = orbit_6d(&model, Some(&fixed))?;
                [X, Y].map(|k| self.bpms.iter().map(|b| six.orbit[b.0 + 1][k]).collect::<Vec<_>>())
            }
            dynamics => {
                closed_orbit_xy(&model, dynamics, Some(&reference.orbit[0]), self.bpms).map_err(OpticsError::from)?
            }
        };
        Ok(std::array::from_fn(|p| stepped[p].iter().zip(&self.at_zero[p]).map(|(s, z)| s - z).collect()))
    }

    /// The optics and the model orbit between the BPMs around the quad,
    /// the beam passing the elements of `as_set`.
    fn local_optics(&self, as_set: &Lattice) -> Result<LocalOptics, BbaError> {
        let (quad, bpms) = (self.quad, self.bpms);
        let Around { upstream, downstream, nearest } = bpms_around(self.lattice, quad, bpms);
        let offset = self.element.misalignment;
        let (a, b) = (bpms[upstream], bpms[downstream]);
        let at_upstream = self.reference.orbit[a.0 + 1];
        let (centre, at_downstream) = local_orbit(as_set, &self.ctx, at_upstream, a, quad, b);
        let to_entrance = transverse(&exit_to_entrance(self.reference, a, quad)?);
        let first_half = transverse(&self.first_half.jacobian);
        let to_downstream = transverse(&self.to_bpm[downstream]);
        Ok(LocalOptics {
            upstream_bpm: upstream,
            downstream_bpm: downstream,
            nearest_bpm: nearest,
            to_entrance,
            first_half,
            quad: transverse(&self.q0),
            to_downstream,
            model_upstream: state(&at_upstream),
            model_centre: state(&centre),
            model_downstream: state(&at_downstream),
            model_offset_m: [offset.dx_m, offset.dy_m],
        })
    }
}

/// The BPMs around a quad (indices into the BPM list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Around {
    pub upstream: usize,
    pub downstream: usize,
    /// The one of the two nearer to the quad's centre in s (downstream
    /// when equally near): the BPM whose offset BBA finds.
    pub nearest: usize,
}

/// The BPMs of `bpms` (in lattice order, not empty) around `quad`, the
/// ring closing on itself.
pub fn bpms_around(lattice: &Lattice, quad: ElementId, bpms: &[ElementId]) -> Around {
    let upstream = bpms.iter().rposition(|b| b.0 < quad.0).unwrap_or(bpms.len() - 1);
    let downstream = bpms.iter().position(|b| b.0 > quad.0).unwrap_or(0);
    let c = lattice.circumference_m();
    let centre = lattice.s_entrance_m(quad) + lattice.element(quad).length_m() / 2.0;
    let behind = (centre - lattice.s_entrance_m(bpms[upstream])).rem_euclid(c);
    let ahead = (lattice.s_entrance_m(bpms[downstream]) - centre).rem_euclid(c);
    Around { upstream, downstream, nearest: if ahead <= behind { downstream } else { upstream } }
}

/// How the beam on the 6D closed orbit `orbit` (element entrances) of
/// `lattice` changes in position (x, y) from the centre of `quad` to the
/// exit of `bpm` [m].
pub fn beam_step(lattice: &Lattice, orbit: &[[f64; 6]], quad: ElementId, bpm: ElementId) -> [f64; 2] {
    let ctx = context(lattice, Dynamics::SixDRadiation, 0);
    let mut centre = orbit[quad.0];
    pass(&first_half(lattice.element(quad)), &mut centre, &ctx);
    let at_bpm = orbit[bpm.0 + 1];
    [at_bpm[X] - centre[X], at_bpm[Y] - centre[Y]]
}

/// The BBA model of quad `quad` (both planes) for a measurement stepping
/// the auxiliary supply through `currents_a`, with `bpms` the BPMs read.
/// `lattice` is the analyst's model with `reference` its orbit and maps
/// (matched onto the measured orbit, see `orbit_match`); `as_set` the same
/// machine without the matching kicks: between the BPMs around the quad
/// the beam passes the elements as set, not the matching's stand-ins for
/// the unknown errors.
pub fn bba_model(
    lattice: &Lattice,
    as_set: &Lattice,
    reference: &Reference,
    quad: ElementId,
    dk1_per_a: f64,
    currents_a: &[f64],
    bpms: &[ElementId],
) -> Result<BbaModel, BbaError> {
    let element = lattice.element(quad);
    let (k1, length) = match &element.kind {
        ElementKind::Quadrupole(q) => (q.body.polynom_b.get(1).copied().unwrap_or(0.0), q.length_m),
        _ => return Err(BbaError::NotAQuadrupole(element.name.clone())),
    };
    if bpms.is_empty() {
        return Err(BbaError::NoBpms);
    }
    let model = QuadModel::new(lattice, reference, quad, k1, dk1_per_a, bpms)?;
    // the stepped models' closed orbits dominate the time: in parallel
    let responses = currents_a.par_iter().map(|&current_a| model.response(current_a)).collect::<Result<Vec<_>, _>>()?;
    let offset = element.misalignment;
    let c = model.first_half.coords;
    let model_beam = Vector4::new(c[X] - offset.dx_m, c[PX], c[Y] - offset.dy_m, c[PY]);
    Ok(BbaModel {
        model_beam,
        responses,
        dk1_per_a,
        length_m: length,
        k1_per_m2: k1,
        local: model.local_optics(as_set)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three elements; the map to the exit of the second is singular.
    fn reference() -> Reference {
        let mut kick = Matrix6::identity();
        kick[(PX, X)] = -0.5;
        Reference {
            orbit: vec![[0.0; 6]; 4],
            transfer: vec![kick, Matrix6::zeros(), kick],
            one_turn: kick,
            dynamics: Dynamics::FourD,
        }
    }

    #[test]
    fn transfer_between_element_exits() {
        let r = reference();
        assert_eq!(exit_to_exit(&r, ElementId(0), ElementId(2)), Ok(Matrix6::identity()));
        // once around: back to the same exit
        assert_eq!(exit_to_exit(&r, ElementId(2), ElementId(2)), Ok(r.one_turn));
    }

    #[test]
    fn a_singular_transfer_map_is_an_error_not_the_identity() {
        let r = reference();
        let want = Err(BbaError::SingularTransfer { element: ElementId(1) });
        assert_eq!(exit_to_exit(&r, ElementId(1), ElementId(2)), want);
        assert_eq!(exit_to_entrance(&r, ElementId(1), ElementId(0)), want);
    }
}
