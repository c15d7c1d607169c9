//! Routes each write to whoever owns its record, by record key: the model
//! core (setpoints and BBA commands) or the self-test device. A refused
//! write gets its record's last good value back before its put fails.
use std::collections::HashMap;
use std::sync::Arc;

use anyhow::bail;
use epics_pvxs_sys::{Completion, EnumIndex, Field, Ioc, RecordKey, WriteRequest, WriteValue};
use std::sync::mpsc::Sender;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::core::{Ack, BbaCommand, Command, Input, Refusal, Request};
use crate::machine::{Machine, OutputKind};
use crate::names;
use crate::prefix::Prefix;
use crate::selftest::{Selftest, SelftestInput};

/// Puts a last good value back into an output record (no processing).
pub enum Restorer {
    Analog(Field<f64>),
    /// bo and mbbo: the state index.
    Enum(Field<EnumIndex>),
}

impl Restorer {
    fn restore(&self, value: f64) -> epics_pvxs_sys::Result<()> {
        match self {
            Restorer::Analog(f) => f.set_without_processing(&value),
            Restorer::Enum(f) => f.set_without_processing(&EnumIndex(value as u16)),
        }
    }

    fn record_key(&self) -> RecordKey {
        match self {
            Restorer::Analog(f) => f.record_key(),
            Restorer::Enum(f) => f.record_key(),
        }
    }
}

/// What a written record means, resolved once at start-up.
enum Route {
    Selftest(SelftestInput),
    Core { request: Request, restore: Option<Arc<Restorer>> },
}

/// Owns the write routing and serves the write stream.
#[derive(Default)]
pub struct Router {
    routes: HashMap<RecordKey, Route>,
    selftest: Option<Selftest>,
    core: Option<Sender<Command>>,
}

/// What a record handed over, as the core takes it.
pub fn input(value: &WriteValue) -> Input {
    match value {
        WriteValue::Double(v) => Input::Number(*v),
        WriteValue::Long(v) => Input::Number(f64::from(*v)),
        WriteValue::Enum(EnumIndex(i)) => Input::Number(f64::from(*i)),
        WriteValue::Text(s) => Input::Other(format!("text {s:?}")),
        WriteValue::DoubleArray(v) => Input::Other(format!("an array of {}", v.len())),
    }
}

/// The acknowledgement of a record's write: completes the put, restoring
/// the record's last good value first when the write was refused.
pub fn ack(completion: Completion, restore: Option<Arc<Restorer>>) -> Ack {
    Ack::new(move |result: Result<(), Refusal>| match result {
        Ok(()) => completion.succeed(),
        Err(Refusal { reason, restore: value }) => {
            let restored = match (restore, value) {
                (Some(r), Some(v)) => r.restore(v).map_err(|e| format!("{reason}; record not restored: {e}")),
                _ => Ok(()),
            };
            completion.fail(&restored.err().unwrap_or(reason));
        }
    })
}

impl Router {
    pub fn add_selftest(&mut self, selftest: Selftest) {
        for (key, input) in selftest.inputs() {
            self.routes.insert(key, Route::Selftest(input));
        }
        self.selftest = Some(selftest);
    }

    /// Routes every setpoint of the catalogue and the BBA commands to the core.
    pub fn add_machine(
        &mut self,
        ioc: &Ioc,
        prefix: &Prefix,
        machine: &Machine,
        core: Sender<Command>,
    ) -> anyhow::Result<()> {
        for e in machine.catalogue.entries() {
            let pv = prefix.pv(&e.pv);
            let restorer = match e.output {
                OutputKind::Analog { .. } => Restorer::Analog(ioc.field(&pv)?),
                OutputKind::Binary { .. } | OutputKind::Multi { .. } => Restorer::Enum(ioc.field(&pv)?),
            };
            self.add(Request::Set(e.setpoint), restorer);
        }
        let quads =
            machine.schema.multiplexer_quads().map(|q| (names::bba_quad(&q.name, "run"), BbaCommand::Run(q.id)));
        let global = [("runAll", BbaCommand::RunAll), ("abort", BbaCommand::Abort), ("clear", BbaCommand::Clear)];
        let has_bba = machine.schema.multiplexer_quads().next().is_some();
        let commands: Vec<_> =
            quads.chain(global.into_iter().filter(|_| has_bba).map(|(n, c)| (names::bba(n), c))).collect();
        for (name, cmd) in commands {
            self.add(Request::Bba(cmd), Restorer::Enum(ioc.field(&prefix.pv(&name))?));
        }
        self.core = Some(core);
        Ok(())
    }

    fn add(&mut self, request: Request, restorer: Restorer) {
        self.routes.insert(restorer.record_key(), Route::Core { request, restore: Some(Arc::new(restorer)) });
    }

    /// Routes `record` to the core without a record handle (tests).
    pub fn add_detached(&mut self, record: RecordKey, request: Request, core: Sender<Command>) {
        self.routes.insert(record, Route::Core { request, restore: None });
        self.core = Some(core);
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
        match self.routes.get(&request.record) {
            Some(Route::Selftest(input)) => match self.selftest.as_mut() {
                Some(s) => s.handle(*input, request),
                None => bail!("self-test route without device"),
            },
            Some(Route::Core { restore, .. }) => {
                let ack = ack(request.completion, restore.clone());
                self.forward(request.record, &request.value, ack)
            }
            None => {
                tracing::debug!(record = ?request.record, "write to a record without a Rust device");
                request.completion.fail("no device behind this record");
                Ok(())
            }
        }
    }

    /// Hands a write of a core route to the core; a record without a core
    /// route is refused through its acknowledgement.
    pub fn forward(&self, record: RecordKey, value: &WriteValue, ack: Ack) -> anyhow::Result<()> {
        let Some(Route::Core { request, .. }) = self.routes.get(&record) else {
            ack.refuse(Refusal { reason: "no device behind this record".into(), restore: None });
            return Ok(());
        };
        let core = self.core.as_ref().ok_or_else(|| anyhow::anyhow!("core route without core"))?;
        let command = Command::Write { request: *request, input: input(value), ack };
        core.send(command).map_err(|_| anyhow::anyhow!("the model core is gone"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{PcId, Setpoint};

    #[test]
    fn writes_reach_the_core_with_their_target_and_unknown_records_are_refused() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut router = Router::default();
        let key = RecordKey::detached(1);
        router.add_detached(key, Request::Set(Setpoint::PcCurrent(PcId(3))), tx.clone());
        router.add_detached(RecordKey::detached(2), Request::Bba(BbaCommand::Abort), tx);
        router.forward(key, &WriteValue::Double(0.25), Ack::none()).expect("forwarded");
        match rx.try_recv().expect("a command") {
            Command::Write { request, input, .. } => {
                assert_eq!(request, Request::Set(Setpoint::PcCurrent(PcId(3))));
                assert_eq!(input, Input::Number(0.25));
            }
            Command::Tick | Command::Batch { .. } | Command::Follow { .. } => panic!("not a record's write"),
        }
        router.forward(RecordKey::detached(2), &WriteValue::Enum(EnumIndex(1)), Ack::none()).expect("forwarded");
        assert!(matches!(rx.try_recv(), Ok(Command::Write { request: Request::Bba(BbaCommand::Abort), .. })));
        let (done, refused) = std::sync::mpsc::channel();
        let ack = Ack::new(move |r| done.send(r).expect("receiver"));
        router.forward(RecordKey::detached(9), &WriteValue::Double(1.0), ack).expect("handled");
        assert!(refused.try_recv().expect("answered").is_err(), "no route: refused");
        assert!(rx.try_recv().is_err(), "nothing reached the core");
    }

    #[test]
    fn a_stopped_core_is_an_error() {
        let (tx, rx) = std::sync::mpsc::channel();
        drop(rx);
        let mut router = Router::default();
        router.add_detached(RecordKey::detached(1), Request::Set(Setpoint::MasterClock), tx);
        assert!(router.forward(RecordKey::detached(1), &WriteValue::Double(1.0), Ack::none()).is_err());
    }

    #[test]
    fn record_values_become_core_inputs() {
        assert_eq!(input(&WriteValue::Double(1.5)), Input::Number(1.5));
        assert_eq!(input(&WriteValue::Long(-3)), Input::Number(-3.0));
        assert_eq!(input(&WriteValue::Enum(EnumIndex(1))), Input::Number(1.0));
        assert!(matches!(input(&WriteValue::Text("1.0abc".into())), Input::Other(t) if t.contains("1.0abc")));
        assert!(matches!(input(&WriteValue::DoubleArray(vec![1.0, 2.0])), Input::Other(_)));
    }
}
