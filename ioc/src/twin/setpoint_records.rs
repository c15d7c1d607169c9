//! The output records of every setpoint, resolved once: their keys route
//! writes, their handles restore the last good value of a refused write.
use epics_pvxs_sys::{EnumIndex, Field, Ioc, RecordKey};
use twin_engine::lattice::Plane;

use super::{BbaCommand, ModelTarget, Setpoint};
use crate::machine::Schema;
use crate::prefix::Prefix;

enum Output {
    Double(Field<f64>),
    Binary(Field<EnumIndex>),
}

pub struct SetpointRecords {
    outputs: Vec<(Setpoint, Output)>,
    commands: Vec<(RecordKey, BbaCommand)>,
}

impl SetpointRecords {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, schema: &Schema) -> anyhow::Result<Self> {
        let d = |n: &str| -> anyhow::Result<Output> { Ok(Output::Double(ioc.field(&prefix.pv(n))?)) };
        let b = |n: &str| -> anyhow::Result<Output> { Ok(Output::Binary(ioc.field(&prefix.pv(n))?)) };
        let mut outputs = Vec::new();
        for pc in &schema.power_converters {
            outputs.push((Setpoint::PcCurrent(pc.id), d(&format!("{}:set", pc.name))?));
        }
        outputs.push((Setpoint::MasterClock, d("MCLKHX251C:freq")?));
        let mut commands = Vec::new();
        for q in &schema.quads {
            outputs.push((Setpoint::QuadOffset(q.id, Plane::Horizontal), d(&format!("TWIN:{}:x:set", q.name))?));
            outputs.push((Setpoint::QuadOffset(q.id, Plane::Vertical), d(&format!("TWIN:{}:y:set", q.name))?));
            if q.on_multiplexer {
                outputs.push((Setpoint::MuxSelect(q.id), b(&format!("PMUXZR:{}", q.name))?));
                commands
                    .push((ioc.record_key(&prefix.pv(&format!("TWIN:BBA:{}:run", q.name)))?, BbaCommand::Run(q.id)));
            }
        }
        outputs.push((Setpoint::MuxOff, b("PMUXZR:off")?));
        outputs.push((Setpoint::AuxCurrent, d("QSPAZR:set")?));
        commands.push((ioc.record_key(&prefix.pv("TWIN:BBA:runAll"))?, BbaCommand::RunAll));
        commands.push((ioc.record_key(&prefix.pv("TWIN:BBA:abort"))?, BbaCommand::Abort));
        commands.push((ioc.record_key(&prefix.pv("TWIN:BBA:clear"))?, BbaCommand::Clear));
        Ok(Self { outputs, commands })
    }

    /// (record, target) of every write the model owner handles.
    pub fn routes(&self) -> Vec<(RecordKey, ModelTarget)> {
        let outputs = self.outputs.iter().map(|(sp, o)| {
            let key = match o {
                Output::Double(f) => f.record_key(),
                Output::Binary(f) => f.record_key(),
            };
            (key, ModelTarget::Setpoint(*sp))
        });
        outputs.chain(self.commands.iter().map(|(k, c)| (*k, ModelTarget::Bba(*c)))).collect()
    }

    /// Puts `value` back into the setpoint's record (no processing).
    pub fn restore(&self, setpoint: Setpoint, value: f64) -> anyhow::Result<()> {
        let Some((_, out)) = self.outputs.iter().find(|(sp, _)| *sp == setpoint) else { return Ok(()) };
        match out {
            Output::Double(f) => f.set_without_processing(&value)?,
            Output::Binary(f) => f.set_without_processing(&EnumIndex(value as u16))?,
        }
        Ok(())
    }
}
