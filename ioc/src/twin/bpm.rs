//! BPM read-out in the machine's formats: ORBITCC:rdPos (nm, x/y
//! interleaved), the NTTable ORBITCC:rdBpm, and the classic packed int16
//! MDIZ2T5G:bdata. Re-posted at the diagnostics rate and after every model
//! computation, with optional seeded Gaussian noise.
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::SystemTime;

use epics_pvxs_sys::{Alarm, AlarmStatus, Field, Ioc, Severity, Update};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};
use twin_engine::lattice::ElementId;

use super::compute::Physics;
use crate::config::DiagnosticsConfig;
use crate::machine::{BPM_SLOTS, BpmSlot, Schema};
use crate::prefix::Prefix;

/// ±10 mm span ±2^15 counts: counts per metre.
pub const COUNTS_PER_M: f64 = 32768.0 / 10e-3;
/// Status word of a working BPM (AGC and power ok).
pub const STATUS_OK: i16 = 3;
/// Half-aperture used to turn positions into button signals [m].
const BUTTON_SCALE_M: f64 = 10e-3;

/// One BPM reading [m].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reading {
    pub x_m: f64,
    pub y_m: f64,
}

struct Fields {
    rd_pos: Field<[f64]>,
    names: Field<[String]>,
    count: Field<i32>,
    buttons: Field<[f64]>,
    table_bpm: Field<[String]>,
    table: [Field<[f64]>; 6],
    bdata: Field<[i16]>,
    bdata_count: Field<i32>,
}

/// Distinguishes the BBA readings' noise stream from the published one.
const BBA_STREAM: u64 = 0x4242_4121;

/// The BPM system: slot maps, noise, counters, the latest model orbit.
pub struct BpmPublisher {
    fields: Fields,
    orbit_slots: Vec<Option<ElementId>>,
    bdata_slots: Vec<Option<ElementId>>,
    orbit_names: Vec<String>,
    latest: Option<Arc<Physics>>,
    invalid: Option<String>,
    noise_on: bool,
    noise_rms_m: f64,
    rng: StdRng,
    /// The BBA service's readings draw from their own stream of the seeded
    /// noise: a sequence of measurements is reproducible whatever the
    /// publishing cadence consumed meanwhile.
    bba_rng: StdRng,
    x_sign: f64,
    current_ma: f64,
    orbit_count: i32,
    bdata_count: i32,
}

/// Counts of a position, clamped to int16.
pub fn counts(position_m: f64) -> i16 {
    (position_m * COUNTS_PER_M).round().clamp(i16::MIN as f64, i16::MAX as f64) as i16
}

/// The classic 2048-value vector: rows x, y, z, s, status, gain, x rms,
/// y rms of 128 slots each, then 1024 zeros.
pub fn pack_bdata(readings: &[Option<Reading>], x_sign: f64, intensity: i16, rms_counts: i16) -> Vec<i16> {
    let mut v = vec![0i16; 2048];
    for (slot, r) in readings.iter().enumerate().take(BPM_SLOTS) {
        let Some(r) = r else { continue };
        v[slot] = counts(x_sign * r.x_m);
        v[BPM_SLOTS + slot] = counts(r.y_m);
        v[2 * BPM_SLOTS + slot] = intensity;
        v[3 * BPM_SLOTS + slot] = intensity;
        v[4 * BPM_SLOTS + slot] = STATUS_OK;
        v[5 * BPM_SLOTS + slot] = 1;
        v[6 * BPM_SLOTS + slot] = rms_counts;
        v[7 * BPM_SLOTS + slot] = rms_counts;
    }
    v
}

fn elements(slots: &[BpmSlot]) -> Vec<Option<ElementId>> {
    slots.iter().map(|s| s.element).collect()
}

impl BpmPublisher {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, schema: &Schema, cfg: &DiagnosticsConfig) -> anyhow::Result<Self> {
        let pv = |n: &str| prefix.pv(n);
        let col = |c: &str| ioc.field::<[f64]>(&pv(&format!("ORBITCC:rdBpm:{c}")));
        let fields = Fields {
            rd_pos: ioc.field(&pv("ORBITCC:rdPos"))?,
            names: ioc.field(&pv("ORBITCC:rdBpmNames"))?,
            count: ioc.field(&pv("ORBITCC:count"))?,
            buttons: ioc.field(&pv("ORBITCC:rdButtons"))?,
            table_bpm: ioc.field(&pv("ORBITCC:rdBpm:BPM"))?,
            table: [col("X")?, col("Y")?, col("A")?, col("B")?, col("C")?, col("D")?],
            bdata: ioc.field(&pv("MDIZ2T5G:bdata"))?,
            bdata_count: ioc.field(&pv("MDIZ2T5G:count"))?,
        };
        Ok(Self {
            fields,
            orbit_slots: elements(&schema.orbit_slots),
            bdata_slots: elements(&schema.bdata_slots),
            orbit_names: schema.orbit_slots.iter().map(|s| s.name.clone()).collect(),
            latest: None,
            invalid: None,
            noise_on: cfg.noise,
            noise_rms_m: cfg.noise_rms_m,
            rng: StdRng::seed_from_u64(cfg.seed),
            bba_rng: StdRng::seed_from_u64(cfg.seed ^ BBA_STREAM),
            x_sign: cfg.bdata_x_sign,
            current_ma: 0.0,
            orbit_count: 0,
            bdata_count: 0,
        })
    }

    /// A new model computation (None physics: the model is invalid).
    pub fn set_model(&mut self, physics: Result<Arc<Physics>, String>) {
        match physics {
            Ok(p) => {
                self.latest = Some(p);
                self.invalid = None;
            }
            Err(msg) => self.invalid = Some(msg),
        }
    }

    pub fn set_noise(&mut self, on: bool) {
        self.noise_on = on;
    }

    pub fn set_noise_rms_m(&mut self, rms_m: f64) {
        self.noise_rms_m = rms_m;
    }

    pub fn set_current_ma(&mut self, current_ma: f64) {
        self.current_ma = current_ma;
    }

    fn reading(&mut self, element: Option<ElementId>) -> Option<Reading> {
        let (physics, id) = (self.latest.as_ref()?, element?);
        let o = physics.orbit[id.0];
        let mut r = Reading { x_m: o[0], y_m: o[2] };
        if self.noise_on && self.noise_rms_m > 0.0 {
            let n = Normal::new(0.0, self.noise_rms_m).ok()?;
            r.x_m += n.sample(&mut self.rng);
            r.y_m += n.sample(&mut self.rng);
        }
        Some(r)
    }

    /// One reading of the lattice BPMs `bpms` (x, y) [m] with the current
    /// noise settings, for the BBA service.
    pub fn sample(&mut self, physics: &Physics, bpms: &[ElementId]) -> (Vec<f64>, Vec<f64>) {
        let normal =
            (self.noise_on && self.noise_rms_m > 0.0).then(|| Normal::new(0.0, self.noise_rms_m).ok()).flatten();
        let mut noise = || normal.map_or(0.0, |n| n.sample(&mut self.bba_rng));
        let mut x = Vec::with_capacity(bpms.len());
        let mut y = Vec::with_capacity(bpms.len());
        for b in bpms {
            let o = physics.orbit[b.0];
            x.push(o[0] + noise());
            y.push(o[2] + noise());
        }
        (x, y)
    }

    /// Posts one read-out of every BPM vector; counters advance.
    pub fn publish(&mut self, time: SystemTime) -> anyhow::Result<()> {
        let mut update = Update::at(time);
        if let Some(msg) = &self.invalid {
            update = update.with_alarm(Alarm::new(Severity::Invalid, AlarmStatus::Calc, msg.clone()));
        }
        let orbit: Vec<Option<Reading>> = self.orbit_slots.clone().into_iter().map(|e| self.reading(e)).collect();
        let bdata: Vec<Option<Reading>> = self.bdata_slots.clone().into_iter().map(|e| self.reading(e)).collect();
        self.post_orbit(&orbit, &update)?;
        let intensity = (self.current_ma * 100.0).round().clamp(0.0, i16::MAX as f64) as i16;
        let rms = if self.noise_on { counts(self.noise_rms_m) } else { 0 };
        self.fields.bdata.post(&pack_bdata(&bdata, self.x_sign, intensity, rms), &update)?;
        self.bdata_count = self.bdata_count.wrapping_add(1);
        self.fields.bdata_count.post(&self.bdata_count, &update)?;
        Ok(())
    }

    fn post_orbit(&mut self, orbit: &[Option<Reading>], update: &Update) -> anyhow::Result<()> {
        let nm = |v: f64| v * 1e9;
        let mut rd_pos = Vec::with_capacity(2 * BPM_SLOTS);
        let mut cols: [Vec<f64>; 6] = Default::default();
        let sum = self.current_ma;
        for r in orbit {
            let r = r.unwrap_or_default();
            rd_pos.extend([nm(r.x_m), nm(r.y_m)]);
            let (u, v) = (r.x_m / BUTTON_SCALE_M, r.y_m / BUTTON_SCALE_M);
            let buttons = [sum * (1.0 + u + v), sum * (1.0 - u + v), sum * (1.0 - u - v), sum * (1.0 + u - v)];
            cols[0].push(nm(r.x_m));
            cols[1].push(nm(r.y_m));
            (0..4).for_each(|k| cols[2 + k].push(buttons[k]));
        }
        let buttons: Vec<f64> =
            (0..BPM_SLOTS).flat_map(|i| (0..4).map(move |k| (i, k))).map(|(i, k)| cols[2 + k][i]).collect();
        let f = &self.fields;
        f.rd_pos.post(&rd_pos, update)?;
        f.buttons.post(&buttons, update)?;
        f.names.post(&self.orbit_names, update)?;
        f.table_bpm.post(&self.orbit_names, update)?;
        for (field, col) in f.table.iter().zip(&cols) {
            field.post(col, update)?;
        }
        self.orbit_count = self.orbit_count.wrapping_add(1);
        f.count.post(&self.orbit_count, update)?;
        Ok(())
    }
}

/// Re-posts the BPM vectors at the diagnostics rate.
pub async fn bpm_cadence(bpm: Arc<Mutex<BpmPublisher>>, rate_hz: f64) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate_hz));
    loop {
        ticks.tick().await;
        bpm.lock().map_err(|_| anyhow::anyhow!("BPM publisher poisoned"))?.publish(SystemTime::now())?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bdata_scaling_and_layout() {
        assert_eq!(counts(10e-3), i16::MAX); // clamps at +10 mm
        assert_eq!(counts(-10e-3), i16::MIN);
        assert_eq!(counts(1e-3), 3277); // 1 mm = 3276.8 counts
        let mut readings = vec![None; BPM_SLOTS];
        readings[5] = Some(Reading { x_m: 1e-3, y_m: -2e-3 });
        let v = pack_bdata(&readings, -1.0, 3000, 0);
        assert_eq!(v.len(), 2048);
        assert_eq!(v[5], -3277); // newer electronics: bdata[slot] = -x
        assert_eq!(v[BPM_SLOTS + 5], -6554);
        assert_eq!(v[4 * BPM_SLOTS + 5], STATUS_OK);
        assert_eq!(v[4 * BPM_SLOTS + 4], 0); // an empty slot
        assert!(v[1024..].iter().all(|&c| c == 0));
    }
}
