//! Sign-in through providers: a native SDK's ID token, the web code flow (start, the
//! provider's callback, the exchange of the one-time code), the user's identities and
//! linking (`identities.rs`), and the flock's providers (`providers.rs`).
mod identities;
mod providers;

pub use identities::{IdentitiesApi, IdentitiesBackOfficeApi};
pub use providers::ProvidersApi;

use crate::api::client_ip::Client;
use crate::api::error::ApiResult;
use crate::api::frame::tenant;
use crate::api::views::SessionView;
use crate::api::ApiTags;
use crate::domain::federation::{
    binding_cookie, CallbackInput, CallbackOutcome, FederationService, IdTokenInput, StartInput,
};
use crate::domain::signin::SignInOptions;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};

pub struct FederationApi {
    pub federation: FederationService,
}

/// An ID token from a native SDK (Sign in with Apple, Google's Credential Manager, an
/// OpenID Connect provider's SDK).
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct IdTokenRequest {
    /// The ID token the provider gave the app.
    #[oai(validator(min_length = 1, max_length = 16384))]
    id_token: String,
    /// The raw nonce the app generated for this sign-in. The token must carry it as is,
    /// or its SHA-256 in lowercase hex (what Apple's and Google's native SDKs are given).
    /// Required unless the provider allows tokens without a nonce; each nonce signs in
    /// once.
    #[oai(validator(min_length = 1, max_length = 512))]
    nonce: Option<String>,
    /// Apple only: the first name Apple gave the app at the first authorization (never in
    /// the token).
    #[oai(validator(max_length = 200))]
    first_name: Option<String>,
    /// Apple only: the last name, as `first_name`.
    #[oai(validator(max_length = 200))]
    last_name: Option<String>,
    /// Where the sign-in comes from (an app name), kept with the session.
    #[oai(validator(max_length = 100))]
    source: Option<String>,
    /// A device token to pair the new session with.
    #[oai(validator(max_length = 256))]
    device_token: Option<String>,
    /// An anonymous visitor's token to attach to the user.
    #[oai(validator(max_length = 256))]
    visitor_token: Option<String>,
}

/// The one-time exchange code the portal received on its redirect URI.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct ExchangeRequest {
    #[oai(validator(min_length = 1, max_length = 256))]
    code: String,
    /// The PKCE verifier, when the flow was started with a `code_challenge`.
    #[oai(validator(min_length = 43, max_length = 128))]
    code_verifier: Option<String>,
    #[oai(validator(max_length = 100))]
    source: Option<String>,
    #[oai(validator(max_length = 256))]
    device_token: Option<String>,
    #[oai(validator(max_length = 256))]
    visitor_token: Option<String>,
}

/// What a provider posts to the callback (Apple's `form_post`).
#[derive(Object, serde::Deserialize)]
struct CallbackForm {
    #[oai(validator(max_length = 2048))]
    code: Option<String>,
    #[oai(validator(max_length = 512))]
    state: Option<String>,
    #[oai(validator(max_length = 256))]
    error: Option<String>,
    /// Apple, first authorization: the user's name as JSON.
    #[oai(validator(max_length = 2048))]
    user: Option<String>,
    /// Apple also posts the ID token; Fold uses the one from the token endpoint.
    #[oai(validator(max_length = 16384))]
    id_token: Option<String>,
}

#[derive(ApiResponse)]
enum Redirect {
    /// To the provider (start: with the cookie binding the flow to this browser) or back
    /// to the portal (callback: `?code=` — the one-time exchange code — or
    /// `?error=<code>`, with the portal's `state`; the binding cookie cleared).
    #[oai(status = 302)]
    Found(
        #[oai(header = "Location")] String,
        #[oai(header = "Set-Cookie")] Option<String>,
    ),
}

/// The binding cookie of the flow `state`, from the request.
fn binding_of(req: &poem::Request, state: Option<&str>) -> Option<String> {
    let name = binding_cookie(state?);
    crate::api::security::cookies(req).remove(&name)
}

fn opts(
    client: Client,
    source: Option<String>,
    device: Option<String>,
    visitor: Option<String>,
) -> SignInOptions {
    SignInOptions {
        meta: client.meta(source),
        device_token: device,
        visitor_token: visitor,
        provider: None,
        method: None,
    }
}

#[OpenApi(tag = "ApiTags::Federation")]
impl FederationApi {
    /// Sign in with a provider's ID token (mobile and one-tap). Checks the signature with
    /// the provider's published keys, the issuer, the audience (the client id or a trusted
    /// one), the times and the nonce; then signs in the identity's user, links it to the
    /// account with its verified email, or creates the account (see the linking rules).
    /// The answer is the same session as a password sign-in.
    #[oai(
        path = "/api/v1/:flock/user/federated/:provider/id-token",
        method = "post",
        operation_id = "federated_id_token"
    )]
    async fn id_token(
        &self,
        flock: tenant::Path,
        /// The provider's name in this flock (`google`, `apple`, …).
        provider: Path<String>,
        #[oai(name = "User-Agent")] client: Client,
        body: Json<IdTokenRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let b = body.0;
        let input = IdTokenInput {
            id_token: b.id_token,
            nonce: b.nonce,
            first_name: b.first_name,
            last_name: b.last_name,
        };
        let o = opts(client, b.source, b.device_token, b.visitor_token);
        let s = self
            .federation
            .sign_in_id_token(&flock, &provider.0, input, o)
            .await?;
        Ok(Json(SessionView::new(s)))
    }

    /// Start the web sign-in: redirects the browser to the provider (with state, PKCE
    /// S256 and a nonce). `redirect_uri` must be allowed by the flock
    /// (`settings.federation`); the browser comes back there with `?code=` (a one-time
    /// exchange code for `POST …/user/federated/exchange`) or `?error=`.
    #[oai(
        path = "/api/v1/:flock/user/federated/:provider/start",
        method = "get",
        operation_id = "federated_start"
    )]
    async fn start(
        &self,
        flock: tenant::Path,
        provider: Path<String>,
        /// Where the browser returns (allow-listed by the flock).
        #[oai(validator(max_length = 2048))]
        redirect_uri: Query<String>,
        /// The portal's own state, returned unchanged (check it: it binds the answer to
        /// the browser that started).
        #[oai(validator(max_length = 512))]
        state: Query<Option<String>>,
        /// PKCE for the exchange code: base64url(SHA-256(verifier)).
        #[oai(validator(max_length = 128))]
        code_challenge: Query<Option<String>>,
        /// Passed to the provider to preselect an account.
        #[oai(validator(max_length = 320))]
        login_hint: Query<Option<String>>,
    ) -> ApiResult<Redirect> {
        let input = StartInput {
            redirect_uri: redirect_uri.0,
            state: state.0,
            code_challenge: code_challenge.0,
            login_hint: login_hint.0,
        };
        let started = self
            .federation
            .start(&flock, &provider.0, input, None)
            .await?;
        let cookie = started.binding.map(|b| b.set_cookie);
        Ok(Redirect::Found(started.url, cookie))
    }

    /// The provider's redirect back to Fold (query). Not called by portals.
    #[oai(
        path = "/api/v1/:flock/user/federated/:provider/callback",
        method = "get",
        operation_id = "federated_callback"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn callback(
        &self,
        req: &poem::Request,
        flock: tenant::Path,
        provider: Path<String>,
        #[oai(validator(max_length = 2048))] code: Query<Option<String>>,
        #[oai(validator(max_length = 512))] state: Query<Option<String>>,
        #[oai(validator(max_length = 256))] error: Query<Option<String>>,
        /// RFC 9207: the issuer of the answer (checked through the ID token instead).
        #[oai(validator(max_length = 512))]
        iss: Query<Option<String>>,
    ) -> ApiResult<Redirect> {
        let _ = iss;
        let binding = binding_of(req, state.0.as_deref());
        let input = CallbackInput {
            code: code.0,
            state: state.0,
            error: error.0,
            user: None,
            binding,
        };
        let CallbackOutcome::Redirect(to, clear) =
            self.federation.callback(&flock, &provider.0, input).await?;
        Ok(Redirect::Found(to, clear))
    }

    /// The provider's redirect back to Fold as a form post (Apple's `form_post`).
    #[oai(
        path = "/api/v1/:flock/user/federated/:provider/callback",
        method = "post",
        operation_id = "federated_callback_form"
    )]
    async fn callback_form(
        &self,
        req: &poem::Request,
        flock: tenant::Path,
        provider: Path<String>,
        form: Form<CallbackForm>,
    ) -> ApiResult<Redirect> {
        let f = form.0;
        let binding = binding_of(req, f.state.as_deref());
        let input = CallbackInput {
            code: f.code,
            state: f.state,
            error: f.error,
            user: f.user,
            binding,
        };
        let CallbackOutcome::Redirect(to, clear) =
            self.federation.callback(&flock, &provider.0, input).await?;
        Ok(Redirect::Found(to, clear))
    }

    /// Trade the one-time exchange code for the session (once, within two minutes).
    #[oai(
        path = "/api/v1/:flock/user/federated/exchange",
        method = "post",
        operation_id = "federated_exchange"
    )]
    async fn exchange(
        &self,
        flock: tenant::Path,
        #[oai(name = "User-Agent")] client: Client,
        body: Json<ExchangeRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let b = body.0;
        let o = opts(client, b.source, b.device_token, b.visitor_token);
        let s = self
            .federation
            .exchange(&flock, &b.code, b.code_verifier.as_deref(), o)
            .await?;
        Ok(Json(SessionView::new(s)))
    }
}
