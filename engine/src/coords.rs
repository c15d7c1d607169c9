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

/// One particle's coordinates.
pub type Coords<R> = [R; 6];

/// A particle counts as lost when a coordinate is not finite or a
/// transverse coordinate or δ exceeds this bound (AT's rule) [m or 1].
pub const LOSS_BOUND: f64 = 1.0;

/// True if the particle is lost (AT's criterion).
pub fn is_lost(r: &[f64; 6]) -> bool {
    r.iter().enumerate().any(|(i, v)| !v.is_finite() || (i < CT && v.abs() > LOSS_BOUND))
}
