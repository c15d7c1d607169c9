//! Every magnet's strength in effect (`<M>:Cm:rdbk`) and coil current
//! (`<M>:im:I`), posted when they change.
use epics_pvxs_sys::{Field, Ioc, Update};

use crate::core::snapshot::Settings;
use crate::core::state::{Rules, coil_current_a, magnet_strength};
use crate::machine::{Machine, MagnetId, Schema};
use crate::names;
use crate::prefix::Prefix;

pub struct MagnetFields {
    /// (strength, current) by `MagnetId`.
    fields: Vec<[Field<f64>; 2]>,
    shown: Vec<[f64; 2]>,
}

impl MagnetFields {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine) -> anyhow::Result<Self> {
        let fields = machine
            .schema
            .magnets
            .iter()
            .map(|r| {
                let name = &machine.schema.magnet(r.id).name;
                Ok([
                    ioc.field(&prefix.pv(&names::magnet_strength_rdbk(name)))?,
                    ioc.field(&prefix.pv(&names::magnet_current(name)))?,
                ])
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let shown = vec![[f64::NAN; 2]; fields.len()];
        Ok(Self { fields, shown })
    }

    pub fn post(&mut self, s: &Settings, schema: &Schema, rules: &Rules, update: &Update) -> anyhow::Result<()> {
        for (k, fields) in self.fields.iter().enumerate() {
            let m = MagnetId(k);
            let now = [magnet_strength(s, schema, rules, m), coil_current_a(s, schema, rules, m)];
            for (i, field) in fields.iter().enumerate() {
                if now[i] != self.shown[k][i] {
                    field.post(&now[i], update)?;
                }
            }
            self.shown[k] = now;
        }
        Ok(())
    }
}
