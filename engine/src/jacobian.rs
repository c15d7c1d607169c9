//! One-turn (and partial) maps with their exact Jacobians, by tracking a
//! dual-number particle.
use std::ops::Range;

use nalgebra::{Matrix4, Matrix6, Vector4, Vector6};

use crate::coords::{Coords, DELTA, PX, PY, TRANSVERSE, X, Y};
use crate::hyper_dual::HyperDual;
use crate::integrators::{PassContext, pass};
use crate::lattice::{Element, ElementId, Lattice};
use crate::real::{Dual, Real};
use crate::tracking::{Lost, track_elements_observed, track_turn, track_turn_observed};
use crate::transverse::track_turn_4d;

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

/// Dual coordinates at `start` carrying derivatives with respect to the
/// start coordinates `seeds` only (derivative k is ∂/∂start[seeds[k]]).
fn seeded_with<const N: usize>(start: &Coords<f64>, seeds: [usize; N]) -> Coords<Dual<N>> {
    std::array::from_fn(|i| match seeds.iter().position(|&s| s == i) {
        Some(k) => Dual::seed(start[i], k),
        None => Dual::cst(start[i]),
    })
}

/// The coordinates the 4D optics differentiate with respect to: the
/// transverse ones and δ. Without cavities nothing depends on cτ, so its
/// column of every 4D map is the unit vector.
pub const FOUR_D_SEEDS: [usize; 5] = [X, PX, Y, PY, DELTA];

/// A 4D map (`FOUR_D_SEEDS` seeded) as a full 6×6 matrix.
fn linearised_4d(r: &Coords<Dual<5>>) -> Linearised {
    let mut jacobian = Matrix6::identity();
    for (k, &col) in FOUR_D_SEEDS.iter().enumerate() {
        for row in 0..6 {
            jacobian[(row, col)] = r[row].d[k];
        }
    }
    Linearised { coords: Vector6::from_fn(|i, _| r[i].value()), jacobian }
}

/// Tracks one turn of 4D dynamics (no cavities) from `start`, recording
/// the map from the start to the exit of every element. The same maps as
/// `along_ring` with `Dynamics::FourD`, at 5/7 of its cost.
pub fn along_ring_4d(lattice: &Lattice, start: &Coords<f64>, ctx: &PassContext) -> Result<Vec<Linearised>, Lost> {
    debug_assert_eq!(ctx.dynamics, crate::integrators::Dynamics::FourD);
    let mut r = seeded_with(start, FOUR_D_SEEDS);
    let mut out = Vec::with_capacity(lattice.len());
    track_turn_observed(lattice, &mut r, ctx, |_: ElementId, r| out.push(linearised_4d(r)))?;
    Ok(out)
}

fn linearised(r: &Coords<Dual<6>>) -> Linearised {
    Linearised { coords: Vector6::from_fn(|i, _| r[i].value()), jacobian: Matrix6::from_fn(|i, j| r[i].d[j]) }
}

/// The transverse seeds: a map's dependence on δ and cτ left out.
const TRANSVERSE_SEEDS: [usize; TRANSVERSE] = [X, PX, Y, PY];

/// Tracks one turn of 4D dynamics from `start` at its fixed δ (through the
/// affine spans at δ = 0, `transverse::track_turn_4d`); returns the
/// transverse end point and ∂(x, px, y, py)/∂(x, px, y, py): the 4D closed
/// orbit's Newton step, with 4 derivatives carried instead of 6.
pub fn one_turn_transverse(
    lattice: &Lattice,
    start: &Coords<f64>,
    ctx: &PassContext,
) -> Result<(Vector4<f64>, Matrix4<f64>), Lost> {
    let mut r = seeded_with(start, TRANSVERSE_SEEDS);
    track_turn_4d(lattice, &mut r, ctx)?;
    Ok((Vector4::from_fn(|i, _| r[i].value()), Matrix4::from_fn(|i, j| r[i].d[j])))
}

/// Tracks one turn from `start`; returns the end point and one-turn matrix.
pub fn one_turn(lattice: &Lattice, start: &Coords<f64>, ctx: &PassContext) -> Result<Linearised, Lost> {
    let mut r = seeded(start);
    track_turn_observed(lattice, &mut r, ctx, |_, _| {})?;
    Ok(linearised(&r))
}

/// Tracks through the elements `range` (a segment of one turn) from
/// `start`; returns the end point and the segment's matrix.
pub fn through_elements(
    lattice: &Lattice,
    range: Range<usize>,
    start: &Coords<f64>,
    ctx: &PassContext,
) -> Result<Linearised, Lost> {
    let mut r = seeded(start);
    track_elements_observed(lattice, range, &mut r, ctx, |_, _| {})?;
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

/// The transverse one-turn matrix M of 4D dynamics from `start` and its
/// derivative per unit δ along the closed orbit, dM/dδ = ∂M/∂δ + Σₖ
/// ∂M/∂zₖ ηₖ, with `dispersion` (η_x, η_px, η_y, η_py) at the start: one
/// turn of second-order dual numbers (`HyperDual`).
pub fn one_turn_chromatic(
    lattice: &Lattice,
    start: &Coords<f64>,
    dispersion: &Vector4<f64>,
    ctx: &PassContext,
) -> Result<(Matrix4<f64>, Matrix4<f64>), Lost> {
    let mut r: Coords<HyperDual> = std::array::from_fn(|i| match i {
        X | PX | Y | PY => HyperDual::seed(start[i], Some(i), dispersion[i]),
        DELTA => HyperDual::seed(start[i], None, 1.0),
        _ => HyperDual::seed(start[i], None, 0.0),
    });
    track_turn(lattice, &mut r, ctx)?;
    Ok((Matrix4::from_fn(|i, j| r[i].d[j]), Matrix4::from_fn(|i, j| r[i].de[j])))
}
