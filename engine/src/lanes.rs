//! Several particles tracked as one number: every operation applies lane
//! by lane with the same IEEE-754 operation as on `f64`, so each lane ends
//! exactly where a scalar pass of that particle ends; the lanes' dependency
//! chains are independent, so the processor overlaps them (and its vector
//! units take several at once) where one particle waits on each result.
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::real::Real;

/// `N` particles' values of one coordinate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lanes<const N: usize>(pub [f64; N]);

impl<const N: usize> Lanes<N> {
    #[inline(always)]
    fn zip(self, o: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        Self(std::array::from_fn(|i| f(self.0[i], o.0[i])))
    }

    #[inline(always)]
    fn each(self, f: impl Fn(f64) -> f64) -> Self {
        Self(self.0.map(f))
    }
}

impl<const N: usize> Add for Lanes<N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.zip(o, |a, b| a + b)
    }
}

impl<const N: usize> Sub for Lanes<N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.zip(o, |a, b| a - b)
    }
}

impl<const N: usize> Mul for Lanes<N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self.zip(o, |a, b| a * b)
    }
}

impl<const N: usize> Div for Lanes<N> {
    type Output = Self;
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        self.zip(o, |a, b| a / b)
    }
}

impl<const N: usize> Neg for Lanes<N> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        self.each(|a| -a)
    }
}

impl<const N: usize> Add<f64> for Lanes<N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: f64) -> Self {
        self.each(|a| a + o)
    }
}

impl<const N: usize> Sub<f64> for Lanes<N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: f64) -> Self {
        self.each(|a| a - o)
    }
}

impl<const N: usize> Mul<f64> for Lanes<N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: f64) -> Self {
        self.each(|a| a * o)
    }
}

impl<const N: usize> Div<f64> for Lanes<N> {
    type Output = Self;
    #[inline(always)]
    fn div(self, o: f64) -> Self {
        self.each(|a| a / o)
    }
}

impl<const N: usize> AddAssign for Lanes<N> {
    #[inline(always)]
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}

impl<const N: usize> SubAssign for Lanes<N> {
    #[inline(always)]
    fn sub_assign(&mut self, o: Self) {
        *self = *self - o;
    }
}

impl<const N: usize> MulAssign for Lanes<N> {
    #[inline(always)]
    fn mul_assign(&mut self, o: Self) {
        *self = *self * o;
    }
}

impl<const N: usize> Real for Lanes<N> {
    #[inline(always)]
    fn cst(v: f64) -> Self {
        Self([v; N])
    }
    /// The first lane (loss checks of a batch look at every lane).
    #[inline(always)]
    fn value(self) -> f64 {
        self.0[0]
    }
    fn sin(self) -> Self {
        self.each(f64::sin)
    }
    fn cos(self) -> Self {
        self.each(f64::cos)
    }
    fn tan(self) -> Self {
        self.each(f64::tan)
    }
}
