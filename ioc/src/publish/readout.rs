//! The BPM read-out in the machine's formats, as pure functions: readings
//! (each BPM's errors, faults and noise: `core::bpm`), the orbit vector
//! (nm, x/y interleaved), button signals, and the packed int16 vector.
use rand::Rng;
use twin_engine::lattice::ElementId;

pub use crate::core::bpm::Reading;
use crate::core::bpm::{BpmErrors, BpmFault};
use crate::core::physics::Physics;
use crate::machine::BpmId;
use crate::profile::PackedBpm;

/// Readings of `slots` (None: an empty slot) by the BPMs with `errors`
/// (by `BpmId`) with read-out noise of `rms_m`.
pub fn read(
    physics: &Physics,
    slots: &[Option<(ElementId, BpmId)>],
    errors: &[BpmErrors],
    rms_m: f64,
    rng: &mut impl Rng,
) -> Vec<Option<Reading>> {
    slots
        .iter()
        .map(|slot| {
            let (element, bpm) = (*slot)?;
            let beam = physics.position_m(element.0);
            Some(errors.get(bpm.0).copied().unwrap_or_default().read(beam, rms_m, rng))
        })
        .collect()
}

/// The orbit vector: x0, y0, x1, y1, … [nm] (0 for empty slots).
pub fn positions_nm(readings: &[Option<Reading>]) -> Vec<f64> {
    readings
        .iter()
        .flat_map(|r| {
            let r = r.unwrap_or_default();
            [r.x_m * 1e9, r.y_m * 1e9]
        })
        .collect()
}

/// Button signals A, B, C, D of one reading for a sum signal `sum` (a
/// dead BPM has none).
pub fn buttons(r: Reading, sum: f64, scale_m: f64) -> [f64; 4] {
    if r.fault == BpmFault::Dead {
        return [0.0; 4];
    }
    let (u, v) = (r.x_m / scale_m, r.y_m / scale_m);
    [sum * (1.0 + u + v), sum * (1.0 - u + v), sum * (1.0 - u - v), sum * (1.0 + u - v)]
}

/// Counts of a position, clamped to int16.
pub fn counts(position_m: f64, format: &PackedBpm) -> i16 {
    let per_m = 32768.0 / format.full_scale_m;
    (position_m * per_m).round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

/// The packed vector: rows x, y, intensity z, intensity s, status, gain,
/// x rms, y rms of `slots` each, zero-padded to `length`.
pub fn pack(readings: &[Option<Reading>], format: &PackedBpm, intensity: i16, rms_counts: i16) -> Vec<i16> {
    let n = format.slots;
    let mut v = vec![0i16; format.length];
    for (slot, r) in readings.iter().enumerate().take(n) {
        let Some(r) = r else { continue };
        let status = match r.fault {
            BpmFault::Ok | BpmFault::Frozen => format.status_ok,
            BpmFault::Garbage => format.status_saturated,
            BpmFault::Dead => {
                // no signal: no position, no intensity
                v[4 * n + slot] = format.status_dead;
                continue;
            }
        };
        v[slot] = counts(format.x_sign * r.x_m, format);
        v[n + slot] = counts(r.y_m, format);
        v[2 * n + slot] = intensity;
        v[3 * n + slot] = intensity;
        v[4 * n + slot] = status;
        v[5 * n + slot] = 1;
        v[6 * n + slot] = rms_counts;
        v[7 * n + slot] = rms_counts;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format() -> PackedBpm {
        PackedBpm {
            data: "D".into(),
            count: "C".into(),
            slots: 128,
            length: 2048,
            full_scale_m: 10e-3,
            x_sign: -1.0,
            status_ok: 3,
            status_dead: 0,
            status_saturated: 2,
            ready: None,
        }
    }

    #[test]
    fn packed_scaling_and_layout() {
        let f = format();
        assert_eq!(counts(10e-3, &f), i16::MAX); // clamps at +10 mm
        assert_eq!(counts(-10e-3, &f), i16::MIN);
        assert_eq!(counts(1e-3, &f), 3277); // 1 mm = 3276.8 counts
        let mut readings = vec![None; 128];
        readings[5] = Some(Reading { x_m: 1e-3, y_m: -2e-3, fault: BpmFault::Ok });
        readings[6] = Some(Reading { x_m: f64::NAN, y_m: f64::NAN, fault: BpmFault::Dead });
        readings[7] = Some(Reading { x_m: 9e-3, y_m: 1e-3, fault: BpmFault::Garbage });
        let v = pack(&readings, &f, 3000, 0);
        assert_eq!(v.len(), 2048);
        assert_eq!(v[5], -3277); // newer electronics: data[slot] = -x
        assert_eq!(v[128 + 5], -6554);
        assert_eq!(v[4 * 128 + 5], 3);
        assert_eq!(v[4 * 128 + 4], 0); // an empty slot
        assert_eq!([v[6], v[128 + 6], v[2 * 128 + 6], v[4 * 128 + 6]], [0, 0, 0, 0]); // dead
        assert_eq!((v[7], v[4 * 128 + 7]), (-29491, 2)); // garbage, saturated
        assert!(v[1024..].iter().all(|&c| c == 0));
    }

    #[test]
    fn orbit_vector_interleaves_in_nanometres() {
        let r = [Some(Reading { x_m: 1e-6, y_m: -2e-6, fault: BpmFault::Ok }), None];
        assert_eq!(positions_nm(&r), vec![1000.0, -2000.0, 0.0, 0.0]);
        let b = buttons(Reading { x_m: 1e-3, y_m: 0.0, fault: BpmFault::Ok }, 2.0, 10e-3);
        assert!((b[0] - 2.2).abs() < 1e-12 && (b[1] - 1.8).abs() < 1e-12);
    }
}
