//! What the follower knows of the source machine: which channels are
//! connected, the followed values not yet applied, the machine's latest
//! orbit and tunes; and the follower's state from that.
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use epics_pvxs_sys::{FollowEvent, FollowUpdate};

use super::fields::FollowerState;
use crate::machine::{FollowPlan, Setpoint};

/// Values of followed channels not yet applied, the newest source time
/// stamp among them.
#[derive(Debug, Default)]
pub struct Pending {
    pub writes: BTreeMap<usize, (Setpoint, f64)>,
    pub newest: Option<SystemTime>,
}

/// Source values the core refused (or did not publish in time), kept
/// until each of their setpoints is followed again: until then the model
/// differs from the machine in a way the differences do not show as such
/// (the follower says STALE).
#[derive(Debug, Default)]
pub struct Refusals {
    reason: Option<String>,
    open: HashSet<Setpoint>,
}

impl Refusals {
    /// After a burst of `burst`'s setpoints: `failed` says why it was not
    /// taken whole (None: taken).
    pub fn after(&mut self, burst: &[Setpoint], failed: Option<String>) {
        match failed {
            Some(why) => {
                self.open.extend(burst.iter().copied());
                self.reason = Some(why);
            }
            None => {
                burst.iter().for_each(|s| {
                    self.open.remove(s);
                });
                if self.open.is_empty() {
                    self.reason = None;
                }
            }
        }
    }

    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

pub struct Source {
    prefix: String,
    names: Vec<String>,
    setpoints: Vec<Setpoint>,
    connected: Vec<bool>,
    ever_connected: bool,
    pub pending: Pending,
    /// The machine's orbit vector [nm] and when it last updated.
    pub orbit_nm: Option<Vec<f64>>,
    orbit_at: Option<Instant>,
    /// The machine's tunes as frac(Q)·f_rev [kHz].
    pub tunes_khz: [Option<f64>; 2],
    /// Counts updates of the orbit and the tunes: the differences change
    /// with them.
    pub compared_updates: u64,
}

impl Source {
    pub fn new(prefix: &str, plan: &FollowPlan) -> Self {
        let names: Vec<String> = plan.channels().iter().map(|c| format!("{prefix}{c}")).collect();
        Self {
            prefix: prefix.into(),
            setpoints: plan.followed.iter().map(|f| f.setpoint).collect(),
            connected: vec![false; names.len()],
            names,
            ever_connected: false,
            pending: Pending::default(),
            orbit_nm: None,
            orbit_at: None,
            tunes_khz: [None; 2],
            compared_updates: 0,
        }
    }

    /// The channels to subscribe to, in index order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn connected(&self) -> usize {
        self.connected.iter().filter(|c| **c).count()
    }

    /// A new client starts: nothing is connected until it says so.
    pub fn disconnect_all(&mut self) {
        self.connected.iter_mut().for_each(|c| *c = false);
    }

    /// Takes one event of the follower.
    pub fn take(&mut self, event: FollowEvent) {
        match event {
            FollowEvent::Connection { index, connected } => {
                if let Some(c) = self.connected.get_mut(index) {
                    *c = connected;
                    self.ever_connected |= connected;
                }
            }
            FollowEvent::Update(u) => self.update(u),
        }
    }

    fn update(&mut self, u: FollowUpdate) {
        let followed = self.setpoints.len();
        let Some(&first) = u.values.first() else { return };
        match u.index {
            i if i < followed => {
                self.pending.writes.insert(i, (self.setpoints[i], first));
                self.pending.newest = Some(self.pending.newest.map_or(u.stamp, |t| t.max(u.stamp)));
            }
            i if i == followed => {
                self.orbit_nm = Some(u.values);
                self.orbit_at = Some(Instant::now());
                self.compared_updates += 1;
            }
            i if i == followed + 1 || i == followed + 2 => {
                self.tunes_khz[i - followed - 1] = Some(first);
                self.compared_updates += 1;
            }
            _ => {} // the current: subscribed for the connection state
        }
    }

    /// The follower's state now.
    pub fn state(&self, stale_after: Duration) -> FollowerState {
        let connected = self.connected();
        if connected == 0 {
            let what = if self.ever_connected { "lost" } else { "not reached yet" };
            return FollowerState::SourceLost(format!("{} {what}: no channel connected", self.prefix));
        }
        if connected < self.names.len() {
            let first = self.names.iter().zip(&self.connected).find(|(_, c)| !**c).map_or("", |(n, _)| n.as_str());
            let missing = self.names.len() - connected;
            return FollowerState::Stale(format!(
                "{missing} of {} source channels disconnected ({first})",
                self.names.len()
            ));
        }
        match self.orbit_at.map(|t| t.elapsed()) {
            Some(age) if age <= stale_after => FollowerState::Following,
            Some(age) => {
                FollowerState::Stale(format!("the source's orbit has not updated for {:.1} s", age.as_secs_f64()))
            }
            None => FollowerState::Stale("no orbit from the source yet".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ShadowConfig;
    use crate::machine::Machine;

    fn update(index: usize, values: Vec<f64>, stamp_s: u64) -> FollowEvent {
        FollowEvent::Update(FollowUpdate {
            index,
            values,
            status: 0,
            severity: 0,
            stamp: SystemTime::UNIX_EPOCH + Duration::from_secs(stamp_s),
        })
    }

    #[test]
    fn a_refused_value_stays_stale_until_its_setpoint_is_followed_again() {
        let [a, b] = [Setpoint::MasterClock, Setpoint::PcCurrent(crate::machine::PcId(0))];
        let mut r = Refusals::default();
        r.after(&[a], None);
        assert_eq!(r.reason(), None);
        r.after(&[a, b], Some("b refused".into()));
        r.after(&[a], None);
        assert_eq!(r.reason(), Some("b refused"), "b not followed since");
        r.after(&[b], None);
        assert_eq!(r.reason(), None);
    }

    #[test]
    fn lost_then_stale_then_following_and_the_latest_value_of_a_burst_wins() {
        let m = Machine::fodo();
        let plan = FollowPlan::new(&m.schema, &m.profile, &ShadowConfig { source: "M:".into(), ..Default::default() });
        let mut s = Source::new("M:", &plan);
        let long = Duration::from_secs(60);
        assert!(matches!(s.state(long), FollowerState::SourceLost(m) if m.contains("not reached yet")));
        let n = s.names().len();
        s.take(FollowEvent::Connection { index: 0, connected: true });
        assert!(matches!(s.state(long), FollowerState::Stale(m) if m.contains(&format!("{} of {n}", n - 1))));
        (1..n).for_each(|index| s.take(FollowEvent::Connection { index, connected: true }));
        assert!(matches!(s.state(long), FollowerState::Stale(m) if m.contains("no orbit")));
        let followed = plan.followed.len();
        s.take(update(followed, vec![1.0, 2.0], 5));
        assert_eq!(s.state(long), FollowerState::Following);
        assert!(matches!(s.state(Duration::ZERO), FollowerState::Stale(m) if m.contains("not updated")));
        s.take(update(0, vec![0.5], 7));
        s.take(update(0, vec![0.7], 6));
        assert_eq!(s.pending.writes[&0], (plan.followed[0].setpoint, 0.7));
        assert_eq!(s.pending.newest, Some(SystemTime::UNIX_EPOCH + Duration::from_secs(7)));
        s.take(update(followed + 2, vec![123.0], 8));
        assert_eq!(s.tunes_khz, [None, Some(123.0)]);
        (0..n).for_each(|index| s.take(FollowEvent::Connection { index, connected: false }));
        assert!(matches!(s.state(long), FollowerState::SourceLost(m) if m.contains("lost")));
    }
}
