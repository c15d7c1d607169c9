//! The machine's diagnostics: orbit vectors and table, the packed BPM
//! vector, beam current and lifetime. Posted with every computation (its
//! time stamp) and re-posted at the diagnostics rate with fresh read-out
//! noise, as the machine's BPM system does.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use epics_pvxs_sys::{EnumIndex, Field, Ioc, Update};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::watch;
use twin_engine::lattice::ElementId;

use super::invalid_alarm;
use super::readout::{self, Reading};
use crate::core::Participant;
use crate::core::snapshot::{BeamState, Snapshot};
use crate::machine::{BpmId, BpmSlot, Machine};
use crate::prefix::Prefix;
use crate::profile::PackedBpm;
use crate::records::columns::TableColumn;

struct OrbitFields {
    positions: Field<[f64]>,
    names: Field<[String]>,
    count: Field<i32>,
    buttons: Field<[f64]>,
    table_names: Field<[String]>,
    /// X, Y, A, B, C, D in `TableColumn::NUMBERS` order; D last (it triggers the table).
    table: Vec<Field<[f64]>>,
}

struct PackedFields {
    format: PackedBpm,
    slots: Vec<Option<(ElementId, BpmId)>>,
    data: Field<[i16]>,
    count: Field<i32>,
    /// Acquisition flag: 0 before each vector, 1 once it is out.
    ready: Option<Field<EnumIndex>>,
}

/// The beam and the top-up engine as the machine shows them.
struct BeamFields {
    current: Option<Field<f64>>,
    lifetime: Option<Field<f64>>,
    multibunch: Option<Field<f64>>,
    topup: Option<TopUpFields>,
}

struct TopUpFields {
    countdown_s: Field<f64>,
    trigger: Field<EnumIndex>,
    busy: Field<EnumIndex>,
    single_bunch_ma: Field<f64>,
}

pub struct Diagnostics {
    orbit: OrbitFields,
    orbit_slots: Vec<Option<(ElementId, BpmId)>>,
    orbit_names: Vec<String>,
    button_scale_m: f64,
    packed: Option<PackedFields>,
    beam: BeamFields,
    rng: StdRng,
    orbit_count: i32,
    packed_count: i32,
    shown_beam: Option<BeamState>,
    shown_computation: u64,
}

impl Diagnostics {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine, seed: u64) -> anyhow::Result<Self> {
        let p = &machine.profile;
        let pv = |n: &str| prefix.pv(n);
        let o = &p.orbit;
        let column = |c: TableColumn| ioc.field::<[f64]>(&pv(&format!("{}:{}", o.table, c.label())));
        let orbit = OrbitFields {
            positions: ioc.field(&pv(&o.positions))?,
            names: ioc.field(&pv(&o.names))?,
            count: ioc.field(&pv(&o.count))?,
            buttons: ioc.field(&pv(&o.buttons))?,
            table_names: ioc.field(&pv(&format!("{}:{}", o.table, TableColumn::Bpm.label())))?,
            table: TableColumn::NUMBERS.iter().map(|&c| column(c)).collect::<Result<_, _>>()?,
        };
        let packed = match &p.packed_bpm {
            Some(format) => Some(PackedFields {
                format: format.clone(),
                slots: lattice_bpms(&machine.schema.packed_slots),
                data: ioc.field(&pv(&format.data))?,
                count: ioc.field(&pv(&format.count))?,
                ready: format.ready.as_deref().map(|r| ioc.field(&pv(r))).transpose()?,
            }),
            None => None,
        };
        // the first name of a monitor list is the record, the others its aliases
        let first = |names: &[String]| names.first().map(|n| ioc.field::<f64>(&pv(n))).transpose();
        let topup = match &p.topup {
            Some(t) => Some(TopUpFields {
                countdown_s: ioc.field(&pv(&t.countdown))?,
                trigger: ioc.field(&pv(&t.trigger))?,
                busy: ioc.field(&pv(&t.busy))?,
                single_bunch_ma: ioc.field(&pv(&t.single_bunch_current))?,
            }),
            None => None,
        };
        let beam = BeamFields {
            current: first(&p.beam.current)?,
            lifetime: first(&p.beam.lifetime)?,
            multibunch: first(&p.beam.multibunch_current)?,
            topup,
        };
        Ok(Self {
            orbit,
            orbit_slots: lattice_bpms(&machine.schema.orbit_slots),
            orbit_names: machine.schema.orbit_slots.iter().map(|s| s.name.clone()).collect(),
            button_scale_m: o.button_scale_m,
            packed,
            beam,
            rng: StdRng::seed_from_u64(seed),
            orbit_count: 0,
            packed_count: 0,
            shown_beam: None,
            shown_computation: 0,
        })
    }

    /// Serves snapshots and the cadence until the core stops.
    pub async fn run(
        mut self,
        mut snapshots: watch::Receiver<Arc<Snapshot>>,
        participant: Participant,
        rate_hz: f64,
    ) -> anyhow::Result<()> {
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate_hz));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let snap = snapshots.borrow_and_update().clone();
            self.on_snapshot(&snap)?;
            participant.published(snap.seq);
            loop {
                tokio::select! {
                    changed = snapshots.changed() => {
                        changed.context("the model core stopped")?;
                        break;
                    }
                    _ = ticks.tick() => {
                        let snap = snapshots.borrow().clone();
                        self.read_out(&snap, SystemTime::now())?;
                    }
                }
            }
        }
    }

    fn on_snapshot(&mut self, snap: &Snapshot) -> anyhow::Result<()> {
        if self.shown_beam != Some(snap.beam) {
            self.post_beam(snap.beam)?;
            self.shown_beam = Some(snap.beam);
        }
        if snap.computation != self.shown_computation {
            self.read_out(snap, snap.time)?;
            self.shown_computation = snap.computation;
        }
        Ok(())
    }

    fn post_beam(&self, beam: BeamState) -> anyhow::Result<()> {
        let now = Update::at(SystemTime::now());
        let f = &self.beam;
        let values = [
            (&f.current, beam.current_ma),
            (&f.lifetime, beam.lifetime_h),
            (&f.multibunch, beam.current_ma - beam.single_bunch_ma),
        ];
        for (field, v) in values {
            if let Some(field) = field {
                field.post(&v, &now)?;
            }
        }
        if let Some(t) = &f.topup {
            t.countdown_s.post(&beam.countdown_s, &now)?;
            let injecting = EnumIndex(u16::from(beam.injecting));
            t.trigger.post(&injecting, &now)?;
            t.busy.post(&injecting, &now)?;
            t.single_bunch_ma.post(&beam.single_bunch_ma, &now)?;
        }
        Ok(())
    }

    /// One read-out of every BPM vector; counters advance.
    fn read_out(&mut self, snap: &Snapshot, time: SystemTime) -> anyhow::Result<()> {
        let Some(physics) = snap.last_valid.as_ref() else { return Ok(()) };
        let update = match &snap.model {
            Ok(_) => Update::at(time),
            Err(invalid) => Update::at(time).with_alarm(invalid_alarm(invalid)),
        };
        let rms = snap.settings.noise.effective_rms_m();
        let errors = &snap.settings.bpms;
        let orbit = readout::read(physics, &self.orbit_slots, errors, rms, &mut self.rng);
        self.post_orbit(&orbit, snap.beam.current_ma, &update)?;
        if let Some(p) = &mut self.packed {
            // the acquisition handshake: low, the vector and its count, high
            if let Some(ready) = &p.ready {
                ready.post(&EnumIndex(0), &update)?;
            }
            let readings = readout::read(physics, &p.slots, errors, rms, &mut self.rng);
            let intensity = (snap.beam.current_ma * 100.0).round().clamp(0.0, f64::from(i16::MAX)) as i16;
            let rms_counts = readout::counts(rms, &p.format);
            p.data.post(&readout::pack(&readings, &p.format, intensity, rms_counts), &update)?;
            self.packed_count = self.packed_count.wrapping_add(1);
            p.count.post(&self.packed_count, &update)?;
            if let Some(ready) = &p.ready {
                ready.post(&EnumIndex(1), &update)?;
            }
        }
        Ok(())
    }

    fn post_orbit(&mut self, orbit: &[Option<Reading>], sum: f64, update: &Update) -> anyhow::Result<()> {
        let buttons: Vec<[f64; 4]> =
            orbit.iter().map(|r| readout::buttons(r.unwrap_or_default(), sum, self.button_scale_m)).collect();
        let nm =
            |f: fn(&Reading) -> f64| -> Vec<f64> { orbit.iter().map(|r| f(&r.unwrap_or_default()) * 1e9).collect() };
        let button = |k: usize| -> Vec<f64> { buttons.iter().map(|b| b[k]).collect() };
        let f = &self.orbit;
        f.positions.post(&readout::positions_nm(orbit), update)?;
        f.buttons.post(&buttons.iter().flatten().copied().collect::<Vec<_>>(), update)?;
        f.names.post(&self.orbit_names, update)?;
        f.table_names.post(&self.orbit_names, update)?;
        let columns = [nm(|r| r.x_m), nm(|r| r.y_m), button(0), button(1), button(2), button(3)];
        for (field, values) in f.table.iter().zip(&columns) {
            field.post(values, update)?;
        }
        self.orbit_count = self.orbit_count.wrapping_add(1);
        f.count.post(&self.orbit_count, update)?;
        Ok(())
    }
}

/// The lattice BPM of each slot (None: an empty slot).
fn lattice_bpms(slots: &[BpmSlot]) -> Vec<Option<(ElementId, BpmId)>> {
    slots.iter().map(|s| s.element.zip(s.bpm)).collect()
}
