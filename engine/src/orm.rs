//! Orbit response matrix: ∂(closed orbit at BPMs)/∂(steerer kick), exact
//! to first order, from the transfer matrices of one optics computation.
use nalgebra::{DMatrix, Matrix4, Vector4};

use crate::coords::{Coords, X, Y};
use crate::integrators::{Dynamics, pass};
use crate::jacobian::transverse;
use crate::lattice::{ElementId, Lattice, Plane};
use crate::optics::{OpticsError, RingOptics};
use crate::tracking::context;

/// Kick step of the element derivative [rad]; the element map is analytic
/// in the kick, so the central difference error is O(h²) ≈ 1e-14 relative.
const KICK_STEP_RAD: f64 = 1e-7;

/// A steering corrector: a magnet and the plane of its winding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Corrector {
    pub element: ElementId,
    pub plane: Plane,
}

/// Orbit response: rows are BPMs, columns correctors [m/rad].
#[derive(Clone, Debug, PartialEq)]
pub struct OrbitResponse {
    pub correctors: Vec<Corrector>,
    pub bpms: Vec<ElementId>,
    pub x: DMatrix<f64>,
    pub y: DMatrix<f64>,
}

/// Derivative of an element's exit coordinates with respect to its kick.
fn kick_derivative(lattice: &Lattice, c: Corrector, entrance: &Coords<f64>) -> Result<Vector4<f64>, OpticsError> {
    let ctx = context(lattice, Dynamics::FourD, 0);
    let mut el = lattice.element(c.element).clone();
    let not_a_corrector = || OpticsError::NotACorrector(lattice.element(c.element).name.clone());
    let base = el.body().ok_or_else(not_a_corrector)?.kick_angle_rad()[c.plane.index()];
    let mut out = [[0.0; 6]; 2];
    for (k, sign) in [1.0, -1.0].into_iter().enumerate() {
        el.body_mut().ok_or_else(not_a_corrector)?.set_kick_angle_rad(c.plane.index(), base + sign * KICK_STEP_RAD);
        let mut r = *entrance;
        pass(&el, &mut r, &ctx);
        out[k] = r;
    }
    Ok(Vector4::from_fn(|i, _| (out[0][i] - out[1][i]) / (2.0 * KICK_STEP_RAD)))
}

/// Orbit response of `bpms` to `correctors` around the state `optics` was
/// computed for (4D, δ of the optics).
pub fn orbit_response(
    lattice: &Lattice,
    optics: &RingOptics,
    correctors: &[Corrector],
    bpms: &[ElementId],
) -> Result<OrbitResponse, OpticsError> {
    let one_turn = transverse(&optics.one_turn);
    let closed = (Matrix4::identity() - one_turn).lu();
    let mut x = DMatrix::zeros(bpms.len(), correctors.len());
    let mut y = DMatrix::zeros(bpms.len(), correctors.len());
    for (j, c) in correctors.iter().enumerate() {
        let e = c.element.0;
        let k = kick_derivative(lattice, *c, &optics.points[e].orbit)?;
        let a_e = transverse(&optics.transfer[e]);
        let a_e_inv = a_e.try_inverse().ok_or(OpticsError::Singular)?;
        let to_end = one_turn * a_e_inv * k;
        let dz0 = closed.solve(&to_end).ok_or(OpticsError::Singular)?;
        for (i, b) in bpms.iter().enumerate() {
            let a_b = transverse(&optics.transfer[b.0]);
            let mut dz = a_b * dz0;
            if b.0 > e {
                dz += a_b * a_e_inv * k;
            }
            x[(i, j)] = dz[X];
            y[(i, j)] = dz[Y];
        }
    }
    Ok(OrbitResponse { correctors: correctors.to_vec(), bpms: bpms.to_vec(), x, y })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lattice::{Element, ElementKind, Misalignment, Windings};

    #[test]
    fn a_corrector_without_a_magnet_is_an_error() {
        let drift = Element {
            name: "D1".into(),
            group: None,
            kind: ElementKind::Drift { length_m: 1.0 },
            misalignment: Misalignment::default(),
            windings: Windings::default(),
        };
        let lattice = Lattice::new("drift", 1.7e9, vec![drift]);
        let c = Corrector { element: ElementId(0), plane: Plane::Vertical };
        assert_eq!(kick_derivative(&lattice, c, &[0.0; 6]), Err(OpticsError::NotACorrector("D1".into())));
    }
}
