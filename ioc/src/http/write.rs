//! Writes through the HTTP API: the same core path as EPICS writes
//! (answered after publication), the same access rules, the same put log.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;

use super::HttpState;
use super::error::ApiError;
use super::twin::WriteOutcome;
use crate::core::journal::PutRecord;
use crate::core::state::setpoint_value;
use crate::core::{Ack, Command, Refusal};
use crate::machine::Setpoint;

/// How long a write waits for the core and the publishers.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Refuses every write in read-only mode.
fn writable(state: &HttpState) -> Result<(), ApiError> {
    match state.access.read_only {
        true => Err(ApiError::forbidden("the twin is in read-only mode: no client may write")),
        false => Ok(()),
    }
}

/// Hands `command` (built around its acknowledgement; after `writable`) to the core and
/// waits for the answer; a refusal becomes `refused` with the reason.
async fn submit(state: &HttpState, command: impl FnOnce(Ack) -> Command, refused: StatusCode) -> Result<(), ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel::<Result<(), Refusal>>();
    let ack = Ack::new(move |r| {
        let _ = tx.send(r);
    });
    state.commands.send(command(ack)).map_err(|_| ApiError::unavailable("the model core is not running"))?;
    let answer = tokio::time::timeout(WRITE_TIMEOUT, rx)
        .await
        .map_err(|_| ApiError::unavailable("the write was not acknowledged in time"))?
        .map_err(|_| ApiError::unavailable("the model core dropped the write"))?;
    answer.map_err(|r| ApiError::new(refused, r.reason))
}

/// Puts an accepted HTTP write into the put log (user `http`, the client's
/// address); returns the channel's full name.
fn log(state: &HttpState, peer: SocketAddr, name: &str, old: String, new: String) -> String {
    let channel = state.prefix.pv(name);
    let record = PutRecord {
        at: SystemTime::now(),
        user: "http".into(),
        host: peer.ip().to_string(),
        protocol: "http",
        channel: channel.clone(),
        old,
        new,
    };
    // the put log has stopped only when the IOC is stopping
    let _ = state.put_log.send(record);
    channel
}

/// Applies `writes` (setpoint, PV name, value) as one batch: validated
/// together, all or none, one recompute.
pub async fn apply(
    state: &Arc<HttpState>,
    writes: Vec<(Setpoint, String, f64)>,
    peer: SocketAddr,
) -> Result<WriteOutcome, ApiError> {
    writable(state)?;
    if writes.is_empty() {
        return Err(ApiError::bad_request("no setpoints to write"));
    }
    let before = state.snapshots.borrow().clone();
    let old: Vec<f64> = writes
        .iter()
        .map(|(s, ..)| setpoint_value(&before.settings, &state.machine.schema, &state.rules, *s))
        .collect();
    let batch = writes.iter().map(|(s, _, v)| (*s, *v)).collect();
    submit(state, |ack| Command::Batch { writes: batch, ack }, StatusCode::UNPROCESSABLE_ENTITY).await?;
    for ((_, name, value), old) in writes.iter().zip(old) {
        log(state, peer, name, format!("{old}"), format!("{value}"));
    }
    Ok(WriteOutcome { applied: writes.len(), computation: state.snapshots.borrow().computation })
}

/// A command record's write of 1 (`pv`, e.g. `TWIN:BBA:runAll`); a
/// refusal by the service is a conflict. Returns the channel's full name.
pub async fn command(
    state: &HttpState,
    command: impl FnOnce(Ack) -> Command,
    pv: &str,
    peer: SocketAddr,
) -> Result<String, ApiError> {
    writable(state)?;
    submit(state, command, StatusCode::CONFLICT).await?;
    Ok(log(state, peer, pv, "0".into(), "1".into()))
}
