//! Scalars the integrators are generic over: `f64` for tracking and
//! `Dual<N>` (forward-mode automatic differentiation) for exact Jacobians,
//! so one-turn matrices carry no finite-difference error.
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A real number type: f64 or a dual number.
pub trait Real:
    Copy
    + std::fmt::Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Send
    + Sync
{
    /// Whether passes update cτ. A type used only where cτ cannot act on
    /// the other coordinates (4D dynamics: no cavity) may skip it; cτ then
    /// keeps its start value.
    const PATH_LENGTH: bool = true;
    fn cst(v: f64) -> Self;
    fn value(self) -> f64;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tan(self) -> Self;
    fn recip(self) -> Self {
        Self::cst(1.0) / self
    }
}

impl Real for f64 {
    #[inline]
    fn cst(v: f64) -> Self {
        v
    }
    #[inline]
    fn value(self) -> f64 {
        self
    }
    #[inline]
    fn sin(self) -> Self {
        f64::sin(self)
    }
    #[inline]
    fn cos(self) -> Self {
        f64::cos(self)
    }
    #[inline]
    fn tan(self) -> Self {
        f64::tan(self)
    }
}

/// A dual number: value and gradient with respect to N seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual<const N: usize> {
    pub v: f64,
    pub d: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// The `i`-th independent variable with value `v`.
    pub fn seed(v: f64, i: usize) -> Self {
        let mut d = [0.0; N];
        d[i] = 1.0;
        Self { v, d }
    }

    #[inline]
    fn map(self, v: f64, dv: f64) -> Self {
        let mut d = self.d;
        d.iter_mut().for_each(|x| *x *= dv);
        Self { v, d }
    }
}

impl<const N: usize> Add for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(mut self, o: Self) -> Self {
        self.v += o.v;
        self.d.iter_mut().zip(o.d).for_each(|(a, b)| *a += b);
        self
    }
}

impl<const N: usize> Sub for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, o: Self) -> Self {
        self.v -= o.v;
        self.d.iter_mut().zip(o.d).for_each(|(a, b)| *a -= b);
        self
    }
}

impl<const N: usize> Mul for Dual<N> {
    type Output = Self;
    #[inline]
    #[allow(clippy::suspicious_arithmetic_impl)] // the product rule: (uv)' = u'v + uv'
    fn mul(self, o: Self) -> Self {
        let d = std::array::from_fn(|i| self.d[i] * o.v + self.v * o.d[i]);
        Self { v: self.v * o.v, d }
    }
}

impl<const N: usize> Div for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: Self) -> Self {
        let inv = 1.0 / o.v;
        let v = self.v * inv;
        let d = std::array::from_fn(|i| (self.d[i] - v * o.d[i]) * inv);
        Self { v, d }
    }
}

impl<const N: usize> Neg for Dual<N> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        self.map(-self.v, -1.0)
    }
}

impl<const N: usize> Add<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(mut self, o: f64) -> Self {
        self.v += o;
        self
    }
}

impl<const N: usize> Sub<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, o: f64) -> Self {
        self.v -= o;
        self
    }
}

impl<const N: usize> Mul<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: f64) -> Self {
        self.map(self.v * o, o)
    }
}

impl<const N: usize> Div<f64> for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: f64) -> Self {
        self * (1.0 / o)
    }
}

impl<const N: usize> AddAssign for Dual<N> {
    #[inline]
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}

impl<const N: usize> SubAssign for Dual<N> {
    #[inline]
    fn sub_assign(&mut self, o: Self) {
        *self = *self - o;
    }
}

impl<const N: usize> MulAssign for Dual<N> {
    #[inline]
    fn mul_assign(&mut self, o: Self) {
        *self = *self * o;
    }
}

impl<const N: usize> Real for Dual<N> {
    #[inline]
    fn cst(v: f64) -> Self {
        Self { v, d: [0.0; N] }
    }
    #[inline]
    fn value(self) -> f64 {
        self.v
    }
    fn sin(self) -> Self {
        self.map(self.v.sin(), self.v.cos())
    }
    fn cos(self) -> Self {
        self.map(self.v.cos(), -self.v.sin())
    }
    fn tan(self) -> Self {
        let t = self.v.tan();
        self.map(t, 1.0 + t * t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_of_a_composite_function() {
        // f(x, y) = sin(x) * y / (1 + x), at (0.3, 2.0)
        let x = Dual::<2>::seed(0.3, 0);
        let y = Dual::<2>::seed(2.0, 1);
        let f = x.sin() * y / (x + 1.0);
        let (xv, yv) = (0.3f64, 2.0f64);
        let dfdx = yv * (xv.cos() * (1.0 + xv) - xv.sin()) / (1.0 + xv).powi(2);
        let dfdy = xv.sin() / (1.0 + xv);
        assert!((f.d[0] - dfdx).abs() < 1e-15);
        assert!((f.d[1] - dfdy).abs() < 1e-15);
        let t = x.tan();
        assert!((t.d[0] - 1.0 / xv.cos().powi(2)).abs() < 1e-14);
    }
}
