//! The put log: every accepted client put (Channel Access and PV Access),
//! from EPICS' write-trap listener, with time, user, host, channel and the
//! value before and after. Each entry goes to the IOC log, to
//! `$(P)TWIN:PUTLOG:LAST` and, with a store, to its `put_log` (the
//! persister's write-behind, outage and retry rules).
use std::time::SystemTime;

use anyhow::Context;
use epics_pvxs_sys::{Field, Ioc, PutEntry, Update};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::core::journal::{Journal, PutRecord};
use crate::names;
use crate::prefix::Prefix;

/// `$(P)TWIN:PUTLOG:LAST` (long string) and `$(P)TWIN:PUTLOG:COUNT`.
pub struct PutLog {
    last: Field<[u8]>,
    count: Field<i32>,
    store: Option<UnboundedSender<Journal>>,
}

/// One line of the log: `<time> <user>@<host> <ca|pva> <channel> <old> -> <new>`.
pub fn line(r: &PutRecord) -> String {
    let at = humantime::format_rfc3339_millis(r.at);
    format!("{at} {}@{} {} {} {} -> {}", r.user, r.host, r.protocol, r.channel, r.old, r.new)
}

impl PutLog {
    /// The put log's PVs; `store`: the persister's journal, if the twin
    /// keeps a store.
    pub fn attach(ioc: &Ioc, prefix: &Prefix, store: Option<UnboundedSender<Journal>>) -> anyhow::Result<Self> {
        Ok(Self {
            last: ioc.field(&prefix.pv(&names::putlog("LAST")))?,
            count: ioc.field(&prefix.pv(&names::putlog("COUNT")))?,
            store,
        })
    }

    /// Logs every entry until the IOC stops: EPICS puts from the write
    /// trap, and `others` (the HTTP API's writes).
    pub async fn run(
        self,
        mut puts: UnboundedReceiver<PutEntry>,
        mut others: UnboundedReceiver<PutRecord>,
    ) -> anyhow::Result<()> {
        let mut count: i32 = 0;
        loop {
            let record = tokio::select! {
                Some(e) = puts.recv() => PutRecord {
                    at: SystemTime::now(),
                    user: e.user,
                    host: e.host,
                    protocol: e.protocol.as_str(),
                    channel: e.channel,
                    old: e.old.trim().to_string(),
                    new: e.new.trim().to_string(),
                },
                Some(r) = others.recv() => r,
                else => return Ok(()),
            };
            let text = line(&record);
            tracing::info!(target: "putlog", "{text}");
            count = count.wrapping_add(1);
            let update = Update::at(record.at);
            let mut bytes = text.into_bytes();
            bytes.truncate((self.last.capacity() as usize).saturating_sub(1));
            self.last.post(bytes.as_slice(), &update).context("posting the last put")?;
            self.count.post(&count, &update).context("posting the put count")?;
            if let Some(store) = &self.store {
                store.send(Journal::Put(record)).map_err(|_| anyhow::anyhow!("the persister is gone"))?;
            }
        }
    }
}
