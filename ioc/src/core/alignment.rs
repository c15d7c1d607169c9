//! Hidden quadrupole offsets drawn at start-up (`[alignment]` in the
//! configuration): a seeded Gaussian, truncated at `cutoff_sigma`, for every
//! quad whose offset the store does not already hold. Drawn in the schema's
//! quad order (x, then y) for every quad, so a quad's value depends on the
//! seed only, not on which others were restored.
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};
use twin_engine::lattice::Plane;

use crate::config::AlignmentConfig;
use crate::machine::{Schema, Setpoint};

/// The offsets to set: (the quad's Offset setpoint, value [m]); none when the
/// configured rms is 0.
pub fn generated_offsets(schema: &Schema, cfg: &AlignmentConfig, restored: &[(Setpoint, f64)]) -> Vec<(Setpoint, f64)> {
    let Ok(normal) = Normal::new(0.0, cfg.quad_offset_rms_m) else { return Vec::new() };
    if cfg.quad_offset_rms_m == 0.0 {
        return Vec::new();
    }
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let limit = cfg.cutoff_sigma * cfg.quad_offset_rms_m;
    let mut draw = || loop {
        let v: f64 = normal.sample(&mut rng);
        if v.abs() <= limit {
            return v;
        }
    };
    let mut out = Vec::new();
    for q in &schema.quads {
        for plane in [Plane::Horizontal, Plane::Vertical] {
            let value = draw();
            let sp = Setpoint::Offset(q.align, plane);
            if !restored.iter().any(|(r, _)| *r == sp) {
                out.push((sp, value));
            }
        }
    }
    out
}
