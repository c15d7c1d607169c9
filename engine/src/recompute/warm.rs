//! Fixed points solved from a nearby earlier one: chord steps with the
//! earlier Jacobian (each needs only a scalar pass), then Newton steps
//! with dual-number passes until a step is below the tolerance. The last
//! dual pass is the one the caller keeps (maps, orbit along the ring):
//! it starts from the point that met the tolerance, as the cold solve's
//! last iteration does.
use nalgebra::{Const, DimMin, SMatrix, SVector};

use crate::newton::{self, Chord, Linearisation, NewtonError, NewtonOptions};

/// A fixed-point solution confirmed by a Newton step below the tolerance.
#[derive(Clone, Debug)]
pub struct Confirmed<const N: usize, P> {
    /// The start of the confirming evaluation, within the tolerance of the
    /// root [units of x].
    pub x: SVector<f64, N>,
    /// ∂F/∂x at `x`: the chord Jacobian of the next solve.
    pub jacobian: SMatrix<f64, N, N>,
    /// max |F(x)| [units of F].
    pub residual: f64,
    /// What the confirming evaluation produced besides F and ∂F/∂x.
    pub payload: P,
    /// Chord steps plus Newton steps.
    pub iterations: usize,
}

/// Solves F(x) = 0 from `start`. With `chord_jacobian` (∂F/∂x at an
/// earlier, nearby root) chord steps come first, using `value` (F only);
/// when they converge, stop contracting or lose the particle, Newton
/// continues with `linearise` (F, ∂F/∂x and a payload) from the best point.
pub fn solve<const N: usize, P, E>(
    start: SVector<f64, N>,
    chord_jacobian: Option<&SMatrix<f64, N, N>>,
    options: &NewtonOptions,
    value: impl FnMut(&SVector<f64, N>) -> Result<SVector<f64, N>, E>,
    mut linearise: impl FnMut(&SVector<f64, N>) -> Result<(Linearisation<N>, P), E>,
) -> Result<Confirmed<N, P>, NewtonError<E>>
where
    // the LU decomposition of an N×N matrix (nalgebra's bound for fixed sizes)
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    // The payload comes from the point the last evaluation started from,
    // which is within the last step of the root, not as close as the
    // point after that step; both phases therefore go on to a sixteenth of
    // the tolerance, so that the maps and the orbit along the ring are
    // those of the root to the tolerance.
    let strict = NewtonOptions { tolerance: options.tolerance / 16.0, ..*options };
    let chorded = chord_jacobian.map(|j| newton::chord(start, j, &strict, value));
    let (newton_start, chord_iterations) = match chorded {
        Some(Ok(Chord::Converged(s))) => (s.x, s.iterations),
        Some(Ok(Chord::GaveUp { x })) => (x, 0),
        // a chord step lost the particle: Newton from the start
        Some(Err(_)) | None => (start, 0),
    };
    let mut kept = None;
    let solution = newton::solve(newton_start, &strict, |x| {
        let (linearisation, payload) = linearise(x)?;
        kept = Some((*x, linearisation, payload));
        Ok(linearisation)
    })?;
    let (x, linearisation, payload) = kept.expect("Newton evaluates at least once before it converges");
    Ok(Confirmed {
        x,
        jacobian: linearisation.jacobian,
        residual: linearisation.value.amax(),
        payload,
        iterations: chord_iterations + solution.iterations,
    })
}

#[cfg(test)]
mod tests {
    use nalgebra::{Matrix2, Vector2};

    use super::*;

    /// The circle of radius 2 meets the diagonal at (√2, √2).
    fn f(v: &Vector2<f64>) -> Linearisation<2> {
        let (x, y) = (v[0], v[1]);
        Linearisation {
            value: Vector2::new(x * x + y * y - 4.0, x - y),
            jacobian: Matrix2::new(2.0 * x, 2.0 * y, 1.0, -1.0),
        }
    }

    fn run(start: Vector2<f64>, warm: Option<&Matrix2<f64>>) -> (Confirmed<2, usize>, usize, usize) {
        let (mut scalar, mut dual) = (0, 0);
        let c = solve(
            start,
            warm,
            &NewtonOptions::default(),
            |x| {
                scalar += 1;
                Ok::<_, String>(f(x).value)
            },
            |x| {
                dual += 1;
                Ok((f(x), dual))
            },
        )
        .unwrap();
        (c, scalar, dual)
    }

    #[test]
    fn warm_and_cold_reach_the_same_root_and_keep_the_last_evaluation() {
        let root = std::f64::consts::SQRT_2;
        let (cold, scalar, dual) = run(Vector2::new(1.0, 0.5), None);
        assert_eq!(scalar, 0);
        assert_eq!(cold.payload, dual, "the payload is the last evaluation's");
        let near = f(&Vector2::new(1.41, 1.41)).jacobian;
        let (warm, scalar, dual) = run(Vector2::new(1.41, 1.42), Some(&near));
        assert!(scalar > 2, "chord steps first: {scalar}");
        assert_eq!(dual, 1, "one confirming Newton evaluation");
        for c in [&cold, &warm] {
            assert!((c.x - Vector2::new(root, root)).amax() < 1e-12, "{:?}", c.x);
            assert!(c.residual < 1e-12);
            assert!((c.jacobian - f(&c.x).jacobian).amax() == 0.0);
        }
    }

    #[test]
    fn a_useless_chord_jacobian_falls_back_to_newton() {
        let wrong = -f(&Vector2::new(1.4, 1.4)).jacobian;
        let (c, _, dual) = run(Vector2::new(1.0, 0.5), Some(&wrong));
        assert!(dual > 1);
        assert!(c.residual < 1e-12);
    }
}
