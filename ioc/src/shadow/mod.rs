//! Shadow mode: the twin follows a live machine read-only. A Channel
//! Access client of its own (`epics_pvxs_sys::Follower`, which has no
//! write path) subscribes to the source's converters (readbacks or
//! setpoints), its RF master clock, and for comparison its orbit, tunes
//! and current. Each burst of source updates goes to the core as one
//! `Command::Follow` (one recompute, answered after publication); the lag
//! from the source's time stamp to that publication is shown. The
//! followed setpoints are read-only to clients; a what-if overlay
//! (`TWIN:SHADOW:<PC>:whatif`) adds to the followed state. The difference
//! PVs show machine − model, with an alarm while the source is lost or
//! stale.
mod diff;
mod fields;
mod source;

use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use epics_pvxs_sys::{FollowEvent, Follower, Ioc};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::sync::oneshot;
use twin_engine::lattice::ElementId;

use crate::config::ShadowConfig;
use crate::core::snapshot::Snapshot;
use crate::core::{Ack, Command, CoreHandle};
use crate::machine::{BpmId, FollowPlan, Machine, Setpoint};
use crate::prefix::Prefix;
use diff::OrbitDifference;
use fields::{FollowerState, ShadowFields};
use source::{Refusals, Source};

/// How long one burst waits for the core and the publishers.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(10);
/// The state is looked at this often without events (staleness).
const STATE_PERIOD: Duration = Duration::from_millis(250);
/// While nothing of the source is connected, the client starts afresh
/// this often: its searches begin again at once instead of backing off
/// (without a CA repeater no beacon tells it the source is back).
const RESTART_PERIOD: Duration = Duration::from_secs(2);

/// What the differences are computed from: the snapshot's sequence number
/// and the source's comparison updates.
type Inputs = (u64, u64);
/// machine − model orbit and tunes; None before the source's orbit or a
/// valid model, an error when the orbit vectors do not match.
type Differences = Option<Result<(OrbitDifference, [f64; 2]), String>>;

pub struct Shadow {
    source: Source,
    fields: ShadowFields,
    slots: Vec<Option<(ElementId, BpmId)>>,
    harmonic_number: f64,
    stale_after: Duration,
    updates: i32,
    /// The state and connected count last posted.
    shown: Option<(FollowerState, usize)>,
    /// The differences, computed once per snapshot and source comparison
    /// update (the key), and the key and state they were last posted with.
    computed: Option<(Inputs, Differences)>,
    posted: Option<(Inputs, FollowerState)>,
    refused: Refusals,
}

impl Shadow {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine, config: &ShadowConfig) -> anyhow::Result<Self> {
        let plan = FollowPlan::new(&machine.schema, &machine.profile, config);
        let source = Source::new(&config.source, &plan);
        let fields = ShadowFields::attach(ioc, prefix, &config.source, source.names().len())?;
        Ok(Self {
            source,
            fields,
            slots: machine.schema.orbit_slots.iter().map(|s| s.element.zip(s.bpm)).collect(),
            harmonic_number: machine.schema.harmonic_number,
            stale_after: Duration::from_secs_f64(config.stale_after_s),
            updates: 0,
            shown: None,
            computed: None,
            posted: None,
            refused: Refusals::default(),
        })
    }

    /// Follows until the core stops.
    pub async fn run(mut self, core: CoreHandle) -> anyhow::Result<()> {
        let (tx, mut events) = unbounded_channel();
        let start = |names: &[String]| {
            let tx = tx.clone();
            Follower::start(names, move |e| {
                // the receiver is gone only when this task ended
                let _ = tx.send(e);
            })
            .context("the shadow follower's Channel Access client")
        };
        let mut follower = Some(start(self.source.names())?);
        let mut started = Instant::now();
        tracing::info!(target: "shadow", channels = self.source.names().len(), "following {}", self.source.names()[0]);
        let mut snapshots = core.snapshots.clone();
        let mut tick = tokio::time::interval(STATE_PERIOD);
        loop {
            tokio::select! {
                event = events.recv() => {
                    let first = event.context("the shadow follower stopped")?;
                    self.take_burst(first, &mut events);
                    self.follow(&core).await?;
                }
                changed = snapshots.changed() => changed.context("the model core stopped")?,
                _ = tick.tick() => {
                    if self.source.connected() == 0 && started.elapsed() >= RESTART_PERIOD {
                        // the old client first: no callback of it runs after this
                        drop(follower.take());
                        self.source.disconnect_all();
                        follower = Some(start(self.source.names())?);
                        started = Instant::now();
                    }
                }
            }
            let snap = core.snapshots.borrow().clone();
            self.show(&snap)?;
        }
    }

    /// The event and everything queued behind it: one burst.
    fn take_burst(&mut self, first: FollowEvent, events: &mut UnboundedReceiver<FollowEvent>) {
        self.source.take(first);
        while let Ok(e) = events.try_recv() {
            self.source.take(e);
        }
    }

    /// Applies the burst's followed values as one command; shows its lag.
    async fn follow(&mut self, core: &CoreHandle) -> anyhow::Result<()> {
        let pending = std::mem::take(&mut self.source.pending);
        if pending.writes.is_empty() {
            return Ok(());
        }
        let writes: Vec<(Setpoint, f64)> = pending.writes.into_values().collect();
        let burst: Vec<Setpoint> = writes.iter().map(|(s, _)| *s).collect();
        let n = i32::try_from(writes.len())?;
        tracing::info!(target: "shadow", updates = n, first = ?writes[0], "applying source updates");
        let (tx, rx) = oneshot::channel();
        let ack = Ack::new(move |r| {
            let _ = tx.send(r);
        });
        core.commands.send(Command::Follow { writes, ack }).map_err(|_| anyhow::anyhow!("the model core stopped"))?;
        let answer = tokio::time::timeout(FOLLOW_TIMEOUT, rx).await;
        let failed = match answer {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(refusal))) => Some(format!("source values refused: {}", refusal.reason)),
            Ok(Err(_)) => anyhow::bail!("the model core dropped the followed values"),
            Err(_) => Some(format!("followed values not published within {FOLLOW_TIMEOUT:?}")),
        };
        self.refused.after(&burst, failed);
        self.updates = self.updates.wrapping_add(n);
        let lag = pending.newest.and_then(|t| SystemTime::now().duration_since(t).ok()).unwrap_or_default();
        self.fields.followed(lag.as_secs_f64() * 1e3, self.updates)
    }

    /// The state and the differences against the latest snapshot, each
    /// posted when what it shows changed.
    fn show(&mut self, snap: &Snapshot) -> anyhow::Result<()> {
        let inputs = (snap.seq, self.source.compared_updates);
        if self.computed.as_ref().is_none_or(|(i, _)| *i != inputs) {
            self.computed = Some((inputs, self.differences(snap)));
        }
        let differences = self.computed.as_ref().map(|(_, d)| d).and_then(Option::as_ref);
        let state = match (self.source.state(self.stale_after), self.refused.reason(), differences) {
            (FollowerState::Following, Some(why), _) => FollowerState::Stale(why.to_string()),
            (FollowerState::Following, None, Some(Err(why))) => FollowerState::Stale(why.clone()),
            (state, ..) => state,
        };
        let connected = self.source.connected();
        if self.shown.as_ref().is_none_or(|(s, _)| *s != state) {
            match &state {
                FollowerState::Following => tracing::info!(target: "shadow", "following the source"),
                FollowerState::SourceLost(m) | FollowerState::Stale(m) => tracing::warn!(target: "shadow", "{m}"),
            }
        }
        if self.shown.as_ref() != Some(&(state.clone(), connected)) {
            self.fields.state(&state, connected)?;
            self.shown = Some((state.clone(), connected));
        }
        let Some(Ok((orbit, dtune))) = differences else { return Ok(()) };
        if self.posted.as_ref() == Some(&(inputs, state.clone())) {
            return Ok(());
        }
        self.fields.differences(orbit, *dtune, &state, snap.time)?;
        self.posted = Some((inputs, state));
        Ok(())
    }

    fn differences(&self, snap: &Snapshot) -> Differences {
        let (machine, physics) = (self.source.orbit_nm.as_ref()?, snap.last_valid.as_ref()?);
        let model = diff::model_orbit_nm(physics, &self.slots, &snap.settings.bpms);
        let f_rev_khz = snap.settings.rf_khz / self.harmonic_number;
        let dtune = [0, 1].map(|p| {
            self.source.tunes_khz[p].map_or(f64::NAN, |m| diff::tune_difference(m, physics.tunes[p], f_rev_khz))
        });
        Some(diff::orbit_difference(machine, &model, &self.slots).map(|orbit| (orbit, dtune)))
    }
}
