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

/// Where a measurement stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    Select(QuadId),
    Step { quad: QuadId, index: usize, x: Vec<Step>, y: Vec<Step> },
    Finish { quad: QuadId, x: Vec<Step>, y: Vec<Step> },
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
        })
    }

    /// Fraction done [%] and the estimated time left [s].
    pub fn progress(&self) -> (f64, f64) {
        let pct = 100.0 * self.done as f64 / self.total as f64;
        let eta = if self.done == 0 {
            0.0
        } else {
            self.started.elapsed().as_secs_f64() / self.done as f64 * (self.total - self.done) as f64
        };
        (pct, eta)
    }
}
