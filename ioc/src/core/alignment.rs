//! Hidden quadrupole offsets and rolls drawn at start-up (`[alignment]` in
//! the configuration): a seeded Gaussian, truncated at `cutoff_sigma`, for
//! every quad whose value the store does not already hold. Drawn in the
//! schema's quad order (x, then y) for every quad, so a quad's value depends
//! on the seed only, not on which others were restored; the rolls from a
//! stream of their own, so adding them leaves the offsets of a seed as
//! they were.
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};
use twin_engine::lattice::Plane;

use crate::config::AlignmentConfig;
use crate::machine::{Schema, Setpoint};

/// The offsets and rolls to set: (setpoint, value [m] or [rad]); none
/// where the configured rms is 0.
pub fn generated_offsets(schema: &Schema, cfg: &AlignmentConfig, restored: &[(Setpoint, f64)]) -> Vec<(Setpoint, f64)> {
    let mut out = Vec::new();
    let mut offsets = draws(cfg.seed, cfg.quad_offset_rms_m, cfg.cutoff_sigma);
    let mut rolls = draws(cfg.seed ^ ROLL_STREAM, cfg.quad_roll_rms_rad, cfg.cutoff_sigma);
    for q in &schema.quads {
        let mut wanted = Vec::new();
        if let Some(draw) = offsets.as_mut() {
            wanted.extend([Plane::Horizontal, Plane::Vertical].map(|p| (Setpoint::Offset(q.align, p), draw())));
        }
        if let Some(draw) = rolls.as_mut() {
            wanted.push((Setpoint::Roll(q.align), draw()));
        }
        out.extend(wanted.into_iter().filter(|(sp, _)| !restored.iter().any(|(r, _)| r == sp)));
    }
    out
}

/// Seed offset of the rolls' stream.
const ROLL_STREAM: u64 = 0x726f_6c6c;

/// A seeded Gaussian of `rms` truncated at `cutoff` rms; None for rms 0.
pub(super) fn draws(seed: u64, rms: f64, cutoff: f64) -> Option<impl FnMut() -> f64> {
    let normal = Normal::new(0.0, rms).ok().filter(|_| rms > 0.0)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let limit = cutoff * rms;
    Some(move || {
        loop {
            let v: f64 = normal.sample(&mut rng);
            if v.abs() <= limit {
                return v;
            }
        }
    })
}
