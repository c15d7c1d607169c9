//! Everything one computation shows: converter readbacks, cavities, tunes,
//! the twin's model PVs and optics, the multiplexer hardware. Posted once
//! per computation with its one time stamp; an invalid computation shows
//! the last valid values with INVALID/CALC and the reason.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use epics_pvxs_sys::{EnumIndex, Field, Ioc, Update};
use tokio::sync::watch;

use super::invalid_alarm;
use super::optics::OpticsWaveforms;
use crate::core::Participant;
use crate::core::physics::{Invalid, Physics};
use crate::core::snapshot::{Settings, Snapshot};
use crate::machine::{Machine, Setpoint};
use crate::names;
use crate::prefix::Prefix;
use crate::records::MODEL_SCALARS;

/// The multiplexer's hardware PVs.
struct MuxFields {
    name: Field<str>,
    off_name: String,
    /// Quad names by `QuadId`.
    quads: Vec<String>,
    /// Switch of each quad by `QuadId` (None: not on the multiplexer).
    switches: Vec<Option<Field<EnumIndex>>>,
    supply_rdbk: Field<f64>,
    stat1: Field<i32>,
    stat2: Field<i32>,
    shown: Option<Option<crate::machine::QuadId>>,
}

pub struct ModelPublisher {
    readbacks: Vec<Arc<Field<f64>>>,
    readback_settle: Option<Duration>,
    cavities: Vec<Field<f64>>,
    tunes_khz: [Field<f64>; 2],
    harmonic_number: f64,
    status: Field<EnumIndex>,
    message: Field<str>,
    counters: [Field<i32>; 3],
    duration_ms: Field<f64>,
    /// In `MODEL_SCALARS` order.
    scalars: Vec<Field<f64>>,
    optics: OpticsWaveforms,
    bpm_optics: OpticsWaveforms,
    mux: Option<MuxFields>,
    shown_computation: u64,
}

impl ModelPublisher {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine, readback_settle_s: f64) -> anyhow::Result<Self> {
        let p = &machine.profile;
        let pv = |n: &str| prefix.pv(n);
        let d = |n: &str| ioc.field::<f64>(&pv(n));
        let readbacks = machine
            .schema
            .power_converters
            .iter()
            .map(|pc| ioc.field(&pv(&format!("{}{}", pc.name, p.magnets.readback_suffix))).map(Arc::new))
            .collect::<Result<_, _>>()?;
        let mux = match &p.multiplexer {
            Some(m) => Some(MuxFields {
                name: ioc.field(&pv(&m.name))?,
                off_name: m.off_name.clone(),
                quads: machine.schema.quads.iter().map(|q| q.name.clone()).collect(),
                switches: machine
                    .schema
                    .quads
                    .iter()
                    .map(|q| match machine.catalogue.entry(Setpoint::MuxSelect(q.id)) {
                        Some(e) => ioc.field(&pv(&e.pv)).map(Some),
                        None => Ok(None),
                    })
                    .collect::<Result<_, _>>()?,
                supply_rdbk: d(&format!("{}:rdbk", m.supply))?,
                stat1: ioc.field(&pv(&format!("{}:stat1", m.supply)))?,
                stat2: ioc.field(&pv(&format!("{}:stat2", m.supply)))?,
                shown: None,
            }),
            None => None,
        };
        Ok(Self {
            readbacks,
            readback_settle: (readback_settle_s > 0.0).then(|| Duration::from_secs_f64(readback_settle_s)),
            cavities: p.rf.cavities.iter().map(|c| d(c)).collect::<Result<_, _>>()?,
            tunes_khz: [d(&p.tunes.horizontal)?, d(&p.tunes.vertical)?],
            harmonic_number: machine.schema.harmonic_number,
            status: ioc.field(&pv(&names::model("STATUS")))?,
            message: ioc.field(&pv(&names::model("MESSAGE")))?,
            counters: [
                ioc.field(&pv(&names::model("RECOMPUTES")))?,
                ioc.field(&pv(&names::model("WRITES")))?,
                ioc.field(&pv(&names::model("MERGED")))?,
            ],
            duration_ms: d(&names::model("DURATION"))?,
            scalars: MODEL_SCALARS.iter().map(|(n, ..)| d(&names::model(n))).collect::<Result<_, _>>()?,
            optics: OpticsWaveforms::attach(ioc, prefix, &machine.lattice, "OPTICS", None)?,
            bpm_optics: OpticsWaveforms::attach(ioc, prefix, &machine.lattice, "BPM", Some(machine.lattice.bpms()))?,
            mux,
            shown_computation: 0,
        })
    }

    /// Posts every computation until the core stops.
    pub async fn run(
        mut self,
        mut snapshots: watch::Receiver<Arc<Snapshot>>,
        participant: Participant,
    ) -> anyhow::Result<()> {
        loop {
            let snap = snapshots.borrow_and_update().clone();
            if snap.computation != self.shown_computation {
                self.publish(&snap)?;
                self.shown_computation = snap.computation;
            }
            participant.published(snap.seq);
            snapshots.changed().await.context("the model core stopped")?;
        }
    }

    fn publish(&mut self, snap: &Snapshot) -> anyhow::Result<()> {
        let ok = Update::at(snap.time);
        self.post_readbacks(&snap.settings.currents_a, &ok)?;
        for c in &self.cavities {
            c.post(&snap.settings.rf_khz, &ok)?;
        }
        let s = snap.stats;
        for (f, v) in self.counters.iter().zip([s.recomputes, s.writes, s.merged]) {
            f.post(&v, &ok)?;
        }
        self.duration_ms.post(&(s.duration.as_secs_f64() * 1e3), &ok)?;
        if let Some(mux) = &mut self.mux {
            mux.post(&snap.settings, &ok)?;
        }
        let shown = match &snap.model {
            Ok(_) => {
                self.status.post(&EnumIndex(0), &ok)?;
                self.message.post("", &ok)?;
                ok
            }
            Err(invalid) => {
                let bad = ok.with_alarm(invalid_alarm(invalid));
                let index = match invalid {
                    Invalid::Unstable(_) => 1,
                    Invalid::NoOrbit(_) => 2,
                };
                self.status.post(&EnumIndex(index), &bad)?;
                self.message.post(invalid.message(), &bad)?;
                bad
            }
        };
        match &snap.last_valid {
            Some(p) => self.post_physics(p, snap.settings.rf_khz, &shown),
            None => Ok(()),
        }
    }

    fn post_readbacks(&self, currents_a: &[f64], update: &Update) -> anyhow::Result<()> {
        let Some(delay) = self.readback_settle else {
            for (f, v) in self.readbacks.iter().zip(currents_a) {
                f.post(v, update)?;
            }
            return Ok(());
        };
        let fields = self.readbacks.clone();
        let values = currents_a.to_vec();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let now = Update::at(SystemTime::now());
            for (f, v) in fields.iter().zip(&values) {
                if let Err(e) = f.post(v, &now) {
                    tracing::error!("readback {}: {e}", f.name());
                }
            }
        });
        Ok(())
    }

    fn post_physics(&self, p: &Physics, rf_khz: f64, update: &Update) -> anyhow::Result<()> {
        let f_rev_khz = rf_khz / self.harmonic_number;
        self.tunes_khz[0].post(&(p.tunes[0] * f_rev_khz), update)?;
        self.tunes_khz[1].post(&(p.tunes[1] * f_rev_khz), update)?;
        let total = p.optics.tunes_total();
        let values = [
            total[0],
            total[1],
            p.tunes[2],
            p.chromaticity[0],
            p.chromaticity[1],
            p.optics.momentum_compaction,
            p.radiation.emittance_m * 1e9,
            p.radiation.energy_loss_ev / 1e3,
            p.delta(),
        ];
        for (f, v) in self.scalars.iter().zip(values) {
            f.post(&v, update)?;
        }
        self.optics.post(p, update)?;
        self.bpm_optics.post(p, update)
    }
}

impl MuxFields {
    /// The multiplexer and its supply as the machine shows them.
    fn post(&mut self, s: &Settings, update: &Update) -> anyhow::Result<()> {
        let name = s.mux.map_or(&self.off_name, |q| &self.quads[q.0]);
        self.name.post(name, update)?;
        self.supply_rdbk.post(&s.aux_a, update)?;
        self.stat1.post(&i32::from(s.aux_a != 0.0), update)?;
        self.stat2.post(&0, update)?;
        if let Some(shown) = self.shown
            && shown != s.mux
            && let Some(old) = shown.and_then(|q| self.switches[q.0].as_ref())
        {
            old.set_and_post(&EnumIndex(0))?;
        }
        self.shown = Some(s.mux);
        Ok(())
    }
}
