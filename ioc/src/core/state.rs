//! The machine state the core holds — the settings and the lattice they
//! set — with validation: a refused write leaves both as they were.
use std::sync::Arc;

use twin_engine::lattice::{Lattice, Misalignment};

use super::snapshot::{Noise, Settings};
use crate::machine::{MagnetKind, PcId, QuadId, Schema, Setpoint};
use crate::profile::Multiplexer;

/// What a valid write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The model must be recomputed.
    Changed,
    /// The value was already in effect (or the command was idle).
    Unchanged,
}

/// The multiplexer's electrical rules.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MuxRules {
    /// Effective main-coil current per ampere of the auxiliary supply.
    pub turns_ratio: f64,
    /// (De)selecting needs |supply| below this [A].
    pub switch_below_a: f64,
}

impl MuxRules {
    pub fn from_profile(m: &Multiplexer) -> Self {
        Self { turns_ratio: m.turns_ratio, switch_below_a: m.switch_below_a }
    }
}

pub struct MachineState {
    pub lattice: Lattice,
    pub schema: Arc<Schema>,
    pub settings: Settings,
    mux_rules: Option<MuxRules>,
}

impl MachineState {
    /// The design state: design currents and RF, no offsets, multiplexer off.
    pub fn new(lattice: Lattice, schema: Arc<Schema>, mux_rules: Option<MuxRules>, noise: Noise) -> Self {
        let settings = Settings {
            currents_a: schema.power_converters.iter().map(|p| p.design_current_a).collect(),
            rf_khz: schema.design_rf_khz,
            offsets_m: vec![[0.0; 2]; schema.quads.len()],
            mux: None,
            aux_a: 0.0,
            noise,
        };
        Self { lattice, schema, settings, mux_rules }
    }

    /// The value a setpoint's record shows for the current state (its unit).
    pub fn value(&self, setpoint: Setpoint) -> f64 {
        let s = &self.settings;
        match setpoint {
            Setpoint::PcCurrent(id) => s.currents_a[id.0],
            Setpoint::MasterClock => s.rf_khz,
            Setpoint::QuadOffset(q, p) => s.offsets_m[q.0][p.index()],
            Setpoint::MuxSelect(q) => f64::from(u8::from(s.mux == Some(q))),
            Setpoint::MuxOff => 0.0,
            Setpoint::AuxCurrent => s.aux_a,
            Setpoint::BpmNoise => f64::from(u8::from(s.noise.on)),
            Setpoint::BpmNoiseRms => s.noise.rms_m * 1e6,
        }
    }

    /// Validates and commits one write; the error is what the client sees.
    /// A refused write changes nothing.
    pub fn apply(&mut self, setpoint: Setpoint, value: f64) -> Result<Applied, String> {
        if !value.is_finite() {
            return Err(format!("{value} is not a finite number"));
        }
        if setpoint != Setpoint::MuxOff && value == self.value(setpoint) {
            return Ok(Applied::Unchanged);
        }
        let old = self.value(setpoint);
        let old_mux = self.settings.mux;
        match self.commit(setpoint, value) {
            Ok(applied) => Ok(applied),
            Err(reason) => {
                // put back what a partial commit changed (the old values were valid)
                self.settings.mux = old_mux;
                self.commit(setpoint, old).map_err(|e| format!("{reason}; restoring failed too: {e}"))?;
                Err(reason)
            }
        }
    }

    fn commit(&mut self, setpoint: Setpoint, v: f64) -> Result<Applied, String> {
        match setpoint {
            Setpoint::PcCurrent(id) => {
                self.settings.currents_a[id.0] = v;
                self.drive_pc(id)?;
            }
            Setpoint::MasterClock if v > 0.0 => {
                self.lattice.set_rf_frequency_hz(v * 1e3).map_err(|e| e.to_string())?;
                self.settings.rf_khz = v;
            }
            Setpoint::MasterClock => return Err(format!("RF frequency {v} kHz is not positive")),
            Setpoint::QuadOffset(q, plane) => {
                let mut o = self.settings.offsets_m[q.0];
                o[plane.index()] = v;
                let m = Misalignment { dx_m: o[0], dy_m: o[1], roll_rad: 0.0 };
                self.lattice.set_misalignment(self.schema.quad_element(q), m).map_err(|e| e.to_string())?;
                self.settings.offsets_m[q.0] = o;
            }
            Setpoint::MuxSelect(q) => return self.select(if v != 0.0 { Some(q) } else { None }, Some(q)),
            Setpoint::MuxOff if v != 0.0 => return self.select(None, None),
            Setpoint::MuxOff => return Ok(Applied::Unchanged),
            Setpoint::AuxCurrent => {
                self.settings.aux_a = v;
                if let Some(q) = self.settings.mux {
                    self.drive_pc(self.schema.quad(q).pc)?;
                }
            }
            Setpoint::BpmNoise => self.settings.noise.on = v != 0.0,
            Setpoint::BpmNoiseRms if v >= 0.0 => self.settings.noise.rms_m = v * 1e-6,
            Setpoint::BpmNoiseRms => return Err(format!("noise rms {v} um is negative")),
        }
        Ok(Applied::Changed)
    }

    /// Multiplexer switching: refused unless the auxiliary supply is at 0.
    /// `which` limits a deselection to that quad (writing 0 to another
    /// quad's switch changes nothing).
    fn select(&mut self, new: Option<QuadId>, which: Option<QuadId>) -> Result<Applied, String> {
        let Some(rules) = self.mux_rules else { return Err("this machine has no multiplexer".into()) };
        if new.is_none() && which.is_some() && self.settings.mux != which {
            return Ok(Applied::Unchanged);
        }
        if self.settings.aux_a.abs() >= rules.switch_below_a {
            return Err(format!("aux supply at {:.3} A: set it to 0 first", self.settings.aux_a));
        }
        let old = self.settings.mux;
        self.settings.mux = new;
        for q in [old, new].into_iter().flatten() {
            self.drive_pc(self.schema.quad(q).pc)?;
        }
        Ok(if old == new { Applied::Unchanged } else { Applied::Changed })
    }

    /// Sets the strengths of all magnets of a converter from its current
    /// (plus the auxiliary current on the selected quad).
    fn drive_pc(&mut self, id: PcId) -> Result<(), String> {
        let pc = self.schema.pc(id);
        let brho = self.schema.rigidity_tm;
        let selected = self.settings.mux.map(|q| self.schema.quad(q)).filter(|q| q.pc == id).map(|q| q.magnet);
        let ratio = self.mux_rules.map_or(0.0, |r| r.turns_ratio);
        for (k, m) in pc.magnets.iter().enumerate() {
            let extra = if selected == Some(k) { self.settings.aux_a * ratio } else { 0.0 };
            let s = m.strength(self.settings.currents_a[id.0] + extra, brho);
            let r = match m.kind {
                MagnetKind::Quadrupole => self.lattice.set_polynom_b(m.element, 1, s),
                MagnetKind::Sextupole => self.lattice.set_polynom_b(m.element, 2, s),
                MagnetKind::Steerer(plane) => self.lattice.set_kick_rad(m.element, plane, s),
            };
            r.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
