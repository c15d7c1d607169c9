//! Posting a model computation to the machine and twin PVs.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use epics_pvxs_sys::{Alarm, AlarmStatus, EnumIndex, Field, Ioc, Severity, Update};
use twin_engine::lattice::{ElementId, Lattice};

use super::compute::{Invalid, Physics};
use super::owner::Snapshot;
use crate::machine::Schema;
use crate::prefix::Prefix;

/// Waveforms of optics functions along a list of points.
struct OpticsWaveforms {
    names: Field<[String]>,
    columns: [Field<[f64]>; 10],
}

/// Column order of `OpticsWaveforms::columns`.
const COLUMNS: [&str; 10] = ["S", "X", "Y", "BETAX", "BETAY", "ALPHAX", "ALPHAY", "MUX", "MUY", "ETAX"];

impl OpticsWaveforms {
    fn attach(ioc: &Ioc, prefix: &Prefix, group: &str) -> anyhow::Result<Self> {
        let f = |c: &str| ioc.field::<[f64]>(&prefix.pv(&format!("TWIN:{group}:{c}")));
        Ok(Self {
            names: ioc.field(&prefix.pv(&format!("TWIN:{group}:NAMES")))?,
            columns: [
                f("S")?,
                f("X")?,
                f("Y")?,
                f("BETAX")?,
                f("BETAY")?,
                f("ALPHAX")?,
                f("ALPHAY")?,
                f("MUX")?,
                f("MUY")?,
                f("ETAX")?,
            ],
        })
    }

    /// Posts the optics at `points` (indices into the optics' points).
    fn post(&self, physics: &Physics, points: &[usize], update: &Update) -> anyhow::Result<()> {
        for (c, field) in COLUMNS.iter().zip(&self.columns) {
            let values: Vec<f64> = points
                .iter()
                .map(|&i| {
                    let p = &physics.optics.points[i];
                    let o = &physics.orbit[i];
                    match *c {
                        "S" => p.s_m,
                        "X" => o[0],
                        "Y" => o[2],
                        "BETAX" => p.twiss[0].beta_m,
                        "BETAY" => p.twiss[1].beta_m,
                        "ALPHAX" => p.twiss[0].alpha,
                        "ALPHAY" => p.twiss[1].alpha,
                        "MUX" => p.mu_rad[0],
                        "MUY" => p.mu_rad[1],
                        _ => p.dispersion[0],
                    }
                })
                .collect();
            field.post(&values, update).with_context(|| format!("posting {}", field.name()))?;
        }
        Ok(())
    }
}

/// Scalars of the model in the twin namespace.
struct ModelScalars {
    qx: Field<f64>,
    qy: Field<f64>,
    qs: Field<f64>,
    chromx: Field<f64>,
    chromy: Field<f64>,
    alphac: Field<f64>,
    emittance_nm: Field<f64>,
    eloss_kev: Field<f64>,
    delta: Field<f64>,
}

/// Every PV a computation updates, resolved once.
pub struct Publisher {
    pc_rdbk: Vec<Arc<Field<f64>>>,
    cavities: Vec<Field<f64>>,
    tune_h_khz: Field<f64>,
    tune_v_khz: Field<f64>,
    status: Field<EnumIndex>,
    message: Field<str>,
    recomputes: Field<i32>,
    writes: Field<i32>,
    merged: Field<i32>,
    duration_ms: Field<f64>,
    scalars: ModelScalars,
    optics: OpticsWaveforms,
    bpm_optics: OpticsWaveforms,
    optics_points: Vec<usize>,
    bpm_points: Vec<usize>,
    rf_harmonic: f64,
    readback_settle: Option<(Duration, tokio::runtime::Handle)>,
    last_valid: Option<Arc<Physics>>,
}

impl Publisher {
    #[allow(clippy::too_many_arguments)]
    pub fn attach(
        ioc: &Ioc,
        prefix: &Prefix,
        schema: &Schema,
        lattice: &Lattice,
        rf_harmonic: f64,
        readback_settle: Option<(Duration, tokio::runtime::Handle)>,
    ) -> anyhow::Result<Self> {
        let pv = |n: &str| prefix.pv(n);
        let d = |n: &str| ioc.field::<f64>(&pv(n));
        let pcs = &schema.power_converters;
        let bpm_points: Vec<usize> = lattice.bpms().iter().map(|b: &ElementId| b.0).collect();
        let publisher = Self {
            pc_rdbk: pcs
                .iter()
                .map(|p| ioc.field(&pv(&format!("{}:rdbk", p.name))).map(Arc::new))
                .collect::<Result<_, _>>()?,
            cavities: (1..=4).map(|k| d(&format!("CAVH{k}T8R:freq"))).collect::<Result<_, _>>()?,
            tune_h_khz: d("TUNEZR:rdH")?,
            tune_v_khz: d("TUNEZR:rdV")?,
            status: ioc.field(&pv("TWIN:MODEL:STATUS"))?,
            message: ioc.field(&pv("TWIN:MODEL:MESSAGE"))?,
            recomputes: ioc.field(&pv("TWIN:MODEL:RECOMPUTES"))?,
            writes: ioc.field(&pv("TWIN:MODEL:WRITES"))?,
            merged: ioc.field(&pv("TWIN:MODEL:MERGED"))?,
            duration_ms: d("TWIN:MODEL:DURATION")?,
            scalars: ModelScalars {
                qx: d("TWIN:MODEL:QX")?,
                qy: d("TWIN:MODEL:QY")?,
                qs: d("TWIN:MODEL:QS")?,
                chromx: d("TWIN:MODEL:CHROMX")?,
                chromy: d("TWIN:MODEL:CHROMY")?,
                alphac: d("TWIN:MODEL:ALPHAC")?,
                emittance_nm: d("TWIN:MODEL:EMITTANCE")?,
                eloss_kev: d("TWIN:MODEL:ELOSS")?,
                delta: d("TWIN:MODEL:DELTA")?,
            },
            optics: OpticsWaveforms::attach(ioc, prefix, "OPTICS")?,
            bpm_optics: OpticsWaveforms::attach(ioc, prefix, "BPM")?,
            optics_points: (0..=lattice.len()).collect(),
            bpm_points,
            rf_harmonic,
            readback_settle,
            last_valid: None,
        };
        publisher.check_capacity()?;
        publisher.post_names(lattice)?;
        Ok(publisher)
    }

    fn check_capacity(&self) -> anyhow::Result<()> {
        for (w, n) in [(&self.optics, self.optics_points.len()), (&self.bpm_optics, self.bpm_points.len())] {
            let cap = w.names.capacity() as usize;
            anyhow::ensure!(
                cap == n,
                "{} holds {cap} elements, the lattice needs {n} (NPOINTS/NBPM in st.cmd)",
                w.names.name()
            );
        }
        Ok(())
    }

    fn post_names(&self, lattice: &Lattice) -> anyhow::Result<()> {
        let name = |i: usize| lattice.elements().get(i).map_or_else(|| "RING_END".to_string(), |e| e.name.clone());
        let now = Update::at(SystemTime::now());
        self.optics.names.post(&self.optics_points.iter().map(|&i| name(i)).collect::<Vec<_>>(), &now)?;
        self.bpm_optics.names.post(&self.bpm_points.iter().map(|&i| name(i)).collect::<Vec<_>>(), &now)?;
        Ok(())
    }

    /// Posts everything one computation produced.
    pub fn publish(&mut self, snap: &Snapshot) -> anyhow::Result<()> {
        let ok = Update::at(snap.time);
        self.post_readbacks(snap, &ok)?;
        for c in &self.cavities {
            c.post(&snap.rf_khz, &ok)?;
        }
        self.recomputes.post(&snap.stats.recomputes, &ok)?;
        self.writes.post(&snap.stats.writes, &ok)?;
        self.merged.post(&snap.stats.merged, &ok)?;
        self.duration_ms.post(&(snap.stats.duration.as_secs_f64() * 1e3), &ok)?;
        match &snap.physics {
            Ok(p) => {
                self.last_valid = Some(Arc::clone(p));
                self.status.post(&EnumIndex(0), &ok)?;
                self.message.post("", &ok)?;
                self.post_physics(p, snap.rf_khz, &ok)
            }
            Err(invalid) => {
                let (index, severity) = match invalid {
                    Invalid::Unstable(_) => (1, Severity::Invalid),
                    Invalid::NoOrbit(_) => (2, Severity::Invalid),
                };
                let bad = ok.clone().with_alarm(Alarm::new(severity, AlarmStatus::Calc, invalid.message()));
                self.status.post(&EnumIndex(index), &bad)?;
                self.message.post(invalid.message(), &bad)?;
                match self.last_valid.clone() {
                    Some(p) => self.post_physics(&p, snap.rf_khz, &bad),
                    None => Ok(()),
                }
            }
        }
    }

    fn post_readbacks(&self, snap: &Snapshot, update: &Update) -> anyhow::Result<()> {
        match &self.readback_settle {
            None => {
                for (f, v) in self.pc_rdbk.iter().zip(&snap.currents_a) {
                    f.post(v, update)?;
                }
            }
            Some((delay, handle)) => {
                let fields: Vec<Arc<Field<f64>>> = self.pc_rdbk.clone();
                let values = snap.currents_a.clone();
                let delay = *delay;
                handle.spawn(async move {
                    tokio::time::sleep(delay).await;
                    let now = Update::at(SystemTime::now());
                    for (f, v) in fields.iter().zip(&values) {
                        if let Err(e) = f.post(v, &now) {
                            tracing::error!("readback {}: {e}", f.name());
                        }
                    }
                });
            }
        }
        Ok(())
    }

    fn post_physics(&self, p: &Physics, rf_khz: f64, update: &Update) -> anyhow::Result<()> {
        let f_rev_khz = rf_khz / self.rf_harmonic;
        self.tune_h_khz.post(&(p.tunes[0] * f_rev_khz), update)?;
        self.tune_v_khz.post(&(p.tunes[1] * f_rev_khz), update)?;
        let s = &self.scalars;
        let total = p.optics.tunes_total();
        s.qx.post(&total[0], update)?;
        s.qy.post(&total[1], update)?;
        s.qs.post(&p.tunes[2], update)?;
        s.chromx.post(&p.chromaticity[0], update)?;
        s.chromy.post(&p.chromaticity[1], update)?;
        s.alphac.post(&p.optics.momentum_compaction, update)?;
        s.emittance_nm.post(&(p.radiation.emittance_m * 1e9), update)?;
        s.eloss_kev.post(&(p.radiation.energy_loss_ev / 1e3), update)?;
        s.delta.post(&p.orbit[0][4], update)?;
        self.optics.post(p, &self.optics_points, update)?;
        self.bpm_optics.post(p, &self.bpm_points, update)
    }
}
