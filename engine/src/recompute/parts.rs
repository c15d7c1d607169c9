//! The parts of one computation, each a fixed point solved by
//! `warm::solve`: the 6D orbit with its tunes, the 4D optics at δ = 0; and
//! the chromaticity from the optics.
use nalgebra::{Matrix4, Matrix6, Vector4, Vector6};

use super::{Fixed, warm};
use crate::coords::{Coords, DELTA, TRANSVERSE};
use crate::integrators::{Dynamics, PassContext};
use crate::jacobian::{Linearised, along_ring, along_ring_4d, one_turn_chromatic, transverse};
use crate::lattice::Lattice;
use crate::newton::{Linearisation, NewtonOptions};
use crate::optics::{OpticsError, RingOptics, chromaticity_from_derivative, eigen_tunes, optics_from_maps};
use crate::orbit::{ClosedOrbit, OrbitError, rf_path_offset};
use crate::tracking::{Lost, context, track_turn};
use crate::transverse::track_turn_4d;

/// The fixed-RF 6D orbit with radiation along the ring and its tunes.
pub struct SixD {
    /// At each element entrance, the last point the end of the ring.
    pub orbit: Vec<Coords<f64>>,
    pub tunes: [f64; 3],
    pub fixed: Fixed<6>,
    /// The pass from `fixed` along the ring: the orbit and the map from the
    /// start to the exit of every element.
    pub along: Vec<Linearised>,
}

/// 6D fixed-RF closed orbit with radiation (`closed_orbit_6d` with
/// `Dynamics::SixDRadiation`), its tunes and the orbit along the ring.
pub fn six_d(lattice: &Lattice, previous: Option<&Fixed<6>>) -> Result<SixD, OpticsError> {
    let theta = rf_path_offset(lattice)?;
    let ctx = context(lattice, Dynamics::SixDRadiation, 0);
    let solved = warm::solve(
        previous.map_or_else(Vector6::zeros, |p| p.x),
        previous.map(|p| &p.jacobian),
        &NewtonOptions::default(),
        |x| {
            let mut r: Coords<f64> = (*x).into();
            track_turn(lattice, &mut r, &ctx)?;
            Ok(Vector6::from(r) - x - theta)
        },
        |x| {
            let along = along_ring(lattice, &(*x).into(), &ctx)?;
            // rf_path_offset found a cavity: the lattice has elements
            let turn = along.last().expect("the lattice has elements");
            let value = turn.coords - x - theta;
            Ok((Linearisation { value, jacobian: turn.jacobian - Matrix6::identity() }, along))
        },
    )
    .map_err(OrbitError::from)?;
    let along = solved.payload;
    let one_turn = along.last().map_or_else(Matrix6::identity, |t| t.jacobian);
    let tunes = eigen_tunes(&one_turn)?;
    let mut orbit = Vec::with_capacity(along.len() + 1);
    orbit.push(solved.x.into());
    orbit.extend(along.iter().map(|m| Coords::<f64>::from(m.coords)));
    Ok(SixD { orbit, tunes, fixed: Fixed { x: solved.x, jacobian: solved.jacobian }, along })
}

/// Coordinates with transverse part `x` at momentum deviation `delta`, cτ 0.
fn at_delta(x: &Vector4<f64>, delta: f64) -> Coords<f64> {
    let mut r = [0.0; 6];
    r[..TRANSVERSE].copy_from_slice(x.as_slice());
    r[DELTA] = delta;
    r
}

/// F(x) = one 4D turn − x (transverse), through the affine spans at δ = 0.
fn four_d_residual(lattice: &Lattice, ctx: &PassContext, x: &Vector4<f64>, delta: f64) -> Result<Vector4<f64>, Lost> {
    let mut r = at_delta(x, delta);
    track_turn_4d(lattice, &mut r, ctx)?;
    Ok(Vector4::from_fn(|i, _| r[i] - x[i]))
}

/// The 4D optics at δ = 0 and ∂F/∂x of their closed orbit.
pub struct Optics {
    pub optics: RingOptics,
    jacobian: Matrix4<f64>,
}

impl Optics {
    /// The closed orbit's fixed point and ∂F/∂x there.
    pub fn fixed_point(&self) -> Fixed<4> {
        let start = &self.optics.points[0];
        Fixed { x: Vector4::from_fn(|i, _| start.orbit[i]), jacobian: self.jacobian }
    }
}

/// 4D optics at δ = 0 (`linear_optics_4d`).
pub fn optics(lattice: &Lattice, previous: Option<&Fixed<4>>) -> Result<Optics, OpticsError> {
    if lattice.is_empty() {
        return Err(OpticsError::EmptyLattice);
    }
    let ctx = context(lattice, Dynamics::FourD, 0);
    let solved = warm::solve(
        previous.map_or_else(Vector4::zeros, |p| p.x),
        previous.map(|p| &p.jacobian),
        &NewtonOptions::default(),
        |x| four_d_residual(lattice, &ctx, x, 0.0),
        |x| {
            let maps = along_ring_4d(lattice, &at_delta(x, 0.0), &ctx)?;
            let turn = maps.last().expect("the lattice has elements");
            let value = Vector4::from_fn(|i, _| turn.coords[i] - x[i]);
            let jacobian = transverse(&turn.jacobian) - Matrix4::identity();
            Ok((Linearisation { value, jacobian }, maps))
        },
    )
    .map_err(OrbitError::from)?;
    let orbit =
        ClosedOrbit { coords: at_delta(&solved.x, 0.0), iterations: solved.iterations, residual: solved.residual };
    let optics = optics_from_maps(lattice, orbit, &solved.payload)?;
    Ok(Optics { optics, jacobian: solved.jacobian })
}

/// The chromaticity at δ = 0 from the optics' closed orbit and dispersion
/// (one second-order dual pass, `jacobian::one_turn_chromatic`).
pub fn chromaticity(lattice: &Lattice, optics: &RingOptics) -> Result<[f64; 2], OpticsError> {
    let start = &optics.points[0];
    let ctx = context(lattice, Dynamics::FourD, 0);
    let (m, dm) = one_turn_chromatic(lattice, &start.orbit, &Vector4::from(start.dispersion), &ctx)
        .map_err(|lost| OpticsError::Orbit(lost.into()))?;
    chromaticity_from_derivative(&m, &dm)
}
