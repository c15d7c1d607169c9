//! What one computation shows besides its optics (`optics::OpticsPublisher`)
//! and diagnostics: converter readbacks, cavities and the master clock's
//! readback, tunes, the twin's model PVs, every magnet's strength and
//! current, the multiplexer hardware. Posted once per
//! computation with its one time stamp (the tunes are also re-posted at
//! the diagnostics rate, with that time stamp); an invalid computation
//! shows the last valid values with INVALID/CALC and the reason.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use epics_pvxs_sys::{EnumIndex, Field, Ioc, Update};
use tokio::sync::watch;

use super::magnets::MagnetFields;
use super::mux::MuxFields;
use super::readbacks::Readbacks;
use super::shown;
use super::tunes::TuneFields;
use crate::core::Participant;
use crate::core::physics::Physics;
use crate::core::snapshot::Snapshot;
use crate::core::state::Rules;
use crate::machine::{Machine, Schema};
use crate::names::{self, dt4acc};
use crate::prefix::Prefix;
use crate::records::MODEL_SCALARS;

/// The RF as the machine shows it.
struct RfFields {
    cavities: Vec<Field<f64>>,
    hardware: Option<Field<f64>>,
    rev_freq_khz: Field<f64>,
    harmonic_number: f64,
}

pub struct ModelPublisher {
    readbacks: Readbacks,
    rf: RfFields,
    tunes: TuneFields,
    status: Field<EnumIndex>,
    message: Field<str>,
    found: Field<EnumIndex>,
    counters: [Field<i32>; 3],
    duration_ms: Field<f64>,
    /// In `MODEL_SCALARS` order.
    scalars: Vec<Field<f64>>,
    magnets: MagnetFields,
    mux: Option<MuxFields>,
    schema: Arc<Schema>,
    rules: Rules,
    shown_computation: u64,
}

impl ModelPublisher {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine, readback_settle_s: f64) -> anyhow::Result<Self> {
        let p = &machine.profile;
        let pv = |n: &str| prefix.pv(n);
        let d = |n: &str| ioc.field::<f64>(&pv(n));
        let readbacks = Readbacks::attach(ioc, prefix, machine, readback_settle_s)?;
        let rf = RfFields {
            cavities: p.rf.cavities.iter().map(|c| d(c)).collect::<Result<_, _>>()?,
            hardware: p.rf.hardware_readback.as_deref().map(d).transpose()?,
            rev_freq_khz: d(&dt4acc::rev_freq())?,
            harmonic_number: machine.schema.harmonic_number,
        };
        post_facts(ioc, prefix, machine)?;
        Ok(Self {
            readbacks,
            rf,
            tunes: TuneFields::attach(ioc, prefix, machine)?,
            status: ioc.field(&pv(&names::model("STATUS")))?,
            message: ioc.field(&pv(&names::model("MESSAGE")))?,
            found: ioc.field(&pv(&dt4acc::orbit("found")))?,
            counters: [
                ioc.field(&pv(&names::model("RECOMPUTES")))?,
                ioc.field(&pv(&names::model("WRITES")))?,
                ioc.field(&pv(&names::model("MERGED")))?,
            ],
            duration_ms: d(&names::model("DURATION"))?,
            scalars: MODEL_SCALARS.iter().map(|(n, ..)| d(&names::model(n))).collect::<Result<_, _>>()?,
            magnets: MagnetFields::attach(ioc, prefix, machine)?,
            mux: MuxFields::attach(ioc, prefix, machine)?,
            schema: Arc::clone(&machine.schema),
            rules: Rules::new(&machine.profile, Arc::clone(&machine.catalogue)),
            shown_computation: 0,
        })
    }

    /// Posts every computation until the core stops; re-posts the tunes at
    /// `rate_hz`.
    pub async fn run(
        mut self,
        mut snapshots: watch::Receiver<Arc<Snapshot>>,
        participant: Participant,
        rate_hz: f64,
    ) -> anyhow::Result<()> {
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate_hz));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let snap = snapshots.borrow_and_update().clone();
            if snap.computation != self.shown_computation {
                self.publish(&snap)?;
                self.shown_computation = snap.computation;
            }
            participant.published(snap.seq);
            loop {
                tokio::select! {
                    changed = snapshots.changed() => {
                        changed.context("the model core stopped")?;
                        break;
                    }
                    _ = ticks.tick() => {
                        let snap = snapshots.borrow().clone();
                        self.measure_tunes(&snap)?;
                    }
                }
            }
        }
    }

    fn measure_tunes(&mut self, snap: &Snapshot) -> anyhow::Result<()> {
        match &snap.last_valid {
            Some(p) => self.tunes.post(p, snap.settings.rf_khz, &shown(snap)),
            None => Ok(()),
        }
    }

    fn publish(&mut self, snap: &Snapshot) -> anyhow::Result<()> {
        let ok = Update::at(snap.time);
        self.readbacks.post(&snap.settings, &ok)?;
        self.post_rf(snap.settings.rf_khz, &ok)?;
        let s = snap.stats;
        for (f, v) in self.counters.iter().zip([s.recomputes, s.writes, s.merged]) {
            f.post(&v, &ok)?;
        }
        self.duration_ms.post(&(s.duration.as_secs_f64() * 1e3), &ok)?;
        self.magnets.post(&snap.settings, &self.schema, &self.rules, &ok)?;
        if let Some(mux) = &mut self.mux {
            mux.post(&snap.settings, &ok)?;
        }
        let shown = shown(snap);
        let (status, message) = snap.status();
        self.status.post(&EnumIndex(status as u16), &shown)?;
        self.message.post(message, &shown)?;
        self.found.post(&EnumIndex(u16::from(snap.model.is_ok())), &shown)?;
        match &snap.last_valid {
            Some(p) => self.post_physics(p, snap.settings.rf_khz, &shown),
            None => Ok(()),
        }
    }

    fn post_rf(&self, rf_khz: f64, update: &Update) -> anyhow::Result<()> {
        for c in &self.rf.cavities {
            c.post(&rf_khz, update)?;
        }
        if let Some(hw) = &self.rf.hardware {
            // the summed offset is 0 in the twin
            hw.post(&rf_khz, update)?;
        }
        self.rf.rev_freq_khz.post(&(rf_khz / self.rf.harmonic_number), update)?;
        Ok(())
    }

    fn post_physics(&mut self, p: &Physics, rf_khz: f64, update: &Update) -> anyhow::Result<()> {
        self.tunes.post(p, rf_khz, update)?;
        let total = p.optics.tunes_total();
        let values = [
            total[0],
            total[1],
            p.tunes[2],
            p.chromaticity[0],
            p.chromaticity[1],
            p.optics.momentum_compaction,
            p.radiation.emittance_m * 1e9,
            p.radiation.energy_loss_ev / 1e3,
            p.delta(),
        ];
        for (f, v) in self.scalars.iter().zip(values) {
            f.post(&v, update)?;
        }
        Ok(())
    }
}

/// Facts of the lattice that never change: the earlier twin's RF names,
/// the summed frequency offset (0), the orbit slots' s, top-up's bunches.
fn post_facts(ioc: &Ioc, prefix: &Prefix, machine: &Machine) -> anyhow::Result<()> {
    let now = Update::at(SystemTime::now());
    let pv = |n: &str| prefix.pv(n);
    let rf = machine.schema.design_rf_khz;
    ioc.field::<f64>(&pv(&dt4acc::lattice_info("ref_freq")))?.post(&rf, &now)?;
    ioc.field::<i32>(&pv(&dt4acc::lattice_info("ref_freq:khz:up")))?.post(&(rf.floor() as i32), &now)?;
    ioc.field::<i32>(&pv(&dt4acc::lattice_info("ref_freq:khz:frac")))?
        .post(&((rf.fract() * 1e3).round() as i32), &now)?;
    ioc.field::<i32>(&pv(&dt4acc::rf_buckets()))?.post(&(machine.schema.harmonic_number as i32), &now)?;
    if let Some(off) = &machine.profile.rf.offset {
        ioc.field::<f64>(&pv(off))?.post(&0.0, &now)?;
    }
    if let Some(s) = &machine.profile.orbit.s_positions {
        let values: Vec<f64> = machine.schema.orbit_slots.iter().map(|s| s.s_m).collect();
        ioc.field::<[f64]>(&pv(s))?.post(&values, &now)?;
    }
    if let Some(t) = &machine.profile.topup {
        ioc.field::<i32>(&pv(&t.max_bunches))?.post(&t.max_bunches_value, &now)?;
    }
    Ok(())
}
