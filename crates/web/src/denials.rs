//! Permission denials go into the audit trail. A middleware hands each request an empty slot; the
//! auth extractors put the principal in it; if the response is a permission denial (marked by the
//! error renderer), the middleware records who was refused what.

use crate::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};
use testvault_core::Principal;

/// Where the auth extractors leave the principal for this middleware.
#[derive(Clone, Default)]
pub struct PrincipalSlot(Arc<Mutex<Option<Principal>>>);

impl PrincipalSlot {
    pub fn fill(&self, p: &Principal) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(p.clone());
        }
    }
}

/// Put on a response that refused an authenticated caller for lack of permission.
#[derive(Clone, Copy)]
pub struct PermissionDenied;

pub async fn record(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let slot = PrincipalSlot::default();
    req.extensions_mut().insert(slot.clone());
    let what = format!("{} {}", req.method(), req.uri().path());
    let resp = next.run(req).await;
    if resp.extensions().get::<PermissionDenied>().is_some() {
        let principal = slot.0.lock().ok().and_then(|mut s| s.take());
        if let Some(p) = principal
            && let Err(e) = state.core.record_denial(&p, &what).await
        {
            tracing::warn!(error = %e, "recording a permission denial failed");
        }
    }
    resp
}
