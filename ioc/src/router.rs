//! Routes each write to the device that owns the record, by record key.
use std::collections::HashMap;

use anyhow::bail;
use epics_pvxs_sys::{RecordKey, WriteRequest};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::selftest::{Selftest, SelftestInput};

/// What a written record means to the twin, resolved once at start-up.
#[derive(Clone, Copy, Debug)]
enum Target {
    Selftest(SelftestInput),
}

/// Owns the devices and serves the write stream.
#[derive(Default)]
pub struct Router {
    targets: HashMap<RecordKey, Target>,
    selftest: Option<Selftest>,
}

impl Router {
    pub fn add_selftest(&mut self, selftest: Selftest) {
        for (key, input) in selftest.inputs() {
            self.targets.insert(key, Target::Selftest(input));
        }
        self.selftest = Some(selftest);
    }

    /// Handles writes until the stream closes (which only happens if the
    /// IOC core is gone, so it is an error).
    pub async fn run(mut self, mut writes: UnboundedReceiver<WriteRequest>) -> anyhow::Result<()> {
        while let Some(request) = writes.recv().await {
            self.dispatch(request)?;
        }
        bail!("the write stream of the IOC closed")
    }

    fn dispatch(&mut self, request: WriteRequest) -> anyhow::Result<()> {
        match (self.targets.get(&request.record).copied(), self.selftest.as_mut()) {
            (Some(Target::Selftest(input)), Some(selftest)) => selftest.handle(input, request),
            _ => {
                tracing::debug!(record = ?request.record, "write to a record without a Rust device");
                request.completion.fail("no device behind this record");
                Ok(())
            }
        }
    }
}
