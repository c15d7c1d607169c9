//! The twin on HTTP, in the IOC process: a REST API with an OpenAPI
//! document generated from the handlers (`/openapi.json`, Swagger UI at
//! `/docs` with its assets vendored in the binary). It reads the model
//! through the one snapshot channel; writes take the core's path (one
//! batch, validated together, answered after publication), obey the same
//! access rules (read-only mode; the hidden truth is never served or
//! written over HTTP) and go to the put log.
mod bba;
mod error;
mod history;
mod machine;
mod metrics;
mod pvws;
mod pvws_queue;
mod twin;
mod web;
mod write;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub use metrics::Metrics;

use crate::config::{AccessConfig, HttpConfig};
use crate::core::journal::PutRecord;
use crate::core::snapshot::Snapshot;
use crate::core::state::Rules;
use crate::core::{Command, CoreHandle};
use crate::machine::{Machine, Setpoint};
use crate::prefix::Prefix;
use crate::store::reader::StoreReader;

const TAG_TWIN: &str = "twin";
const TAG_MACHINE: &str = "machine";
const TAG_OPS: &str = "operations";
const TAG_BBA: &str = "bba";

#[derive(OpenApi)]
#[openapi(info(title = "Digital twin HTTP API", description = "The twin's model, setpoints and lattice over HTTP."))]
struct ApiDoc;

/// What the handlers share.
pub struct HttpState {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub commands: std::sync::mpsc::Sender<Command>,
    pub machine: Machine,
    pub rules: Rules,
    pub lattice_doc: serde_json::Value,
    pub access: AccessConfig,
    pub prefix: Prefix,
    pub put_log: UnboundedSender<PutRecord>,
    pub metrics: Arc<Metrics>,
    /// Reads the store's history (None: no store).
    pub store: Option<StoreReader>,
}

impl HttpState {
    /// The setpoint a PV name (without the prefix) writes.
    pub fn setpoint(&self, name: &str) -> Option<Setpoint> {
        self.machine
            .catalogue
            .entries()
            .iter()
            .find(|e| e.pv == name || e.aliases.iter().any(|a| a == name))
            .map(|e| e.setpoint)
    }
}

/// The router with every route and the OpenAPI document.
pub fn router(state: Arc<HttpState>, max_body_bytes: usize) -> axum::Router {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(web::info))
        .routes(routes!(twin::snapshot))
        .routes(routes!(twin::setpoints, twin::write_setpoints))
        .routes(routes!(machine::machines))
        .routes(routes!(machine::machine))
        .routes(routes!(machine::quads))
        .routes(routes!(machine::filter))
        .routes(routes!(machine::update_quad))
        .routes(routes!(history::setpoint_history))
        .routes(routes!(history::put_history))
        .routes(routes!(history::bba_history))
        .routes(routes!(bba::bba))
        .routes(routes!(bba::results_csv))
        .routes(routes!(bba::run))
        .routes(routes!(bba::run_all))
        .routes(routes!(bba::abort))
        .routes(routes!(metrics::health))
        .routes(routes!(metrics::metrics))
        .with_state(Arc::clone(&state))
        .split_for_parts();
    let pvws = axum::Router::new().route("/pvws/pv", axum::routing::get(pvws::pvws)).with_state(state);
    router
        .merge(pvws)
        .merge(web::routes())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", api))
        .layer(DefaultBodyLimit::max(max_body_bytes))
}

/// Binds the configured address (an error names it) and serves until the
/// IOC stops.
pub async fn bind(cfg: &HttpConfig) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(&cfg.addr)
        .await
        .with_context(|| format!("binding the HTTP API to {} (http.addr, TWIN_HTTP_ADDR)", cfg.addr))
}

/// Serves the router on `listener`.
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> anyhow::Result<()> {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).await.context("the HTTP server stopped")
}

/// Where the HTTP API's side effects go: the put log, the store's history,
/// the metrics.
pub struct Outlets {
    pub put_log: UnboundedSender<PutRecord>,
    /// None: no store.
    pub store: Option<StoreReader>,
    pub metrics: Arc<Metrics>,
}

/// The state of the handlers from the twin's parts.
pub fn state(
    core: &CoreHandle,
    machine: &Machine,
    lattice_doc: serde_json::Value,
    access: &AccessConfig,
    prefix: &Prefix,
    outlets: Outlets,
) -> Arc<HttpState> {
    let Outlets { put_log, store, metrics } = outlets;
    Arc::new(HttpState {
        snapshots: core.snapshots.clone(),
        commands: core.commands.clone(),
        machine: machine.clone(),
        rules: Rules::new(&machine.profile, Arc::clone(&machine.catalogue)),
        lattice_doc,
        access: access.clone(),
        prefix: prefix.clone(),
        put_log,
        metrics,
        store,
    })
}
