//! Builds the BBA measurement model of one quad from the design optics.
use nalgebra::{Matrix2, Matrix6};

use crate::bba::{BbaModel, LocalOptics};
use crate::integrators::{Dynamics, pass};
use crate::jacobian::Linearised;
use crate::lattice::{ElementId, ElementKind, Lattice, Plane};
use crate::optics::{OpticsError, RingOptics};
use crate::orm::{Corrector, orbit_response};
use crate::real::Dual;
use crate::tracking::context;

fn block(m: &Matrix6<f64>, plane: Plane) -> Matrix2<f64> {
    let k = 2 * plane.index();
    m.fixed_view::<2, 2>(k, k).into_owned()
}

/// Transfer matrix of half of element `id` (entrance → centre), of the
/// other half, and the reference orbit at the centre.
fn halves(lattice: &Lattice, reference: &Reference, id: ElementId) -> (Matrix6<f64>, Matrix6<f64>, [f64; 6]) {
    let ctx = context(lattice, reference.dynamics, 0);
    let mut half = lattice.element(id).clone();
    if let ElementKind::Quadrupole(q) | ElementKind::Sextupole(q) = &mut half.kind {
        q.length_m /= 2.0;
        q.body.n_steps = (q.body.n_steps / 2).max(1);
    }
    let jac = |start: [f64; 6]| -> Linearised {
        let mut r: [Dual<6>; 6] = std::array::from_fn(|i| Dual::seed(start[i], i));
        pass(&half, &mut r, &ctx);
        Linearised { coords: nalgebra::Vector6::from_fn(|i, _| r[i].v), jacobian: Matrix6::from_fn(|i, j| r[i].d[j]) }
    };
    let first = jac(reference.orbit[id.0]);
    let mid: [f64; 6] = std::array::from_fn(|i| first.coords[i]);
    (first.jacobian, jac(mid).jacobian, mid)
}

/// Transfer from the exit of element `from` to the entrance of `to`
/// (wrapping once around the ring if `to` comes first).
fn between(optics: &Reference, from: ElementId, to: ElementId) -> Matrix6<f64> {
    let inv = |m: &Matrix6<f64>| m.try_inverse().unwrap_or_else(Matrix6::identity);
    let exit_from = optics.transfer[from.0];
    let entrance_to = if to.0 == 0 { Matrix6::identity() } else { optics.transfer[to.0 - 1] };
    if to.0 > from.0 { entrance_to * inv(&exit_from) } else { entrance_to * optics.one_turn * inv(&exit_from) }
}

/// Which orbit the readings are: δ fixed (4D) or RF frequency fixed (what
/// a ring with cavities shows: a kick changes the path length, the energy
/// follows, the orbit gains −η_b·η_q·θ/(α_c·C)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrbitKind {
    FixedMomentum,
    FixedRf,
}

/// The orbit and transfer maps the readings are compared with: by default
/// the 4D optics' own; for fixed-RF readings, the 6D closed orbit of the
/// analyst's model and the maps around it (`reference_6d`).
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
/// radiation) of `lattice` and the linear maps around it.
pub fn reference_6d(lattice: &Lattice) -> Result<Reference, OpticsError> {
    let orbit0 = crate::orbit::closed_orbit_6d(lattice, Dynamics::SixDRadiation, None)?;
    let ctx = context(lattice, Dynamics::SixDRadiation, 0);
    let maps = crate::jacobian::along_ring(lattice, &orbit0.coords, &ctx).map_err(crate::orbit::OrbitError::from)?;
    let mut orbit = vec![orbit0.coords];
    orbit.extend(maps.iter().map(|m| std::array::from_fn(|i| m.coords[i])));
    let transfer: Vec<Matrix6<f64>> = maps.iter().map(|m| m.jacobian).collect();
    let one_turn = *transfer.last().expect("lattice is not empty");
    Ok(Reference { orbit, transfer, one_turn, dynamics: Dynamics::SixDRadiation })
}

/// The BBA model of quad `quad` in `plane`, with `bpms` the BPMs read.
#[allow(clippy::too_many_arguments)]
pub fn bba_model(
    lattice: &Lattice,
    optics: &RingOptics,
    reference: &Reference,
    quad: ElementId,
    plane: Plane,
    dk1_per_a: f64,
    bpms: &[ElementId],
    orbit: OrbitKind,
) -> Result<BbaModel, OpticsError> {
    // responses at the BPMs, then at the quad's entrance and exit
    let mut points = bpms.to_vec();
    points.extend([ElementId(quad.0.saturating_sub(1)), quad]);
    let orm = orbit_response(lattice, optics, &[Corrector { element: quad, plane }], &points)?;
    let column: Vec<f64> = match plane {
        Plane::Horizontal => orm.x.column(0).iter().copied().collect(),
        Plane::Vertical => orm.y.column(0).iter().copied().collect(),
    };
    let mut response = column[..bpms.len()].to_vec();
    let mut entrance_exit_self = (column[bpms.len()] + column[bpms.len() + 1]) / 2.0;
    if orbit == OrbitKind::FixedRf && plane == Plane::Horizontal {
        let eta = |id: ElementId| optics.points[id.0].dispersion[0];
        let eta_q = (eta(quad) + eta(ElementId(quad.0 + 1))) / 2.0;
        let scale = eta_q / (optics.momentum_compaction * lattice.circumference_m());
        for (r, b) in response.iter_mut().zip(bpms) {
            *r -= eta(*b) * scale;
        }
        entrance_exit_self -= eta_q * scale;
    }
    let upstream = bpms.iter().rposition(|b| b.0 < quad.0).unwrap_or(bpms.len() - 1);
    let downstream = bpms.iter().position(|b| b.0 > quad.0).unwrap_or(0);
    let (h1, h2, centre) = halves(lattice, reference, quad);
    let to_centre = h1 * between(reference, bpms[upstream], quad);
    let exit = ElementId(quad.0 + 1);
    let after =
        if exit.0 < lattice.len() { between_entrance(reference, exit, bpms[downstream]) } else { Matrix6::identity() };
    let from_centre = after * h2;
    let k = 2 * plane.index();
    let at_exit = |b: ElementId| reference.orbit[b.0 + 1][k];
    let model_orbit_m = [at_exit(bpms[upstream]), centre[k], at_exit(bpms[downstream])];
    let (k1, length) = match &lattice.element(quad).kind {
        ElementKind::Quadrupole(q) => (q.body.polynom_b.get(1).copied().unwrap_or(0.0), q.length_m),
        _ => (0.0, 0.0),
    };
    let (gradient, self_response) = split_quad_responses(lattice, quad, plane, bpms, orbit)?;
    Ok(BbaModel {
        plane,
        response_gradient: gradient,
        response_m_per_rad: response,
        dk1_per_a,
        // the Simpson average; the entrance/exit mean is kept as a check
        self_response_m_per_rad: if self_response.is_finite() { self_response } else { entrance_exit_self },
        k1_per_m2: k1,
        length_m: length,
        local: LocalOptics {
            upstream_bpm: upstream,
            downstream_bpm: downstream,
            to_centre: block(&to_centre, plane),
            from_centre: block(&from_centre, plane),
            model_orbit_m,
            model_centre_slope_rad: centre[k + 1],
            model_offset_m: {
                let m = lattice.element(quad).misalignment;
                if plane == Plane::Horizontal { m.dx_m } else { m.dy_m }
            },
        },
    })
}

/// Transfer from the entrance of element `from` to the exit of `to`.
fn between_entrance(optics: &Reference, from: ElementId, to: ElementId) -> Matrix6<f64> {
    let inv = |m: &Matrix6<f64>| m.try_inverse().unwrap_or_else(Matrix6::identity);
    let entrance_from = if from.0 == 0 { Matrix6::identity() } else { optics.transfer[from.0 - 1] };
    let exit_to = optics.transfer[to.0];
    if to.0 >= from.0 { exit_to * inv(&entrance_from) } else { exit_to * optics.one_turn * inv(&entrance_from) }
}

/// (R_second − R_first)·L/8 at every BPM: with R_first/R_second the
/// responses to a uniform kick on each half of the quad. The kick of a
/// strength change is ΔK·(x(s) − dx), not uniform when the beam crosses the
/// quad at a slope x′; its response is g·(d_c·R + x′·this), d_c the
/// displacement at the centre.
///
/// Also returns the self response: the change of the beam position
/// averaged over the quad (Simpson: entrance, centre, exit) per unit
/// uniform kick on the quad.
fn split_quad_responses(
    lattice: &Lattice,
    quad: ElementId,
    plane: Plane,
    bpms: &[ElementId],
    orbit: OrbitKind,
) -> Result<(Vec<f64>, f64), OpticsError> {
    let mut elements = lattice.elements().to_vec();
    let mut half = elements[quad.0].clone();
    let length = half.length_m();
    if let ElementKind::Quadrupole(q) = &mut half.kind {
        q.length_m /= 2.0;
        q.body.n_steps = (q.body.n_steps / 2).max(1);
    }
    elements.splice(quad.0..=quad.0, [half.clone(), half]);
    let split = Lattice::new(lattice.name(), lattice.energy_ev(), elements);
    let optics = crate::optics::linear_optics_4d(&split, 0.0, None)?;
    let mut shifted: Vec<ElementId> = bpms.iter().map(|b| if b.0 > quad.0 { ElementId(b.0 + 1) } else { *b }).collect();
    // entrance (exit of the element before), centre, exit of the quad
    shifted.extend([ElementId(quad.0.saturating_sub(1)), ElementId(quad.0), ElementId(quad.0 + 1)]);
    let halves = [ElementId(quad.0), ElementId(quad.0 + 1)];
    let correctors: Vec<Corrector> = halves.iter().map(|&element| Corrector { element, plane }).collect();
    let orm = orbit_response(&split, &optics, &correctors, &shifted)?;
    let m = if plane == Plane::Horizontal { &orm.x } else { &orm.y };
    let mut r: [Vec<f64>; 2] = [m.column(0).iter().copied().collect(), m.column(1).iter().copied().collect()];
    if orbit == OrbitKind::FixedRf && plane == Plane::Horizontal {
        let eta = |id: ElementId| optics.points[id.0].dispersion[0];
        let circ = optics.momentum_compaction * split.circumference_m();
        for (k, h) in halves.iter().enumerate() {
            let eta_h = (eta(*h) + eta(ElementId(h.0 + 1))) / 2.0;
            for (v, b) in r[k].iter_mut().zip(&shifted) {
                *v -= eta(*b) * eta_h / circ;
            }
        }
    }
    let n = bpms.len();
    let uniform = |i: usize| (r[0][i] + r[1][i]) / 2.0;
    let self_response = (uniform(n) + 4.0 * uniform(n + 1) + uniform(n + 2)) / 6.0;
    let gradient = r[0][..n].iter().zip(&r[1][..n]).map(|(a, b)| (b - a) * length / 8.0).collect();
    Ok((gradient, self_response))
}
