//! The model core: the single owner of the machine state. It takes every
//! write through one path — validate → commit → (refused: the record gets
//! its last good value back) → recompute once per batch → publish one
//! immutable [`Snapshot`] on a watch channel → acknowledge the writes once
//! the publishers have posted it. Every reader subscribes to the channel;
//! nobody else holds physics. Accepted writes go to the store as a
//! [`Journal`].
//!
//! Recompute policy ("latest wins, one in flight"): the core takes all
//! writes that are queued, applies them in arrival order (the latest value
//! of a setpoint wins), recomputes once, publishes with one time stamp.
//! Writes arriving meanwhile wait and make exactly one more recompute; the
//! number merged is `Stats::merged`.
pub mod ack;
pub mod alignment;
pub mod bba;
mod beam;
pub mod bpm;
pub mod envelope;
pub mod errors;
pub mod journal;
mod model;
mod owner;
pub mod physics;
pub mod snapshot;
pub mod sofb;
pub mod state;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use tokio::sync::watch;

pub use ack::{Ack, Barrier, Participant, Refusal};
pub use bba::BbaCommand;
pub use journal::Journal;
pub use owner::{Core, Start};
pub use snapshot::Snapshot;

use crate::machine::Setpoint;

/// What a client wrote, as the record handed it over.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Number(f64),
    /// Anything else (a string, an array): never a valid setpoint value.
    Other(String),
}

/// What a write asks of the core.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Request {
    Set(Setpoint),
    Bba(BbaCommand),
}

/// A message to the core.
#[derive(Debug)]
pub enum Command {
    /// A client's write and the acknowledgement it waits for.
    Write { request: Request, input: Input, ack: Ack },
    /// Writes that are not a record's (the HTTP API): validated together,
    /// all applied or none, one recompute; their records are updated by
    /// the output mirror. The one acknowledgement answers for all.
    Batch { writes: Vec<(Setpoint, f64)>, ack: Ack },
    /// Values the shadow follower took from the source machine: each
    /// applied on its own (refusals named in the one answer), one
    /// recompute with whatever else is queued; their records are updated
    /// by the output mirror. Answered after publication.
    Follow { writes: Vec<(Setpoint, f64)>, ack: Ack },
    /// The clock: the beam advances.
    Tick,
}

/// The core's inputs and outputs, for everything that talks to it.
#[derive(Clone)]
pub struct CoreHandle {
    /// Never blocks: the channel is unbounded.
    pub commands: std::sync::mpsc::Sender<Command>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub barrier: Arc<Barrier>,
}
