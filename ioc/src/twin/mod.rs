//! The twin: BESSY II's PVs backed by the engine.
//!
//! Recompute policy ("latest wins, one in flight"): every write to a
//! machine setpoint goes to the single owner of the model state
//! (`owner.rs`) through a channel. The owner takes all writes that are
//! queued, validates each (a rejected one restores the record's last good
//! value and fails its put), commits the accepted ones in arrival order (so
//! the latest value of a setpoint wins), recomputes once, publishes every
//! PV of that computation with one time stamp, and only then completes the
//! puts. Writes that arrive during a recompute wait in the channel and are
//! merged into exactly one more recompute. No write is dropped; the number
//! merged into the last recompute is `$(P)TWIN:MODEL:MERGED`.
pub mod alignment;
pub mod bba_publish;
pub mod bba_run;
mod bba_tick;
pub mod beam;
pub mod bpm;
pub mod compute;
pub mod owner;
pub mod publish;
pub mod service;
pub mod setpoint_records;
pub mod state;

use epics_pvxs_sys::{Completion, WriteValue};

use twin_engine::lattice::Plane;

use crate::machine::{PcId, QuadId};

/// A machine setpoint the model depends on, resolved once at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setpoint {
    /// `<PC>:set` [A]
    PcCurrent(PcId),
    /// `MCLKHX251C:freq` [kHz]
    MasterClock,
    /// `$(P)TWIN:<QUAD>:x:set`, `:y:set` [m] (hidden offsets)
    QuadOffset(QuadId, Plane),
    /// `PMUXZR:<QUAD>` (bo)
    MuxSelect(QuadId),
    /// `PMUXZR:off` (bo)
    MuxOff,
    /// `QSPAZR:set` [A]
    AuxCurrent,
}

/// Commands to the BBA service (run by the model owner).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BbaCommand {
    /// `$(P)TWIN:BBA:<QUAD>:run`
    Run(QuadId),
    /// `$(P)TWIN:BBA:runAll`
    RunAll,
    /// `$(P)TWIN:BBA:abort`
    Abort,
    /// `$(P)TWIN:BBA:clear`: forget the centres found so far.
    Clear,
}

/// What a routed write asks of the model owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelTarget {
    Setpoint(Setpoint),
    Bba(BbaCommand),
}

/// One write on its way to the model owner.
#[derive(Debug)]
pub struct ModelWrite {
    pub target: ModelTarget,
    pub value: WriteValue,
    pub completion: Completion,
}

/// Settings of the BPM read-out (not part of the model).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiagnosticsSetting {
    /// `$(P)TWIN:BPM:NOISE` (bo)
    NoiseEnable,
    /// `$(P)TWIN:BPM:NOISE_RMS` [µm]
    NoiseRms,
}
