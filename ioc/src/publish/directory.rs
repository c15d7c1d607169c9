//! Posts the directory of the IOC's PVs (`$(P)TWIN:PVS`, records/directory.rs)
//! once at start-up: it describes the loaded records and does not change.
use std::time::SystemTime;

use anyhow::Context;
use epics_pvxs_sys::{Field, Ioc, Update};

use crate::machine::Machine;
use crate::prefix::Prefix;
use crate::records::{db_files, directory, health_records};

/// Fills the table's columns (the last column triggers the one update).
pub fn post(ioc: &Ioc, prefix: &Prefix, machine: &Machine) -> anyhow::Result<()> {
    let entries = directory::entries(&db_files(machine), &health_records());
    let update = Update::at(SystemTime::now());
    for (name, values) in directory::columns(&entries) {
        let field: Field<[String]> = ioc.field(&prefix.pv(&name))?;
        field.post(values.as_slice(), &update).with_context(|| format!("posting {name}"))?;
    }
    Ok(())
}
