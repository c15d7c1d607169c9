//! PVs of the BBA hardware (PMUXZR, QSPAZR) and of the BBA service.
use std::time::SystemTime;

use epics_pvxs_sys::{EnumIndex, Field, Ioc, Update};
use twin_engine::bba::BbaFit;
use twin_engine::lattice::Lattice;

use super::state::MachineState;
use crate::machine::{QuadId, Schema};
use crate::prefix::Prefix;

/// State of the BBA service (`$(P)TWIN:BBA:status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BbaStatus {
    Idle = 0,
    Running = 1,
    Done = 2,
    Aborted = 3,
    Error = 4,
}

struct QuadResults {
    offset_x: Field<f64>,
    offset_y: Field<f64>,
    sigma_x: Field<f64>,
    sigma_y: Field<f64>,
    chi2: Field<f64>,
}

pub struct BbaPublisher {
    mux_name: Field<str>,
    switches: Vec<Option<Field<EnumIndex>>>,
    aux_rdbk: Field<f64>,
    stat1: Field<i32>,
    stat2: Field<i32>,
    status: Field<EnumIndex>,
    message: Field<str>,
    current: Field<str>,
    progress: Field<f64>,
    eta: Field<f64>,
    results: Vec<Option<QuadResults>>,
    waves: [Field<[f64]>; 4],
    /// (offset x, offset y, sigma x, sigma y) per multiplexer quad.
    table: Vec<[f64; 4]>,
    /// QuadId -> index in the multiplexer list.
    mux_index: Vec<Option<usize>>,
    shown_mux: Option<QuadId>,
}

impl BbaPublisher {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, schema: &Schema, lattice: &Lattice) -> anyhow::Result<Self> {
        let pv = |n: &str| prefix.pv(n);
        let mut mux_index = vec![None; schema.quads.len()];
        let mut switches = Vec::new();
        let mut results = Vec::new();
        let mut names = Vec::new();
        let mut s = Vec::new();
        for q in &schema.quads {
            if q.on_multiplexer {
                mux_index[q.id.0] = Some(names.len());
                names.push(q.name.clone());
                s.push(
                    lattice.s_entrance_m(schema.quad_element(q.id))
                        + lattice.element(schema.quad_element(q.id)).length_m() / 2.0,
                );
                let r = |n: &str| ioc.field::<f64>(&pv(&format!("TWIN:BBA:{}:{n}", q.name)));
                switches.push(Some(ioc.field(&pv(&format!("PMUXZR:{}", q.name)))?));
                results.push(Some(QuadResults {
                    offset_x: r("offsetX")?,
                    offset_y: r("offsetY")?,
                    sigma_x: r("sigmaX")?,
                    sigma_y: r("sigmaY")?,
                    chi2: r("chi2")?,
                }));
            } else {
                switches.push(None);
                results.push(None);
            }
        }
        let w = |n: &str| ioc.field::<[f64]>(&pv(&format!("TWIN:BBA:{n}")));
        let me = Self {
            mux_name: ioc.field(&pv("PMUXZR:name"))?,
            switches,
            aux_rdbk: ioc.field(&pv("QSPAZR:rdbk"))?,
            stat1: ioc.field(&pv("QSPAZR:stat1"))?,
            stat2: ioc.field(&pv("QSPAZR:stat2"))?,
            status: ioc.field(&pv("TWIN:BBA:status"))?,
            message: ioc.field(&pv("TWIN:BBA:message"))?,
            current: ioc.field(&pv("TWIN:BBA:current"))?,
            progress: ioc.field(&pv("TWIN:BBA:progress"))?,
            eta: ioc.field(&pv("TWIN:BBA:eta"))?,
            results,
            waves: [w("OFFSETX")?, w("OFFSETY")?, w("SIGMAX")?, w("SIGMAY")?],
            table: vec![[f64::NAN; 4]; names.len()],
            mux_index,
            shown_mux: None,
        };
        let now = Update::at(SystemTime::now());
        ioc.field::<[String]>(&pv("TWIN:BBA:NAMES"))?.post(&names, &now)?;
        ioc.field::<[f64]>(&pv("TWIN:BBA:S"))?.post(&s, &now)?;
        me.post_table(&now)?;
        me.post_status(BbaStatus::Idle, "", "", 0.0, 0.0)?;
        Ok(me)
    }

    /// Multiplexer and auxiliary supply as the machine shows them.
    pub fn post_hardware(&mut self, state: &MachineState, update: &Update) -> anyhow::Result<()> {
        self.mux_name.post(&state.mux_name(), update)?;
        self.aux_rdbk.post(&state.aux_a, update)?;
        self.stat1.post(&i32::from(state.aux_a != 0.0), update)?;
        self.stat2.post(&0, update)?;
        if self.shown_mux != state.mux {
            if let Some(old) = self.shown_mux.and_then(|q| self.switches[q.0].as_ref()) {
                old.set_and_post(&EnumIndex(0))?;
            }
            self.shown_mux = state.mux;
        }
        Ok(())
    }

    pub fn post_status(
        &self,
        status: BbaStatus,
        message: &str,
        current: &str,
        progress: f64,
        eta_s: f64,
    ) -> anyhow::Result<()> {
        let now = Update::at(SystemTime::now());
        self.status.post(&EnumIndex(status as u16), &now)?;
        self.message.post(message, &now)?;
        self.current.post(current, &now)?;
        self.progress.post(&progress, &now)?;
        self.eta.post(&eta_s, &now)?;
        Ok(())
    }

    /// Publishes the result of one quad (NaN when a plane failed).
    pub fn post_result(&mut self, quad: QuadId, x: Option<&BbaFit>, y: Option<&BbaFit>) -> anyhow::Result<()> {
        let now = Update::at(SystemTime::now());
        let (Some(r), Some(i)) = (self.results[quad.0].as_ref(), self.mux_index[quad.0]) else { return Ok(()) };
        let v = |f: Option<&BbaFit>, g: fn(&BbaFit) -> f64| f.map_or(f64::NAN, g);
        let row = [v(x, |f| f.offset_m), v(y, |f| f.offset_m), v(x, |f| f.sigma_m), v(y, |f| f.sigma_m)];
        r.offset_x.post(&row[0], &now)?;
        r.offset_y.post(&row[1], &now)?;
        r.sigma_x.post(&row[2], &now)?;
        r.sigma_y.post(&row[3], &now)?;
        r.chi2.post(&((v(x, |f| f.chi2) + v(y, |f| f.chi2)) * 1e12), &now)?;
        self.table[i] = row;
        self.post_table(&now)
    }

    fn post_table(&self, update: &Update) -> anyhow::Result<()> {
        for (k, w) in self.waves.iter().enumerate() {
            w.post(&self.table.iter().map(|r| r[k]).collect::<Vec<_>>(), update)?;
        }
        Ok(())
    }
}
