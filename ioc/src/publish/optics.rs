//! The twin's optics waveforms along a list of points: names once, then
//! one waveform per typed column.
use std::sync::Arc;

use epics_pvxs_sys::{Field, Ioc, Update};
use tokio::sync::watch;
use twin_engine::coords::{X, Y};
use twin_engine::lattice::{ElementId, Lattice};

use super::{serve, shown};
use crate::core::Participant;
use crate::core::physics::Physics;
use crate::core::snapshot::Snapshot;
use crate::machine::Machine;
use crate::names::{self, dt4acc};
use crate::prefix::Prefix;
use crate::records::columns::OpticsColumn;

/// The optics along the ring, at the BPMs and in the model table: posted
/// once per computation by a barrier participant of its own, beside the
/// model publisher (the largest posts of a computation: 24 waveforms,
/// twelve of them along the ~1,100 points of the ring).
pub struct OpticsPublisher {
    ring: OpticsWaveforms,
    bpms: OpticsWaveforms,
    table: Option<ModelTable>,
    shown_computation: u64,
}

impl OpticsPublisher {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine) -> anyhow::Result<Self> {
        Ok(Self {
            ring: OpticsWaveforms::attach(ioc, prefix, &machine.lattice, "OPTICS", None)?,
            bpms: OpticsWaveforms::attach(ioc, prefix, &machine.lattice, "BPM", Some(machine.lattice.bpms()))?,
            table: ModelTable::attach(ioc, prefix, machine)?,
            shown_computation: 0,
        })
    }

    /// Posts every computation's optics (the last valid ones, with the
    /// computation's alarm) until the core stops.
    pub async fn run(
        mut self,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        participant: Participant,
    ) -> anyhow::Result<()> {
        serve(snapshots, participant, |snap| self.show(snap)).await
    }

    fn show(&mut self, snap: &Snapshot) -> anyhow::Result<()> {
        if snap.computation == self.shown_computation {
            return Ok(());
        }
        if let Some(p) = &snap.last_valid {
            let update = shown(snap);
            self.ring.post(p, &update)?;
            self.bpms.post(p, &update)?;
            if let Some(t) = &self.table {
                t.post(p, &update)?;
            }
        }
        self.shown_computation = snap.computation;
        Ok(())
    }
}

pub struct OpticsWaveforms {
    /// Indices into the computation's points (element entrances, then the ring end).
    points: Vec<usize>,
    /// In `OpticsColumn::ALL` order.
    columns: Vec<Field<[f64]>>,
    /// The earlier twin's phase advance in units of 2π (x, y), along the ring.
    nu: Option<[Field<[f64]>; 2]>,
}

/// The model's optics at the BPMs of the orbit slots as an NTTable.
pub struct ModelTable {
    /// (index into the computation's points) of every slot with a lattice BPM.
    points: Vec<usize>,
    /// SPos, BetaHor, BetaVer, PhaseAdvanceHor, PhaseAdvanceVer; the last triggers.
    columns: Vec<Field<[f64]>>,
}

impl ModelTable {
    /// None when the profile has no model table; posts the BPM names.
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine) -> anyhow::Result<Option<Self>> {
        let Some(table) = &machine.profile.orbit.model_table else { return Ok(None) };
        let slots: Vec<_> =
            machine.schema.orbit_slots.iter().filter_map(|s| Some((s.element?, s.name.clone()))).collect();
        let pv = |c: &str| prefix.pv(&format!("{table}:{c}"));
        let names: Vec<String> = slots.iter().map(|(_, n)| n.clone()).collect();
        ioc.field::<[String]>(&pv("BPM"))?.post(&names, &Update::at(std::time::SystemTime::now()))?;
        let columns = ["SPos", "BetaHor", "BetaVer", "PhaseAdvanceHor", "PhaseAdvanceVer"]
            .iter()
            .map(|c| ioc.field::<[f64]>(&pv(c)))
            .collect::<Result<_, _>>()?;
        Ok(Some(Self { points: slots.iter().map(|(e, _)| e.0).collect(), columns }))
    }

    pub fn post(&self, p: &Physics, update: &Update) -> anyhow::Result<()> {
        let at = |f: &dyn Fn(&twin_engine::optics::OpticsPoint) -> f64| -> Vec<f64> {
            self.points.iter().map(|&i| f(&p.optics.points[i])).collect()
        };
        let values = [
            at(&|o| o.s_m),
            at(&|o| o.twiss[0].beta_m),
            at(&|o| o.twiss[1].beta_m),
            at(&|o| o.mu_rad[0] / std::f64::consts::TAU),
            at(&|o| o.mu_rad[1] / std::f64::consts::TAU),
        ];
        for (field, v) in self.columns.iter().zip(&values) {
            field.post(v, update)?;
        }
        Ok(())
    }
}

fn value(column: OpticsColumn, p: &Physics, i: usize) -> f64 {
    let point = &p.optics.points[i];
    let orbit = &p.orbit[i];
    match column {
        OpticsColumn::S => point.s_m,
        OpticsColumn::X => orbit[X],
        OpticsColumn::Y => orbit[Y],
        OpticsColumn::BetaX => point.twiss[0].beta_m,
        OpticsColumn::BetaY => point.twiss[1].beta_m,
        OpticsColumn::AlphaX => point.twiss[0].alpha,
        OpticsColumn::AlphaY => point.twiss[1].alpha,
        OpticsColumn::MuX => point.mu_rad[0],
        OpticsColumn::MuY => point.mu_rad[1],
        OpticsColumn::EtaX => point.dispersion[0],
    }
}

impl OpticsWaveforms {
    /// `TWIN:<group>:*` at `at` (None: every element entrance and the ring
    /// end); posts the names.
    pub fn attach(
        ioc: &Ioc,
        prefix: &Prefix,
        lattice: &Lattice,
        group: &str,
        at: Option<Vec<ElementId>>,
    ) -> anyhow::Result<Self> {
        let at_every_element = at.is_none();
        let points: Vec<usize> = match at {
            Some(ids) => ids.iter().map(|e| e.0).collect(),
            None => (0..=lattice.len()).collect(),
        };
        let names_field = ioc.field::<[String]>(&prefix.pv(&names::optics(group, "NAMES")))?;
        let capacity = names_field.capacity() as usize;
        anyhow::ensure!(
            capacity == points.len(),
            "{} holds {capacity} elements, the lattice needs {} (regenerate the records: twin-ioc records)",
            names_field.name(),
            points.len()
        );
        let name = |i: usize| lattice.elements().get(i).map_or_else(|| "RING_END".to_string(), |e| e.name.clone());
        let now = Update::at(std::time::SystemTime::now());
        names_field.post(&points.iter().map(|&i| name(i)).collect::<Vec<_>>(), &now)?;
        let columns = OpticsColumn::ALL
            .iter()
            .map(|c| ioc.field::<[f64]>(&prefix.pv(&names::optics(group, c.suffix()))))
            .collect::<Result<_, _>>()?;
        let nu = match at_every_element {
            true => Some([
                ioc.field::<[f64]>(&prefix.pv(&dt4acc::twiss('x', "nu")))?,
                ioc.field::<[f64]>(&prefix.pv(&dt4acc::twiss('y', "nu")))?,
            ]),
            false => None,
        };
        Ok(Self { points, columns, nu })
    }

    /// Posts every column. The values are gathered in one pass over the
    /// points: the computation left them in another core's cache, and a
    /// pass per column fetched them once per column (measured in the IOC:
    /// 166 µs for the 12 waveforms along the ring, 2026-12-06).
    pub fn post(&self, p: &Physics, update: &Update) -> anyhow::Result<()> {
        let n = self.points.len();
        let mut columns: [Vec<f64>; OpticsColumn::ALL.len()] = std::array::from_fn(|_| Vec::with_capacity(n));
        for &i in &self.points {
            for (values, column) in columns.iter_mut().zip(OpticsColumn::ALL) {
                values.push(value(column, p, i));
            }
        }
        for (field, values) in self.columns.iter().zip(&columns) {
            field.post(values, update)?;
        }
        if let Some(fields) = &self.nu {
            // the phase advance columns in units of 2π
            for (field, column) in fields.iter().zip([OpticsColumn::MuX, OpticsColumn::MuY]) {
                let k = OpticsColumn::ALL.iter().position(|c| *c == column).expect("ALL lists every column");
                let turns: Vec<f64> = columns[k].iter().map(|mu| mu / std::f64::consts::TAU).collect();
                field.post(&turns, update)?;
            }
        }
        Ok(())
    }
}
