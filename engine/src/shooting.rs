//! The 6D fixed point by two-segment multiple shooting.
//!
//! The ring is cut in two segments of about equal tracking cost, A (from
//! the start) and B (from the cut). The unknowns are the coordinates at both
//! ends, a and b; Newton's method solves
//!
//!   A(a) − b = 0,   B(b) − a − θ = 0
//!
//! with both segments' maps and Jacobians (dual numbers) computed at once,
//! one per core (`rayon::join`). Eliminating Δb = F_A + J_A Δa leaves one
//! 6×6 system (J_B J_A − I) Δa = −(F_B + J_B F_A): the single-shooting
//! Newton system, whose fixed point is the same and whose convergence is
//! quadratic as well. The gain is wall time: each iteration is two half
//! turns side by side instead of one whole turn.
use std::ops::Range;

use nalgebra::{Matrix6, Vector6};

use crate::coords::Coords;
use crate::integrators::PassContext;
use crate::jacobian::{Linearised, through_elements};
use crate::lattice::{ElementKind, Lattice};
use crate::newton::{NewtonError, NewtonOptions};
use crate::tracking::Lost;

/// Estimated cost of passing an element, in drift passes: a thick magnet
/// makes three kicks and four drifts per integration step.
fn cost(kind: &ElementKind) -> usize {
    match kind {
        ElementKind::Quadrupole(m) | ElementKind::Sextupole(m) => 1 + 6 * m.body.n_steps,
        ElementKind::Dipole(b) => 3 + 6 * b.body.n_steps,
        _ => 1,
    }
}

/// The index of the first element of segment B: the segments' estimated
/// costs differ by at most one element's.
pub fn balanced_cut(lattice: &Lattice) -> usize {
    let costs = || lattice.elements().iter().map(|e| cost(&e.kind));
    let half = costs().sum::<usize>() / 2;
    let mut sum = 0;
    costs()
        .position(|c| {
            sum += c;
            sum > half
        })
        .map_or(0, |i| i + 1)
        .min(lattice.len())
}

/// A converged fixed point of the one-turn map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedPoint {
    /// The coordinates at the start of the ring, after the step that met
    /// the tolerance.
    pub x: Vector6<f64>,
    pub iterations: usize,
    /// max |F| over both segments at the last iterate evaluated [m, rad].
    pub residual: f64,
    /// J_B J_A at the last iterate evaluated: the one-turn matrix there
    /// (the segments meet to within the last step).
    pub one_turn: Matrix6<f64>,
}

fn segment(
    lattice: &Lattice,
    range: Range<usize>,
    start: &Vector6<f64>,
    ctx: &PassContext,
) -> Result<Linearised, Lost> {
    let start: Coords<f64> = (*start).into();
    through_elements(lattice, range, &start, ctx)
}

/// Solves track(z) = z + `theta` from `start` (the guess at the start of
/// the ring; the guess at the cut is the same coordinates, which the first
/// step replaces by segment A's linearisation). Stops when the Euclidean
/// norm of the step in both unknowns is below the tolerance.
pub fn fixed_point(
    lattice: &Lattice,
    ctx: &PassContext,
    theta: &Vector6<f64>,
    start: Vector6<f64>,
    options: &NewtonOptions,
) -> Result<FixedPoint, NewtonError<Lost>> {
    // the whole iteration on a worker of the pool: each join is then a
    // steal by the other worker, which stays awake between iterations,
    // not a job sent into the pool and a wait for its end (a futex round
    // trip per iteration from a thread outside the pool)
    rayon::scope(|_| {
        let cut = balanced_cut(lattice);
        let (mut a, mut b) = (start, start);
        let mut step_norm = f64::NAN;
        for iteration in 1..=options.max_iterations {
            let (ma, mb) =
                rayon::join(|| segment(lattice, 0..cut, &a, ctx), || segment(lattice, cut..lattice.len(), &b, ctx));
            let evaluated = |source| NewtonError::Evaluation { iteration, source };
            let (ma, mb) = (ma.map_err(evaluated)?, mb.map_err(evaluated)?);
            let f_a = ma.coords - b;
            let f_b = mb.coords - a - theta;
            let (j_a, j_b) = (ma.jacobian, mb.jacobian);
            let one_turn = j_b * j_a;
            let da = (one_turn - Matrix6::identity())
                .lu()
                .solve(&-(f_b + j_b * f_a))
                .ok_or(NewtonError::Singular { iteration })?;
            let db = f_a + j_a * da;
            a += da;
            b += db;
            step_norm = (da.norm_squared() + db.norm_squared()).sqrt();
            if step_norm < options.tolerance {
                let residual = f_a.amax().max(f_b.amax());
                return Ok(FixedPoint { x: a, iterations: iteration, residual, one_turn });
            }
            if !step_norm.is_finite() {
                return Err(NewtonError::NotConverged { iterations: iteration, step: step_norm });
            }
        }
        Err(NewtonError::NotConverged { iterations: options.max_iterations, step: step_norm })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrators::Dynamics;
    use crate::jacobian::one_turn;
    use crate::lattice::{Misalignment, Plane, bessy2};
    use crate::newton::{self, Linearisation};
    use crate::orbit::rf_path_offset;
    use crate::tracking::context;

    /// BESSY II with a steerer kicked and a quadrupole offset: an orbit
    /// far from the design's zero in both planes.
    fn distorted() -> Lattice {
        let mut lattice = bessy2();
        let s = lattice.find("S4M2D1R").unwrap();
        lattice.set_kick_rad(s, Plane::Horizontal, 3e-5).unwrap();
        lattice.set_kick_rad(s, Plane::Vertical, -2e-5).unwrap();
        let q = lattice.find("Q1M1D1R").unwrap();
        lattice.set_misalignment(q, Misalignment { dx_m: 1e-4, dy_m: -5e-5, roll_rad: 1e-4 }).unwrap();
        lattice
    }

    #[test]
    fn the_cut_balances_the_estimated_cost() {
        let lattice = bessy2();
        let cut = balanced_cut(&lattice);
        let costs: Vec<usize> = lattice.elements().iter().map(|e| cost(&e.kind)).collect();
        let (a, b) = (costs[..cut].iter().sum::<usize>(), costs[cut..].iter().sum::<usize>());
        let largest = *costs.iter().max().unwrap();
        assert!(a.abs_diff(b) <= largest, "{a} vs {b} (largest element {largest})");
    }

    #[test]
    fn two_segments_find_the_single_shooting_fixed_point() {
        let lattice = distorted();
        for dynamics in [Dynamics::SixD, Dynamics::SixDRadiation] {
            let ctx = context(&lattice, dynamics, 0);
            let theta = rf_path_offset(&lattice).unwrap();
            let options = NewtonOptions::default();
            let single = newton::solve(Vector6::zeros(), &options, |x| {
                let m = one_turn(&lattice, &(*x).into(), &ctx)?;
                Ok::<_, Lost>(Linearisation { value: m.coords - x - theta, jacobian: m.jacobian - Matrix6::identity() })
            })
            .unwrap();
            let two = fixed_point(&lattice, &ctx, &theta, Vector6::zeros(), &options).unwrap();
            // both converged to 1e-12 m steps: the same point to rounding
            assert!((two.x - single.x).amax() < 1e-14, "{dynamics:?}: {:?} vs {:?}", two.x, single.x);
            assert!(two.iterations <= single.iterations + 1, "{} vs {}", two.iterations, single.iterations);
            // J_B J_A at the last iterate is the one-turn matrix there
            let exact = one_turn(&lattice, &two.x.into(), &ctx).unwrap().jacobian;
            assert!((two.one_turn - exact).amax() < 1e-9, "{dynamics:?}: {:e}", (two.one_turn - exact).amax());
            assert!(two.residual < 1e-11, "{:e}", two.residual);
        }
    }

    #[test]
    fn a_particle_lost_in_the_second_segment_names_its_element() {
        let lattice = bessy2();
        let ctx = context(&lattice, Dynamics::SixDRadiation, 0);
        let theta = rf_path_offset(&lattice).unwrap();
        // far outside the aperture: lost in the first element of each segment
        let start = Vector6::new(2.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        match fixed_point(&lattice, &ctx, &theta, start, &NewtonOptions::default()) {
            Err(NewtonError::Evaluation { iteration: 1, source }) => assert!(source.element.0 < lattice.len()),
            other => panic!("expected a loss, got {other:?}"),
        }
        let cut = balanced_cut(&lattice);
        let mut r: Coords<f64> = [2.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let lost = crate::tracking::track_elements_observed(&lattice, cut..lattice.len(), &mut r, &ctx, |_, _| {});
        assert!(lost.unwrap_err().element.0 >= cut);
    }
}
