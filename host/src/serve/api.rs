//! The HTTP API of `extract serve`: routes, bearer-token auth, JSON errors,
//! and the OpenAPI document generated from the handlers' annotations.
//!
//! Every tenant-scoped lookup is keyed by the caller's tenant id, so
//! another tenant's connector, secret, source, job or table answers 404,
//! exactly as one that does not exist; a missing or unknown token answers
//! 401. No handler runs SQL from a request or names a path from one.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::crypto::{new_id, new_token, token_hash};
use super::jobs::ResourceProgress;
use super::store::{JobRow, JobState, SourceRow, now_ms};
use super::tenant_db::{self, TableInfo};
use super::{App, BUILTIN, secret_context};

type AppState = Arc<App>;

// ---- errors ------------------------------------------------------------

/// An error answer: `{"error": "..."}` with a 4xx or 5xx status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, and what to do.
    pub error: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    fn not_found(what: &str, name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("no {what} `{name}`"))
    }

    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing or invalid token: send `Authorization: Bearer <token>`",
        )
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        // Internal errors (the control database, the disk) carry no tenant
        // secret: secrets are only ever decrypted inside a job.
        tracing::error!("internal error: {e:#}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e:#}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

type ApiResult<T> = Result<T, ApiError>;

// ---- extractors --------------------------------------------------------

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The tenant of the request's bearer token.
pub struct Tenant(pub String);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> ApiResult<Self> {
        bearer(&parts.headers)
            .and_then(|t| app.tenant_of(t))
            .map(Tenant)
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The request carries the admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> ApiResult<Self> {
        match bearer(&parts.headers) {
            Some(t) if app.is_admin(t) => Ok(Admin),
            _ => Err(ApiError::unauthorized()),
        }
    }
}

/// A JSON body whose rejections (malformed JSON, unknown fields, too
/// large, wrong content type) become `{"error": ...}` answers naming what
/// is wrong.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(rejection) => {
                let status = rejection.status();
                let mut message = rejection.body_text();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    message = "the request body is over the size limit (--max-body-kib)".into();
                }
                Err(ApiError::new(status, message))
            }
        }
    }
}

/// Query parameters whose rejections become `{"error": ...}` answers.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(QueryParams(v)),
            Err(rejection) => Err(ApiError::new(rejection.status(), rejection.body_text())),
        }
    }
}

// ---- names -------------------------------------------------------------

/// Connector and secret names: letters, digits, `_` and `-`.
fn check_name(kind: &str, name: &str) -> ApiResult<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ApiError::bad_request(format!(
            "invalid {kind} name `{}`: use 1 to 64 letters, digits, `_` and `-`",
            name.chars().take(80).collect::<String>()
        )));
    }
    Ok(())
}

/// Source names become DuckDB schema names: lower case letters, digits and
/// `_`, starting with a letter, so that no two sources share a schema.
fn check_source_name(name: &str) -> ApiResult<()> {
    let ok = name.len() <= 63
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(ApiError::bad_request(format!(
            "invalid source name `{}`: use 1 to 63 lower-case letters, digits and `_`, starting with a letter (it names the DuckDB schema)",
            name.chars().take(80).collect::<String>()
        )));
    }
    Ok(())
}

/// Parse a schedule such as `30s`, `15m`, `2h` or `1d` into seconds.
pub fn parse_every(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("`every`: `{text}` is not a duration like \"15m\", \"2h\" or \"1d\"")
    })?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => {
            return Err(format!(
                "`every`: unknown unit in `{text}`; use s, m, h or d (e.g. \"15m\")"
            ));
        }
    };
    if secs < 10 {
        return Err(format!(
            "`every`: `{text}` is shorter than the minimum of 10s"
        ));
    }
    Ok(secs)
}

// ---- tenants -----------------------------------------------------------

/// `POST /v1/tenants`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// A display name.
    pub name: String,
}

/// A created tenant with its API token (shown only here).
#[derive(Serialize, ToSchema)]
pub struct CreatedTenant {
    /// The tenant id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its API token: shown once, stored only as a hash.
    pub token: String,
}

/// A tenant.
#[derive(Serialize, ToSchema)]
pub struct TenantView {
    /// The tenant id.
    pub id: String,
    /// Its display name.
    pub name: String,
}

/// Create a tenant (admin token).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = NewTenant,
    security(("bearer" = [])),
    responses((status = 201, body = CreatedTenant), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_tenant(
    State(app): State<AppState>,
    _: Admin,
    JsonBody(body): JsonBody<NewTenant>,
) -> ApiResult<(StatusCode, Json<CreatedTenant>)> {
    let name = body.name.trim().to_string();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::unprocessable("`name`: give 1 to 200 characters"));
    }
    let id = new_id();
    let token = new_token();
    let hash = token_hash(&token);
    app.store.create_tenant(&id, &name, &hash)?;
    app.remember_token(hash, id.clone());
    Ok((StatusCode::CREATED, Json(CreatedTenant { id, name, token })))
}

/// List tenants (admin token).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", security(("bearer" = [])),
    responses((status = 200, body = Vec<TenantView>), (status = 401, body = ErrorBody)))]
async fn list_tenants(State(app): State<AppState>, _: Admin) -> ApiResult<Json<Vec<TenantView>>> {
    Ok(Json(
        app.store
            .tenants()?
            .into_iter()
            .map(|(id, name, _)| TenantView { id, name })
            .collect(),
    ))
}

/// Delete a tenant and all its data (admin token): running jobs are
/// stopped, its DuckDB file is removed.
#[utoipa::path(delete, path = "/v1/tenants/{id}", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path, description = "Tenant id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_tenant(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if !app.store.tenants()?.iter().any(|(t, _, _)| *t == id) {
        return Err(ApiError::not_found("tenant", &id));
    }
    app.forget_tenant(&id);
    let digests = app.store.tenant_digests(&id)?;
    app.store.delete_tenant(&id)?;
    app.scheduler.stop_tenant(&id).await;
    app.dbs.remove(&id)?;
    remove_unused_components(&app, &digests)?;
    Ok(StatusCode::NO_CONTENT)
}

fn remove_unused_components(app: &App, digests: &[String]) -> anyhow::Result<()> {
    for d in app.store.unused_digests(digests)? {
        let _ = std::fs::remove_file(app.component_path(&d));
    }
    Ok(())
}

// ---- connectors --------------------------------------------------------

/// A connector.
#[derive(Serialize, ToSchema)]
pub struct ConnectorView {
    /// Its name.
    pub name: String,
    /// SHA-256 of the component, hex (`builtin` for `rest_api`).
    pub digest: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// True for the built-in generic connector.
    pub builtin: bool,
}

fn builtin_view() -> ConnectorView {
    ConnectorView {
        name: BUILTIN.into(),
        digest: hex::encode(Sha256::digest(crate::builtin::REST_API_WASM)),
        size_bytes: crate::builtin::REST_API_WASM.len() as u64,
        builtin: true,
    }
}

/// Upload a connector component (raw `.wasm` body). It must be a component
/// of the `extract:connector@0.2.0` (or `@0.1.0`) world; it is stored by its SHA-256 and
/// compiled once per digest.
#[utoipa::path(put, path = "/v1/connectors/{name}", tag = "connectors", security(("bearer" = [])),
    params(("name" = String, Path, description = "Connector name")),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, body = ConnectorView), (status = 200, body = ConnectorView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_connector(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<ConnectorView>)> {
    check_name("connector", &name)?;
    if name == BUILTIN {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("`{BUILTIN}` is the built-in connector; upload yours under another name"),
        ));
    }
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the component is over the upload limit of {} MiB (--max-component-mib)",
                    app.settings.max_component_bytes / (1024 * 1024)
                ),
            )
        } else {
            ApiError::new(e.status(), e.body_text())
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "empty body: send the component's bytes (`curl --data-binary @connector.wasm`)",
        ));
    }
    let digest = hex::encode(Sha256::digest(&bytes));
    // Compiling takes CPU seconds: off the async workers.
    let check = {
        let (app, name, bytes) = (app.clone(), name.clone(), bytes.clone());
        tokio::task::spawn_blocking(move || app.load_component(&name, &bytes).map(|_| ()))
            .await
            .map_err(|e| anyhow::anyhow!("validating the component: {e}"))?
    };
    if let Err(e) = check {
        // wasmtime's parse errors span lines (byte dumps): one line here.
        let detail = format!("{e:#}")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        return Err(ApiError::unprocessable(format!(
            "not a connector component: {detail}"
        )));
    }
    let path = app.component_path(&digest);
    if !path.is_file() {
        // Content-addressed, written atomically: never half a file under
        // the final name.
        let tmp = path.with_extension(format!("tmp-{}", new_id()));
        std::fs::write(&tmp, &bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| anyhow::anyhow!("storing the component: {e}"))?;
    }
    let previous = app.store.connector(&tenant, &name)?;
    let created = app
        .store
        .put_connector(&tenant, &name, &digest, bytes.len() as u64)?;
    if let Some(p) = previous {
        remove_unused_components(&app, &[p.digest])?;
    }
    let view = ConnectorView {
        name,
        digest,
        size_bytes: bytes.len() as u64,
        builtin: false,
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// List connectors: the built-in `rest_api` and the tenant's uploads.
#[utoipa::path(get, path = "/v1/connectors", tag = "connectors", security(("bearer" = [])),
    responses((status = 200, body = Vec<ConnectorView>), (status = 401, body = ErrorBody)))]
async fn list_connectors(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<Vec<ConnectorView>>> {
    let mut out = vec![builtin_view()];
    out.extend(
        app.store
            .connectors(&tenant)?
            .into_iter()
            .map(|c| ConnectorView {
                name: c.name,
                digest: c.digest,
                size_bytes: c.size,
                builtin: false,
            }),
    );
    Ok(Json(out))
}

/// One connector.
#[utoipa::path(get, path = "/v1/connectors/{name}", tag = "connectors", security(("bearer" = [])),
    params(("name" = String, Path, description = "Connector name")),
    responses((status = 200, body = ConnectorView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_connector(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> ApiResult<Json<ConnectorView>> {
    if name == BUILTIN {
        return Ok(Json(builtin_view()));
    }
    let c = app
        .store
        .connector(&tenant, &name)?
        .ok_or_else(|| ApiError::not_found("connector", &name))?;
    Ok(Json(ConnectorView {
        name: c.name,
        digest: c.digest,
        size_bytes: c.size,
        builtin: false,
    }))
}

/// Delete an uploaded connector.
#[utoipa::path(delete, path = "/v1/connectors/{name}", tag = "connectors", security(("bearer" = [])),
    params(("name" = String, Path, description = "Connector name")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_connector(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    if name == BUILTIN {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the built-in connector cannot be deleted",
        ));
    }
    let c = app
        .store
        .connector(&tenant, &name)?
        .ok_or_else(|| ApiError::not_found("connector", &name))?;
    app.store.delete_connector(&tenant, &name)?;
    remove_unused_components(&app, &[c.digest])?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- secrets -----------------------------------------------------------

/// `PUT /v1/secrets/{name}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretBody {
    /// The value; stored encrypted, never returned.
    pub value: String,
}

/// A secret's name (values are never returned).
#[derive(Serialize, ToSchema)]
pub struct SecretView {
    /// Its name, as configs reference it: `{{ secrets.NAME }}`.
    pub name: String,
}

/// The largest secret value accepted.
const MAX_SECRET_BYTES: usize = 64 * 1024;

/// Store a secret (write-only: encrypted at rest, never returned).
#[utoipa::path(put, path = "/v1/secrets/{name}", tag = "secrets", security(("bearer" = [])),
    params(("name" = String, Path, description = "Secret name")),
    request_body = SecretBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_secret(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<SecretBody>,
) -> ApiResult<StatusCode> {
    check_name("secret", &name)?;
    if body.value.is_empty() || body.value.len() > MAX_SECRET_BYTES {
        return Err(ApiError::unprocessable(format!(
            "`value`: give 1 byte to {} KiB",
            MAX_SECRET_BYTES / 1024
        )));
    }
    let sealed = app
        .key
        .seal(&secret_context(&tenant, &name), body.value.as_bytes())?;
    app.store.put_secret(&tenant, &name, &sealed)?;
    Ok(StatusCode::NO_CONTENT)
}

/// List secret names.
#[utoipa::path(get, path = "/v1/secrets", tag = "secrets", security(("bearer" = [])),
    responses((status = 200, body = Vec<SecretView>), (status = 401, body = ErrorBody)))]
async fn list_secrets(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<Vec<SecretView>>> {
    Ok(Json(
        app.store
            .secret_names(&tenant)?
            .into_iter()
            .map(|name| SecretView { name })
            .collect(),
    ))
}

/// Delete a secret.
#[utoipa::path(delete, path = "/v1/secrets/{name}", tag = "secrets", security(("bearer" = [])),
    params(("name" = String, Path, description = "Secret name")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_secret(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    if !app.store.delete_secret(&tenant, &name)? {
        return Err(ApiError::not_found("secret", &name));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---- sources -----------------------------------------------------------

/// `PUT /v1/sources/{name}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceBody {
    /// `rest_api` or the name of an uploaded connector.
    pub connector: String,
    /// The config `extract run` takes: the whole config for `rest_api`,
    /// overrides of the built-in one for an uploaded component. Secrets
    /// are referenced as `{{ secrets.NAME }}`.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Run on a schedule: `30s`, `15m`, `2h`, `1d`.
    #[serde(default)]
    pub every: Option<String>,
    /// Only these resources (and the parents they need).
    #[serde(default)]
    pub resources: Option<Vec<String>>,
}

/// A source.
#[derive(Serialize, ToSchema)]
pub struct SourceView {
    /// Its name (also its DuckDB schema).
    pub name: String,
    /// Its connector.
    pub connector: String,
    /// Its config as stored (secret references, never values).
    #[schema(value_type = Object)]
    pub config: Value,
    /// The schedule, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every_secs: Option<u64>,
    /// Only these resources, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
    /// When the schedule next queues a sync (Unix milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run_at_ms: Option<i64>,
}

fn source_view(row: SourceRow) -> SourceView {
    SourceView {
        config: serde_json::from_str(&row.config).unwrap_or(Value::Null),
        resources: row
            .resources
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok()),
        name: row.name,
        connector: row.connector,
        every_secs: row.every_secs,
        next_run_at_ms: row.next_run_ms,
    }
}

/// The static checks of `extract check`: the component accepts the
/// config, secrets are referenced only where the host applies them, the
/// client and every resource's retry settings parse, and named resources
/// exist.
async fn validate_source(app: &App, tenant: &str, body: &SourceBody) -> ApiResult<()> {
    if !body.config.is_object() {
        return Err(ApiError::unprocessable("`config` must be a JSON object"));
    }
    let component = app
        .component(tenant, &body.connector)
        .map_err(|e| ApiError::unprocessable(format!("`connector`: {e:#}")))?;
    let invalid = |e: anyhow::Error| ApiError::unprocessable(format!("invalid config: {e:#}"));
    crate::config::check_secret_placement(&body.config).map_err(invalid)?;
    let mut instance = component.instantiate("describe").await.map_err(invalid)?;
    let text = serde_json::to_string(&body.config).map_err(|e| invalid(e.into()))?;
    let info = instance
        .describe(&text)
        .await
        .map_err(invalid)?
        .map_err(|e| ApiError::unprocessable(format!("invalid config: {}", e.message)))?;
    let effective: Value = serde_json::from_str(&info.config).map_err(|e| invalid(e.into()))?;
    crate::config::check_secret_placement(&effective).map_err(invalid)?;
    crate::config::ClientSpec::from_config(&effective).map_err(invalid)?;
    for r in &info.resources {
        crate::config::RetryPolicy::for_resource(&effective, &r.name).map_err(invalid)?;
    }
    if let Some(wanted) = &body.resources {
        let known: Vec<&str> = info.resources.iter().map(|r| r.name.as_str()).collect();
        for w in wanted {
            if !known.contains(&w.as_str()) {
                return Err(ApiError::unprocessable(format!(
                    "`resources`: unknown resource `{w}`; this source has: {}",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// Store a source (validated like `extract check`, without sending requests).
#[utoipa::path(put, path = "/v1/sources/{name}", tag = "sources", security(("bearer" = [])),
    params(("name" = String, Path, description = "Source name")),
    request_body = SourceBody,
    responses((status = 201, body = SourceView), (status = 200, body = SourceView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_source(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<SourceBody>,
) -> ApiResult<(StatusCode, Json<SourceView>)> {
    check_source_name(&name)?;
    let every = body
        .every
        .as_deref()
        .map(parse_every)
        .transpose()
        .map_err(ApiError::unprocessable)?;
    validate_source(&app, &tenant, &body).await?;
    let row = SourceRow {
        name: name.clone(),
        connector: body.connector,
        config: body.config.to_string(),
        resources: body
            .resources
            .as_ref()
            .map(|r| serde_json::to_string(r).unwrap_or_default()),
        every_secs: every,
        next_run_ms: every.map(|e| now_ms() + (e as i64) * 1000),
    };
    let created = app.store.put_source(&tenant, &row)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(source_view(row))))
}

/// List sources.
#[utoipa::path(get, path = "/v1/sources", tag = "sources", security(("bearer" = [])),
    responses((status = 200, body = Vec<SourceView>), (status = 401, body = ErrorBody)))]
async fn list_sources(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<Vec<SourceView>>> {
    Ok(Json(
        app.store
            .sources(&tenant)?
            .into_iter()
            .map(source_view)
            .collect(),
    ))
}

/// One source.
#[utoipa::path(get, path = "/v1/sources/{name}", tag = "sources", security(("bearer" = [])),
    params(("name" = String, Path, description = "Source name")),
    responses((status = 200, body = SourceView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_source(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> ApiResult<Json<SourceView>> {
    let row = app
        .store
        .source(&tenant, &name)?
        .ok_or_else(|| ApiError::not_found("source", &name))?;
    Ok(Json(source_view(row)))
}

/// Delete a source (its tables stay).
#[utoipa::path(delete, path = "/v1/sources/{name}", tag = "sources", security(("bearer" = [])),
    params(("name" = String, Path, description = "Source name")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_source(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    if !app.store.delete_source(&tenant, &name)? {
        return Err(ApiError::not_found("source", &name));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---- jobs --------------------------------------------------------------

/// A sync job.
#[derive(Serialize, ToSchema)]
pub struct JobView {
    /// Its id.
    pub id: String,
    /// The source it syncs.
    pub source: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    /// `manual` or `schedule`.
    pub trigger: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    /// Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<i64>,
    /// Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<i64>,
    /// Why it failed (secrets redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The DuckDB load id it wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_id: Option<String>,
    /// Per resource: state, pages, records, error (live while running).
    pub resources: Vec<ResourceProgress>,
}

fn job_view(app: &App, job: JobRow) -> JobView {
    let resources = match (job.state, app.scheduler.progress(&job.id)) {
        (JobState::Running, Some(p)) => p.snapshot(),
        _ => job
            .resources
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default(),
    };
    JobView {
        id: job.id,
        source: job.source,
        state: job.state.as_str().into(),
        trigger: job.trigger,
        created_at_ms: job.created_ms,
        started_at_ms: job.started_ms,
        finished_at_ms: job.finished_ms,
        error: job.error,
        load_id: job.load_id,
        resources,
    }
}

/// Queue a sync of a source.
#[utoipa::path(post, path = "/v1/sources/{name}/syncs", tag = "jobs", security(("bearer" = [])),
    params(("name" = String, Path, description = "Source name")),
    responses((status = 202, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_sync(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    if app.store.source(&tenant, &name)?.is_none() {
        return Err(ApiError::not_found("source", &name));
    }
    let id = new_id();
    app.store.create_job(&id, &tenant, &name, "manual")?;
    app.scheduler.wake();
    let job = app
        .store
        .job(&tenant, &id)?
        .ok_or_else(|| anyhow::anyhow!("a queued job vanished"))?;
    Ok((StatusCode::ACCEPTED, Json(job_view(&app, job))))
}

/// `GET /v1/jobs` options.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// List jobs, newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", security(("bearer" = [])), params(JobsQuery),
    responses((status = 200, body = Vec<JobView>), (status = 401, body = ErrorBody)))]
async fn list_jobs(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    QueryParams(q): QueryParams<JobsQuery>,
) -> ApiResult<Json<Vec<JobView>>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(
        app.store
            .jobs(&tenant, limit)?
            .into_iter()
            .map(|j| job_view(&app, j))
            .collect(),
    ))
}

/// One job, with per-resource progress while it runs.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_job(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let job = app
        .store
        .job(&tenant, &id)?
        .ok_or_else(|| ApiError::not_found("job", &id))?;
    Ok(Json(job_view(&app, job)))
}

/// Cancel a job: a queued one at once; a running one stops at its next
/// page boundary, and the data loaded up to it stays.
#[utoipa::path(delete, path = "/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 202, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cancel_job(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let job = app
        .store
        .job(&tenant, &id)?
        .ok_or_else(|| ApiError::not_found("job", &id))?;
    if job.state.is_final() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("job `{id}` is already final ({})", job.state.as_str()),
        ));
    }
    // Queued: cancelled at once. Running (or just started): asked to stop
    // at its next page boundary.
    if !app.store.cancel_queued(&id)? {
        app.scheduler.cancel(&id);
    }
    let job = app
        .store
        .job(&tenant, &id)?
        .ok_or_else(|| ApiError::not_found("job", &id))?;
    Ok((StatusCode::ACCEPTED, Json(job_view(&app, job))))
}

// ---- tables ------------------------------------------------------------

/// List the tenant's tables with row counts.
#[utoipa::path(get, path = "/v1/tables", tag = "tables", security(("bearer" = [])),
    responses((status = 200, body = Vec<TableInfo>), (status = 401, body = ErrorBody)))]
async fn list_tables(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<Vec<TableInfo>>> {
    let tables = tokio::task::spawn_blocking(move || {
        let conn = app.dbs.connect(&tenant)?;
        tenant_db::list_tables(&conn)
    })
    .await
    .map_err(|e| anyhow::anyhow!("listing tables: {e}"))??;
    Ok(Json(tables))
}

/// `GET /v1/tables/{name}` options.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RowsQuery {
    /// Rows to return (default 100, at most 10000).
    pub limit: Option<u64>,
    /// Rows to skip (default 0).
    pub offset: Option<u64>,
}

/// Rows of a table.
#[derive(Serialize, ToSchema)]
pub struct TableRows {
    /// `source.table`.
    pub name: String,
    /// The limit applied.
    pub limit: u64,
    /// The offset applied.
    pub offset: u64,
    /// Rows as JSON objects, in load order.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Value>,
}

/// Rows of a table (`source.table`, as listed), as JSON.
#[utoipa::path(get, path = "/v1/tables/{name}", tag = "tables", security(("bearer" = [])),
    params(("name" = String, Path, description = "`source.table`"), RowsQuery),
    responses((status = 200, body = TableRows), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_table(
    State(app): State<AppState>,
    Tenant(tenant): Tenant,
    Path(name): Path<String>,
    QueryParams(q): QueryParams<RowsQuery>,
) -> ApiResult<Json<TableRows>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let offset = q.offset.unwrap_or(0);
    let lookup = name.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let conn = app.dbs.connect(&tenant)?;
        tenant_db::rows(&conn, &lookup, limit, offset)
    })
    .await
    .map_err(|e| anyhow::anyhow!("reading a table: {e}"))??
    .ok_or_else(|| ApiError::not_found("table", &name))?;
    Ok(Json(TableRows {
        name,
        limit,
        offset,
        rows,
    }))
}

// ---- operations --------------------------------------------------------

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String)))]
async fn healthz() -> &'static str {
    "ok\n"
}

/// Prometheus metrics, labelled by tenant id.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, body = String, content_type = "text/plain")))]
async fn metrics(State(app): State<AppState>) -> ApiResult<Response> {
    let jobs = app.store.job_counts()?;
    let state = app.clone();
    let pool = tokio::task::spawn_blocking(move || state.dbs.pool_usage())
        .await
        .ok()
        .and_then(|usage| usage.inspect_err(|e| tracing::warn!("metrics: {e:#}")).ok());
    let text = app.metrics.render(&jobs, pool);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// Counts every answer by tenant and status.
async fn track(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let tenant = match bearer(req.headers()) {
        Some(t) if app.is_admin(t) => "admin".to_string(),
        Some(t) => app.tenant_of(t).unwrap_or_default(),
        None => String::new(),
    };
    let resp = next.run(req).await;
    app.metrics.api(&tenant, resp.status().as_u16());
    resp
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "extract serve",
        description = "Hosted multi-tenant sync: tenants upload connector components, store write-only secrets, define sources and run syncs into their own DuckDB file."
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of the whole API, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    split(None).1
}

fn split(app: Option<AppState>) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let max_component = app
        .as_ref()
        .map_or(32 * 1024 * 1024, |a| a.settings.max_component_bytes);
    let (schemas, paths, upload) = routes!(put_connector, get_connector, delete_connector);
    let upload = (
        schemas,
        paths,
        upload.layer(DefaultBodyLimit::max(max_component)),
    );
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(delete_tenant))
        .routes(routes!(list_connectors))
        .routes(upload)
        .routes(routes!(list_secrets))
        .routes(routes!(put_secret, delete_secret))
        .routes(routes!(list_sources))
        .routes(routes!(put_source, get_source, delete_source))
        .routes(routes!(create_sync))
        .routes(routes!(list_jobs))
        .routes(routes!(get_job, cancel_job))
        .routes(routes!(list_tables))
        .routes(routes!(get_table))
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .split_for_parts()
}

/// The whole API.
pub fn router(app: AppState) -> axum::Router {
    let (router, doc) = split(Some(app.clone()));
    let doc = Arc::new(doc);
    router
        .route(
            "/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { Json((*doc).clone()) }
            }),
        )
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such endpoint; see GET /v1/openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(app.settings.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(app.clone(), track))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_with_units_and_a_minimum() {
        assert_eq!(parse_every("15m"), Ok(900));
        assert_eq!(parse_every("2h"), Ok(7200));
        assert_eq!(parse_every("1d"), Ok(86_400));
        assert_eq!(parse_every("30s"), Ok(30));
        assert!(parse_every("5s").is_err());
        assert!(parse_every("15").expect_err("no unit").contains("unit"));
        assert!(parse_every("m").is_err());
        assert!(parse_every("15 minutes").is_err());
    }

    #[test]
    fn the_openapi_document_lists_every_endpoint() {
        let doc = serde_json::to_value(openapi()).expect("json");
        let paths = doc["paths"].as_object().expect("paths");
        for p in [
            "/v1/tenants",
            "/v1/tenants/{id}",
            "/v1/connectors",
            "/v1/connectors/{name}",
            "/v1/secrets",
            "/v1/secrets/{name}",
            "/v1/sources",
            "/v1/sources/{name}",
            "/v1/sources/{name}/syncs",
            "/v1/jobs",
            "/v1/jobs/{id}",
            "/v1/tables",
            "/v1/tables/{name}",
            "/healthz",
            "/metrics",
        ] {
            assert!(paths.contains_key(p), "missing {p}");
        }
        assert!(paths["/v1/connectors/{name}"].get("put").is_some());
        assert!(paths["/v1/jobs/{id}"].get("delete").is_some());
    }

    #[test]
    fn names_that_could_escape_are_refused() {
        assert!(check_name("secret", "api_key-2").is_ok());
        for bad in ["", "../x", "a b", "a/b", "é"] {
            assert!(check_name("secret", bad).is_err(), "{bad}");
        }
        assert!(check_source_name("shop_1").is_ok());
        for bad in ["Shop", "1shop", "a-b", "a.b", ""] {
            assert!(check_source_name(bad).is_err(), "{bad}");
        }
    }
}
