//! Writes through the HTTP API: the same core path as EPICS writes (one
//! batch: validated together, all or none, one recompute, answered after
//! publication), the same access rules, the same put log.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::HttpState;
use super::error::ApiError;
use super::twin::WriteOutcome;
use crate::core::journal::PutRecord;
use crate::core::state::setpoint_value;
use crate::core::{Ack, Command};
use crate::machine::Setpoint;

/// How long a write waits for the core and the publishers.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Applies `writes` (setpoint, PV name, value) as one batch.
pub async fn apply(
    state: &Arc<HttpState>,
    writes: Vec<(Setpoint, String, f64)>,
    peer: SocketAddr,
) -> Result<WriteOutcome, ApiError> {
    if state.access.read_only {
        return Err(ApiError::forbidden("the twin is in read-only mode: no client may write"));
    }
    if writes.is_empty() {
        return Err(ApiError::bad_request("no setpoints to write"));
    }
    let before = state.snapshots.borrow().clone();
    let old: Vec<f64> = writes
        .iter()
        .map(|(s, ..)| setpoint_value(&before.settings, &state.machine.schema, &state.rules, *s))
        .collect();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let ack = Ack::new(move |r| {
        let _ = tx.send(r);
    });
    let batch = writes.iter().map(|(s, _, v)| (*s, *v)).collect();
    state
        .commands
        .send(Command::Batch { writes: batch, ack })
        .map_err(|_| ApiError::unavailable("the model core is not running"))?;
    let outcome = tokio::time::timeout(WRITE_TIMEOUT, rx)
        .await
        .map_err(|_| ApiError::unavailable("the write was not acknowledged in time"))?
        .map_err(|_| ApiError::unavailable("the model core dropped the write"))?;
    outcome.map_err(|r| ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, r.reason))?;
    let at = SystemTime::now();
    for ((_, name, value), old) in writes.iter().zip(old) {
        let record = PutRecord {
            at,
            user: "http".into(),
            host: peer.ip().to_string(),
            protocol: "http",
            channel: state.prefix.pv(name),
            old: format!("{old}"),
            new: format!("{value}"),
        };
        // the put log has stopped only when the IOC is stopping
        let _ = state.put_log.send(record);
    }
    Ok(WriteOutcome { applied: writes.len(), computation: state.snapshots.borrow().computation })
}
