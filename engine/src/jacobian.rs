//! One-turn (and partial) maps with their exact Jacobians, by tracking a
//! dual-number particle.
use nalgebra::{Matrix4, Matrix6, Vector6};

use crate::coords::{Coords, TRANSVERSE, X};
use crate::integrators::{PassContext, pass};
use crate::lattice::{Element, ElementId, Lattice};
use crate::real::{Dual, Real};
use crate::tracking::{Lost, track_turn_observed};

/// Coordinates and their Jacobian with respect to the start coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linearised {
    pub coords: Vector6<f64>,
    /// ∂coords / ∂start (6×6).
    pub jacobian: Matrix6<f64>,
}

/// The transverse block of a map: ∂(x, px, y, py)/∂(x, px, y, py).
pub fn transverse(m: &Matrix6<f64>) -> Matrix4<f64> {
    m.fixed_view::<TRANSVERSE, TRANSVERSE>(X, X).into_owned()
}

fn seeded(start: &Coords<f64>) -> Coords<Dual<6>> {
    std::array::from_fn(|i| Dual::seed(start[i], i))
}

fn linearised(r: &Coords<Dual<6>>) -> Linearised {
    Linearised { coords: Vector6::from_fn(|i, _| r[i].value()), jacobian: Matrix6::from_fn(|i, j| r[i].d[j]) }
}

/// Tracks one turn from `start`; returns the end point and one-turn matrix.
pub fn one_turn(lattice: &Lattice, start: &Coords<f64>, ctx: &PassContext) -> Result<Linearised, Lost> {
    let mut r = seeded(start);
    track_turn_observed(lattice, &mut r, ctx, |_, _| {})?;
    Ok(linearised(&r))
}

/// The pass through one element from `start` and its map.
pub fn through_element(element: &Element, ctx: &PassContext, start: Coords<f64>) -> Linearised {
    let mut r = seeded(&start);
    pass(element, &mut r, ctx);
    linearised(&r)
}

/// Tracks one turn from `start`, recording the linearised map from the
/// start to the exit of every element (index i = exit of element i).
pub fn along_ring(lattice: &Lattice, start: &Coords<f64>, ctx: &PassContext) -> Result<Vec<Linearised>, Lost> {
    let mut r = seeded(start);
    let mut out = Vec::with_capacity(lattice.len());
    track_turn_observed(lattice, &mut r, ctx, |_: ElementId, r| out.push(linearised(r)))?;
    Ok(out)
}
