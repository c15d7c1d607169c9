//! RF cavity (AT `RFCavityPass`): drift, longitudinal kick, drift.
use std::f64::consts::TAU;

use crate::constants::SPEED_OF_LIGHT_M_PER_S;
use crate::coords::{CT, Coords, DELTA};
use crate::lattice::Cavity;
use crate::real::Real;

use super::drift::drift;

/// Revolution bookkeeping for multi-turn tracking with an RF frequency that
/// is not exactly h / T0.
#[derive(Clone, Copy, Debug, Default)]
pub struct TurnClock {
    /// Turn number (0 for closed-orbit searches).
    pub turn: u64,
    /// Revolution period of the reference particle, C / c [s].
    pub t0_s: f64,
}

/// Tracks through a cavity with beam energy `energy_ev`.
pub fn cavity<R: Real>(r: &mut Coords<R>, cav: &Cavity, energy_ev: f64, clock: TurnClock) {
    let nv = cav.voltage_v / energy_ev;
    let f = cav.frequency_hz;
    let turn_phase = (cav.harmonic_number / f - clock.t0_s) * clock.turn as f64;
    let kick = |r: &mut Coords<R>| {
        let phase = ((r[CT] - cav.time_lag_m) / SPEED_OF_LIGHT_M_PER_S - turn_phase) * (TAU * f);
        r[DELTA] -= phase.sin() * nv;
    };
    if cav.length_m == 0.0 {
        kick(r);
    } else {
        drift(r, cav.length_m / 2.0);
        kick(r);
        drift(r, cav.length_m / 2.0);
    }
}
