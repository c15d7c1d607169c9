//! Newton's method for a square nonlinear system f(x) = 0 in N dimensions,
//! with the Jacobian supplied by the caller (the closed orbits pass exact
//! one-turn Jacobians from dual numbers, see `orbit`).
//!
//! Each iteration evaluates f and ∂f/∂x once, solves ∂f/∂x · s = −f by LU
//! decomposition with partial pivoting and steps x ← x + s; it stops when
//! the Euclidean norm of a step is below the tolerance.
use nalgebra::{Const, DimMin, SMatrix, SVector};

/// When Newton's method stops. `Default` is pyAT's closed-orbit setting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NewtonOptions {
    /// Converged when the Euclidean norm of a step is below this [units of
    /// x; m, rad for the closed orbits].
    pub tolerance: f64,
    /// At most this many iterations (one evaluation of f and ∂f/∂x each).
    pub max_iterations: usize,
}

impl Default for NewtonOptions {
    /// tolerance 1e-12 (pyAT's OrbConvergence; the exact Jacobian reaches
    /// it in fewer steps than pyAT's finite differences), 20 iterations
    /// (pyAT's OrbMaxIter).
    fn default() -> Self {
        Self { tolerance: 1e-12, max_iterations: 20 }
    }
}

/// f and its Jacobian ∂f/∂x at one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linearisation<const N: usize> {
    pub value: SVector<f64, N>,
    pub jacobian: SMatrix<f64, N, N>,
}

/// A converged solution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Solution<const N: usize> {
    /// The root: the last iterate, after the step that met the tolerance.
    pub x: SVector<f64, N>,
    /// Iterations made (≥ 1).
    pub iterations: usize,
    /// Norm of the last step (below the tolerance).
    pub last_step: f64,
    /// f and ∂f/∂x at the last iterate evaluated: `x` minus the last step
    /// (for Newton, f at `x` is smaller still, by the square of the step).
    /// From `chord`, ∂f/∂x is its Broyden approximation.
    pub last: Linearisation<N>,
}

/// Why Newton's method gave no solution; `E` is the error of evaluating f.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NewtonError<E> {
    /// The tolerance was not met in `iterations` iterations, or a step was
    /// not finite (then `iterations` counts up to that step).
    #[error("no convergence in {iterations} iterations (last step {step:.3e})")]
    NotConverged { iterations: usize, step: f64 },
    /// ∂f/∂x had a zero pivot: no unique Newton step.
    #[error("singular Jacobian at iteration {iteration}")]
    Singular { iteration: usize },
    /// f could not be evaluated at the iterate of `iteration`.
    #[error("evaluating the function at iteration {iteration}: {source}")]
    Evaluation { iteration: usize, source: E },
}

/// Solves f(x) = 0 from `start`; `f` returns f(x) and ∂f/∂x, or why it
/// cannot be evaluated at x.
pub fn solve<const N: usize, E>(
    start: SVector<f64, N>,
    options: &NewtonOptions,
    mut f: impl FnMut(&SVector<f64, N>) -> Result<Linearisation<N>, E>,
) -> Result<Solution<N>, NewtonError<E>>
where
    // the LU decomposition of an N×N matrix (nalgebra's bound for fixed sizes)
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    let mut x = start;
    let mut step_norm = f64::NAN;
    for iteration in 1..=options.max_iterations {
        let at = f(&x).map_err(|source| NewtonError::Evaluation { iteration, source })?;
        let step = at.jacobian.lu().solve(&(-at.value)).ok_or(NewtonError::Singular { iteration })?;
        x += step;
        step_norm = step.norm();
        if step_norm < options.tolerance {
            return Ok(Solution { x, iterations: iteration, last_step: step_norm, last: at });
        }
        if !step_norm.is_finite() {
            return Err(NewtonError::NotConverged { iterations: iteration, step: step_norm });
        }
    }
    Err(NewtonError::NotConverged { iterations: options.max_iterations, step: step_norm })
}

/// How a chord iteration ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Chord<const N: usize> {
    /// A step fell below the tolerance, or the contraction of the last two
    /// steps puts the next below a quarter of it: `x` is the root to the
    /// tolerance (to be confirmed by a Newton step when only predicted).
    Converged(Solution<N>),
    /// The approximate Jacobian no longer contracts (a step did not halve,
    /// was not finite, or the iterations ran out): solve by Newton from
    /// `x`, the best iterate.
    GaveUp { x: SVector<f64, N> },
}

/// Broyden's ("good") quasi-Newton method from a nearby exact Jacobian
/// `jacobian` (typically ∂f/∂x at an earlier, nearby root): each iteration
/// needs f only, not ∂f/∂x; the Jacobian is corrected by the rank-one
/// update J ← J + (Δf − J s) sᵀ / (sᵀ s) after each step s, which makes the
/// convergence superlinear (a plain chord iteration with the fixed J is
/// only linear). Err only when f cannot be evaluated.
pub fn chord<const N: usize, E>(
    start: SVector<f64, N>,
    jacobian: &SMatrix<f64, N, N>,
    options: &NewtonOptions,
    mut f: impl FnMut(&SVector<f64, N>) -> Result<SVector<f64, N>, E>,
) -> Result<Chord<N>, E>
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    let mut j = *jacobian;
    let mut x = start;
    let mut fx = f(&x)?;
    let mut last = f64::INFINITY;
    for iteration in 1..=options.max_iterations {
        let Some(step) = j.lu().solve(&(-fx)) else { return Ok(Chord::GaveUp { x }) };
        let norm = step.norm();
        if !norm.is_finite() || norm > 0.5 * last {
            return Ok(Chord::GaveUp { x });
        }
        x += step;
        // the next step, at the contraction of the last two, would be below
        // a quarter of the tolerance: the caller's confirming Newton step
        // (which it takes anyway) is that step; evaluating f once more here
        // only to find it small would cost a pass
        let next = if last.is_finite() { norm * (norm / last) } else { f64::INFINITY };
        last = norm;
        if norm < options.tolerance || next < options.tolerance / 4.0 {
            let last = Linearisation { value: fx, jacobian: j };
            return Ok(Chord::Converged(Solution { x, iterations: iteration, last_step: norm, last }));
        }
        let next = f(&x)?;
        j += (next - fx - j * step) * step.transpose() / step.norm_squared();
        fx = next;
    }
    Ok(Chord::GaveUp { x })
}

#[cfg(test)]
mod tests {
    use nalgebra::{Matrix2, Vector1, Vector2};

    use super::*;

    /// The circle of radius 2 meets the diagonal at (√2, √2).
    fn circle_and_diagonal(v: &Vector2<f64>) -> Result<Linearisation<2>, String> {
        let (x, y) = (v[0], v[1]);
        Ok(Linearisation {
            value: Vector2::new(x * x + y * y - 4.0, x - y),
            jacobian: Matrix2::new(2.0 * x, 2.0 * y, 1.0, -1.0),
        })
    }

    #[test]
    fn default_options_are_pyat_closed_orbit_settings() {
        assert_eq!(NewtonOptions::default(), NewtonOptions { tolerance: 1e-12, max_iterations: 20 });
    }

    #[test]
    fn finds_the_root_of_a_nonlinear_system() {
        let s = solve(Vector2::new(1.0, 0.5), &NewtonOptions::default(), circle_and_diagonal).unwrap();
        let root = std::f64::consts::SQRT_2;
        assert!((s.x[0] - root).abs() < 4e-16 && (s.x[1] - root).abs() < 4e-16, "{:?}", s.x);
        assert!(s.last_step < 1e-12);
        // quadratic convergence: a handful of steps from a rough start
        assert!((2..=8).contains(&s.iterations), "{} iterations", s.iterations);
    }

    #[test]
    fn a_linear_system_is_solved_in_one_step_and_confirmed_in_the_second() {
        let f = |v: &Vector2<f64>| {
            let a = Matrix2::new(3.0, 1.0, 1.0, 2.0);
            Ok::<_, String>(Linearisation { value: a * v - Vector2::new(9.0, 8.0), jacobian: a })
        };
        let s = solve(Vector2::zeros(), &NewtonOptions::default(), f).unwrap();
        assert_eq!(s.iterations, 2);
        assert!((s.x - Vector2::new(2.0, 3.0)).amax() < 1e-15);
    }

    #[test]
    fn no_real_root_does_not_converge() {
        // x² + 1 = 0 has no real root: the iterates wander
        let f = |v: &Vector1<f64>| {
            Ok::<_, String>(Linearisation {
                value: Vector1::new(v[0] * v[0] + 1.0),
                jacobian: Vector1::new(2.0 * v[0]),
            })
        };
        match solve(Vector1::new(0.3), &NewtonOptions::default(), f) {
            Err(NewtonError::NotConverged { iterations: 20, step }) => assert!(step > 1e-12),
            other => panic!("expected no convergence, got {other:?}"),
        }
    }

    #[test]
    fn the_iteration_limit_is_the_callers() {
        let few = NewtonOptions { max_iterations: 2, ..NewtonOptions::default() };
        match solve(Vector2::new(1.0, 0.5), &few, circle_and_diagonal) {
            Err(NewtonError::NotConverged { iterations: 2, step }) => assert!(step > 1e-12),
            other => panic!("expected no convergence in 2 iterations, got {other:?}"),
        }
        let loose = NewtonOptions { tolerance: 1e-2, ..NewtonOptions::default() };
        let coarse = solve(Vector2::new(1.0, 0.5), &loose, circle_and_diagonal).unwrap();
        let fine = solve(Vector2::new(1.0, 0.5), &NewtonOptions::default(), circle_and_diagonal).unwrap();
        assert!(coarse.iterations < fine.iterations);
    }

    #[test]
    fn chord_steps_with_a_nearby_jacobian_reach_the_root() {
        let root = std::f64::consts::SQRT_2;
        // the exact Jacobian at a point near the root, then only f
        let near = circle_and_diagonal(&Vector2::new(1.4, 1.4)).unwrap().jacobian;
        let value = |v: &Vector2<f64>| circle_and_diagonal(v).map(|l| l.value);
        match chord(Vector2::new(1.4, 1.41), &near, &NewtonOptions::default(), value) {
            Ok(Chord::Converged(s)) => {
                assert!((s.x[0] - root).abs() < 1e-14 && (s.x[1] - root).abs() < 1e-14, "{:?}", s.x);
                assert!(s.iterations >= 2, "{} iterations", s.iterations);
            }
            other => panic!("expected convergence, got {other:?}"),
        }
    }

    #[test]
    fn chord_gives_up_when_the_jacobian_no_longer_contracts() {
        // a Jacobian of the wrong sign makes every step go the wrong way
        let wrong = -circle_and_diagonal(&Vector2::new(1.4, 1.4)).unwrap().jacobian;
        let value = |v: &Vector2<f64>| circle_and_diagonal(v).map(|l| l.value);
        let got = chord(Vector2::new(1.0, 0.5), &wrong, &NewtonOptions::default(), value).unwrap();
        assert!(matches!(got, Chord::GaveUp { .. }), "{got:?}");
    }

    #[test]
    fn a_singular_jacobian_is_an_error() {
        // parallel lines x + y = 1 and 2x + 2y = 3
        let f = |v: &Vector2<f64>| {
            let a = Matrix2::new(1.0, 1.0, 2.0, 2.0);
            Ok::<_, String>(Linearisation { value: a * v - Vector2::new(1.0, 3.0), jacobian: a })
        };
        assert_eq!(solve(Vector2::zeros(), &NewtonOptions::default(), f), Err(NewtonError::Singular { iteration: 1 }));
    }

    #[test]
    fn a_failed_evaluation_is_returned_with_its_iteration() {
        // defined only for x < 1.5; the first step from 1 lands beyond
        let f = |v: &Vector1<f64>| {
            if v[0] >= 1.5 {
                return Err(format!("x = {} outside the domain", v[0]));
            }
            Ok(Linearisation { value: Vector1::new(v[0] - 2.0), jacobian: Vector1::new(1.0) })
        };
        assert_eq!(
            solve(Vector1::new(1.0), &NewtonOptions::default(), f),
            Err(NewtonError::Evaluation { iteration: 2, source: "x = 2 outside the domain".to_string() })
        );
    }

    #[test]
    fn a_non_finite_step_stops_the_iteration() {
        // the Jacobian underflows to a subnormal: the step overflows
        let f = |_: &Vector1<f64>| {
            Ok::<_, String>(Linearisation {
                value: Vector1::new(1.0),
                jacobian: Vector1::new(f64::MIN_POSITIVE / 16.0),
            })
        };
        match solve(Vector1::new(0.0), &NewtonOptions::default(), f) {
            Err(NewtonError::NotConverged { iterations: 1, step }) => assert!(step.is_infinite()),
            other => panic!("expected a stop at the first step, got {other:?}"),
        }
    }
}
