//! The single owner of the model state: applies writes, recomputes,
//! publishes, completes (see the policy in `twin/mod.rs`), and runs the BBA
//! service one step at a time between client writes.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use epics_pvxs_sys::{Completion, EnumIndex, Update, WriteValue};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::mpsc::error::TryRecvError;

use super::bba_publish::{BbaPublisher, BbaStatus};
use super::bba_run::BbaRun;
use super::bpm::BpmPublisher;
use super::compute::{Invalid, Physics, compute};
use super::publish::Publisher;
use super::service::{setpoint_name, setpoint_unit};
use super::setpoint_records::SetpointRecords;
use super::state::{Applied, MachineState};
use super::{BbaCommand, ModelTarget, ModelWrite, Setpoint};
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

/// Handles the owner publishes and persists through.
pub struct Outputs {
    pub publisher: Publisher,
    pub records: SetpointRecords,
    pub bba: BbaPublisher,
    pub bpm: Arc<Mutex<BpmPublisher>>,
    pub persist: Option<PersistSender>,
}

pub struct Owner {
    pub(super) state: MachineState,
    pub(super) out: Outputs,
    pub(super) latest: Option<Arc<Physics>>,
    pub(super) run: Option<BbaRun>,
    pub(super) abort: Arc<AtomicBool>,
    /// Quad centres found by BBA so far (the analyst's knowledge).
    pub(super) estimates: Vec<Option<[f64; 2]>>,
    stats: Stats,
}

impl Owner {
    /// The owner with the design state, then `restored` setpoints applied,
    /// then `generated` ones (new state: applied and persisted).
    pub fn new(
        state: MachineState,
        out: Outputs,
        abort: Arc<AtomicBool>,
        restored: &[(Setpoint, f64)],
        generated: &[(Setpoint, f64)],
    ) -> Result<Self, String> {
        let estimates = vec![None; state.schema.quads.len()];
        let mut owner = Self { state, out, latest: None, run: None, abort, estimates, stats: Stats::default() };
        for (sp, v) in restored.iter().chain(generated) {
            owner.state.apply(*sp, &WriteValue::Double(*v))?;
        }
        for (sp, _) in generated {
            owner.persist(*sp).map_err(|e| e.to_string())?;
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
        loop {
            let first = if self.run.is_some() {
                match writes.try_recv() {
                    Ok(w) => Some(w),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return Ok(()),
                }
            } else {
                match writes.blocking_recv() {
                    Some(w) => Some(w),
                    None => return Ok(()),
                }
            };
            if let Some(first) = first {
                let mut batch = vec![first];
                while let Ok(w) = writes.try_recv() {
                    batch.push(w);
                }
                self.handle(batch)?;
            }
            if self.run.is_some() {
                self.bba_tick()?;
            }
        }
    }

    fn handle(&mut self, batch: Vec<ModelWrite>) -> anyhow::Result<()> {
        let mut accepted: Vec<Completion> = Vec::with_capacity(batch.len());
        let mut changed = 0;
        for w in batch {
            let setpoint = match w.target {
                ModelTarget::Setpoint(sp) => sp,
                // a command acts on 1 ("Run", "Abort", "Clear"); 0 is its idle state
                ModelTarget::Bba(_) if !is_trigger(&w.value) => {
                    w.completion.succeed();
                    continue;
                }
                ModelTarget::Bba(cmd) => {
                    match self.bba_command(cmd) {
                        Ok(()) => w.completion.succeed(),
                        Err(reason) => w.completion.fail(&reason),
                    }
                    continue;
                }
            };
            match self.state.apply(setpoint, &w.value) {
                Ok(Applied::Changed) => {
                    changed += 1;
                    self.persist(setpoint)?;
                    accepted.push(w.completion);
                }
                // the record was processed with its current value (e.g. a
                // refused string put): nothing to recompute
                Ok(Applied::Unchanged) => accepted.push(w.completion),
                Err(reason) => {
                    let good = self.state.value(setpoint);
                    self.out.records.restore(setpoint, good).context("restoring a refused setpoint")?;
                    w.completion.fail(&reason);
                }
            }
        }
        if changed > 0 {
            self.stats.writes = self.stats.writes.wrapping_add(changed);
            self.recompute_and_publish(changed)?;
        }
        accepted.into_iter().for_each(Completion::succeed);
        Ok(())
    }

    /// Hands an accepted setpoint to the persister (never blocks). The
    /// multiplexer and the auxiliary supply are not persisted: they start
    /// off, as after a power cycle.
    fn persist(&self, setpoint: Setpoint) -> anyhow::Result<()> {
        let Some(tx) = &self.out.persist else { return Ok(()) };
        if matches!(setpoint, Setpoint::MuxSelect(_) | Setpoint::MuxOff | Setpoint::AuxCurrent) {
            return Ok(());
        }
        let item = PersistItem {
            name: setpoint_name(&self.state.schema, setpoint),
            value: self.state.value(setpoint),
            unit: setpoint_unit(setpoint),
            at: SystemTime::now(),
        };
        tx.send(PersistMsg::Item(item)).map_err(|_| anyhow::anyhow!("the persister stopped"))
    }

    fn bba_command(&mut self, cmd: BbaCommand) -> Result<(), String> {
        match cmd {
            BbaCommand::Abort => {
                if self.run.is_some() {
                    self.abort.store(true, Ordering::SeqCst);
                }
                Ok(())
            }
            _ if self.run.is_some() => Err("a BBA run is already in progress".into()),
            BbaCommand::Run(q) => self.start_run(vec![q]),
            BbaCommand::RunAll => {
                let all = self.state.schema.quads.iter().filter(|q| q.on_multiplexer).map(|q| q.id).collect();
                self.start_run(all)
            }
            BbaCommand::Clear => self.clear_results().map_err(|e| e.to_string()),
        }
    }

    /// Forgets the centres found so far (the analyst's model returns to
    /// the nominal quad positions) and clears the published results.
    fn clear_results(&mut self) -> anyhow::Result<()> {
        self.estimates.iter_mut().for_each(|e| *e = None);
        for q in 0..self.estimates.len() {
            self.out.bba.post_result(crate::machine::QuadId(q), None, None)?;
        }
        self.out.bba.post_status(BbaStatus::Idle, "results cleared", "", 0.0, 0.0)
    }

    fn start_run(&mut self, quads: Vec<crate::machine::QuadId>) -> Result<(), String> {
        self.abort.store(false, Ordering::SeqCst);
        self.run = BbaRun::new(quads);
        let name = self.run.as_ref().map(|r| self.current_name(r)).unwrap_or_default();
        self.out.bba.post_status(BbaStatus::Running, "", &name, 0.0, 0.0).map_err(|e| e.to_string())
    }

    pub(super) fn recompute_and_publish(&mut self, merged: i32) -> anyhow::Result<()> {
        let (physics, duration) = compute(&self.state.lattice);
        self.stats.recomputes = self.stats.recomputes.wrapping_add(1);
        self.stats.merged = merged;
        self.stats.duration = duration;
        let snap = Snapshot {
            time: SystemTime::now(),
            physics: physics.map(Arc::new),
            currents_a: self.state.currents_a.clone(),
            rf_khz: self.state.rf_khz,
            stats: self.stats,
        };
        if let Err(invalid) = &snap.physics {
            tracing::warn!(reason = invalid.message(), "model invalid");
        }
        self.latest = snap.physics.as_ref().ok().cloned();
        self.out.publisher.publish(&snap)?;
        self.out.bba.post_hardware(&self.state, &Update::at(snap.time))?;
        let mut bpm = self.out.bpm.lock().map_err(|_| anyhow::anyhow!("BPM publisher poisoned"))?;
        bpm.set_model(snap.physics.clone().map_err(|e| e.message().to_string()));
        bpm.publish(snap.time)
    }
}

/// Whether a command write asks for the action (any non-zero value).
fn is_trigger(value: &WriteValue) -> bool {
    match value {
        WriteValue::Double(v) => *v != 0.0,
        WriteValue::Long(v) => *v != 0,
        WriteValue::Enum(EnumIndex(v)) => *v != 0,
        WriteValue::Text(_) | WriteValue::DoubleArray(_) => true,
    }
}
