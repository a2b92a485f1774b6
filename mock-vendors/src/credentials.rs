//! The fixed credentials each mock accepts (and nothing else). The binary
//! prints them to stderr as a secrets TOML whose names match the seed configs.

/// Chargify: Basic auth user (the API key).
pub const CHARGIFY_API_KEY: &str = "demo-chargify-key";
/// Chargify: Basic auth password, always `x`.
pub const CHARGIFY_PASSWORD: &str = "x";

/// Pabbly: Basic auth user (the API key).
pub const PABBLY_USERNAME: &str = "demo-pabbly-api-key";
/// Pabbly: Basic auth password (the secret key).
pub const PABBLY_PASSWORD: &str = "demo-pabbly-secret-key";

/// Younium: `username` of the password grant.
pub const YOUNIUM_USERNAME: &str = "demo@younium.example";
/// Younium: `password` of the password grant.
pub const YOUNIUM_PASSWORD: &str = "demo-younium-password";
/// Younium: `legal_entity` of the password grant.
pub const YOUNIUM_LEGAL_ENTITY: &str = "demo-legal-entity";
/// Younium: `client_id` of the password grant (fixed by Younium).
pub const YOUNIUM_CLIENT_ID: &str = "apiclient";
/// Younium: scopes the token endpoint accepts; `api` is required.
pub const YOUNIUM_SCOPES: &[&str] = &["openid", "api", "profile", "offline_access"];
/// Younium: token endpoint path on the mock (the seed names none).
pub const YOUNIUM_TOKEN_PATH: &str = "/connect/token";

/// FastBill: Basic auth user (the account e-mail).
pub const FASTBILL_EMAIL: &str = "demo@fastbill.example";
/// FastBill: Basic auth password (the API key).
pub const FASTBILL_API_KEY: &str = "demo-fastbill-key";

/// PayPal: OAuth client id (Basic auth user at the token endpoint).
pub const PAYPAL_CLIENT_ID: &str = "demo-paypal-client-id";
/// PayPal: OAuth client secret (Basic auth password at the token endpoint).
pub const PAYPAL_CLIENT_SECRET: &str = "demo-paypal-client-secret";
/// PayPal: token endpoint path.
pub const PAYPAL_TOKEN_PATH: &str = "/v1/oauth2/token";
