//! The single owner of the model state: applies writes, recomputes,
//! publishes, completes (see the policy in `twin/mod.rs`).
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use epics_pvxs_sys::{Completion, WriteValue};
use tokio::sync::mpsc::UnboundedReceiver;
use twin_engine::lattice::Lattice;

use super::bpm::BpmPublisher;
use super::compute::{Invalid, Physics, compute};
use super::publish::Publisher;
use super::service::{setpoint_name, setpoint_unit};
use super::{ModelWrite, Setpoint};
use crate::machine::{MagnetKind, PcId, Schema};
use crate::store::persister::{PersistItem, PersistMsg, PersistSender};

/// Counters of the recompute loop.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub recomputes: i32,
    pub writes: i32,
    pub merged: i32,
    pub duration: Duration,
}

/// Everything one computation published (one time stamp).
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub time: SystemTime,
    pub physics: Result<Arc<Physics>, Invalid>,
    pub currents_a: Vec<f64>,
    pub rf_khz: f64,
    pub stats: Stats,
}

/// What a valid write did to the model state.
enum Applied {
    Changed,
    Unchanged,
}

/// The model state and the handles to publish it.
pub struct Owner {
    lattice: Lattice,
    schema: Arc<Schema>,
    currents_a: Vec<f64>,
    rf_khz: f64,
    stats: Stats,
    publisher: Publisher,
    bpm: Arc<Mutex<BpmPublisher>>,
    persist: Option<PersistSender>,
}

impl Owner {
    /// The owner with the design state, then `restored` setpoints applied.
    pub fn new(
        lattice: Lattice,
        schema: Arc<Schema>,
        publisher: Publisher,
        bpm: Arc<Mutex<BpmPublisher>>,
        persist: Option<PersistSender>,
        restored: &[(Setpoint, f64)],
    ) -> Result<Self, String> {
        let currents_a = schema.power_converters.iter().map(|p| p.design_current_a).collect();
        let rf_khz = schema.design_rf_khz;
        let mut owner = Self { lattice, schema, currents_a, rf_khz, stats: Stats::default(), publisher, bpm, persist };
        for (sp, v) in restored {
            owner.apply(*sp, &WriteValue::Double(*v))?;
        }
        Ok(owner)
    }

    /// Runs the loop on its own thread until the write stream closes.
    pub fn spawn(
        self,
        writes: UnboundedReceiver<ModelWrite>,
    ) -> std::io::Result<std::thread::JoinHandle<anyhow::Result<()>>> {
        std::thread::Builder::new().name("twin-model".into()).spawn(move || self.run(writes))
    }

    fn run(mut self, mut writes: UnboundedReceiver<ModelWrite>) -> anyhow::Result<()> {
        self.recompute_and_publish(0)?;
        while let Some(first) = writes.blocking_recv() {
            let mut batch = vec![first];
            while let Ok(w) = writes.try_recv() {
                batch.push(w);
            }
            let mut accepted: Vec<Completion> = Vec::with_capacity(batch.len());
            let mut changed = 0;
            for w in batch {
                match self.apply(w.setpoint, &w.value) {
                    Ok(Applied::Changed) => {
                        changed += 1;
                        self.persist(w.setpoint, &w.value)?;
                        accepted.push(w.completion);
                    }
                    // the record was processed with its current value (e.g. a
                    // refused string put): nothing to recompute
                    Ok(Applied::Unchanged) => accepted.push(w.completion),
                    Err(reason) => {
                        self.restore(w.setpoint).context("restoring a refused setpoint")?;
                        w.completion.fail(&reason);
                    }
                }
            }
            if changed > 0 {
                self.stats.writes = self.stats.writes.wrapping_add(changed);
                self.recompute_and_publish(changed)?;
            }
            accepted.into_iter().for_each(Completion::succeed);
        }
        Ok(())
    }

    /// Validates and commits one write; the error is what the client sees.
    fn apply(&mut self, setpoint: Setpoint, value: &WriteValue) -> Result<Applied, String> {
        let v = match value {
            WriteValue::Double(v) if v.is_finite() => *v,
            WriteValue::Double(v) => return Err(format!("{v} is not a finite number")),
            other => return Err(format!("unexpected value {other:?}")),
        };
        let current = match setpoint {
            Setpoint::PcCurrent(id) => self.currents_a[id.0],
            Setpoint::MasterClock => self.rf_khz,
        };
        if v == current {
            return Ok(Applied::Unchanged);
        }
        match setpoint {
            Setpoint::PcCurrent(id) => self.set_current(id, v)?,
            Setpoint::MasterClock if v > 0.0 => {
                self.lattice.set_rf_frequency_hz(v * 1e3).map_err(|e| e.to_string())?;
                self.rf_khz = v;
            }
            Setpoint::MasterClock => return Err(format!("RF frequency {v} kHz is not positive")),
        }
        Ok(Applied::Changed)
    }

    fn set_current(&mut self, id: PcId, current_a: f64) -> Result<(), String> {
        let pc = self.schema.pc(id);
        let brho = self.schema.rigidity_tm;
        for m in &pc.magnets {
            let s = m.strength(current_a, brho);
            let r = match m.kind {
                MagnetKind::Quadrupole => self.lattice.set_polynom_b(m.element, 1, s),
                MagnetKind::Sextupole => self.lattice.set_polynom_b(m.element, 2, s),
                MagnetKind::Steerer(plane) => self.lattice.set_kick_rad(m.element, plane, s),
            };
            r.map_err(|e| e.to_string())?;
        }
        self.currents_a[id.0] = current_a;
        Ok(())
    }

    /// Hands an accepted write to the persister (never blocks).
    fn persist(&self, setpoint: Setpoint, value: &WriteValue) -> anyhow::Result<()> {
        let (Some(tx), WriteValue::Double(v)) = (&self.persist, value) else { return Ok(()) };
        let item = PersistItem {
            name: setpoint_name(&self.schema, setpoint),
            value: *v,
            unit: setpoint_unit(setpoint),
            at: SystemTime::now(),
        };
        tx.send(PersistMsg::Item(item)).map_err(|_| anyhow::anyhow!("the persister stopped"))
    }

    fn restore(&self, setpoint: Setpoint) -> anyhow::Result<()> {
        match setpoint {
            Setpoint::PcCurrent(id) => self.publisher.restore_pc(id.0, self.currents_a[id.0]),
            Setpoint::MasterClock => self.publisher.restore_master_clock(self.rf_khz),
        }
    }

    fn recompute_and_publish(&mut self, merged: i32) -> anyhow::Result<()> {
        let (physics, duration) = compute(&self.lattice);
        self.stats.recomputes = self.stats.recomputes.wrapping_add(1);
        self.stats.merged = merged;
        self.stats.duration = duration;
        let snap = Snapshot {
            time: SystemTime::now(),
            physics: physics.map(Arc::new),
            currents_a: self.currents_a.clone(),
            rf_khz: self.rf_khz,
            stats: self.stats,
        };
        if let Err(invalid) = &snap.physics {
            tracing::warn!(reason = invalid.message(), "model invalid");
        }
        self.publisher.publish(&snap)?;
        let mut bpm = self.bpm.lock().map_err(|_| anyhow::anyhow!("BPM publisher poisoned"))?;
        bpm.set_model(snap.physics.clone().map_err(|e| e.message().to_string()));
        bpm.publish(snap.time)
    }
}
