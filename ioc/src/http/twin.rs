//! The twin's own routes: the current snapshot, the setpoints (read; write
//! one or many in one batch: all accepted or none, one recompute).
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::{HttpState, TAG_TWIN};
use crate::access::AccessGroup;
use crate::core::snapshot::Snapshot;
use crate::core::state::setpoint_value;
use crate::machine::{OutputKind, Setpoint};
use crate::records::setpoint_access;
use crate::store::model::epoch_ms;

/// Tunes: horizontal, vertical, synchrotron (fractional, 6D).
#[derive(Debug, Serialize, ToSchema)]
pub struct Tunes {
    pub x: f64,
    pub y: f64,
    pub s: f64,
}

/// The model at one BPM.
#[derive(Debug, Serialize, ToSchema)]
pub struct BpmPoint {
    pub name: String,
    /// Position along the ring [m].
    pub s_m: f64,
    /// Closed orbit [m].
    pub x_m: f64,
    pub y_m: f64,
    /// β functions [m].
    pub beta_x_m: f64,
    pub beta_y_m: f64,
}

/// The last valid computation's physics.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhysicsView {
    pub tunes: Tunes,
    /// dQ/dδ (horizontal, vertical).
    pub chromaticity: [f64; 2],
    /// Natural emittance [nm rad].
    pub emittance_nm: f64,
    pub momentum_compaction: f64,
    /// Momentum deviation of the closed orbit.
    pub delta: f64,
    pub bpms: Vec<BpmPoint>,
}

/// The stored beam.
#[derive(Debug, Serialize, ToSchema)]
pub struct BeamView {
    pub current_ma: f64,
    pub lifetime_h: f64,
}

/// What the twin shows now.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotView {
    /// Which computation (changes with every recompute).
    pub computation: u64,
    /// Publication time [ms since the Unix epoch].
    pub time_ms: i64,
    /// VALID, UNSTABLE or NO ORBIT.
    pub status: String,
    /// Why the model is not valid (empty when valid).
    pub message: String,
    /// The last valid computation (also while the model is invalid).
    pub physics: Option<PhysicsView>,
    pub beam: BeamView,
    pub recomputes: i32,
    pub writes: i32,
    /// Duration of the last recompute [ms].
    pub duration_ms: f64,
    /// The equilibrium envelope (it follows the recomputes at the
    /// beam-update cadence; none before the first).
    pub envelope: Option<EnvelopeOut>,
}

/// Normal-mode emittances with radiation.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvelopeOut {
    /// The computation it belongs to.
    pub computation: u64,
    /// Emittances of modes 1 (x), 2 (y), 3 (longitudinal) [m]; absent if
    /// the envelope has no stable solution.
    pub mode_emittances_m: Option<[f64; 3]>,
}

fn physics_view(state: &HttpState, snap: &Snapshot) -> Option<PhysicsView> {
    let p = snap.last_valid.as_ref()?;
    let lattice = &state.machine.lattice;
    let bpms = lattice
        .bpms()
        .into_iter()
        .map(|id| {
            let point = &p.optics.points[id.0];
            let [x_m, y_m] = p.position_m(id.0);
            BpmPoint {
                name: lattice.elements()[id.0].name.clone(),
                s_m: point.s_m,
                x_m,
                y_m,
                beta_x_m: point.twiss[0].beta_m,
                beta_y_m: point.twiss[1].beta_m,
            }
        })
        .collect();
    Some(PhysicsView {
        tunes: Tunes { x: p.tunes[0], y: p.tunes[1], s: p.tunes[2] },
        chromaticity: p.chromaticity,
        emittance_nm: p.radiation.emittance_m * 1e9,
        momentum_compaction: p.optics.momentum_compaction,
        delta: p.delta(),
        bpms,
    })
}

/// The current snapshot: status, tunes, chromaticity, emittance, orbit
/// and β at the BPMs, beam.
#[utoipa::path(get, path = "/twin/snapshot", tag = TAG_TWIN, responses((status = 200, description = "Success", body = SnapshotView)))]
pub async fn snapshot(State(state): State<Arc<HttpState>>) -> Json<SnapshotView> {
    let snap = state.snapshots.borrow().clone();
    let (status, message) = snap.status();
    Json(SnapshotView {
        computation: snap.computation,
        time_ms: epoch_ms(snap.time),
        status: status.name().into(),
        message: message.into(),
        physics: physics_view(&state, &snap),
        beam: BeamView { current_ma: snap.beam.current_ma, lifetime_h: snap.beam.lifetime_h },
        recomputes: snap.stats.recomputes,
        writes: snap.stats.writes,
        duration_ms: snap.stats.duration.as_secs_f64() * 1e3,
        envelope: snap.envelope.as_ref().map(|e| EnvelopeOut {
            computation: e.computation,
            mode_emittances_m: e.mode_emittances_m.as_ref().ok().copied(),
        }),
    })
}

/// One setpoint as the model uses it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetpointView {
    /// The PV name without the prefix.
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// Every setpoint an operator may see (the hidden truth is not served
/// over HTTP: it has no instructors' authentication).
#[utoipa::path(get, path = "/twin/setpoints", tag = TAG_TWIN, responses((status = 200, description = "Success", body = Vec<SetpointView>)))]
pub async fn setpoints(State(state): State<Arc<HttpState>>) -> Json<Vec<SetpointView>> {
    let snap = state.snapshots.borrow().clone();
    let m = &state.machine;
    let views = m
        .catalogue
        .entries()
        .iter()
        .filter(|e| !hidden(e.setpoint))
        .map(|e| SetpointView {
            name: e.pv.clone(),
            value: setpoint_value(&snap.settings, &m.schema, &state.rules, e.setpoint),
            unit: e.unit.egu().to_string(),
        })
        .collect();
    Json(views)
}

/// The hidden truth: instructors only, so never over HTTP.
pub fn hidden(setpoint: Setpoint) -> bool {
    setpoint_access(setpoint) == AccessGroup::Instruct
}

/// The record clamps a value beyond its drive limits (DRVL/DRVH); over
/// HTTP, where no record clamps, such a value is refused.
fn within_drive_limits(state: &HttpState, setpoint: Setpoint, name: &str, value: f64) -> Result<(), ApiError> {
    let Some(entry) = state.machine.catalogue.entry(setpoint) else { return Ok(()) };
    match entry.output {
        OutputKind::Analog { limits: Some((lo, hi)), .. } if !(lo..=hi).contains(&value) => Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("{name} = {value} is outside its drive limits [{lo}, {hi}] {}", entry.unit.egu()),
        )),
        _ => Ok(()),
    }
}

/// Setpoints to write, by PV name (without the prefix).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetpointWrites {
    pub setpoints: BTreeMap<String, f64>,
}

/// The outcome of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriteOutcome {
    /// Writes applied.
    pub applied: usize,
    /// The computation that shows them.
    pub computation: u64,
}

/// Writes one or many setpoints: validated together, all applied or none,
/// one recompute; answered once the EPICS records show the result.
#[utoipa::path(put, path = "/twin/setpoints", tag = TAG_TWIN, request_body = SetpointWrites,
    responses((status = 200, description = "Success", body = WriteOutcome), (status = 400, description = "Malformed request", body = ErrorBody), (status = 403, description = "Not allowed (read-only mode, the hidden truth)", body = ErrorBody),
              (status = 404, description = "No such machine, quadrupole or setpoint", body = ErrorBody), (status = 422, description = "Refused by the model", body = ErrorBody)))]
pub async fn write_setpoints(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    body: Result<Json<SetpointWrites>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<WriteOutcome>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let mut writes = Vec::with_capacity(body.setpoints.len());
    for (name, value) in &body.setpoints {
        let entry = state.setpoint(name).ok_or_else(|| ApiError::not_found(format!("no setpoint {name}")))?;
        if hidden(entry) {
            return Err(ApiError::forbidden(format!("{name} is the hidden truth: instructors only, not over HTTP")));
        }
        within_drive_limits(&state, entry, name, *value)?;
        writes.push((entry, name.clone(), *value));
    }
    super::write::apply(&state, writes, peer).await.map(Json)
}
