//! The live web view at `/`: one page (HTML, CSS, JavaScript embedded in
//! the binary, no library, plots drawn as SVG) fed by the PV Web Socket,
//! with the converter search and set through the REST API; and
//! `/twin/info`, what a client needs to name the twin's PVs.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::{HttpState, TAG_TWIN};

const INDEX_HTML: &str = include_str!("web/index.html");
const VIEW_JS: &str = include_str!("web/view.js");
const PLOT_JS: &str = include_str!("web/plot.js");
const STYLE_CSS: &str = include_str!("web/style.css");

/// The twin's identity: what a web client needs to name its PVs.
#[derive(Debug, Serialize, ToSchema)]
pub struct Info {
    /// The machine (profile name), e.g. "BESSY II".
    pub machine: String,
    /// The PV prefix; a machine PV's EPICS name is prefix + name.
    pub prefix: String,
    /// twin-ioc and EPICS versions.
    pub version: String,
}

/// The machine, the PV prefix and the version.
#[utoipa::path(get, path = "/twin/info", tag = TAG_TWIN, responses((status = 200, description = "Success", body = Info)))]
pub async fn info(State(state): State<Arc<HttpState>>) -> Json<Info> {
    Json(Info {
        machine: state.machine.profile.name.clone(),
        prefix: state.prefix.as_str().to_string(),
        version: crate::health::Health::version_text(),
    })
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body)
}

/// The routes of the page's assets (not part of the API document).
pub fn routes() -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/view.js", get(|| async { asset("text/javascript; charset=utf-8", VIEW_JS) }))
        .route("/plot.js", get(|| async { asset("text/javascript; charset=utf-8", PLOT_JS) }))
        .route("/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }))
}
