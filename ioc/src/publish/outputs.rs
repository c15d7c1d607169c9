//! Keeps every setpoint's output record equal to what the model uses when
//! the value changed without a write to that record: a magnet's strength
//! after its converter changed, a trim after a strength write, the switch
//! of a quad another selection turned off, the supply the BBA service set.
//! Records that a client wrote in the same batch already show their value.
use std::sync::Arc;

use epics_pvxs_sys::{EnumIndex, Field, Ioc};
use tokio::sync::watch;

use crate::core::Participant;
use crate::core::snapshot::Snapshot;
use crate::core::state::{Rules, setpoint_value};
use crate::machine::{Machine, OutputKind, Schema, Setpoint};
use crate::prefix::Prefix;

enum Output {
    Analog(Field<f64>),
    Enum(Field<EnumIndex>),
}

pub struct OutputMirror {
    outputs: Vec<(Setpoint, Output, f64)>,
    schema: Arc<Schema>,
    rules: Rules,
}

impl OutputMirror {
    /// `initial`: the values the records started from.
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine, initial: &[(Setpoint, f64)]) -> anyhow::Result<Self> {
        let outputs = machine
            .catalogue
            .entries()
            .iter()
            .map(|e| {
                let pv = prefix.pv(&e.pv);
                let out = match e.output {
                    OutputKind::Analog { .. } => Output::Analog(ioc.field(&pv)?),
                    OutputKind::Binary { .. } | OutputKind::Multi { .. } => Output::Enum(ioc.field(&pv)?),
                };
                let start = initial.iter().find(|(s, _)| *s == e.setpoint).map_or(e.initial, |(_, v)| *v);
                Ok((e.setpoint, out, start))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let rules = Rules::new(&machine.profile, Arc::clone(&machine.catalogue));
        Ok(Self { outputs, schema: Arc::clone(&machine.schema), rules })
    }

    pub async fn run(
        mut self,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        participant: Participant,
    ) -> anyhow::Result<()> {
        super::serve(snapshots, participant, |snap| self.mirror(snap)).await
    }

    fn mirror(&mut self, snap: &Snapshot) -> anyhow::Result<()> {
        for (setpoint, output, shown) in &mut self.outputs {
            // a client's write left its value in the record (the last one wins)
            if let Some((_, v)) = snap.written.iter().rev().find(|(s, _)| s == setpoint) {
                *shown = *v;
            }
            let value = setpoint_value(&snap.settings, &self.schema, &self.rules, *setpoint);
            if value == *shown {
                continue;
            }
            // skipped while a client's (newer) write is in flight on the
            // record: that write reaches the model; looked at again with
            // the next publication
            let posted = match output {
                Output::Analog(f) => f.set_and_post(&value)?,
                Output::Enum(f) => f.set_and_post(&EnumIndex(value as u16))?,
            };
            if posted {
                *shown = value;
            }
        }
        Ok(())
    }
}
