//! History from the store: accepted setpoint writes, client puts (the put
//! log) in a time range, and one quad's BBA measurements.
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ErrorBody};
use super::{HttpState, TAG_BBA, TAG_TWIN};
use crate::store::StoreError;
use crate::store::model::{BbaResultDoc, PutLogDoc, SetpointLogDoc};
use crate::store::reader::StoreReader;

/// A time range [ms since the Unix epoch], both ends included, and
/// optionally one name.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Only this setpoint (PV name without the prefix) or channel.
    pub name: Option<String>,
}

impl Range {
    fn contains(&self, at_ms: i64) -> bool {
        self.from_ms.is_none_or(|f| at_ms >= f) && self.to_ms.is_none_or(|t| at_ms <= t)
    }
}

fn reader(state: &HttpState) -> Result<&StoreReader, ApiError> {
    state.store.as_ref().ok_or_else(|| ApiError::unavailable("the twin runs without a store"))
}

fn unavailable(e: StoreError) -> ApiError {
    ApiError::unavailable(format!("the store cannot be read now: {e}"))
}

/// Accepted setpoint writes in the range, oldest first.
#[utoipa::path(get, path = "/twin/history/setpoints", tag = TAG_TWIN, params(Range),
    responses((status = 200, description = "Success", body = Vec<SetpointLogDoc>),
              (status = 503, description = "The store cannot be read", body = ErrorBody)))]
pub async fn setpoint_history(
    State(state): State<Arc<HttpState>>,
    Query(range): Query<Range>,
) -> Result<Json<Vec<SetpointLogDoc>>, ApiError> {
    let log = reader(&state)?.setpoint_log().await.map_err(unavailable)?;
    let name = range.name.as_deref();
    Ok(Json(log.into_iter().filter(|d| range.contains(d.at_ms) && name.is_none_or(|n| d.name == n)).collect()))
}

/// Client puts (EPICS and HTTP) in the range, oldest first; `name`
/// matches the channel with or without the prefix.
#[utoipa::path(get, path = "/twin/history/puts", tag = TAG_TWIN, params(Range),
    responses((status = 200, description = "Success", body = Vec<PutLogDoc>),
              (status = 503, description = "The store cannot be read", body = ErrorBody)))]
pub async fn put_history(
    State(state): State<Arc<HttpState>>,
    Query(range): Query<Range>,
) -> Result<Json<Vec<PutLogDoc>>, ApiError> {
    let log = reader(&state)?.put_log().await.map_err(unavailable)?;
    let wanted = range.name.as_deref().map(|n| (n.to_string(), state.prefix.pv(n)));
    let matches = |pv: &str| wanted.as_ref().is_none_or(|(bare, full)| pv == bare || pv == full);
    Ok(Json(log.into_iter().filter(|d| range.contains(d.at_ms) && matches(&d.pv)).collect()))
}

/// Every BBA measurement of one quad (raw readings and fits), oldest first.
#[utoipa::path(get, path = "/bba/history/{quad}", tag = TAG_BBA, params(("quad" = String, Path)),
    responses((status = 200, description = "Success", body = Vec<BbaResultDoc>),
              (status = 404, description = "Not a multiplexer quad", body = ErrorBody),
              (status = 503, description = "The store cannot be read", body = ErrorBody)))]
pub async fn bba_history(
    State(state): State<Arc<HttpState>>,
    Path(quad): Path<String>,
) -> Result<Json<Vec<BbaResultDoc>>, ApiError> {
    if !state.machine.schema.multiplexer_quads().any(|q| q.name == quad) {
        return Err(ApiError::not_found(format!("{quad} is not a quad on the multiplexer")));
    }
    Ok(Json(reader(&state)?.bba_history(&quad).await.map_err(unavailable)?))
}
