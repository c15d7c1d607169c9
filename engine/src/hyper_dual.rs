//! Second-order forward differentiation for chromaticity: a number that
//! carries its gradient with respect to the four transverse start
//! coordinates, its derivative along one direction v of the start
//! coordinates, and the derivative of that gradient along v. Tracking it
//! one turn gives the transverse one-turn matrix M and dM/dv; with v the
//! closed orbit's change per unit δ, (η, 1), dM/dv is the change of the
//! one-turn matrix per unit δ along the closed orbit, whose trace gives
//! the chromaticity without a finite difference.
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::real::Real;

/// Number of gradient components (x, px, y, py).
pub const GRADIENT: usize = 4;

/// Value, gradient `d`, directional derivative `e` and the directional
/// derivative of the gradient `de`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HyperDual {
    pub v: f64,
    pub d: [f64; GRADIENT],
    pub e: f64,
    pub de: [f64; GRADIENT],
}

impl HyperDual {
    /// Start coordinate with value `v`, gradient seed `gradient` (the k-th
    /// transverse coordinate, or none) and component `direction` of v.
    pub fn seed(v: f64, gradient: Option<usize>, direction: f64) -> Self {
        let mut d = [0.0; GRADIENT];
        if let Some(k) = gradient {
            d[k] = 1.0;
        }
        Self { v, d, e: direction, de: [0.0; GRADIENT] }
    }

    /// g(self) for a function with value `g0`, first derivative `g1` and
    /// second derivative `g2` at self.v.
    #[inline]
    fn chain(self, g0: f64, g1: f64, g2: f64) -> Self {
        let d = self.d.map(|x| g1 * x);
        let de = std::array::from_fn(|k| g2 * self.e * self.d[k] + g1 * self.de[k]);
        Self { v: g0, d, e: g1 * self.e, de }
    }

    #[inline]
    fn scale(self, s: f64) -> Self {
        Self { v: self.v * s, d: self.d.map(|x| x * s), e: self.e * s, de: self.de.map(|x| x * s) }
    }
}

impl Add for HyperDual {
    type Output = Self;
    #[inline]
    fn add(self, o: Self) -> Self {
        Self {
            v: self.v + o.v,
            d: std::array::from_fn(|k| self.d[k] + o.d[k]),
            e: self.e + o.e,
            de: std::array::from_fn(|k| self.de[k] + o.de[k]),
        }
    }
}

impl Sub for HyperDual {
    type Output = Self;
    #[inline]
    fn sub(self, o: Self) -> Self {
        self + (-o)
    }
}

impl Mul for HyperDual {
    type Output = Self;
    #[inline]
    #[allow(clippy::suspicious_arithmetic_impl)] // the product rule, twice
    fn mul(self, o: Self) -> Self {
        Self {
            v: self.v * o.v,
            d: std::array::from_fn(|k| self.d[k] * o.v + self.v * o.d[k]),
            e: self.e * o.v + self.v * o.e,
            de: std::array::from_fn(|k| self.de[k] * o.v + self.d[k] * o.e + self.e * o.d[k] + self.v * o.de[k]),
        }
    }
}

impl Div for HyperDual {
    type Output = Self;
    #[inline]
    #[allow(clippy::suspicious_arithmetic_impl)] // a / b = a · (1/b)
    fn div(self, o: Self) -> Self {
        self * o.recip()
    }
}

impl Neg for HyperDual {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        self.scale(-1.0)
    }
}

impl Add<f64> for HyperDual {
    type Output = Self;
    #[inline]
    fn add(mut self, o: f64) -> Self {
        self.v += o;
        self
    }
}

impl Sub<f64> for HyperDual {
    type Output = Self;
    #[inline]
    fn sub(mut self, o: f64) -> Self {
        self.v -= o;
        self
    }
}

impl Mul<f64> for HyperDual {
    type Output = Self;
    #[inline]
    fn mul(self, o: f64) -> Self {
        self.scale(o)
    }
}

impl Div<f64> for HyperDual {
    type Output = Self;
    #[inline]
    fn div(self, o: f64) -> Self {
        self.scale(1.0 / o)
    }
}

impl AddAssign for HyperDual {
    #[inline]
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}

impl SubAssign for HyperDual {
    #[inline]
    fn sub_assign(&mut self, o: Self) {
        *self = *self - o;
    }
}

impl MulAssign for HyperDual {
    #[inline]
    fn mul_assign(&mut self, o: Self) {
        *self = *self * o;
    }
}

impl Real for HyperDual {
    /// Used for 4D chromaticity only: cτ acts on nothing there.
    const PATH_LENGTH: bool = false;
    #[inline]
    fn cst(v: f64) -> Self {
        Self { v, d: [0.0; GRADIENT], e: 0.0, de: [0.0; GRADIENT] }
    }
    #[inline]
    fn value(self) -> f64 {
        self.v
    }
    fn sin(self) -> Self {
        let (s, c) = self.v.sin_cos();
        self.chain(s, c, -s)
    }
    fn cos(self) -> Self {
        let (s, c) = self.v.sin_cos();
        self.chain(c, -s, -c)
    }
    fn tan(self) -> Self {
        let t = self.v.tan();
        let sec2 = 1.0 + t * t;
        self.chain(t, sec2, 2.0 * t * sec2)
    }
    #[inline]
    fn recip(self) -> Self {
        let r = 1.0 / self.v;
        self.chain(r, -r * r, 2.0 * r * r * r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f(x, y) = sin(x)·y/(1 + x) + tan(x·y) − cos(y)/x at (0.3, 2.0); the
    /// direction v = (0.7, −0.4); gradient wrt (x, y).
    fn f<R: Real>(x: R, y: R) -> R {
        x.sin() * y / (x + 1.0) + (x * y).tan() - y.cos() / x
    }

    #[test]
    fn gradient_directional_and_mixed_derivatives_match_finite_differences() {
        let (x0, y0, v) = (0.3, 2.0, [0.7, -0.4]);
        let x = HyperDual::seed(x0, Some(0), v[0]);
        let y = HyperDual::seed(y0, Some(1), v[1]);
        let r = f(x, y);
        let h = 1e-5;
        let grad = |x: f64, y: f64| [(f(x + h, y) - f(x - h, y)) / (2.0 * h), (f(x, y + h) - f(x, y - h)) / (2.0 * h)];
        let g0 = grad(x0, y0);
        let dir = (f(x0 + h * v[0], y0 + h * v[1]) - f(x0 - h * v[0], y0 - h * v[1])) / (2.0 * h);
        let (gp, gm) = (grad(x0 + h * v[0], y0 + h * v[1]), grad(x0 - h * v[0], y0 - h * v[1]));
        assert!((r.v - f(x0, y0)).abs() < 1e-15);
        assert!((r.e - dir).abs() < 1e-8, "{} vs {dir}", r.e);
        for k in 0..2 {
            assert!((r.d[k] - g0[k]).abs() < 1e-8, "d{k}: {} vs {}", r.d[k], g0[k]);
            let mixed = (gp[k] - gm[k]) / (2.0 * h);
            assert!((r.de[k] - mixed).abs() < 1e-5, "de{k}: {} vs {mixed}", r.de[k]);
        }
    }
}
