//! The core's loop on its own thread: batches of commands, one recompute
//! per batch, acknowledgements after publication, and the BBA service one
//! step at a time between client writes.
use std::sync::Arc;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::ack::{Ack, Barrier};
use super::bba::{BbaService, Procedure};
use super::beam::Beam;
use super::journal::Journal;
use super::model::{Model, ModelParts};
use super::snapshot::Noise;
use super::state::{Applied, MachineState, MuxRules};
use super::{Command, CoreHandle, Input, Request};
use crate::config::Config;
use crate::machine::{Machine, Setpoint};

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

pub struct Core {
    model: Model,
    bba: BbaService,
    commands: UnboundedReceiver<Command>,
    barrier: Arc<Barrier>,
}

impl Core {
    /// The core with its first computation; nothing runs yet.
    pub fn new(start: Start<'_>) -> anyhow::Result<(Self, CoreHandle)> {
        let Start { machine, config, restored, generated, journal } = start;
        let noise = Noise { on: config.diagnostics.noise, rms_m: config.diagnostics.noise_rms_m };
        let mux = machine.profile.multiplexer.as_ref();
        let mut state = MachineState::new(
            machine.lattice.clone(),
            Arc::clone(&machine.schema),
            mux.map(MuxRules::from_profile),
            noise,
        );
        for (sp, v) in restored {
            state.apply(*sp, *v).map_err(|e| anyhow::anyhow!("restored setpoint refused: {e}"))?;
        }
        let parts = ModelParts {
            state,
            catalogue: Arc::clone(&machine.catalogue),
            journal,
            beam: Beam::new(config.beam.clone()),
            noise_seed: config.diagnostics.seed,
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
        let procedure = Procedure {
            steps_a: mux.map(|m| m.bba_steps_a.clone()).unwrap_or_default(),
            readings_per_step: mux.map_or(0, |m| m.bba_readings_per_step),
            turns_ratio: mux.map_or(0.0, |m| m.turns_ratio),
        };
        let bba = BbaService::new(Arc::clone(&machine.schema), procedure);
        let (tx, commands) = unbounded_channel();
        let barrier = Barrier::new();
        let handle = CoreHandle { commands: tx, snapshots, barrier: Arc::clone(&barrier) };
        Ok((Self { model, bba, commands, barrier }, handle))
    }

    /// Runs the loop on its own thread until every command sender is gone.
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<anyhow::Result<()>>> {
        std::thread::Builder::new().name("twin-core".into()).spawn(move || self.run())
    }

    fn run(mut self) -> anyhow::Result<()> {
        loop {
            let first = if self.bba.running() {
                match self.commands.try_recv() {
                    Ok(c) => Some(c),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return Ok(()),
                }
            } else {
                match self.commands.blocking_recv() {
                    Some(c) => Some(c),
                    None => return Ok(()),
                }
            };
            if let Some(first) = first {
                let mut batch = vec![first];
                while let Ok(c) = self.commands.try_recv() {
                    batch.push(c);
                }
                self.handle(batch);
            }
            if self.bba.running() {
                self.bba.tick(&mut self.model)?;
                self.model.publish_if_dirty();
            }
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
                    Err(refusal) => ack.refuse(refusal),
                },
                // a command acts on a non-zero value; 0 is its idle state
                Request::Bba(_) if input == Input::Number(0.0) => acks.push(ack),
                Request::Bba(cmd) => match self.bba.command(cmd, &mut self.model) {
                    Ok(()) => acks.push(ack),
                    Err(reason) => ack.refuse(super::Refusal { reason, restore: Some(0.0) }),
                },
            }
        }
        if changed > 0 {
            self.model.count_writes(changed);
            self.model.recompute(changed);
        }
        self.model.publish_if_dirty();
        self.barrier.after(self.model.seq(), acks);
    }
}
