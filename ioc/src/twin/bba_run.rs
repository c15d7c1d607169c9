//! A BBA measurement as done at BESSY II, run by the model owner one step
//! at a time (writes from clients interleave): select the quad with the
//! auxiliary supply at 0, step the supply through [0, −2, 0, +2, 0] A,
//! take 3 orbit readings per step (the first after a step is discarded),
//! then supply to 0, multiplexer off, fit. The state is restored also on
//! abort or error.
use std::collections::VecDeque;
use std::time::Instant;

use twin_engine::bba::Step;

use crate::machine::QuadId;

/// Auxiliary-supply currents of one measurement [A].
pub const STEPS_A: [f64; 5] = [0.0, -2.0, 0.0, 2.0, 0.0];
/// Orbit readings per step; the first is discarded.
pub const READINGS_PER_STEP: usize = 3;

/// Passes of refitting a multi-quad run: each quad again, with the centres
/// of the others from the previous pass in the analyst's model (their
/// offset kicks are then known between the BPMs around a quad).
pub const REFIT_PASSES: usize = 2;

/// Where a measurement stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    Select(QuadId),
    Step {
        quad: QuadId,
        index: usize,
        x: Vec<Step>,
        y: Vec<Step>,
    },
    Finish {
        quad: QuadId,
        x: Vec<Step>,
        y: Vec<Step>,
    },
    /// Refit quad `index` of `measured` in pass `pass` (from 1).
    Refit {
        pass: usize,
        index: usize,
    },
}

/// Raw data of one measured quad, kept for the refit passes.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub quad: QuadId,
    pub x: Vec<Step>,
    pub y: Vec<Step>,
}

/// A run over one or more quads.
#[derive(Clone, Debug)]
pub struct BbaRun {
    pub queue: VecDeque<QuadId>,
    pub total: usize,
    pub done: usize,
    pub failed: usize,
    pub started: Instant,
    pub phase: Phase,
    pub measured: Vec<Measured>,
}

impl BbaRun {
    pub fn new(quads: Vec<QuadId>) -> Option<Self> {
        let mut queue: VecDeque<QuadId> = quads.into();
        let first = queue.pop_front()?;
        Some(Self {
            total: queue.len() + 1,
            queue,
            done: 0,
            failed: 0,
            started: Instant::now(),
            phase: Phase::Select(first),
            measured: Vec::new(),
        })
    }

    /// Fraction done [%] and the estimated time left [s] (measurements;
    /// the refit passes of a multi-quad run show as the last per cent).
    pub fn progress(&self) -> (f64, f64) {
        let pct = 99.0 * self.done as f64 / self.total as f64;
        let eta = if self.done == 0 {
            0.0
        } else {
            self.started.elapsed().as_secs_f64() / self.done as f64 * (self.total - self.done) as f64
        };
        (pct, eta)
    }
}
