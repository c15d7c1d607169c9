//! What a BPM reads: the hidden electrical errors (offset, gain, roll,
//! noise) and the faults of one BPM, and its reading of the beam. One
//! function for the published read-out and the BBA service's readings.
//!
//! A reading is offset + gain × R(roll) · beam + noise, with R(θ) the
//! rotation into the BPM's frame as pyAT rolls an element:
//! u = x cos θ + y sin θ, v = −x sin θ + y cos θ, and the gain applied per
//! plane of the BPM's frame.
use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::physics::Physics;
pub use crate::machine::BpmFault;
use crate::machine::Schema;

/// The hidden state of one BPM.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BpmErrors {
    /// Electrical offset (x, y) [m].
    pub offset_m: [f64; 2],
    /// Gain (x, y) of the BPM's frame (1: calibrated).
    pub gain: [f64; 2],
    /// Roll about s [rad].
    pub roll_rad: f64,
    /// The BPM's own noise rms, added in quadrature to the read-out
    /// noise [m].
    pub noise_m: f64,
    pub fault: BpmFault,
    /// What a frozen BPM shows (taken at the first computation after it
    /// froze) [m].
    pub frozen_m: Option<[f64; 2]>,
}

impl Default for BpmErrors {
    fn default() -> Self {
        Self { offset_m: [0.0; 2], gain: [1.0; 2], roll_rad: 0.0, noise_m: 0.0, fault: BpmFault::Ok, frozen_m: None }
    }
}

/// Half-width of the range a BPM reading garbage reads in [m].
pub const GARBAGE_RANGE_M: f64 = 10e-3;

/// One BPM reading [m] and how the BPM reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub x_m: f64,
    pub y_m: f64,
    pub fault: BpmFault,
}

impl Default for Reading {
    fn default() -> Self {
        Self { x_m: 0.0, y_m: 0.0, fault: BpmFault::Ok }
    }
}

impl Reading {
    /// The position (x, y) [m] a user of the reading takes: none from a
    /// dead BPM (no number) or one whose status flags it (garbage).
    pub fn number(&self) -> Option<[f64; 2]> {
        let flagged = self.fault == BpmFault::Garbage;
        (!flagged && self.x_m.is_finite() && self.y_m.is_finite()).then_some([self.x_m, self.y_m])
    }
}

/// One reading of every lattice BPM (`BpmId` order) with `errors` of the
/// beam of `physics`, with read-out noise `rms_m`.
pub fn read_all(
    schema: &Schema,
    errors: &[BpmErrors],
    physics: &Physics,
    rms_m: f64,
    rng: &mut impl Rng,
) -> Vec<Reading> {
    schema.bpms.iter().zip(errors).map(|(b, e)| e.read(physics.position_m(b.element.0), rms_m, rng)).collect()
}

/// What every lattice BPM with `errors` reads of the beam of `physics`
/// without noise (`BpmId` order).
pub fn ideal_readings<'a>(
    schema: &'a Schema,
    errors: &'a [BpmErrors],
    physics: &'a Physics,
) -> impl Iterator<Item = [f64; 2]> + 'a {
    schema.bpms.iter().zip(errors).map(|(b, e)| e.ideal_reading(physics.position_m(b.element.0)))
}

impl BpmErrors {
    /// What the BPM reads without noise for the beam at `beam_m` (x, y).
    pub fn ideal_reading(&self, beam_m: [f64; 2]) -> [f64; 2] {
        let (s, c) = self.roll_rad.sin_cos();
        let [x, y] = beam_m;
        let (u, v) = (x * c + y * s, -x * s + y * c);
        [self.offset_m[0] + self.gain[0] * u, self.offset_m[1] + self.gain[1] * v]
    }

    /// One reading of the beam at `beam_m` with the read-out noise
    /// `readout_rms_m` (and the BPM's own) drawn from `rng`.
    pub fn read(&self, beam_m: [f64; 2], readout_rms_m: f64, rng: &mut impl Rng) -> Reading {
        let fault = self.fault;
        match (fault, self.frozen_m) {
            (BpmFault::Dead, _) => Reading { x_m: f64::NAN, y_m: f64::NAN, fault },
            (BpmFault::Frozen, Some([x_m, y_m])) => Reading { x_m, y_m, fault },
            (BpmFault::Garbage, _) => {
                let mut any = || rng.gen_range(-GARBAGE_RANGE_M..=GARBAGE_RANGE_M);
                Reading { x_m: any(), y_m: any(), fault }
            }
            (BpmFault::Ok | BpmFault::Frozen, _) => {
                let rms = readout_rms_m.hypot(self.noise_m);
                let normal = (rms > 0.0).then(|| Normal::new(0.0, rms).ok()).flatten();
                let mut noise = || normal.map_or(0.0, |n| n.sample(rng));
                let [x, y] = self.ideal_reading(beam_m);
                Reading { x_m: x + noise(), y_m: y + noise(), fault }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn offset_plus_gain_times_the_rotated_beam() {
        let e = BpmErrors { offset_m: [1e-4, -2e-4], gain: [1.1, 0.9], roll_rad: 0.01, ..BpmErrors::default() };
        let [x, y] = e.ideal_reading([1e-3, 2e-3]);
        let (s, c) = 0.01f64.sin_cos();
        assert!((x - (1e-4 + 1.1 * (1e-3 * c + 2e-3 * s))).abs() < 1e-18);
        assert!((y - (-2e-4 + 0.9 * (-1e-3 * s + 2e-3 * c))).abs() < 1e-18);
        let ideal = BpmErrors::default();
        assert_eq!(ideal.ideal_reading([3e-3, -4e-3]), [3e-3, -4e-3]);
    }

    #[test]
    fn faults_read_as_the_machine_shows_them() {
        let mut rng = StdRng::seed_from_u64(1);
        let beam = [1e-3, 0.0];
        let dead = BpmErrors { fault: BpmFault::Dead, ..BpmErrors::default() };
        assert!(dead.read(beam, 0.0, &mut rng).x_m.is_nan());
        let frozen = BpmErrors { fault: BpmFault::Frozen, frozen_m: Some([5e-4, 6e-4]), ..BpmErrors::default() };
        assert_eq!(frozen.read(beam, 1e-6, &mut rng), Reading { x_m: 5e-4, y_m: 6e-4, fault: BpmFault::Frozen });
        let garbage = BpmErrors { fault: BpmFault::Garbage, ..BpmErrors::default() };
        let reads: Vec<Reading> = (0..50).map(|_| garbage.read(beam, 0.0, &mut rng)).collect();
        assert!(reads.iter().all(|r| r.x_m.abs() <= GARBAGE_RANGE_M && r.y_m.abs() <= GARBAGE_RANGE_M));
        assert!(reads.windows(2).all(|w| w[0].x_m != w[1].x_m), "garbage changes with every reading");
        assert_eq!(BpmFault::from_index(2.0), Some(BpmFault::Frozen));
        assert_eq!(BpmFault::from_index(4.0), None);
    }

    #[test]
    fn the_bpms_own_noise_adds_in_quadrature() {
        let mut rng = StdRng::seed_from_u64(2);
        let e = BpmErrors { noise_m: 4e-6, ..BpmErrors::default() };
        let n = 20_000;
        let var = (0..n).map(|_| e.read([0.0; 2], 3e-6, &mut rng).x_m.powi(2)).sum::<f64>() / n as f64;
        assert!((var.sqrt() - 5e-6).abs() < 0.1e-6, "rms {}", var.sqrt());
    }
}
