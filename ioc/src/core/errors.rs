//! Hidden errors of the BPMs and magnets drawn at start-up (`[errors]` in
//! the configuration) for every setpoint the store does not already hold:
//! seeded Gaussians truncated at `[alignment] cutoff_sigma`, each kind from
//! a stream of its own (adding one kind leaves the others of a seed as
//! they were), drawn for every BPM or magnet in schema order whether or not
//! it was restored; or the machine's measured BPM offsets.
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use twin_engine::lattice::Plane;

use super::alignment::draws;
use crate::config::ErrorsConfig;
use crate::machine::{BpmId, Schema, Setpoint};

/// Seed offsets of the streams.
const BPM_OFFSETS: u64 = 0x6270_6d6f;
const BPM_GAINS: u64 = 0x6270_6d67;
const BPM_ROLLS: u64 = 0x6270_6d72;
const BPM_NOISE: u64 = 0x6270_6d6e;
const CALIBRATION: u64 = 0x6361_6c69;
const SEXTUPOLE_OFFSETS: u64 = 0x7365_786f;
const SEXTUPOLE_ROLLS: u64 = 0x7365_7872;
const DIPOLE_FIELDS: u64 = 0x6469_706f;

/// The errors to set: (setpoint, value in its unit); none where the
/// configured rms is 0. `measured`: the machine's BPM offsets (x, y) [m].
pub fn generated_errors(
    schema: &Schema,
    cfg: &ErrorsConfig,
    cutoff: f64,
    measured: &[(BpmId, [f64; 2])],
    restored: &[(Setpoint, f64)],
) -> Vec<(Setpoint, f64)> {
    let planes = [Plane::Horizontal, Plane::Vertical];
    let mut out = Vec::new();
    let stream = |offset: u64, rms: f64| draws(cfg.seed ^ offset, rms, cutoff);
    if let Some(mut draw) = stream(BPM_OFFSETS, cfg.bpm_offset_rms_m) {
        out.extend(schema.bpms.iter().flat_map(|b| planes.map(|p| (Setpoint::BpmOffset(b.id, p), draw()))));
    }
    for (bpm, offset) in measured {
        out.extend(planes.map(|p| (Setpoint::BpmOffset(*bpm, p), offset[p.index()])));
    }
    if let Some(mut draw) = stream(BPM_GAINS, cfg.bpm_gain_rms) {
        out.extend(schema.bpms.iter().flat_map(|b| planes.map(|p| (Setpoint::BpmGain(b.id, p), 1.0 + draw()))));
    }
    if let Some(mut draw) = stream(BPM_ROLLS, cfg.bpm_roll_rms_rad) {
        out.extend(schema.bpms.iter().map(|b| (Setpoint::BpmRoll(b.id), draw())));
    }
    if cfg.bpm_noise_max_m > 0.0 {
        let mut rng = StdRng::seed_from_u64(cfg.seed ^ BPM_NOISE);
        out.extend(schema.bpms.iter().map(|b| (Setpoint::BpmOwnNoise(b.id), rng.gen_range(0.0..=cfg.bpm_noise_max_m))));
    }
    if let Some(mut draw) = stream(CALIBRATION, cfg.calibration_rms) {
        out.extend(schema.magnets.iter().map(|m| (Setpoint::Calibration(m.id), draw())));
    }
    // the elements carrying magnets after the quads: sextupoles (with their windings)
    let others = || schema.aligned.iter().skip(schema.quads.len());
    if let Some(mut draw) = stream(SEXTUPOLE_OFFSETS, cfg.sextupole_offset_rms_m) {
        out.extend(others().flat_map(|a| planes.map(|p| (Setpoint::Offset(a.id, p), draw()))));
    }
    if let Some(mut draw) = stream(SEXTUPOLE_ROLLS, cfg.sextupole_roll_rms_rad) {
        out.extend(others().map(|a| (Setpoint::Roll(a.id), draw())));
    }
    if let Some(mut draw) = stream(DIPOLE_FIELDS, cfg.dipole_field_rms) {
        out.extend(schema.dipoles.iter().map(|d| (Setpoint::DipoleField(d.id), draw())));
    }
    out.retain(|(sp, _)| !restored.iter().any(|(r, _)| r == sp));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Machine;

    #[test]
    fn nothing_by_default_and_each_kind_from_its_own_stream() {
        let m = Machine::fodo();
        assert!(generated_errors(&m.schema, &ErrorsConfig::default(), 3.0, &[], &[]).is_empty());
        let gains = ErrorsConfig { seed: 7, bpm_gain_rms: 0.01, ..ErrorsConfig::default() };
        let both = ErrorsConfig { bpm_offset_rms_m: 1e-4, ..gains.clone() };
        let only_gains = generated_errors(&m.schema, &gains, 3.0, &[], &[]);
        let with_offsets = generated_errors(&m.schema, &both, 3.0, &[], &[]);
        assert_eq!(only_gains.len(), 2 * m.schema.bpms.len());
        assert!(only_gains.iter().all(|g| with_offsets.contains(g)), "adding offsets keeps the gains");
        assert!(only_gains.iter().all(|(_, g)| (g - 1.0).abs() <= 0.03));
        let restored = [(only_gains[0].0, 1.0)];
        let again = generated_errors(&m.schema, &gains, 3.0, &[], &restored);
        assert_eq!(again, only_gains[1..], "a restored value is kept, the others drawn alike");
    }
}
