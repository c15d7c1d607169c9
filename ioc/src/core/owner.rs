//! The core's loop on its own thread: batches of commands, one recompute
//! per batch, acknowledgements after publication, the multiplexer's relay
//! time, and the BBA service one step at a time between client writes.
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, channel};
use std::time::Instant;

use anyhow::Context;
use tokio::sync::mpsc::UnboundedSender;

use super::ack::{Ack, Barrier, Refusal};
use super::bba::{BbaService, Procedure};
use super::beam::Beam;
use super::journal::Journal;
use super::model::{Model, ModelParts};
use super::snapshot::Noise;
use super::state::{Applied, MachineState, Rules};
use super::{Command, CoreHandle, Input, Request};
use crate::config::Config;
use crate::machine::{FollowPlan, Machine, QuadId, Setpoint};

/// What the core starts from.
pub struct Start<'a> {
    pub machine: &'a Machine,
    pub config: &'a Config,
    /// Values restored from the store (not journaled again).
    pub restored: &'a [(Setpoint, f64)],
    /// New state made at start-up (journaled).
    pub generated: &'a [(Setpoint, f64)],
    pub journal: Option<UnboundedSender<Journal>>,
}

/// A multiplexer switch between quads waiting for its relays.
struct Switch {
    quad: QuadId,
    due: Instant,
    acks: Vec<Ack>,
}

pub struct Core {
    model: Model,
    bba: BbaService,
    commands: Receiver<Command>,
    barrier: Arc<Barrier>,
    switch: Option<Switch>,
}

impl Core {
    /// The core with its first computation; nothing runs yet.
    pub fn new(start: Start<'_>) -> anyhow::Result<(Self, CoreHandle)> {
        let Start { machine, config, restored, generated, journal } = start;
        let noise = Noise { on: config.diagnostics.noise, rms_um: config.diagnostics.noise_rms_m * 1e6 };
        let rules = Rules::new(&machine.profile, Arc::clone(&machine.catalogue));
        let schema = Arc::clone(&machine.schema);
        let mut state = MachineState::new(machine.lattice.clone(), schema, rules, noise, config.beam.topup);
        for (sp, v) in restored {
            state.apply(*sp, *v).map_err(|e| anyhow::anyhow!("restored setpoint refused: {e}"))?;
        }
        let parts = ModelParts {
            state,
            catalogue: Arc::clone(&machine.catalogue),
            journal,
            beam: Beam::new(config.beam.clone()),
            noise_seed: config.diagnostics.seed,
            topup: machine.profile.topup.clone(),
            followed: if config.shadow.enabled() {
                FollowPlan::new(&machine.schema, &machine.profile, &config.shadow).setpoints()
            } else {
                Default::default()
            },
        };
        let (mut model, snapshots) = Model::new(parts);
        for (sp, v) in generated {
            model
                .apply(*sp, &Input::Number(*v))
                .map_err(|e| anyhow::anyhow!("generated setpoint refused: {}", e.reason))?;
        }
        if !generated.is_empty() {
            model.recompute(0);
        }
        model.start_envelope().context("the envelope worker thread")?;
        let mux = machine.profile.multiplexer.as_ref();
        let procedure = Procedure {
            steps_a: mux.map(|m| m.bba_steps_a.clone()).unwrap_or_default(),
            readings_per_step: mux.map_or(0, |m| m.bba_readings_per_step),
            turns_ratio: mux.map_or(0.0, |m| m.turns_ratio),
            sigma_coverage: mux.map_or(1.0, |m| m.bba_sigma_coverage),
        };
        let bba = BbaService::new(Arc::clone(&machine.schema), procedure);
        let (tx, commands) = channel();
        let barrier = Barrier::new();
        let handle = CoreHandle { commands: tx, snapshots, barrier: Arc::clone(&barrier) };
        Ok((Self { model, bba, commands, barrier, switch: None }, handle))
    }

    /// The value every setpoint's record starts from (the IOC's pass 0).
    pub fn initial_values(&self) -> Vec<(Setpoint, f64)> {
        self.model.values()
    }

    /// Runs the loop on its own thread until every command sender is gone.
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<anyhow::Result<()>>> {
        std::thread::Builder::new().name("twin-core".into()).spawn(move || self.run())
    }

    fn run(mut self) -> anyhow::Result<()> {
        loop {
            let first = match self.next_command() {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            if let Some(first) = first {
                let mut batch = vec![first];
                while let Ok(c) = self.commands.try_recv() {
                    batch.push(c);
                }
                self.handle(batch);
            }
            if self.switch.as_ref().is_some_and(|s| s.due <= Instant::now()) {
                self.finish_switch();
            }
            if self.bba.running() {
                self.bba.tick(&mut self.model)?;
                self.model.publish_if_dirty();
            }
        }
    }

    /// The next command: at once while BBA runs, until a pending switch is
    /// due, else whenever one comes.
    fn next_command(&self) -> Result<Command, RecvTimeoutError> {
        if self.bba.running() {
            return self.commands.try_recv().map_err(|e| match e {
                TryRecvError::Empty => RecvTimeoutError::Timeout,
                TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            });
        }
        match &self.switch {
            Some(s) => self.commands.recv_timeout(s.due.saturating_duration_since(Instant::now())),
            None => self.commands.recv().map_err(|_| RecvTimeoutError::Disconnected),
        }
    }

    /// Applies a batch: one recompute if anything changed, acknowledgements
    /// once the publishers have shown the result.
    pub(super) fn handle(&mut self, batch: Vec<Command>) {
        let mut acks: Vec<Ack> = Vec::with_capacity(batch.len());
        let mut changed = 0;
        for command in batch {
            let (request, input, ack) = match command {
                Command::Tick => {
                    self.model.tick();
                    continue;
                }
                Command::Batch { writes, ack } => {
                    changed += self.apply_batch(writes, ack, &mut acks);
                    continue;
                }
                Command::Follow { writes, ack } => {
                    let (n, refused) = self.model.apply_followed(&writes);
                    changed += n;
                    match refused.is_empty() {
                        true => acks.push(ack),
                        false => ack.refuse(Refusal { reason: refused.join("; "), restore: None }),
                    }
                    continue;
                }
                Command::Write { request, input, ack } => (request, input, ack),
            };
            match request {
                Request::Set(setpoint) => match self.model.apply(setpoint, &input) {
                    Ok(Applied::Changed) => {
                        changed += 1;
                        acks.push(ack);
                    }
                    // e.g. the record processed with its current value
                    Ok(Applied::Unchanged) => acks.push(ack),
                    Ok(Applied::Switching) => {
                        changed += 1;
                        self.hold_for_switch(ack);
                    }
                    Err(refusal) => ack.refuse(refusal),
                },
                // a command acts on a non-zero value; 0 is its idle state
                Request::Bba(_) if input == Input::Number(0.0) => acks.push(ack),
                Request::Bba(cmd) => match self.bba.command(cmd, &mut self.model) {
                    Ok(()) => acks.push(ack),
                    Err(reason) => ack.refuse(Refusal { reason, restore: Some(0.0) }),
                },
            }
        }
        self.settle_switch();
        if changed > 0 {
            self.model.count_writes(changed);
            self.model.recompute(changed);
        }
        self.model.publish_if_dirty();
        self.barrier.after(self.model.seq(), acks);
    }

    /// All of a batch or none of it; returns how many writes changed the
    /// machine.
    fn apply_batch(&mut self, writes: Vec<(Setpoint, f64)>, ack: Ack, acks: &mut Vec<Ack>) -> i32 {
        let (changed, result) = self.model.apply_batch(&writes);
        match result {
            Ok(()) => acks.push(ack),
            Err(refusal) => ack.refuse(refusal),
        }
        changed
    }

    /// A write that started a switch completes when the new quad is on.
    fn hold_for_switch(&mut self, ack: Ack) {
        let quad = self.model.switching_to();
        let due = Instant::now() + self.model.relay_time();
        match (&mut self.switch, quad) {
            (Some(s), Some(q)) if s.quad == q => s.acks.push(ack),
            (_, Some(quad)) => {
                self.settle_switch();
                self.switch = Some(Switch { quad, due, acks: vec![ack] });
            }
            (_, None) => ack.succeed(),
        }
    }

    /// A later write cancelled or replaced the pending switch: its writes fail.
    fn settle_switch(&mut self) {
        let Some(s) = &self.switch else { return };
        if self.model.switching_to() == Some(s.quad) {
            return;
        }
        if let Some(s) = self.switch.take() {
            let refusal = Refusal { reason: "the switch was cancelled by a later write".into(), restore: Some(0.0) };
            s.acks.into_iter().for_each(|a| a.refuse(refusal.clone()));
        }
    }

    /// The relays of the pending switch close: the new quad is on.
    fn finish_switch(&mut self) {
        let Some(s) = self.switch.take() else { return };
        match self.model.finish_switch() {
            Ok(Applied::Unchanged) => self.barrier.after(self.model.seq(), s.acks),
            Ok(_) => {
                self.model.recompute(0);
                self.barrier.after(self.model.seq(), s.acks);
            }
            Err(reason) => {
                let refusal = Refusal { reason: format!("switch aborted: {reason}"), restore: Some(0.0) };
                s.acks.into_iter().for_each(|a| a.refuse(refusal.clone()));
                self.model.publish_if_dirty();
            }
        }
    }
}
