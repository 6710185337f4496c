//! HTTP handlers, one file per concept, and the router that collects their OpenAPI.

pub mod accounts;
pub mod conversations;
pub mod groups;
pub mod media;
pub mod messages;
pub mod safety;
mod upload_claim;
pub mod ws;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use natter_protocol::limits::JSON_BODY_MAX_BYTES;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Natter", description = "The Natter messaging server API"),
    modifiers(&BearerAuth),
    components(schemas(
        natter_protocol::ServerEvent,
        natter_protocol::ClientFrame,
        natter_protocol::ApiError,
        natter_protocol::ErrorCode,
    ))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(accounts::signup))
        .routes(routes!(accounts::login))
        .routes(routes!(accounts::logout))
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::get_user))
        .routes(routes!(conversations::list_conversations))
        .routes(routes!(conversations::create_direct))
        .routes(routes!(groups::create_group))
        .routes(routes!(conversations::get_conversation, groups::rename))
        .routes(routes!(groups::add_member))
        .routes(routes!(groups::remove_member))
        .routes(routes!(groups::leave))
        .routes(routes!(messages::send_message, messages::history))
        .routes(routes!(messages::post_receipt))
        .routes(routes!(messages::post_played))
        .routes(routes!(messages::played_since))
        .routes(routes!(media::upload, media::download))
        .routes(routes!(
            media::resumable::upload_status,
            media::resumable::upload_piece
        ))
        .routes(routes!(ws::ws))
        .routes(routes!(safety::settings))
        .routes(routes!(safety::accept))
        .routes(routes!(safety::delete))
        .routes(routes!(safety::blocked, safety::block))
        .routes(routes!(safety::unblock))
        .routes(routes!(safety::report))
}

/// The OpenAPI document of every route.
pub fn openapi() -> OpenApi {
    api_router().split_for_parts().1
}

/// How long `/readyz` waits for the database before calling it unreachable.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /readyz`: 200 when this instance can serve (its database answers and its bus is
/// connected), 503 with the reason otherwise, and while shutting down, so a load balancer
/// sends clients elsewhere. `/healthz` only says the process is alive.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    if !state.bus.is_ready() {
        return (StatusCode::SERVICE_UNAVAILABLE, "bus unreachable");
    }
    match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %format!("{e:#}"), "not ready: database");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database not answering"),
    }
}

/// The complete application.
pub fn app(state: AppState) -> Router {
    let (api, doc) = api_router().split_for_parts();
    let doc = std::sync::Arc::new(doc);
    api.route(
        "/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
    .route("/healthz", get(|| async { "ok" }))
    .route("/readyz", get(readyz))
    .route("/metrics", get(crate::metrics::metrics))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::metrics::count_errors,
    ))
    .layer(DefaultBodyLimit::max(JSON_BODY_MAX_BYTES))
    .layer(
        TraceLayer::new_for_http()
            .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
            .on_response(DefaultOnResponse::new().level(Level::INFO)),
    )
    .with_state(state)
}
