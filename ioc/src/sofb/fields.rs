//! The feedback's own PVs: state, message, residual, iterations and the
//! reference orbit.
use std::time::SystemTime;

use epics_pvxs_sys::{EnumIndex, Field, Ioc, Update};

use crate::names;
use crate::prefix::Prefix;

/// What the feedback is doing (mbbi index order).
#[derive(Clone, Debug, PartialEq)]
pub enum SofbState {
    Off,
    /// Correcting; the rms of reading − reference before this correction
    /// (x, y) [m].
    Running {
        residual_m: [f64; 2],
    },
    Paused(String),
    Error(String),
}

pub struct SofbFields {
    status: Field<EnumIndex>,
    message: Field<str>,
    residual: [Field<f64>; 2],
    iterations: Field<i32>,
    reference: [Field<[f64]>; 2],
}

impl SofbFields {
    pub fn attach(ioc: &Ioc, prefix: &Prefix) -> anyhow::Result<Self> {
        let pv = |what: &str| prefix.pv(&names::sofb(what));
        Ok(Self {
            status: ioc.field(&pv("STATUS"))?,
            message: ioc.field(&pv("MESSAGE"))?,
            residual: [ioc.field(&pv("RESIDUAL:X"))?, ioc.field(&pv("RESIDUAL:Y"))?],
            iterations: ioc.field(&pv("ITERATIONS"))?,
            reference: [ioc.field(&pv("REF:X"))?, ioc.field(&pv("REF:Y"))?],
        })
    }

    pub fn state(&self, state: &SofbState, iterations: i32) -> anyhow::Result<()> {
        let now = Update::at(SystemTime::now());
        let (index, message) = match state {
            SofbState::Off => (0, String::new()),
            SofbState::Running { residual_m } => {
                for (f, v) in self.residual.iter().zip(residual_m) {
                    f.post(v, &now)?;
                }
                (1, String::new())
            }
            SofbState::Paused(why) => (2, why.clone()),
            SofbState::Error(why) => (3, why.clone()),
        };
        self.status.post(&EnumIndex(index), &now)?;
        self.message.post(message.as_str(), &now)?;
        self.iterations.post(&iterations, &now)?;
        Ok(())
    }

    pub fn reference(&self, reference: &[Vec<f64>; 2]) -> anyhow::Result<()> {
        let now = Update::at(SystemTime::now());
        for (f, v) in self.reference.iter().zip(reference) {
            f.post(v.as_slice(), &now)?;
        }
        Ok(())
    }
}
