//! The state the core owns and how it is published: settings and lattice,
//! the latest computation, the beam, the BBA service's view; every change
//! becomes one snapshot on the watch channel.
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;
use twin_engine::lattice::Lattice;

use super::Input;
use super::ack::Refusal;
use super::bba::Hardware;
use super::beam::{Beam, TopUpSetting};
use super::bpm::read_all;
use super::envelope::{EnvelopeService, EnvelopeView};
use super::journal::{BbaRecord, Journal, SetpointChange};
use super::physics::{Invalid, Physics, compute};
use super::snapshot::{BbaView, Snapshot, Stats};
use super::state::{Applied, MachineState, setpoint_value};
use crate::machine::{Catalogue, Setpoint};
use crate::profile::TopUp;
use twin_engine::recompute::Memory;

/// Distinguishes the BBA readings' noise stream from the published one:
/// a sequence of measurements is reproducible whatever the publishing
/// cadence consumed meanwhile.
pub const BBA_NOISE_STREAM: u64 = 0x4242_4121;

pub struct Model {
    pub(super) state: MachineState,
    catalogue: Arc<Catalogue>,
    journal: Option<UnboundedSender<Journal>>,
    tx: watch::Sender<Arc<Snapshot>>,
    seq: u64,
    computation: u64,
    stats: Stats,
    model: Result<Arc<Physics>, Invalid>,
    last_valid: Option<Arc<Physics>>,
    /// Fixed points of the last valid computation: the next one starts there.
    memory: Memory,
    time: SystemTime,
    beam: Beam,
    last_tick: Instant,
    bba_view: Arc<BbaView>,
    bba_noise: StdRng,
    /// Injection rates of the top-up engine [Hz].
    topup_rates_hz: Vec<f64>,
    /// Setpoints clients wrote since the last snapshot, with the value each
    /// record holds from that write.
    written: Vec<(Setpoint, f64)>,
    followed: HashSet<Setpoint>,
    /// Something clients see changed without a recompute.
    dirty: bool,
    /// The envelope worker (None: no envelope) and its latest answer.
    envelope_service: Option<EnvelopeService>,
    envelope: Option<Arc<EnvelopeView>>,
}

/// What the core starts from.
pub struct ModelParts {
    pub state: MachineState,
    pub catalogue: Arc<Catalogue>,
    pub journal: Option<UnboundedSender<Journal>>,
    pub beam: Beam,
    pub noise_seed: u64,
    pub topup: Option<TopUp>,
    /// Setpoints that follow a source machine (shadow mode): read-only to
    /// clients, set by the follower; their converters take what-if deltas.
    pub followed: HashSet<Setpoint>,
}

impl Model {
    /// The model with its first computation, and the channel it publishes on.
    pub fn new(parts: ModelParts) -> (Self, watch::Receiver<Arc<Snapshot>>) {
        let ModelParts { state, catalogue, journal, beam, noise_seed, topup, followed } = parts;
        let (physics, duration) = compute(&state.lattice, &Memory::default());
        let (model, memory) = match physics {
            Ok((p, memory)) => (Ok(Arc::new(p)), memory),
            Err(invalid) => (Err(invalid), Memory::default()),
        };
        let stats = Stats { recomputes: 1, duration, ..Stats::default() };
        let quads = state.schema.quads.len();
        let mut me = Self {
            state,
            catalogue,
            journal,
            tx: watch::Sender::new(Arc::new(placeholder())),
            seq: 0,
            computation: 1,
            stats,
            last_valid: model.as_ref().ok().cloned(),
            model,
            memory,
            time: SystemTime::now(),
            beam,
            last_tick: Instant::now(),
            bba_view: Arc::new(BbaView::idle(quads)),
            bba_noise: StdRng::seed_from_u64(noise_seed ^ BBA_NOISE_STREAM),
            topup_rates_hz: topup.map(|t| t.rates_hz).unwrap_or_default(),
            written: Vec::new(),
            followed,
            dirty: false,
            envelope_service: None,
            envelope: None,
        };
        if let Some(p) = me.last_valid.clone() {
            me.state.after_computation(&p);
        }
        let rx = me.tx.subscribe();
        me.publish();
        (me, rx)
    }

    /// The value a setpoint's record must show.
    pub fn value(&self, setpoint: Setpoint) -> f64 {
        self.state.value(setpoint)
    }

    /// Validates and commits a client's write; journals it if persisted.
    pub fn apply(&mut self, setpoint: Setpoint, input: &Input) -> Result<Applied, Refusal> {
        let refuse = |reason: String, model: &Self| Refusal { reason, restore: Some(model.value(setpoint)) };
        let value = match input {
            Input::Number(v) => *v,
            Input::Other(what) => return Err(refuse(format!("not a number: {what}"), self)),
        };
        if let Some(reason) = self.shadow_refusal(setpoint, value, self.value(setpoint)) {
            return Err(refuse(reason, self));
        }
        let applied = self.state.apply(setpoint, value).map_err(|r| refuse(r, self))?;
        if applied == Applied::Changed {
            self.journal_setpoint(setpoint);
        }
        self.written.push((setpoint, value));
        Ok(applied)
    }

    /// Whether every write of `writes`, applied in order, would be
    /// accepted; the first refusal otherwise. Changes nothing.
    pub fn check(&self, writes: &[(Setpoint, f64)]) -> Result<(), String> {
        let mut probe = self.state.clone();
        for (k, (setpoint, value)) in writes.iter().enumerate() {
            let refused = |r: String| format!("write {} ({setpoint:?} = {value}): {r}", k + 1);
            if let Some(reason) = self.shadow_refusal(*setpoint, *value, probe.value(*setpoint)) {
                return Err(refused(reason));
            }
            probe.apply(*setpoint, *value).map_err(refused)?;
        }
        Ok(())
    }

    /// Why shadow mode refuses a client's write of `value` to a setpoint
    /// that is `now`: a followed setpoint is the source machine's; a
    /// what-if delta acts on a followed converter only. Writing what it
    /// already is changes nothing and is not refused (the records' own
    /// first processing does that).
    fn shadow_refusal(&self, setpoint: Setpoint, value: f64, now: f64) -> Option<String> {
        if value == now {
            return None;
        }
        let name = |s: Setpoint| self.catalogue.entry(s).map_or_else(|| format!("{s:?}"), |e| e.pv.clone());
        match setpoint {
            s if self.followed.contains(&s) => Some(format!(
                "shadow mode: {} follows the source machine (read-only; a what-if goes to TWIN:SHADOW:<PC>:whatif)",
                name(s)
            )),
            Setpoint::WhatIf(pc) if !self.followed.contains(&Setpoint::PcCurrent(pc)) => Some(format!(
                "what-if deltas act in shadow mode on followed converters only; {} is not followed",
                name(Setpoint::PcCurrent(pc))
            )),
            _ => None,
        }
    }

    /// Applies values the shadow follower took from the source machine:
    /// each on its own (a refused one leaves the others), not journaled
    /// (the source holds them), shown on their records by the output
    /// mirror. Returns how many changed the machine and the refusals.
    pub fn apply_followed(&mut self, writes: &[(Setpoint, f64)]) -> (i32, Vec<String>) {
        let mut changed = 0;
        let mut refused = Vec::new();
        for &(setpoint, value) in writes {
            match self.state.apply(setpoint, value) {
                Ok(Applied::Unchanged) => {}
                Ok(_) => changed += 1,
                Err(reason) => {
                    refused.push(format!("{}: {reason}", self.catalogue.entry(setpoint).map_or("?", |e| &e.pv)))
                }
            }
        }
        (changed, refused)
    }

    /// Applies a write that did not come through its record (the HTTP
    /// API): the output mirror then shows it on the record.
    pub fn apply_external(&mut self, setpoint: Setpoint, value: f64) -> Result<Applied, Refusal> {
        let applied = self.apply(setpoint, &Input::Number(value));
        self.written.retain(|(s, _)| *s != setpoint);
        applied
    }

    /// Applies writes that did not come through their records as one
    /// batch: all checked first (a refusal refuses the batch, nothing
    /// applied), then each applied. How many changed the machine, and the
    /// refusal of a write the state refused after the check accepted it.
    pub fn apply_batch(&mut self, writes: &[(Setpoint, f64)]) -> (i32, Result<(), Refusal>) {
        if let Err(reason) = self.check(writes) {
            return (0, Err(Refusal { reason, restore: None }));
        }
        let mut changed = 0;
        for &(setpoint, value) in writes {
            match self.apply_external(setpoint, value) {
                Ok(Applied::Unchanged) => {}
                Ok(_) => changed += 1,
                Err(refusal) => return (changed, Err(refusal)),
            }
        }
        (changed, Ok(()))
    }

    /// A magnet's strength is kept as its trim; everything else as itself.
    fn stored_as(setpoint: Setpoint) -> Setpoint {
        match setpoint {
            Setpoint::MagnetStrength(m) => Setpoint::MagnetTrim(m),
            other => other,
        }
    }

    fn journal_setpoint(&self, setpoint: Setpoint) {
        let setpoint = Self::stored_as(setpoint);
        let (Some(tx), Some(entry)) = (&self.journal, self.catalogue.entry(setpoint)) else { return };
        if !entry.persisted {
            return;
        }
        let change = SetpointChange {
            name: entry.pv.clone(),
            value: self.state.value(setpoint),
            unit: entry.unit.egu(),
            at: SystemTime::now(),
        };
        // the store's task ends only when the twin stops
        let _ = tx.send(Journal::Setpoint(change));
    }

    /// Recomputes and publishes; `merged` writes went into it.
    pub fn recompute(&mut self, merged: i32) {
        let (physics, duration) = compute(&self.state.lattice, &self.memory);
        self.model = match physics {
            Ok((p, memory)) => {
                self.memory = memory;
                Ok(Arc::new(p))
            }
            Err(invalid) => {
                tracing::warn!(reason = invalid.message(), "model invalid");
                Err(invalid)
            }
        };
        if let Ok(p) = &self.model {
            self.last_valid = Some(Arc::clone(p));
            self.state.after_computation(p);
        }
        self.computation += 1;
        self.stats.recomputes = self.stats.recomputes.wrapping_add(1);
        self.stats.merged = merged;
        self.stats.duration = duration;
        self.time = SystemTime::now();
        self.publish();
    }

    /// Counts client writes that changed a setpoint.
    pub fn count_writes(&mut self, n: i32) {
        self.stats.writes = self.stats.writes.wrapping_add(n);
    }

    fn topup(&self) -> TopUpSetting {
        let s = &self.state.settings;
        let rate_hz = self.topup_rates_hz.get(s.topup_rate).copied().unwrap_or(1.0);
        TopUpSetting { on: s.topup_on && !self.topup_rates_hz.is_empty(), rate_hz }
    }

    /// Advances the beam to now; takes a finished envelope and asks for
    /// the current computation's.
    pub fn tick(&mut self) {
        let now = Instant::now();
        self.beam.advance(now.duration_since(self.last_tick).as_secs_f64(), self.topup());
        self.last_tick = now;
        self.dirty = true;
        if let Some(service) = &mut self.envelope_service {
            let start = self.model.as_ref().ok().map(|p| p.orbit[0]);
            if let Some(view) = service.poll(self.computation, &self.state.lattice, start.as_ref()) {
                self.envelope = Some(Arc::new(view));
            }
        }
    }

    /// Computes the equilibrium envelope at the clock's cadence from now on.
    pub fn start_envelope(&mut self) -> std::io::Result<()> {
        self.envelope_service = Some(EnvelopeService::spawn()?);
        Ok(())
    }

    /// Closes the relays of a pending multiplexer switch.
    pub fn finish_switch(&mut self) -> Result<Applied, String> {
        self.dirty = true;
        self.state.finish_switch()
    }

    /// The quad a switch is under way to.
    pub fn switching_to(&self) -> Option<crate::machine::QuadId> {
        self.state.settings.mux_pending
    }

    /// Relay time of a switch between quads.
    pub fn relay_time(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.state.rules.mux.map_or(0.0, |m| m.relay_switch_s))
    }

    /// The record value of every setpoint in the catalogue (pass 0).
    pub fn values(&self) -> Vec<(Setpoint, f64)> {
        self.catalogue.entries().iter().map(|e| (e.setpoint, self.value(e.setpoint))).collect()
    }

    /// Publishes if something changed without a recompute.
    pub fn publish_if_dirty(&mut self) {
        if self.dirty {
            self.publish();
        }
    }

    /// The sequence number of the latest snapshot.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    fn publish(&mut self) {
        self.seq += 1;
        self.dirty = false;
        let snapshot = Snapshot {
            seq: self.seq,
            computation: self.computation,
            time: self.time,
            settings: Arc::new(self.state.settings.clone()),
            model: self.model.clone(),
            last_valid: self.last_valid.clone(),
            stats: self.stats,
            beam: self.beam.state(self.topup()),
            bba: Arc::clone(&self.bba_view),
            written: Arc::new(std::mem::take(&mut self.written)),
            envelope: self.envelope.clone(),
        };
        self.tx.send_replace(Arc::new(snapshot));
    }
}

/// The channel's value before the first computation is published.
fn placeholder() -> Snapshot {
    Snapshot {
        seq: 0,
        computation: 0,
        time: SystemTime::UNIX_EPOCH,
        settings: Arc::new(super::snapshot::Settings {
            currents_a: Vec::new(),
            tripped: Vec::new(),
            stuck_a: Vec::new(),
            rf_offset_hz: 0.0,
            unmodelled_a: Vec::new(),
            rf_khz: 0.0,
            offsets_m: Vec::new(),
            rolls_rad: Vec::new(),
            dipole_field: Vec::new(),
            trims: Vec::new(),
            calibration: Vec::new(),
            mux: None,
            mux_pending: None,
            aux_a: 0.0,
            aux_on: false,
            topup_on: false,
            topup_rate: 0,
            noise: super::snapshot::Noise { on: false, rms_um: 0.0 },
            bpms: Vec::new(),
            sofb: super::sofb::SofbSettings::default(),
            bba_bump: false,
            whatif_a: Vec::new(),
        }),
        model: Err(Invalid::NoOrbit("not computed yet".into())),
        last_valid: None,
        stats: Stats::default(),
        beam: super::snapshot::BeamState {
            current_ma: 0.0,
            lifetime_h: 0.0,
            single_bunch_ma: 0.0,
            injecting: false,
            countdown_s: 0.0,
        },
        bba: Arc::new(BbaView::idle(0)),
        written: Arc::new(Vec::new()),
        envelope: None,
    }
}

impl Hardware for Model {
    fn set(&mut self, setpoint: Setpoint, value: f64) -> Result<(), String> {
        let result = self.apply(setpoint, &Input::Number(value));
        // the service's own settings are not client writes
        self.written.retain(|(s, _)| *s != setpoint);
        match result {
            Ok(Applied::Changed) => {
                self.recompute(1);
                Ok(())
            }
            Ok(Applied::Unchanged) => Ok(()),
            Ok(Applied::Switching) => Err("a multiplexer switch is under way".into()),
            Err(refusal) => Err(refusal.reason),
        }
    }

    fn set_all(&mut self, writes: &[(Setpoint, f64)]) -> Result<(), String> {
        let (changed, result) = self.apply_batch(writes);
        if changed > 0 {
            self.recompute(changed);
        }
        result.map_err(|refusal| refusal.reason)
    }

    fn read_orbit(&mut self) -> Result<[Vec<f64>; 2], String> {
        // an invalid model has no beam to read (the last valid one is not
        // what the machine shows now)
        let physics = match &self.model {
            Ok(p) => Arc::clone(p),
            Err(invalid) => return Err(format!("no orbit to read: the model is invalid ({})", invalid.message())),
        };
        let (s, rms) = (&self.state.settings, self.state.settings.noise.effective_rms_m());
        let readings = read_all(&self.state.schema, &s.bpms, &physics, rms, &mut self.bba_noise);
        // the procedure leaves out what the BPM's status flags: no number
        let numbers: Vec<[f64; 2]> = readings.iter().map(|r| r.number().unwrap_or([f64::NAN; 2])).collect();
        Ok([0, 1].map(|p| numbers.iter().map(|n| n[p]).collect()))
    }

    fn lattice(&self) -> &Lattice {
        &self.state.lattice
    }

    fn value(&self, setpoint: Setpoint) -> f64 {
        setpoint_value(&self.state.settings, &self.state.schema, &self.state.rules, setpoint)
    }

    fn report(&mut self, view: &BbaView) {
        if *self.bba_view != *view {
            self.bba_view = Arc::new(view.clone());
            self.dirty = true;
        }
    }

    fn record(&mut self, record: BbaRecord) -> anyhow::Result<()> {
        match &self.journal {
            Some(tx) => {
                tx.send(Journal::Bba(Box::new(record))).map_err(|_| anyhow::anyhow!("the store's task stopped"))
            }
            None => Ok(()),
        }
    }
}
