//! Routes each write to the device that owns the record, by record key.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::bail;
use epics_pvxs_sys::{EnumIndex, RecordKey, WriteRequest, WriteValue};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::selftest::{Selftest, SelftestInput};
use crate::twin::bpm::BpmPublisher;
use crate::twin::{DiagnosticsSetting, ModelTarget, ModelWrite};

/// What a written record means to the twin, resolved once at start-up.
#[derive(Clone, Copy, Debug)]
enum Target {
    Selftest(SelftestInput),
    Model(ModelTarget),
    Diagnostics(DiagnosticsSetting),
}

/// Owns the write routing and serves the write stream.
#[derive(Default)]
pub struct Router {
    targets: HashMap<RecordKey, Target>,
    selftest: Option<Selftest>,
    model: Option<UnboundedSender<ModelWrite>>,
    bpm: Option<Arc<Mutex<BpmPublisher>>>,
}

impl Router {
    pub fn add_selftest(&mut self, selftest: Selftest) {
        for (key, input) in selftest.inputs() {
            self.targets.insert(key, Target::Selftest(input));
        }
        self.selftest = Some(selftest);
    }

    pub fn add_model(&mut self, key: RecordKey, target: ModelTarget) {
        self.targets.insert(key, Target::Model(target));
    }

    pub fn add_diagnostics(&mut self, key: RecordKey, setting: DiagnosticsSetting) {
        self.targets.insert(key, Target::Diagnostics(setting));
    }

    pub fn connect_model(&mut self, model: UnboundedSender<ModelWrite>, bpm: Arc<Mutex<BpmPublisher>>) {
        self.model = Some(model);
        self.bpm = Some(bpm);
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
        match self.targets.get(&request.record).copied() {
            Some(Target::Selftest(input)) => match self.selftest.as_mut() {
                Some(s) => s.handle(input, request),
                None => bail!("self-test target without device"),
            },
            Some(Target::Model(target)) => {
                let model = self.model.as_ref().ok_or_else(|| anyhow::anyhow!("model target without model"))?;
                let write = ModelWrite { target, value: request.value, completion: request.completion };
                model.send(write).map_err(|_| anyhow::anyhow!("the model thread is gone"))
            }
            Some(Target::Diagnostics(setting)) => self.diagnostics(setting, request),
            None => {
                tracing::debug!(record = ?request.record, "write to a record without a Rust device");
                request.completion.fail("no device behind this record");
                Ok(())
            }
        }
    }

    fn diagnostics(&mut self, setting: DiagnosticsSetting, request: WriteRequest) -> anyhow::Result<()> {
        let bpm = self.bpm.as_ref().ok_or_else(|| anyhow::anyhow!("diagnostics target without BPMs"))?;
        let mut bpm = bpm.lock().map_err(|_| anyhow::anyhow!("BPM publisher poisoned"))?;
        match (setting, &request.value) {
            (DiagnosticsSetting::NoiseEnable, WriteValue::Enum(EnumIndex(v))) => bpm.set_noise(*v != 0),
            (DiagnosticsSetting::NoiseRms, WriteValue::Double(um)) if um.is_finite() && *um >= 0.0 => {
                bpm.set_noise_rms_m(um * 1e-6)
            }
            (s, v) => {
                request.completion.fail(&format!("invalid value {v:?} for {s:?}"));
                return Ok(());
            }
        }
        request.completion.succeed();
        Ok(())
    }
}
