//! A loopback device that exercises every path of the IOC foundation with
//! real records (`db/twin_selftest.db`): writes reaching Rust, held and
//! released put completions, alarms with messages, scalar/array/string
//! updates and an NTTable group. Loaded by test startup scripts only.
use std::time::{Duration, SystemTime};

use anyhow::Context;
use epics_pvxs_sys::{
    Alarm, AlarmStatus, Completion, EnumIndex, EpicsError, Field, Ioc, RecordKey, Severity, Update, WriteRequest,
    WriteValue,
};

use crate::prefix::Prefix;

/// Rows of the self-test table.
const TABLE_ROWS: usize = 8;
/// Period of `TICK` updates, used to measure update → monitor latency.
const TICK_PERIOD: Duration = Duration::from_millis(20);

/// Which self-test output record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelftestInput {
    Setpoint,
    Hold,
    Alarm,
    Fill,
    Message,
}

/// Resolved inputs (outputs of the IOC) and the state behind them.
pub struct Selftest {
    inputs: Vec<(RecordKey, SelftestInput)>,
    echo: Field<f64>,
    writes: Field<i32>,
    int16s: Field<[i16]>,
    doubles: Field<[f64]>,
    names: Field<[String]>,
    state: Field<EnumIndex>,
    label: Field<str>,
    table_name: Field<[String]>,
    table_x: Field<[f64]>,
    table_y: Field<[f64]>,
    tick: Option<Field<f64>>,
    write_count: i32,
    last_setpoint: f64,
    alarm: Option<Alarm>,
    hold: bool,
    held: Vec<Completion>,
}

impl Selftest {
    /// Resolves the self-test records, or `None` when they are not loaded.
    pub fn attach(ioc: &Ioc, prefix: &Prefix) -> anyhow::Result<Option<Self>> {
        let pv = |s: &str| prefix.pv(&format!("TWIN:SELFTEST:{s}"));
        let setpoint: Field<f64> = match ioc.field(&pv("SETPOINT")) {
            Ok(f) => f,
            Err(EpicsError::NoRecord(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let key = |name: &str| ioc.record_key(&pv(name));
        let inputs = vec![
            (setpoint.record_key(), SelftestInput::Setpoint),
            (key("HOLD")?, SelftestInput::Hold),
            (key("ALARM")?, SelftestInput::Alarm),
            (key("FILL")?, SelftestInput::Fill),
            (key("MSG")?, SelftestInput::Message),
        ];
        Ok(Some(Self {
            inputs,
            echo: ioc.field(&pv("ECHO"))?,
            writes: ioc.field(&pv("WRITES"))?,
            int16s: ioc.field(&pv("I16"))?,
            doubles: ioc.field(&pv("F64"))?,
            names: ioc.field(&pv("NAMES"))?,
            state: ioc.field(&pv("STATE"))?,
            label: ioc.field(&pv("LABEL"))?,
            table_name: ioc.field(&pv("TABLE:NAME"))?,
            table_x: ioc.field(&pv("TABLE:X"))?,
            table_y: ioc.field(&pv("TABLE:Y"))?,
            tick: Some(ioc.field(&pv("TICK"))?),
            write_count: 0,
            last_setpoint: 0.0,
            alarm: None,
            hold: false,
            held: Vec::new(),
        }))
    }

    pub fn inputs(&self) -> impl Iterator<Item = (RecordKey, SelftestInput)> + '_ {
        self.inputs.iter().copied()
    }

    /// The periodic `TICK` publisher (value = sequence number, time = now).
    pub fn ticker(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        let tick = self.tick.take();
        async move {
            let Some(tick) = tick else { return Ok(()) };
            let mut period = tokio::time::interval(TICK_PERIOD);
            let mut seq = 0.0;
            loop {
                period.tick().await;
                tick.post(&seq, &Update::at(SystemTime::now())).context("posting TICK")?;
                seq += 1.0;
            }
        }
    }

    pub fn handle(&mut self, input: SelftestInput, request: WriteRequest) -> anyhow::Result<()> {
        let now = SystemTime::now();
        match (input, &request.value) {
            (SelftestInput::Setpoint, WriteValue::Double(v)) => {
                self.write_count = self.write_count.wrapping_add(1);
                self.last_setpoint = *v;
                self.post_echo(now)?;
                self.writes.post(&self.write_count, &Update::at(now))?;
                if self.hold {
                    self.held.push(request.completion);
                    return Ok(());
                }
            }
            (SelftestInput::Hold, WriteValue::Enum(EnumIndex(h))) => {
                self.hold = *h != 0;
                if !self.hold {
                    self.held.drain(..).for_each(Completion::succeed);
                }
            }
            (SelftestInput::Alarm, WriteValue::Enum(EnumIndex(s))) => {
                self.alarm = severity(*s).map(|sev| Alarm::new(sev, AlarmStatus::Soft, "self-test alarm"));
                self.post_echo(now)?;
            }
            (SelftestInput::Fill, WriteValue::Long(n)) => self.fill(*n, now)?,
            (SelftestInput::Message, WriteValue::Text(text)) => self.label.post(text, &Update::at(now))?,
            (input, value) => {
                let msg = format!("unexpected value {value:?} for {input:?}");
                request.completion.fail(&msg);
                return Ok(());
            }
        }
        request.completion.succeed();
        Ok(())
    }

    fn post_echo(&self, now: SystemTime) -> anyhow::Result<()> {
        let mut update = Update::at(now);
        update.alarm = self.alarm.clone();
        Ok(self.echo.post(&self.last_setpoint, &update)?)
    }

    /// Fills the arrays with patterns derived from `n`, so a client can
    /// check every element.
    fn fill(&self, n: i32, now: SystemTime) -> anyhow::Result<()> {
        let update = Update::at(now);
        let int16s: Vec<i16> = (0..self.int16s.capacity() as i32).map(|k| k.wrapping_mul(n) as i16).collect();
        let doubles: Vec<f64> = (0..self.doubles.capacity()).map(|k| f64::from(n) + 0.5 * f64::from(k)).collect();
        let names: Vec<String> = (0..self.names.capacity()).map(|k| format!("ROW{k}-{n}")).collect();
        self.int16s.post(&int16s, &update)?;
        self.doubles.post(&doubles, &update)?;
        self.names.post(&names, &update)?;
        self.state.post(&EnumIndex(n.rem_euclid(4) as u16), &update)?;
        self.label.post(&format!("fill {n}"), &update)?;
        let rows: Vec<String> = (0..TABLE_ROWS).map(|k| format!("BPM{k}")).collect();
        let x: Vec<f64> = (0..TABLE_ROWS).map(|k| f64::from(n) * k as f64).collect();
        let y: Vec<f64> = (0..TABLE_ROWS).map(|k| -f64::from(n) * k as f64).collect();
        // Y carries the group trigger: post it last so one table update
        // holds all columns of this fill.
        self.table_name.post(&rows, &update)?;
        self.table_x.post(&x, &update)?;
        self.table_y.post(&y, &update)?;
        Ok(())
    }
}

fn severity(index: u16) -> Option<Severity> {
    match index {
        1 => Some(Severity::Minor),
        2 => Some(Severity::Major),
        3 => Some(Severity::Invalid),
        _ => None,
    }
}
