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
use nalgebra::{DMatrix, Matrix4, Matrix6, Vector4};
use rayon::prelude::*;

use crate::bba::{BbaError, BbaModel, LocalOptics, StepResponse};
use crate::integrators::{Dynamics, PassContext, pass};
use crate::jacobian::through_element;
use crate::lattice::{Element, ElementId, ElementKind, Lattice};
use crate::optics::{OpticsError, RingOptics};
use crate::orbit::closed_orbit_xy;
use crate::tracking::context;

fn transverse(m: &Matrix6<f64>) -> Matrix4<f64> {
    m.fixed_view::<4, 4>(0, 0).into_owned()
}

fn state(z: &[f64; 6]) -> Vector4<f64> {
    Vector4::new(z[0], z[1], z[2], z[3])
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
fn exit_to_exit(reference: &Reference, from: ElementId, to: ElementId) -> Matrix6<f64> {
    let inv = |m: &Matrix6<f64>| m.try_inverse().unwrap_or_else(Matrix6::identity);
    let (exit_from, exit_to) = (reference.transfer[from.0], reference.transfer[to.0]);
    if to.0 > from.0 { exit_to * inv(&exit_from) } else { exit_to * reference.one_turn * inv(&exit_from) }
}

/// Transfer from the exit of element `from` to the entrance of `to`.
fn exit_to_entrance(reference: &Reference, from: ElementId, to: ElementId) -> Matrix6<f64> {
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
    let ctx = context(lattice, Dynamics::SixDRadiation, 0);
    let maps = crate::jacobian::along_ring(lattice, &orbit0.coords, &ctx).map_err(crate::orbit::OrbitError::from)?;
    let mut orbit = vec![orbit0.coords];
    orbit.extend(maps.iter().map(|m| std::array::from_fn(|i| m.coords[i])));
    let transfer: Vec<Matrix6<f64>> = maps.iter().map(|m| m.jacobian).collect();
    let one_turn = *transfer.last().expect("lattice is not empty");
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
    let ctx = context(lattice, reference.dynamics, 0);
    let element = lattice.element(quad);
    let (k1, length) = match &element.kind {
        ElementKind::Quadrupole(q) => (q.body.polynom_b.get(1).copied().unwrap_or(0.0), q.length_m),
        _ => return Err(BbaError::NotAQuadrupole(element.name.clone())),
    };
    if bpms.is_empty() {
        return Err(BbaError::NoBpms);
    }
    let entrance = reference.orbit[quad.0];
    let q0 = through_element(element, &ctx, entrance).jacobian;
    let first_half = through_element(&first_half(element), &ctx, entrance);
    let h1 = first_half.jacobian;
    let h1_inv = h1.try_inverse().ok_or(BbaError::SingularOptics("the quad's half map is not invertible"))?;
    let n = dimension(reference.dynamics);
    let rest = exit_to_entrance(reference, quad, quad);
    let one = DMatrix::<f64>::identity(n, n);
    let closing = &one - sub(&(rest * q0), n);
    let to_bpm: Vec<Matrix6<f64>> = bpms.iter().map(|b| exit_to_exit(reference, quad, *b)).collect();
    let at_zero: [Vec<f64>; 2] = [0, 2].map(|k| bpms.iter().map(|b| reference.orbit[b.0 + 1][k]).collect());
    // the stepped models' closed orbits dominate the time: in parallel
    let responses = currents_a
        .par_iter()
        .map(|&current_a| {
            let mut stepped = element.clone();
            if let Some(b) = stepped.body_mut() {
                b.polynom_b[1] += dk1_per_a * current_a;
            }
            let q1 = through_element(&stepped, &ctx, entrance).jacobian;
            let open = (&one - sub(&(rest * q1), n))
                .lu()
                .solve(&closing)
                .ok_or(BbaError::SingularOptics("no closed orbit with the stepped quad"))?;
            // D·H1⁻¹: change at the quad exit per unit state at the centre
            let d = (sub(&q1, n) * open - sub(&q0, n)) * sub(&h1_inv, n);
            let at = |m: &Matrix6<f64>, row: usize, col: usize| (0..n).map(|j| m[(row, j)] * d[(j, col)]).sum::<f64>();
            let plane = |row: usize| std::array::from_fn(|c| to_bpm.iter().map(|m| at(m, row, c)).collect());
            // the model itself stepped: what its beam, |d_model| away from
            // the axis, does, with the sextupoles' nonlinear terms
            let model_change = if current_a == 0.0 {
                [vec![0.0; bpms.len()], vec![0.0; bpms.len()]]
            } else {
                let mut model = lattice.clone();
                model.set_polynom_b(quad, 1, k1 + dk1_per_a * current_a)?;
                let stepped = closed_orbit_xy(&model, reference.dynamics, Some(&reference.orbit[0]), bpms)
                    .map_err(OpticsError::from)?;
                std::array::from_fn(|p| stepped[p].iter().zip(&at_zero[p]).map(|(s, z)| s - z).collect())
            };
            Ok(StepResponse { current_a, change: [plane(0), plane(2)], model_change })
        })
        .collect::<Result<Vec<_>, BbaError>>()?;
    let upstream = bpms.iter().rposition(|b| b.0 < quad.0).unwrap_or(bpms.len() - 1);
    let downstream = bpms.iter().position(|b| b.0 > quad.0).unwrap_or(0);
    let offset = element.misalignment;
    let (a, b) = (bpms[upstream], bpms[downstream]);
    let (centre, at_downstream) = local_orbit(as_set, &ctx, reference.orbit[a.0 + 1], a, quad, b);
    let c = &first_half.coords;
    let model_beam = Vector4::new(c[0] - offset.dx_m, c[1], c[2] - offset.dy_m, c[3]);
    Ok(BbaModel {
        model_beam,
        responses,
        dk1_per_a,
        length_m: length,
        k1_per_m2: k1,
        local: LocalOptics {
            upstream_bpm: upstream,
            downstream_bpm: downstream,
            to_entrance: transverse(&exit_to_entrance(reference, bpms[upstream], quad)),
            first_half: transverse(&h1),
            quad: transverse(&q0),
            to_downstream: transverse(&to_bpm[downstream]),
            model_upstream: state(&reference.orbit[a.0 + 1]),
            model_centre: state(&centre),
            model_downstream: state(&at_downstream),
            model_offset_m: [offset.dx_m, offset.dy_m],
        },
    })
}
