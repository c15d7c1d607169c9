//! The multiplexer and its auxiliary supply as the machine shows them.
use epics_pvxs_sys::{Field, Ioc, Update};

use crate::core::snapshot::Settings;
use crate::machine::Machine;
use crate::prefix::Prefix;

pub struct MuxFields {
    name: Field<str>,
    off_name: String,
    /// Quad names by `QuadId`.
    quads: Vec<String>,
    supply_rdbk: Field<f64>,
    stat1: Field<i32>,
    stat2: Field<i32>,
    shown: Option<String>,
}

impl MuxFields {
    /// None without a multiplexer; posts the relay status once (enabled,
    /// supply on: the twin's relays never fail).
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine) -> anyhow::Result<Option<Self>> {
        let Some(m) = &machine.profile.multiplexer else { return Ok(None) };
        let pv = |n: &str| prefix.pv(n);
        let now = Update::at(std::time::SystemTime::now());
        ioc.field::<epics_pvxs_sys::EnumIndex>(&pv(&m.disable))?.post(&epics_pvxs_sys::EnumIndex(0), &now)?;
        ioc.field::<epics_pvxs_sys::EnumIndex>(&pv(&m.relay_ps))?.post(&epics_pvxs_sys::EnumIndex(1), &now)?;
        Ok(Some(Self {
            name: ioc.field(&pv(&m.name))?,
            off_name: m.off_name.clone(),
            quads: machine.schema.quads.iter().map(|q| q.name.clone()).collect(),
            supply_rdbk: ioc.field(&pv(&format!("{}:rdbk", m.supply)))?,
            stat1: ioc.field(&pv(&format!("{}:stat1", m.supply)))?,
            stat2: ioc.field(&pv(&format!("{}:stat2", m.supply)))?,
            shown: None,
        }))
    }

    /// The selected quad (the off name while a switch has the relays open),
    /// the supply's current flowing, on (stat1) and no error (stat2).
    pub fn post(&mut self, s: &Settings, update: &Update) -> anyhow::Result<()> {
        let name = s.mux.map_or(&self.off_name, |q| &self.quads[q.0]);
        if self.shown.as_ref() != Some(name) {
            // only changes: HZB's client counts every event of the name
            self.name.post(name, update)?;
            self.shown = Some(name.clone());
        }
        self.supply_rdbk.post(&s.aux_flowing_a(), update)?;
        self.stat1.post(&i32::from(s.aux_on), update)?;
        self.stat2.post(&1, update)?;
        Ok(())
    }
}
