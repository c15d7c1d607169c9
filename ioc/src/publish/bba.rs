//! The BBA service's PVs: status, progress, per-quad results and the
//! whole-ring waveforms, posted when the service's view changes.
use std::sync::Arc;
use std::time::SystemTime;

use epics_pvxs_sys::{EnumIndex, Field, Ioc, Update};
use tokio::sync::watch;

use crate::core::Participant;
use crate::core::snapshot::{BbaView, QuadResult, Snapshot};
use crate::machine::Machine;
use crate::names;
use crate::prefix::Prefix;

/// The per-quad results, in `row` order.
const RESULTS: [&str; 8] =
    ["offsetX", "offsetY", "sigmaX", "sigmaY", "bpmOffsetX", "bpmOffsetY", "bpmSigmaX", "bpmSigmaY"];
/// The whole-ring waveforms of the same results.
const WAVES: [&str; 8] =
    ["OFFSETX", "OFFSETY", "SIGMAX", "SIGMAY", "BPMOFFSETX", "BPMOFFSETY", "BPMSIGMAX", "BPMSIGMAY"];

struct QuadFields {
    /// `RESULTS` [m]
    values: Vec<Field<f64>>,
    chi2_um2: Field<f64>,
}

pub struct BbaPublisher {
    status: Field<EnumIndex>,
    message: Field<str>,
    current: Field<str>,
    progress: Field<f64>,
    eta: Field<f64>,
    /// (quad index, its fields) of every quad on the multiplexer, in wave order.
    quads: Vec<(usize, QuadFields)>,
    /// `WAVES`
    waves: Vec<Field<[f64]>>,
    shown: Option<Arc<BbaView>>,
}

fn row(r: Option<&QuadResult>) -> [f64; 8] {
    r.map_or([f64::NAN; 8], |r| {
        let [x, y] = r.offset_m;
        let [sx, sy] = r.sigma_m;
        let [bx, by] = r.bpm_offset_m;
        let [bsx, bsy] = r.bpm_sigma_m;
        [x, y, sx, sy, bx, by, bsx, bsy]
    })
}

impl BbaPublisher {
    /// None when the machine has no quad on a multiplexer.
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine) -> anyhow::Result<Option<Self>> {
        let quads: Vec<_> = machine.schema.multiplexer_quads().collect();
        if quads.is_empty() {
            return Ok(None);
        }
        let pv = |n: String| prefix.pv(&n);
        let mut fields = Vec::new();
        for q in &quads {
            let f = |what: &str| ioc.field::<f64>(&pv(names::bba_quad(&q.name, what)));
            let values = RESULTS.iter().map(|what| f(what)).collect::<Result<_, _>>()?;
            fields.push((q.id.0, QuadFields { values, chi2_um2: f("chi2")? }));
        }
        let lattice = &machine.lattice;
        let s: Vec<f64> = quads
            .iter()
            .map(|q| {
                let e = machine.schema.quad_element(q.id);
                lattice.s_entrance_m(e) + lattice.element(e).length_m() / 2.0
            })
            .collect();
        let now = Update::at(SystemTime::now());
        let names_list: Vec<String> = quads.iter().map(|q| q.name.clone()).collect();
        ioc.field::<[String]>(&pv(names::bba("NAMES")))?.post(&names_list, &now)?;
        ioc.field::<[f64]>(&pv(names::bba("S")))?.post(&s, &now)?;
        let w = |n: &str| ioc.field::<[f64]>(&pv(names::bba(n)));
        Ok(Some(Self {
            status: ioc.field(&pv(names::bba("status")))?,
            message: ioc.field(&pv(names::bba("message")))?,
            current: ioc.field(&pv(names::bba("current")))?,
            progress: ioc.field(&pv(names::bba("progress")))?,
            eta: ioc.field(&pv(names::bba("eta")))?,
            quads: fields,
            waves: WAVES.iter().map(|n| w(n)).collect::<Result<_, _>>()?,
            shown: None,
        }))
    }

    /// Posts every change of the service's view until the core stops; takes
    /// part in the barrier, so a BBA command's put completes once its
    /// status is shown.
    pub async fn run(
        mut self,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        participant: Participant,
    ) -> anyhow::Result<()> {
        super::serve(snapshots, participant, |snap| {
            let view = Arc::clone(&snap.bba);
            if self.shown.as_ref().is_none_or(|s| !Arc::ptr_eq(s, &view)) {
                self.publish(&view)?;
                self.shown = Some(view);
            }
            Ok(())
        })
        .await
    }

    fn publish(&self, view: &BbaView) -> anyhow::Result<()> {
        let now = Update::at(SystemTime::now());
        let changed = |i: usize| self.shown.as_ref().is_none_or(|s| s.results[i] != view.results[i]);
        if self.quads.iter().any(|(i, _)| changed(*i)) {
            for (i, f) in &self.quads {
                if !changed(*i) {
                    continue;
                }
                let r = view.results[*i].as_ref();
                for (field, v) in f.values.iter().zip(row(r)) {
                    field.post(&v, &now)?;
                }
                f.chi2_um2.post(&r.map_or(f64::NAN, |r| r.chi2_m2 * 1e12), &now)?;
            }
            for (k, w) in self.waves.iter().enumerate() {
                let values: Vec<f64> = self.quads.iter().map(|(i, _)| row(view.results[*i].as_ref())[k]).collect();
                w.post(&values, &now)?;
            }
        }
        self.status.post(&EnumIndex(view.status as u16), &now)?;
        self.message.post(&view.message, &now)?;
        self.current.post(&view.current, &now)?;
        self.progress.post(&view.progress, &now)?;
        self.eta.post(&view.eta_s, &now)?;
        Ok(())
    }
}
