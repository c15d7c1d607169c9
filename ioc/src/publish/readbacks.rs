//! Converter readbacks (`<PC>:rdbk`): what each converter delivers, posted
//! when the value or its alarm changes (as an ai with MDEL 0 posts its
//! monitors), optionally after the converters' settling time. A tripped
//! converter's readback carries MAJOR/STATE, one the model has no magnet
//! for MINOR/SOFT. An unchanged readback keeps the time stamp of the
//! computation that last changed it: posting all of them took a third of
//! the publication of a write.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use epics_pvxs_sys::{Alarm, AlarmStatus, Field, Ioc, Severity, Update};

use crate::core::snapshot::Settings;
use crate::machine::{Machine, PcId};
use crate::prefix::Prefix;

/// The alarm a readback shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shows {
    Delivering,
    Tripped,
    Unmodelled,
}

impl Shows {
    fn update(self, update: &Update) -> Update {
        match self {
            Shows::Delivering => update.clone(),
            Shows::Tripped => {
                update.clone().with_alarm(Alarm::new(Severity::Major, AlarmStatus::State, String::from("tripped")))
            }
            Shows::Unmodelled => {
                update.clone().with_alarm(Alarm::new(Severity::Minor, AlarmStatus::Soft, "no magnet in the model"))
            }
        }
    }
}

pub struct Readbacks {
    /// By `PcId`, then the unmodelled converters by `UnmodelledId`.
    fields: Vec<Arc<Field<f64>>>,
    modelled: usize,
    settle: Option<Duration>,
    /// What each field last showed (value bits, alarm); None before the first post.
    shown: Vec<Option<(u64, Shows)>>,
}

impl Readbacks {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine, readback_settle_s: f64) -> anyhow::Result<Self> {
        let suffix = &machine.profile.magnets.readback_suffix;
        let rdbk = |name: &str| ioc.field(&prefix.pv(&format!("{name}{suffix}"))).map(Arc::new);
        let schema = &machine.schema;
        let fields = schema
            .power_converters
            .iter()
            .map(|pc| rdbk(&pc.name))
            .chain(schema.unmodelled.iter().map(|u| rdbk(&u.name)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            shown: vec![None; fields.len()],
            fields,
            modelled: schema.power_converters.len(),
            settle: (readback_settle_s > 0.0).then(|| Duration::from_secs_f64(readback_settle_s)),
        })
    }

    /// What field `k` shows with settings `s`.
    fn now(&self, s: &Settings, k: usize) -> (f64, Shows) {
        match k.checked_sub(self.modelled) {
            None if s.tripped.get(k).copied().unwrap_or(false) => (s.output_a(PcId(k)), Shows::Tripped),
            None => (s.output_a(PcId(k)), Shows::Delivering),
            Some(u) => (s.unmodelled_a.get(u).copied().unwrap_or(0.0), Shows::Unmodelled),
        }
    }

    /// Posts the readbacks that changed since the last post, at `update`'s
    /// time or, with a settling time, that much later.
    pub fn post(&mut self, s: &Settings, update: &Update) -> anyhow::Result<()> {
        let mut posts: Vec<(Arc<Field<f64>>, f64, Shows)> = Vec::new();
        for k in 0..self.fields.len() {
            let (value, shows) = self.now(s, k);
            if self.shown[k] != Some((value.to_bits(), shows)) {
                self.shown[k] = Some((value.to_bits(), shows));
                posts.push((Arc::clone(&self.fields[k]), value, shows));
            }
        }
        let Some(delay) = self.settle else {
            for (f, v, shows) in &posts {
                f.post(v, &shows.update(update))?;
            }
            return Ok(());
        };
        if posts.is_empty() {
            return Ok(());
        }
        let update = update.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let now = Update { time: Some(SystemTime::now()), ..update };
            for (f, v, shows) in &posts {
                if let Err(e) = f.post(v, &shows.update(&now)) {
                    tracing::error!("readback {}: {e}", f.name());
                }
            }
        });
        Ok(())
    }
}
