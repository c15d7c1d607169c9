//! The BBA service over HTTP: its state and results (JSON and CSV), run
//! one quad or all, abort — through the core like the EPICS commands.
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::{HttpState, TAG_BBA};
use crate::core::snapshot::BbaStatus;
use crate::core::{BbaCommand, Command, Input, Request};
use crate::names;

/// One quad on the multiplexer and its last result (null: not measured).
#[derive(Debug, Serialize, ToSchema)]
pub struct QuadBba {
    pub name: String,
    /// Position of the quad's centre along the ring [m].
    pub s_m: f64,
    /// Fitted magnetic centre in the BPM frame [m] and its uncertainty.
    pub offset_x_m: Option<f64>,
    pub offset_y_m: Option<f64>,
    pub sigma_x_m: Option<f64>,
    pub sigma_y_m: Option<f64>,
    /// The BPM nearest to the quad's centre: BBA finds its offset.
    pub bpm: Option<String>,
    /// The machine's BBA result: that BPM's reading at which the beam
    /// passes the quad's centre [m], and its uncertainty.
    pub bpm_offset_x_m: Option<f64>,
    pub bpm_offset_y_m: Option<f64>,
    pub bpm_sigma_x_m: Option<f64>,
    pub bpm_sigma_y_m: Option<f64>,
    /// Fit residual per degree of freedom, x + y [m²].
    pub chi2_m2: Option<f64>,
}

/// The BBA service now.
#[derive(Debug, Serialize, ToSchema)]
pub struct BbaState {
    /// IDLE, RUNNING, DONE, ABORTED or ERROR.
    pub status: String,
    pub message: String,
    /// The quad being measured.
    pub current: String,
    /// [%]
    pub progress: f64,
    pub eta_s: f64,
    pub quads: Vec<QuadBba>,
}

fn status_name(s: BbaStatus) -> &'static str {
    match s {
        BbaStatus::Idle => "IDLE",
        BbaStatus::Running => "RUNNING",
        BbaStatus::Done => "DONE",
        BbaStatus::Aborted => "ABORTED",
        BbaStatus::Error => "ERROR",
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn state_now(state: &HttpState) -> BbaState {
    let view = state.snapshots.borrow().bba.clone();
    let m = &state.machine;
    let quads = m
        .schema
        .multiplexer_quads()
        .map(|q| {
            let e = m.schema.quad_element(q.id);
            let s_m = m.lattice.s_entrance_m(e) + m.lattice.element(e).length_m() / 2.0;
            let r = view.results.get(q.id.0).copied().flatten();
            QuadBba {
                name: q.name.clone(),
                s_m,
                offset_x_m: r.and_then(|r| finite(r.offset_m[0])),
                offset_y_m: r.and_then(|r| finite(r.offset_m[1])),
                sigma_x_m: r.and_then(|r| finite(r.sigma_m[0])),
                sigma_y_m: r.and_then(|r| finite(r.sigma_m[1])),
                bpm: m.bba_bpm(q.id).map(|b| b.name.clone()),
                bpm_offset_x_m: r.and_then(|r| finite(r.bpm_offset_m[0])),
                bpm_offset_y_m: r.and_then(|r| finite(r.bpm_offset_m[1])),
                bpm_sigma_x_m: r.and_then(|r| finite(r.bpm_sigma_m[0])),
                bpm_sigma_y_m: r.and_then(|r| finite(r.bpm_sigma_m[1])),
                chi2_m2: r.and_then(|r| finite(r.chi2_m2)),
            }
        })
        .collect();
    BbaState {
        status: status_name(view.status).into(),
        message: view.message.clone(),
        current: view.current.clone(),
        progress: view.progress,
        eta_s: view.eta_s,
        quads,
    }
}

/// The BBA service's state and every multiplexer quad's result.
#[utoipa::path(get, path = "/bba", tag = TAG_BBA, responses((status = 200, description = "Success", body = BbaState)))]
pub async fn bba(State(state): State<Arc<HttpState>>) -> Json<BbaState> {
    Json(state_now(&state))
}

/// The results as CSV: quad, s [m], centre x, y [m], σ x, y [m], χ² [m²],
/// nearest BPM, its reading x, y at the centre [m], σ x, y [m].
#[utoipa::path(get, path = "/bba/results.csv", tag = TAG_BBA,
    responses((status = 200, description = "Success", content_type = "text/csv", body = String)))]
pub async fn results_csv(State(state): State<Arc<HttpState>>) -> impl IntoResponse {
    let mut out = String::from(
        "quad,s_m,offset_x_m,offset_y_m,sigma_x_m,sigma_y_m,chi2_m2,bpm,bpm_offset_x_m,bpm_offset_y_m,bpm_sigma_x_m,bpm_sigma_y_m\n",
    );
    let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:e}"));
    for q in state_now(&state).quads {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            q.name,
            q.s_m,
            cell(q.offset_x_m),
            cell(q.offset_y_m),
            cell(q.sigma_x_m),
            cell(q.sigma_y_m),
            cell(q.chi2_m2),
            q.bpm.unwrap_or_default(),
            cell(q.bpm_offset_x_m),
            cell(q.bpm_offset_y_m),
            cell(q.bpm_sigma_x_m),
            cell(q.bpm_sigma_y_m)
        );
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out)
}

/// Whether the command was taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub command: String,
}

async fn command(state: &HttpState, cmd: BbaCommand, pv: String, peer: SocketAddr) -> Result<Json<Accepted>, ApiError> {
    let write = |ack| Command::Write { request: Request::Bba(cmd), input: Input::Number(1.0), ack };
    let channel = super::write::command(state, write, &pv, peer).await?;
    Ok(Json(Accepted { command: channel }))
}

/// Measures one quad (as a write of 1 to `TWIN:BBA:<QUAD>:run`).
#[utoipa::path(post, path = "/bba/run/{quad}", tag = TAG_BBA, params(("quad" = String, Path)),
    responses((status = 200, description = "Started", body = Accepted), (status = 403, description = "Read-only mode", body = ErrorBody),
              (status = 404, description = "Not a multiplexer quad", body = ErrorBody),
              (status = 409, description = "Refused by the service (e.g. a run is going on)", body = ErrorBody)))]
pub async fn run(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(quad): Path<String>,
) -> Result<Json<Accepted>, ApiError> {
    let q = state.machine.schema.multiplexer_quads().find(|q| q.name == quad);
    let q = q.ok_or_else(|| ApiError::not_found(format!("{quad} is not a quad on the multiplexer")))?;
    command(&state, BbaCommand::Run(q.id), names::bba_quad(&q.name, "run"), peer).await
}

/// Measures every quad on the multiplexer (`TWIN:BBA:runAll`).
#[utoipa::path(post, path = "/bba/run", tag = TAG_BBA,
    responses((status = 200, description = "Started", body = Accepted), (status = 403, description = "Read-only mode", body = ErrorBody),
              (status = 409, description = "Refused by the service", body = ErrorBody)))]
pub async fn run_all(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Json<Accepted>, ApiError> {
    command(&state, BbaCommand::RunAll, names::bba("runAll"), peer).await
}

/// Aborts the run (`TWIN:BBA:abort`): supply to 0, multiplexer off.
#[utoipa::path(post, path = "/bba/abort", tag = TAG_BBA,
    responses((status = 200, description = "Aborted", body = Accepted), (status = 403, description = "Read-only mode", body = ErrorBody),
              (status = 409, description = "Refused by the service", body = ErrorBody)))]
pub async fn abort(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Json<Accepted>, ApiError> {
    command(&state, BbaCommand::Abort, names::bba("abort"), peer).await
}
