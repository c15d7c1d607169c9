//! The twin's optics waveforms along a list of points: names once, then
//! one waveform per typed column.
use epics_pvxs_sys::{Field, Ioc, Update};
use twin_engine::coords::{X, Y};
use twin_engine::lattice::{ElementId, Lattice};

use crate::core::physics::Physics;
use crate::names;
use crate::prefix::Prefix;
use crate::records::columns::OpticsColumn;

pub struct OpticsWaveforms {
    /// Indices into the computation's points (element entrances, then the ring end).
    points: Vec<usize>,
    /// In `OpticsColumn::ALL` order.
    columns: Vec<Field<[f64]>>,
}

fn value(column: OpticsColumn, p: &Physics, i: usize) -> f64 {
    let point = &p.optics.points[i];
    let orbit = &p.orbit[i];
    match column {
        OpticsColumn::S => point.s_m,
        OpticsColumn::X => orbit[X],
        OpticsColumn::Y => orbit[Y],
        OpticsColumn::BetaX => point.twiss[0].beta_m,
        OpticsColumn::BetaY => point.twiss[1].beta_m,
        OpticsColumn::AlphaX => point.twiss[0].alpha,
        OpticsColumn::AlphaY => point.twiss[1].alpha,
        OpticsColumn::MuX => point.mu_rad[0],
        OpticsColumn::MuY => point.mu_rad[1],
        OpticsColumn::EtaX => point.dispersion[0],
    }
}

impl OpticsWaveforms {
    /// `TWIN:<group>:*` at `at` (None: every element entrance and the ring
    /// end); posts the names.
    pub fn attach(
        ioc: &Ioc,
        prefix: &Prefix,
        lattice: &Lattice,
        group: &str,
        at: Option<Vec<ElementId>>,
    ) -> anyhow::Result<Self> {
        let points: Vec<usize> = match at {
            Some(ids) => ids.iter().map(|e| e.0).collect(),
            None => (0..=lattice.len()).collect(),
        };
        let names_field = ioc.field::<[String]>(&prefix.pv(&names::optics(group, "NAMES")))?;
        let capacity = names_field.capacity() as usize;
        anyhow::ensure!(
            capacity == points.len(),
            "{} holds {capacity} elements, the lattice needs {} (regenerate the records: twin-ioc records)",
            names_field.name(),
            points.len()
        );
        let name = |i: usize| lattice.elements().get(i).map_or_else(|| "RING_END".to_string(), |e| e.name.clone());
        let now = Update::at(std::time::SystemTime::now());
        names_field.post(&points.iter().map(|&i| name(i)).collect::<Vec<_>>(), &now)?;
        let columns = OpticsColumn::ALL
            .iter()
            .map(|c| ioc.field::<[f64]>(&prefix.pv(&names::optics(group, c.suffix()))))
            .collect::<Result<_, _>>()?;
        Ok(Self { points, columns })
    }

    pub fn post(&self, p: &Physics, update: &Update) -> anyhow::Result<()> {
        for (column, field) in OpticsColumn::ALL.iter().zip(&self.columns) {
            let values: Vec<f64> = self.points.iter().map(|&i| value(*column, p, i)).collect();
            field.post(&values, update)?;
        }
        Ok(())
    }
}
