//! Machine − model, as pure functions: the orbit by slot of the machine's
//! orbit vector (nm, x/y interleaved as `ORBITCC:rdPos`) and the tunes.
use twin_engine::lattice::ElementId;

use crate::core::bpm::BpmErrors;
use crate::core::physics::Physics;
use crate::machine::BpmId;

/// machine − model at every slot, and its statistics over the slots with
/// a lattice BPM where both show a number.
#[derive(Clone, Debug, PartialEq)]
pub struct OrbitDifference {
    /// By slot [nm] (0 for a slot without a lattice BPM, NaN where either
    /// side shows no number).
    pub dx_nm: Vec<f64>,
    pub dy_nm: Vec<f64>,
    /// rms and max |·| (x, y) [nm].
    pub rms_nm: [f64; 2],
    pub max_nm: [f64; 2],
}

/// What the model's BPMs read without noise, as the orbit vector (x0, y0,
/// x1, y1, … [nm]; 0 for empty slots).
pub fn model_orbit_nm(physics: &Physics, slots: &[Option<(ElementId, BpmId)>], errors: &[BpmErrors]) -> Vec<f64> {
    slots
        .iter()
        .flat_map(|slot| match slot {
            Some((element, bpm)) => {
                let e = errors.get(bpm.0).copied().unwrap_or_default();
                e.ideal_reading(physics.position_m(element.0)).map(|v| v * 1e9)
            }
            None => [0.0; 2],
        })
        .collect()
}

/// machine − model of two orbit vectors; an error when their lengths differ.
pub fn orbit_difference(
    machine_nm: &[f64],
    model_nm: &[f64],
    slots: &[Option<(ElementId, BpmId)>],
) -> Result<OrbitDifference, String> {
    if machine_nm.len() != model_nm.len() || model_nm.len() != 2 * slots.len() {
        return Err(format!(
            "the source's orbit vector has {} values, the model's {} ({} slots)",
            machine_nm.len(),
            model_nm.len(),
            slots.len()
        ));
    }
    let mut d = [Vec::with_capacity(slots.len()), Vec::with_capacity(slots.len())];
    let mut sum2 = [0.0; 2];
    let mut max = [0.0f64; 2];
    let mut used = 0usize;
    for (k, slot) in slots.iter().enumerate() {
        let pair = [0, 1].map(|p| machine_nm[2 * k + p] - model_nm[2 * k + p]);
        if slot.is_none() {
            d[0].push(0.0);
            d[1].push(0.0);
            continue;
        }
        for p in 0..2 {
            d[p].push(pair[p]);
        }
        if pair.iter().all(|v| v.is_finite()) {
            used += 1;
            for p in 0..2 {
                sum2[p] += pair[p] * pair[p];
                max[p] = max[p].max(pair[p].abs());
            }
        }
    }
    let rms = sum2.map(|s| if used > 0 { (s / used as f64).sqrt() } else { f64::NAN });
    let max = if used > 0 { max } else { [f64::NAN; 2] };
    let [dx_nm, dy_nm] = d;
    Ok(OrbitDifference { dx_nm, dy_nm, rms_nm: rms, max_nm: max })
}

/// machine − model tune from the machine's frac(Q)·f_rev [kHz] and the
/// model's fractional tune at revolution frequency `f_rev_khz`.
pub fn tune_difference(machine_khz: f64, model_tune: f64, f_rev_khz: f64) -> f64 {
    machine_khz / f_rev_khz - model_tune
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_by_slot_with_statistics_over_lattice_bpms_only() {
        let slots = [Some((ElementId(1), BpmId(0))), None, Some((ElementId(2), BpmId(1)))];
        let machine = [10.0, -4.0, 99.0, 99.0, 7.0, f64::NAN];
        let model = [4.0, -1.0, 0.0, 0.0, 1.0, 2.0];
        let d = orbit_difference(&machine, &model, &slots).expect("same length");
        assert_eq!(d.dx_nm[..2], [6.0, 0.0]);
        assert_eq!(d.dy_nm[..2], [-3.0, 0.0]);
        assert!(d.dy_nm[2].is_nan(), "no number on one side: NaN, left out of the statistics");
        assert_eq!(d.rms_nm, [6.0, 3.0]);
        assert_eq!(d.max_nm, [6.0, 3.0]);
        assert!(orbit_difference(&machine[..4], &model, &slots).is_err());
    }

    #[test]
    fn a_tune_difference_is_measured_over_the_revolution_frequency() {
        assert!((tune_difference(0.25 * 1250.0, 0.24, 1250.0) - 0.01).abs() < 1e-15);
    }
}
