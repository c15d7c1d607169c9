//! The machine state the core holds — the settings and the lattice they
//! set — with validation: a refused write leaves both as they were.
use std::sync::Arc;

use twin_engine::lattice::{Lattice, Misalignment};

use super::bpm::{BpmErrors, BpmFault, ideal_readings};
use super::physics::Physics;
use super::snapshot::{Noise, Settings};
use super::sofb::{SofbPlanes, SofbSettings};
use crate::machine::{Catalogue, MagnetId, MagnetKind, PcId, QuadId, Schema, Setpoint, strength_scale};
use crate::profile::Profile;

/// What a valid write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The model must be recomputed.
    Changed,
    /// The value was already in effect (or the command was idle).
    Unchanged,
    /// A multiplexer switch from one quad to another: the relays are open
    /// (recompute now); the new quad follows after the relay time.
    Switching,
}

/// The multiplexer's electrical rules.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MuxRules {
    /// Effective main-coil current per ampere of the auxiliary supply.
    pub turns_ratio: f64,
    /// (De)selecting needs |supply current| below this [A].
    pub switch_below_a: f64,
    /// Switching between quads waits this long with the relays open [s].
    pub relay_switch_s: f64,
}

/// What the state needs of the machine besides the schema.
#[derive(Clone, Debug)]
pub struct Rules {
    pub mux: Option<MuxRules>,
    /// Number of top-up injection rates (0: no top-up engine).
    pub topup_rates: usize,
    pub catalogue: Arc<Catalogue>,
}

impl Rules {
    pub fn new(profile: &Profile, catalogue: Arc<Catalogue>) -> Self {
        let mux = profile.multiplexer.as_ref().map(|m| MuxRules {
            turns_ratio: m.turns_ratio,
            switch_below_a: m.switch_below_a,
            relay_switch_s: m.relay_switch_s,
        });
        Self { mux, topup_rates: profile.topup.as_ref().map_or(0, |t| t.rates_hz.len()), catalogue }
    }
}

/// Cloned only to check a batch of writes before any is applied.
#[derive(Clone)]
pub struct MachineState {
    pub lattice: Lattice,
    pub schema: Arc<Schema>,
    pub settings: Settings,
    pub rules: Rules,
}

/// The current in a magnet's coils: its converter's, plus the auxiliary
/// supply's through the extra winding of the quad on the multiplexer [A].
pub fn coil_current_a(s: &Settings, schema: &Schema, rules: &Rules, m: MagnetId) -> f64 {
    let r = &schema.magnets[m.0];
    let on_mux = s.mux.map(|q| schema.quad(q)).is_some_and(|q| q.pc == r.pc && q.magnet == r.index);
    let extra = match (on_mux, rules.mux) {
        (true, Some(mux)) => s.aux_flowing_a() * mux.turns_ratio,
        _ => 0.0,
    };
    s.output_a(r.pc) + extra
}

/// A magnet's strength in effect in its record's unit (K1, K2, kick).
pub fn magnet_strength(s: &Settings, schema: &Schema, rules: &Rules, m: MagnetId) -> f64 {
    let drive = schema.magnet(m);
    let nominal = strength_scale(drive.kind) * drive.strength(coil_current_a(s, schema, rules, m), schema.rigidity_tm);
    nominal * (1.0 + s.calibration[m.0]) + s.trims[m.0]
}

/// The value a setpoint's record shows for `s` (its unit).
pub fn setpoint_value(s: &Settings, schema: &Schema, rules: &Rules, setpoint: Setpoint) -> f64 {
    let flag = |b: bool| f64::from(u8::from(b));
    match setpoint {
        Setpoint::PcCurrent(id) => s.currents_a[id.0],
        Setpoint::Unmodelled(id) => s.unmodelled_a[id.0],
        Setpoint::MasterClock => s.rf_khz,
        Setpoint::Trip(id) => flag(s.tripped[id.0]),
        Setpoint::Stuck(id) => flag(s.stuck_a[id.0].is_some()),
        Setpoint::RfOffset => s.rf_offset_hz,
        Setpoint::Offset(a, p) => s.offsets_m[a.0][p.index()],
        Setpoint::Roll(a) => s.rolls_rad[a.0],
        Setpoint::DipoleField(d) => s.dipole_field[d.0],
        Setpoint::MagnetStrength(m) => magnet_strength(s, schema, rules, m),
        Setpoint::MagnetTrim(m) => s.trims[m.0],
        Setpoint::Calibration(m) => s.calibration[m.0],
        Setpoint::MuxSelect(q) => flag(s.mux == Some(q) || s.mux_pending == Some(q)),
        Setpoint::MuxOff => 0.0,
        Setpoint::AuxCurrent => s.aux_a,
        Setpoint::AuxOn => flag(s.aux_on),
        Setpoint::TopUpOn => flag(s.topup_on),
        Setpoint::TopUpRate => s.topup_rate as f64,
        Setpoint::BpmOffset(b, p) => s.bpms[b.0].offset_m[p.index()],
        Setpoint::BpmGain(b, p) => s.bpms[b.0].gain[p.index()],
        Setpoint::BpmRoll(b) => s.bpms[b.0].roll_rad,
        Setpoint::BpmOwnNoise(b) => s.bpms[b.0].noise_m,
        Setpoint::BpmFault(b) => f64::from(s.bpms[b.0].fault as u8),
        Setpoint::SofbOn => flag(s.sofb.on),
        Setpoint::SofbGain => s.sofb.gain,
        Setpoint::SofbRate => s.sofb.rate_hz,
        Setpoint::SofbCut => s.sofb.singular_cut,
        Setpoint::SofbPlanes => f64::from(s.sofb.planes as u8),
        Setpoint::SofbPauseForBba => flag(s.sofb.pause_for_bba),
        Setpoint::BbaBump => flag(s.bba_bump),
        Setpoint::SofbTakeReference | Setpoint::SofbDesignReference => 0.0,
        Setpoint::WhatIf(id) => s.whatif_a[id.0],
        Setpoint::WhatIfClear => 0.0,
        Setpoint::BpmNoise => flag(s.noise.on),
        Setpoint::BpmNoiseRms => s.noise.rms_um,
    }
}

impl MachineState {
    /// The design state: design currents and RF, no offsets or trims,
    /// multiplexer off, supply on, top-up and noise as configured.
    pub fn new(lattice: Lattice, schema: Arc<Schema>, rules: Rules, noise: Noise, topup_on: bool) -> Self {
        let settings = Settings {
            currents_a: schema.power_converters.iter().map(|p| p.design_current_a).collect(),
            tripped: vec![false; schema.power_converters.len()],
            stuck_a: vec![None; schema.power_converters.len()],
            rf_offset_hz: 0.0,
            unmodelled_a: vec![0.0; schema.unmodelled.len()],
            rf_khz: schema.design_rf_khz,
            offsets_m: vec![[0.0; 2]; schema.aligned.len()],
            rolls_rad: vec![0.0; schema.aligned.len()],
            dipole_field: vec![0.0; schema.dipoles.len()],
            trims: vec![0.0; schema.magnets.len()],
            calibration: vec![0.0; schema.magnets.len()],
            mux: None,
            mux_pending: None,
            aux_a: 0.0,
            aux_on: true,
            topup_on,
            topup_rate: 0,
            noise,
            bpms: vec![BpmErrors::default(); schema.bpms.len()],
            sofb: SofbSettings::default(),
            bba_bump: false,
            whatif_a: vec![0.0; schema.power_converters.len()],
        };
        Self { lattice, schema, settings, rules }
    }

    /// The value a setpoint's record shows for the current state.
    pub fn value(&self, setpoint: Setpoint) -> f64 {
        setpoint_value(&self.settings, &self.schema, &self.rules, setpoint)
    }

    /// What waits for a valid computation `physics`, taken from what the
    /// BPMs read of it without noise: frozen BPMs that show nothing yet
    /// show that (what they read when they froze); a reference orbit the
    /// SOFB asked for becomes that.
    pub fn after_computation(&mut self, physics: &Physics) {
        let s = &mut self.settings;
        let wanted =
            s.sofb.take_reference || s.bpms.iter().any(|e| e.fault == BpmFault::Frozen && e.frozen_m.is_none());
        if !wanted {
            return;
        }
        let readings: Vec<[f64; 2]> = ideal_readings(&self.schema, &s.bpms, physics).collect();
        for (e, r) in s.bpms.iter_mut().zip(&readings) {
            if e.fault == BpmFault::Frozen && e.frozen_m.is_none() {
                e.frozen_m = Some(*r);
            }
        }
        if std::mem::take(&mut s.sofb.take_reference) {
            s.sofb.reference_m = Some(Arc::new([0, 1].map(|p| readings.iter().map(|r| r[p]).collect())));
        }
    }

    /// Validates and commits one write; the error is what the client sees.
    /// A refused write changes nothing.
    pub fn apply(&mut self, setpoint: Setpoint, value: f64) -> Result<Applied, String> {
        if !value.is_finite() {
            return Err(format!("{value} is not a finite number"));
        }
        if let Some((lo, hi)) = self.rules.catalogue.entry(setpoint).and_then(|e| e.valid)
            && !(lo..=hi).contains(&value)
        {
            return Err(format!("{value} is outside [{lo}, {hi}]"));
        }
        if setpoint != Setpoint::MuxOff && value == self.value(setpoint) {
            return Ok(Applied::Unchanged);
        }
        let before = self.settings.clone();
        match self.commit(setpoint, value) {
            Ok(applied) => Ok(applied),
            Err(reason) => {
                // put back what a partial commit changed (the old settings were valid)
                self.settings = before;
                self.drive_all().map_err(|e| format!("{reason}; restoring failed too: {e}"))?;
                Err(reason)
            }
        }
    }

    fn commit(&mut self, setpoint: Setpoint, v: f64) -> Result<Applied, String> {
        let s = &mut self.settings;
        match setpoint {
            Setpoint::PcCurrent(id) => {
                s.currents_a[id.0] = v;
                self.drive_pc(id)?;
            }
            Setpoint::Unmodelled(id) => s.unmodelled_a[id.0] = v,
            Setpoint::Trip(id) => {
                s.tripped[id.0] = v != 0.0;
                self.drive_pc(id)?;
            }
            Setpoint::Stuck(id) => {
                // stuck at what it delivers when it sticks (again: where it is)
                let delivering = s.currents_a[id.0];
                s.stuck_a[id.0] = (v != 0.0).then(|| s.stuck_a[id.0].unwrap_or(delivering));
                self.drive_pc(id)?;
            }
            Setpoint::RfOffset => {
                self.lattice.set_rf_frequency_hz(s.rf_khz * 1e3 + v).map_err(|e| e.to_string())?;
                s.rf_offset_hz = v;
            }
            Setpoint::MasterClock if v > 0.0 => {
                self.lattice.set_rf_frequency_hz(v * 1e3 + s.rf_offset_hz).map_err(|e| e.to_string())?;
                s.rf_khz = v;
            }
            Setpoint::MasterClock => return Err(format!("RF frequency {v} kHz is not positive")),
            Setpoint::Offset(a, plane) => {
                s.offsets_m[a.0][plane.index()] = v;
                let [dx_m, dy_m] = s.offsets_m[a.0];
                let element = self.schema.aligned[a.0].element;
                let m = Misalignment { dx_m, dy_m, ..self.lattice.element(element).misalignment };
                self.lattice.set_misalignment(element, m).map_err(|e| e.to_string())?;
            }
            Setpoint::Roll(a) => {
                s.rolls_rad[a.0] = v;
                let element = self.schema.aligned[a.0].element;
                let m = Misalignment { roll_rad: v, ..self.lattice.element(element).misalignment };
                self.lattice.set_misalignment(element, m).map_err(|e| e.to_string())?;
            }
            Setpoint::DipoleField(d) => {
                self.lattice.set_dipole_field_error(self.schema.dipoles[d.0].element, v).map_err(|e| e.to_string())?;
                s.dipole_field[d.0] = v;
            }
            Setpoint::MagnetStrength(m) => {
                let current = self.value(Setpoint::MagnetStrength(m));
                self.settings.trims[m.0] += v - current;
                self.drive_magnet(m)?;
            }
            Setpoint::MagnetTrim(m) => {
                s.trims[m.0] = v;
                self.drive_magnet(m)?;
            }
            Setpoint::Calibration(m) => {
                s.calibration[m.0] = v;
                self.drive_magnet(m)?;
            }
            Setpoint::MuxSelect(q) => return self.select(if v != 0.0 { Some(q) } else { None }, Some(q)),
            Setpoint::MuxOff if v != 0.0 => return self.select(None, None),
            Setpoint::MuxOff => return Ok(Applied::Unchanged),
            Setpoint::AuxCurrent => {
                s.aux_a = v;
                self.drive_selected()?;
            }
            Setpoint::AuxOn => {
                s.aux_on = v != 0.0;
                self.drive_selected()?;
            }
            Setpoint::TopUpOn => s.topup_on = v != 0.0,
            Setpoint::TopUpRate if v >= 0.0 && (v as usize) < self.rules.topup_rates && v.fract() == 0.0 => {
                s.topup_rate = v as usize;
            }
            Setpoint::TopUpRate => return Err(format!("no injection rate {v}")),
            Setpoint::BpmOffset(b, p) => s.bpms[b.0].offset_m[p.index()] = v,
            Setpoint::BpmGain(b, p) => s.bpms[b.0].gain[p.index()] = v,
            Setpoint::BpmRoll(b) => s.bpms[b.0].roll_rad = v,
            Setpoint::BpmOwnNoise(b) => s.bpms[b.0].noise_m = v,
            Setpoint::BpmFault(b) => {
                let fault = BpmFault::from_index(v).ok_or_else(|| format!("no BPM fault {v}"))?;
                // a BPM that freezes (again) shows the next computation's reading
                s.bpms[b.0] = BpmErrors { fault, frozen_m: None, ..s.bpms[b.0] };
            }
            Setpoint::SofbOn => s.sofb.on = v != 0.0,
            Setpoint::SofbGain => s.sofb.gain = v,
            Setpoint::SofbRate if v > 0.0 => s.sofb.rate_hz = v,
            Setpoint::SofbRate => return Err(format!("SOFB rate {v} Hz is not positive")),
            Setpoint::SofbCut => s.sofb.singular_cut = v,
            Setpoint::SofbPlanes => {
                s.sofb.planes = SofbPlanes::from_index(v).ok_or_else(|| format!("no SOFB planes {v}"))?
            }
            Setpoint::SofbPauseForBba => s.sofb.pause_for_bba = v != 0.0,
            Setpoint::BbaBump => s.bba_bump = v != 0.0,
            Setpoint::SofbTakeReference => s.sofb.take_reference = true,
            Setpoint::SofbDesignReference => s.sofb.reference_m = None,
            Setpoint::WhatIf(id) => {
                s.whatif_a[id.0] = v;
                self.drive_pc(id)?;
            }
            // a command: its record shows 0 (idle), so only a non-zero
            // write gets here, as with the SOFB's reference commands
            Setpoint::WhatIfClear => {
                s.whatif_a.iter_mut().for_each(|d| *d = 0.0);
                self.drive_all()?;
            }
            Setpoint::BpmNoise => s.noise.on = v != 0.0,
            Setpoint::BpmNoiseRms if v >= 0.0 => s.noise.rms_um = v,
            Setpoint::BpmNoiseRms => return Err(format!("noise rms {v} um is negative")),
        }
        Ok(Applied::Changed)
    }

    /// Multiplexer switching: refused unless the supply's current is below
    /// the threshold. `which` limits a deselection to that quad (writing 0
    /// to another quad's switch changes nothing). From one quad to another
    /// the relays open first: `Switching` (complete with `finish_switch`).
    fn select(&mut self, new: Option<QuadId>, which: Option<QuadId>) -> Result<Applied, String> {
        let Some(rules) = self.rules.mux else { return Err("this machine has no multiplexer".into()) };
        let s = &mut self.settings;
        let current = s.mux.or(s.mux_pending);
        if new.is_none() && which.is_some() && current != which {
            return Ok(Applied::Unchanged);
        }
        if s.aux_flowing_a().abs() >= rules.switch_below_a {
            return Err(format!("aux supply at {:.3} A: set it to 0 first", s.aux_flowing_a()));
        }
        let old = s.mux;
        s.mux_pending = None;
        if old.is_some() && new.is_some() && old != new && rules.relay_switch_s > 0.0 {
            s.mux = None;
            s.mux_pending = new;
            self.drive_quads([old, None])?;
            return Ok(Applied::Switching);
        }
        s.mux = new;
        self.drive_quads([old, new])?;
        Ok(if old == new && current == new { Applied::Unchanged } else { Applied::Changed })
    }

    /// Closes the relays of a pending switch (after the relay time).
    pub fn finish_switch(&mut self) -> Result<Applied, String> {
        let Some(q) = self.settings.mux_pending.take() else { return Ok(Applied::Unchanged) };
        self.select(Some(q), None)
    }

    /// Cancels a pending switch (the relays stay open).
    pub fn cancel_switch(&mut self) {
        self.settings.mux_pending = None;
    }

    fn drive_quads(&mut self, quads: [Option<QuadId>; 2]) -> Result<(), String> {
        for q in quads.into_iter().flatten() {
            self.drive_pc(self.schema.quad(q).pc)?;
        }
        Ok(())
    }

    fn drive_selected(&mut self) -> Result<(), String> {
        self.drive_quads([self.settings.mux, None])
    }

    fn drive_all(&mut self) -> Result<(), String> {
        for id in 0..self.schema.power_converters.len() {
            self.drive_pc(PcId(id))?;
        }
        Ok(())
    }

    /// Sets the strengths of all magnets of a converter.
    fn drive_pc(&mut self, id: PcId) -> Result<(), String> {
        let magnets: Vec<MagnetId> = self.schema.magnets.iter().filter(|m| m.pc == id).map(|m| m.id).collect();
        magnets.into_iter().try_for_each(|m| self.drive_magnet(m))
    }

    /// Sets one magnet's lattice strength from its coil current and trim.
    fn drive_magnet(&mut self, m: MagnetId) -> Result<(), String> {
        let drive = self.schema.magnet(m).clone();
        let strength = magnet_strength(&self.settings, &self.schema, &self.rules, m) / strength_scale(drive.kind);
        let r = match drive.kind {
            MagnetKind::Quadrupole => self.lattice.set_polynom_b(drive.element, 1, strength),
            MagnetKind::Sextupole => self.lattice.set_polynom_b(drive.element, 2, strength),
            MagnetKind::Steerer(plane) => self.lattice.set_kick_rad(drive.element, plane, strength),
        };
        r.map_err(|e| e.to_string())
    }
}
