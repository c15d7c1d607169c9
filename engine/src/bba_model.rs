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

/// Transfer matrix of half of element `id` (entrance → centre), and of the
/// other half, at the closed orbit at its entrance.
fn halves(lattice: &Lattice, optics: &RingOptics, id: ElementId) -> (Matrix6<f64>, Matrix6<f64>) {
    let ctx = context(lattice, Dynamics::FourD, 0);
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
    let first = jac(optics.points[id.0].orbit);
    let mid: [f64; 6] = std::array::from_fn(|i| first.coords[i]);
    (first.jacobian, jac(mid).jacobian)
}

/// Transfer from the exit of element `from` to the entrance of `to`
/// (wrapping once around the ring if `to` comes first).
fn between(optics: &RingOptics, from: ElementId, to: ElementId) -> Matrix6<f64> {
    let inv = |m: &Matrix6<f64>| m.try_inverse().unwrap_or_else(Matrix6::identity);
    let exit_from = optics.transfer[from.0];
    let entrance_to = if to.0 == 0 { Matrix6::identity() } else { optics.transfer[to.0 - 1] };
    if to.0 > from.0 { entrance_to * inv(&exit_from) } else { entrance_to * optics.one_turn * inv(&exit_from) }
}

/// The BBA model of quad `quad` in `plane`, with `bpms` the BPMs read.
pub fn bba_model(
    lattice: &Lattice,
    optics: &RingOptics,
    quad: ElementId,
    plane: Plane,
    dk1_per_a: f64,
    bpms: &[ElementId],
) -> Result<BbaModel, OpticsError> {
    // responses at the BPMs, then at the quad's entrance and exit
    let mut points = bpms.to_vec();
    points.extend([ElementId(quad.0.saturating_sub(1)), quad]);
    let orm = orbit_response(lattice, optics, &[Corrector { element: quad, plane }], &points)?;
    let column: Vec<f64> = match plane {
        Plane::Horizontal => orm.x.column(0).iter().copied().collect(),
        Plane::Vertical => orm.y.column(0).iter().copied().collect(),
    };
    let response = column[..bpms.len()].to_vec();
    let self_response = (column[bpms.len()] + column[bpms.len() + 1]) / 2.0;
    let upstream = bpms.iter().rposition(|b| b.0 < quad.0).unwrap_or(bpms.len() - 1);
    let downstream = bpms.iter().position(|b| b.0 > quad.0).unwrap_or(0);
    let (h1, h2) = halves(lattice, optics, quad);
    let to_centre = h1 * between(optics, bpms[upstream], quad);
    let exit = ElementId(quad.0 + 1);
    let after =
        if exit.0 < lattice.len() { between_entrance(optics, exit, bpms[downstream]) } else { Matrix6::identity() };
    let from_centre = after * h2;
    let (k1, length) = match &lattice.element(quad).kind {
        ElementKind::Quadrupole(q) => (q.body.polynom_b.get(1).copied().unwrap_or(0.0), q.length_m),
        _ => (0.0, 0.0),
    };
    Ok(BbaModel {
        plane,
        response_m_per_rad: response,
        dk1_per_a,
        self_response_m_per_rad: self_response,
        k1_per_m2: k1,
        length_m: length,
        local: LocalOptics {
            upstream_bpm: upstream,
            downstream_bpm: downstream,
            to_centre: block(&to_centre, plane),
            from_centre: block(&from_centre, plane),
        },
    })
}

/// Transfer from the entrance of element `from` to the exit of `to`.
fn between_entrance(optics: &RingOptics, from: ElementId, to: ElementId) -> Matrix6<f64> {
    let inv = |m: &Matrix6<f64>| m.try_inverse().unwrap_or_else(Matrix6::identity);
    let entrance_from = if from.0 == 0 { Matrix6::identity() } else { optics.transfer[from.0 - 1] };
    let exit_to = optics.transfer[to.0];
    if to.0 >= from.0 { exit_to * inv(&entrance_from) } else { exit_to * optics.one_turn * inv(&entrance_from) }
}
