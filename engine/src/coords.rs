//! Phase-space coordinates as in AT: (x, px, y, py, δ, cτ).
//!
//! x, y [m]; px, py: transverse momenta normalised to the reference
//! momentum [rad]; δ = Δp/p0; cτ [m]: path lengthening (positive when the
//! particle arrives late).

pub const X: usize = 0;
pub const PX: usize = 1;
pub const Y: usize = 2;
pub const PY: usize = 3;
pub const DELTA: usize = 4;
pub const CT: usize = 5;

/// The transverse coordinates (x, px, y, py) come first: indices
/// `0..TRANSVERSE`.
pub const TRANSVERSE: usize = 4;

/// The canonically conjugate pairs: (x, px), (y, py), (δ, cτ).
pub const CONJUGATE_PAIRS: [(usize, usize); 3] = [(X, PX), (Y, PY), (DELTA, CT)];

/// The position coordinate (X or Y) of transverse plane `plane` (0:
/// horizontal, 1: vertical, as `lattice::Plane::index`).
pub const fn position(plane: usize) -> usize {
    assert!(plane < 2, "a transverse plane is 0 or 1");
    CONJUGATE_PAIRS[plane].0
}

/// The momentum coordinate (PX or PY) of transverse plane `plane`.
pub const fn momentum(plane: usize) -> usize {
    assert!(plane < 2, "a transverse plane is 0 or 1");
    CONJUGATE_PAIRS[plane].1
}

/// One particle's coordinates.
pub type Coords<R> = [R; 6];

/// A particle counts as lost when a coordinate is not finite or a
/// transverse coordinate or δ exceeds this bound (AT's rule) [m or 1].
pub const LOSS_BOUND: f64 = 1.0;

/// True if the particle is lost (AT's criterion).
pub fn is_lost(r: &[f64; 6]) -> bool {
    r.iter().enumerate().any(|(i, v)| !v.is_finite() || (i < CT && v.abs() > LOSS_BOUND))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lattice::Plane;

    #[test]
    fn planes_name_their_coordinates() {
        assert_eq!([position(0), momentum(0), position(1), momentum(1)], [X, PX, Y, PY]);
        assert_eq!([Plane::Horizontal.position(), Plane::Horizontal.momentum()], [X, PX]);
        assert_eq!([Plane::Vertical.position(), Plane::Vertical.momentum()], [Y, PY]);
    }

    #[test]
    #[should_panic(expected = "a transverse plane is 0 or 1")]
    fn there_is_no_third_transverse_plane() {
        let _ = position(2);
    }
}
