//! The tune measurement: frac(Q)·f_rev in kHz, the fractional tunes, the
//! measurement counter and the spectrum, posted with every computation and
//! re-posted at the diagnostics rate (a running measurement; clients wait
//! for a fresh value) with the computation's time stamp.
use epics_pvxs_sys::{Field, Ioc, Update};

use crate::core::physics::Physics;
use crate::machine::Machine;
use crate::names::dt4acc;
use crate::prefix::Prefix;
use crate::records::SPECTRUM_POINTS;

pub struct TuneFields {
    khz: [Field<f64>; 2],
    fractional: [Field<f64>; 2],
    count: Option<Field<i32>>,
    spectrum: Option<Field<[f64]>>,
    harmonic_number: f64,
    energy_ev: f64,
    measurements: i32,
}

/// The horizontal spectrum a tune measurement shows for `tune` (fractional)
/// over 0 … f_rev/2 in `SPECTRUM_POINTS` bins: a line at the tune folded
/// into [0, 0.5], with the width the larger of the radiation damping's
/// (per turn: T0/τ over 2π) and half a bin (the measurement's resolution);
/// peak 1.
pub fn spectrum(tune: f64, damping_per_turn: f64) -> Vec<f64> {
    let line = tune.rem_euclid(1.0);
    let line = line.min(1.0 - line);
    let bin = 0.5 / SPECTRUM_POINTS as f64;
    let width = (damping_per_turn / std::f64::consts::TAU).max(bin / 2.0);
    (0..SPECTRUM_POINTS)
        .map(|k| {
            let q = (k as f64 + 0.5) * bin;
            width / ((q - line).powi(2) + width * width).sqrt()
        })
        .collect()
}

impl TuneFields {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine) -> anyhow::Result<Self> {
        let t = &machine.profile.tunes;
        let pv = |n: &str| prefix.pv(n);
        Ok(Self {
            khz: [ioc.field(&pv(&t.horizontal))?, ioc.field(&pv(&t.vertical))?],
            fractional: [ioc.field(&pv(&dt4acc::twiss('x', "tune")))?, ioc.field(&pv(&dt4acc::twiss('y', "tune")))?],
            count: t.count.as_ref().map(|c| ioc.field(&pv(c))).transpose()?,
            spectrum: t.spectrum.as_ref().map(|s| ioc.field(&pv(s))).transpose()?,
            harmonic_number: machine.schema.harmonic_number,
            energy_ev: machine.lattice.energy_ev(),
            measurements: 0,
        })
    }

    /// One tune measurement of `p` at master clock `rf_khz`.
    pub fn post(&mut self, p: &Physics, rf_khz: f64, update: &Update) -> anyhow::Result<()> {
        let f_rev_khz = rf_khz / self.harmonic_number;
        for k in 0..2 {
            self.khz[k].post(&(p.tunes[k] * f_rev_khz), update)?;
            self.fractional[k].post(&p.tunes[k], update)?;
        }
        if let Some(s) = &self.spectrum {
            // radiation damping of the horizontal oscillation per turn: T0/τx = Jx·U0/(2·E0)
            let per_turn = p.radiation.damping_partition[0] * p.radiation.energy_loss_ev / (2.0 * self.energy_ev);
            s.post(&spectrum(p.tunes[0], per_turn), update)?;
        }
        if let Some(c) = &self.count {
            self.measurements = self.measurements.wrapping_add(1);
            c.post(&self.measurements, update)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_sits_at_the_folded_tune_with_peak_one() {
        let s = spectrum(0.848, 1e-4);
        let peak = s.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(k, _)| k).expect("bins");
        let q = (peak as f64 + 0.5) * 0.5 / SPECTRUM_POINTS as f64;
        assert!((q - 0.152).abs() <= 0.5 / SPECTRUM_POINTS as f64, "{q}");
        assert!(s[peak] > 0.7 && s[peak] <= 1.0);
        assert!(s[0] < 0.01, "far from the line: {}", s[0]);
    }
}
