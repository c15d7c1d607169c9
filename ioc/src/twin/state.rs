//! The machine state the model owner holds: converter currents, RF,
//! hidden quad offsets, the BBA multiplexer and auxiliary supply, and the
//! lattice they set. Validation lives here: a refused write never touches
//! the lattice.
use std::sync::Arc;

use epics_pvxs_sys::{EnumIndex, WriteValue};
use twin_engine::lattice::{Lattice, Misalignment};

use super::Setpoint;
use crate::machine::{MagnetKind, PcId, QuadId, Schema};

/// Effective main-coil current per ampere of the auxiliary supply when a
/// quad is selected on the multiplexer (BESSY II's extra winding).
pub const AUX_TURNS_RATIO: f64 = -2.67857;
/// A quad may be (de)selected only with the auxiliary supply below this [A].
pub const AUX_ZERO_A: f64 = 0.03;

/// What a valid write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Changed,
    Unchanged,
}

pub struct MachineState {
    pub lattice: Lattice,
    pub schema: Arc<Schema>,
    pub currents_a: Vec<f64>,
    pub rf_khz: f64,
    /// Hidden offsets (dx, dy) per quad [m].
    pub offsets_m: Vec<[f64; 2]>,
    pub mux: Option<QuadId>,
    pub aux_a: f64,
}

fn number(value: &WriteValue) -> Result<f64, String> {
    match value {
        WriteValue::Double(v) if v.is_finite() => Ok(*v),
        WriteValue::Double(v) => Err(format!("{v} is not a finite number")),
        WriteValue::Enum(EnumIndex(i)) => Ok(f64::from(*i)),
        other => Err(format!("unexpected value {other:?}")),
    }
}

impl MachineState {
    pub fn new(lattice: Lattice, schema: Arc<Schema>) -> Self {
        let currents_a = schema.power_converters.iter().map(|p| p.design_current_a).collect();
        let rf_khz = schema.design_rf_khz;
        let offsets_m = vec![[0.0; 2]; schema.quads.len()];
        Self { lattice, schema, currents_a, rf_khz, offsets_m, mux: None, aux_a: 0.0 }
    }

    /// The value a setpoint's record shows for the current state.
    pub fn value(&self, setpoint: Setpoint) -> f64 {
        match setpoint {
            Setpoint::PcCurrent(id) => self.currents_a[id.0],
            Setpoint::MasterClock => self.rf_khz,
            Setpoint::QuadOffset(q, p) => self.offsets_m[q.0][p.index()],
            Setpoint::MuxSelect(q) => f64::from(u8::from(self.mux == Some(q))),
            Setpoint::MuxOff => 0.0,
            Setpoint::AuxCurrent => self.aux_a,
        }
    }

    /// Validates and commits one write; the error is what the client sees.
    pub fn apply(&mut self, setpoint: Setpoint, value: &WriteValue) -> Result<Applied, String> {
        let v = number(value)?;
        if setpoint != Setpoint::MuxOff && v == self.value(setpoint) {
            return Ok(Applied::Unchanged);
        }
        match setpoint {
            Setpoint::PcCurrent(id) => {
                self.currents_a[id.0] = v;
                self.drive_pc(id)?;
            }
            Setpoint::MasterClock if v > 0.0 => {
                self.lattice.set_rf_frequency_hz(v * 1e3).map_err(|e| e.to_string())?;
                self.rf_khz = v;
            }
            Setpoint::MasterClock => return Err(format!("RF frequency {v} kHz is not positive")),
            Setpoint::QuadOffset(q, plane) => {
                let mut o = self.offsets_m[q.0];
                o[plane.index()] = v;
                let m = Misalignment { dx_m: o[0], dy_m: o[1], roll_rad: 0.0 };
                self.lattice.set_misalignment(self.schema.quad_element(q), m).map_err(|e| e.to_string())?;
                self.offsets_m[q.0] = o;
            }
            Setpoint::MuxSelect(q) => self.select(if v != 0.0 { Some(q) } else { None }, Some(q))?,
            Setpoint::MuxOff if v != 0.0 => self.select(None, None)?,
            Setpoint::MuxOff => return Ok(Applied::Unchanged),
            Setpoint::AuxCurrent => {
                self.aux_a = v;
                if let Some(q) = self.mux {
                    self.drive_pc(self.schema.quad(q).pc)?;
                }
            }
        }
        Ok(Applied::Changed)
    }

    /// Multiplexer switching: refused unless the auxiliary supply is at 0.
    /// `which` limits a deselection to that quad (writing 0 to another
    /// quad's switch changes nothing).
    fn select(&mut self, new: Option<QuadId>, which: Option<QuadId>) -> Result<(), String> {
        if new.is_none() && which.is_some() && self.mux != which {
            return Ok(());
        }
        if self.aux_a.abs() >= AUX_ZERO_A {
            return Err(format!("aux supply at {:.3} A: set QSPAZR to 0 first", self.aux_a));
        }
        let old = self.mux;
        self.mux = new;
        for q in [old, new].into_iter().flatten() {
            self.drive_pc(self.schema.quad(q).pc)?;
        }
        Ok(())
    }

    /// Sets the strengths of all magnets of a converter from its current
    /// (plus the auxiliary current on the selected quad).
    fn drive_pc(&mut self, id: PcId) -> Result<(), String> {
        let pc = self.schema.pc(id);
        let brho = self.schema.rigidity_tm;
        let selected = self.mux.map(|q| self.schema.quad(q)).filter(|q| q.pc == id).map(|q| q.magnet);
        for (k, m) in pc.magnets.iter().enumerate() {
            let extra = if selected == Some(k) { self.aux_a * AUX_TURNS_RATIO } else { 0.0 };
            let s = m.strength(self.currents_a[id.0] + extra, brho);
            let r = match m.kind {
                MagnetKind::Quadrupole => self.lattice.set_polynom_b(m.element, 1, s),
                MagnetKind::Sextupole => self.lattice.set_polynom_b(m.element, 2, s),
                MagnetKind::Steerer(plane) => self.lattice.set_kick_rad(m.element, plane, s),
            };
            r.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Name of the selected quad, or "Mux OFF".
    pub fn mux_name(&self) -> String {
        self.mux.map_or_else(|| "Mux OFF".to_string(), |q| self.schema.quad(q).name.clone())
    }
}
