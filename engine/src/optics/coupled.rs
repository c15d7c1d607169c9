//! Normal modes of a one-turn matrix that may couple the planes (pyAT
//! `a_matrix`, `linopt6`, `get_tunes_damp`): the mode tunes and damping,
//! the normalised eigenvectors, the normalising matrix A (M = A R A⁻¹ with
//! R block rotations), and the β of each mode along the ring.
//!
//! With S the symplectic form (blocks [[0, 1], [−1, 0]], the longitudinal
//! one transposed since (δ, cτ) has the momentum first), an eigenvector v
//! of M for e^{iμ} has v^H S v = 2i w with w real; of each conjugate pair
//! the one with w > 0 is kept and scaled to w = 1. Then A's columns 2k,
//! 2k+1 are Re v_k, Im v_k, and the β of mode k in its own plane at a
//! point reached by the map T is |(T v_k)_{2k}|² (for an uncoupled ring,
//! v = (β, −α + i)/√β and β of the usual Twiss functions).
use std::f64::consts::TAU;

use nalgebra::{Complex, DMatrix, SMatrix, SVector};

use super::OpticsError;

/// The normal modes of an N×N one-turn matrix (N = 4 or 6), mode k the
/// one mostly in plane k (x, y, longitudinal).
#[derive(Clone, Debug, PartialEq)]
pub struct NormalModes<const N: usize> {
    /// Eigenvectors scaled to w = 1, one per mode.
    pub vectors: Vec<SVector<Complex<f64>, N>>,
    /// Fractional tunes arg(λ)/2π in [0, 1).
    pub tunes: Vec<f64>,
    /// Damping per turn −ln|λ| (0 without radiation).
    pub damping: Vec<f64>,
}

/// w of v^H S v = 2i w. The longitudinal pair (δ, cτ) has the momentum
/// first, so its block of S is transposed (pyAT `jmatswap`).
fn symplectic_norm<const N: usize>(v: &SVector<Complex<f64>, N>) -> f64 {
    (0..N / 2).map(|k| (v[2 * k].conj() * v[2 * k + 1]).im * if k == 2 { -1.0 } else { 1.0 }).sum()
}

/// A unit vector spanning the null space of m − λ (the right singular
/// vector of the smallest singular value).
/// (Dynamic sizes: nalgebra's decompositions of const-generic sizes need
/// bounds that a generic N cannot state.)
fn eigenvector<const N: usize>(m: &SMatrix<f64, N, N>, lambda: Complex<f64>) -> SVector<Complex<f64>, N> {
    let shifted = DMatrix::<Complex<f64>>::from_fn(N, N, |i, j| {
        Complex::new(m[(i, j)], 0.0) - if i == j { lambda } else { Complex::new(0.0, 0.0) }
    });
    let svd = shifted.svd(false, true);
    let v_t = svd.v_t.expect("requested");
    let smallest = svd.singular_values.argmin().0;
    SVector::from_iterator(v_t.row(smallest).iter().map(|c| c.conj()))
}

impl<const N: usize> NormalModes<N> {
    /// The modes of `m`; an error if it is not stable (|λ| > 1 or real
    /// eigenvalues) or its modes cannot be told apart.
    pub fn of(m: &SMatrix<f64, N, N>) -> Result<Self, OpticsError> {
        let unstable = || OpticsError::NoNormalModes(m.trace());
        let mut kept = Vec::with_capacity(N / 2);
        let dynamic = DMatrix::from_fn(N, N, |i, j| m[(i, j)]);
        for lambda in dynamic.complex_eigenvalues().iter() {
            if lambda.im.abs() < 1e-12 || lambda.norm() > 1.0 + 1e-9 {
                return Err(unstable());
            }
            let v = eigenvector(m, *lambda);
            let w = symplectic_norm(&v);
            if w > 0.0 {
                kept.push((*lambda, v / Complex::new(w.sqrt(), 0.0)));
            }
        }
        if kept.len() != N / 2 {
            return Err(unstable());
        }
        // mode k: the kept eigenvector with most weight in plane k
        let weight = |v: &SVector<Complex<f64>, N>, p: usize| v[2 * p].norm_sqr() + v[2 * p + 1].norm_sqr();
        let mut modes = Self { vectors: Vec::new(), tunes: Vec::new(), damping: Vec::new() };
        for plane in 0..N / 2 {
            let best = (0..kept.len())
                .max_by(|&a, &b| weight(&kept[a].1, plane).total_cmp(&weight(&kept[b].1, plane)))
                .ok_or_else(unstable)?;
            let (lambda, v) = kept.swap_remove(best);
            modes.tunes.push((lambda.arg() / TAU).rem_euclid(1.0));
            modes.damping.push(-lambda.norm().ln());
            modes.vectors.push(v);
        }
        Ok(modes)
    }

    /// A: columns 2k, 2k+1 = Re v_k, Im v_k.
    pub fn a_matrix(&self) -> SMatrix<f64, N, N> {
        SMatrix::from_fn(|i, j| {
            let v = &self.vectors[j / 2][i];
            if j % 2 == 0 { v.re } else { v.im }
        })
    }

    /// β of each mode in its own plane [m] where the map from the start is
    /// `t` (mode 1 in x, mode 2 in y; pyAT linopt6's `beta`).
    pub fn betas(&self, t: &SMatrix<f64, N, N>) -> [f64; 2] {
        let tc = t.map(|x| Complex::new(x, 0.0));
        std::array::from_fn(|k| (tc * self.vectors[k])[2 * k].norm_sqr())
    }

    /// The emittance of each mode in the beam matrix `sigma` (pyAT
    /// `get_tunes_damp`: √det of the diagonal blocks of A⁻¹ Σ A⁻ᵀ) [m].
    pub fn emittances(&self, sigma: &SMatrix<f64, N, N>) -> Result<Vec<f64>, OpticsError> {
        let a_inv = self.a_matrix().try_inverse().ok_or(OpticsError::NoNormalModes(f64::NAN))?;
        let normal = a_inv * sigma * a_inv.transpose();
        Ok((0..N / 2).map(|k| block_emittance(&normal, k)).collect())
    }
}

/// √det of the k-th 2×2 diagonal block of a beam matrix (0 where rounding
/// makes the determinant negative) [m].
pub(super) fn block_emittance<const N: usize>(sigma: &SMatrix<f64, N, N>, k: usize) -> f64 {
    let b = sigma.fixed_view::<2, 2>(2 * k, 2 * k);
    (b[(0, 0)] * b[(1, 1)] - b[(0, 1)] * b[(1, 0)]).max(0.0).sqrt()
}

#[cfg(test)]
mod tests {
    use nalgebra::{Matrix2, Matrix4};

    use super::*;

    fn twiss_matrix(mu: f64, beta: f64, alpha: f64) -> Matrix2<f64> {
        let (s, c) = mu.sin_cos();
        let gamma = (1.0 + alpha * alpha) / beta;
        Matrix2::new(c + alpha * s, beta * s, -gamma * s, c - alpha * s)
    }

    #[test]
    fn an_uncoupled_matrix_gives_the_twiss_beta_and_tunes() {
        let mut m = Matrix4::zeros();
        m.fixed_view_mut::<2, 2>(0, 0).copy_from(&twiss_matrix(TAU * 0.31, 12.0, 1.5));
        m.fixed_view_mut::<2, 2>(2, 2).copy_from(&twiss_matrix(TAU * 0.17, 3.0, -0.4));
        let modes = NormalModes::of(&m).expect("stable");
        assert!((modes.tunes[0] - 0.31).abs() < 1e-12 && (modes.tunes[1] - 0.17).abs() < 1e-12, "{:?}", modes.tunes);
        let [b1, b2] = modes.betas(&Matrix4::identity());
        assert!((b1 - 12.0).abs() < 1e-10 && (b2 - 3.0).abs() < 1e-10, "{b1} {b2}");
        let a = modes.a_matrix();
        let s = Matrix4::new(0., 1., 0., 0., -1., 0., 0., 0., 0., 0., 0., 1., 0., 0., -1., 0.);
        assert!((a.transpose() * s * a - s).norm() < 1e-10, "A is symplectic");
        // a matched beam matrix ε (β, −α; −α, γ) has emittance ε
        let sigma = a * Matrix4::from_diagonal(&nalgebra::Vector4::new(2e-9, 2e-9, 5e-12, 5e-12)) * a.transpose();
        let e = modes.emittances(&sigma).expect("invertible");
        assert!((e[0] - 2e-9).abs() < 1e-20 && (e[1] - 5e-12).abs() < 1e-22, "{e:?}");
    }

    #[test]
    fn an_unstable_matrix_is_refused() {
        let mut m = Matrix4::identity();
        m[(0, 0)] = 2.0;
        m[(1, 1)] = 0.5;
        assert!(NormalModes::of(&m).is_err());
    }
}
