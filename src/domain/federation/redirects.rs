//! Where a code flow may send the browser back to: the flock's redirect allow-list.
//!
//! A redirect URI is accepted when it parses as an absolute URL with no credentials
//! (`user@host`), no fragment, no whitespace, control characters or backslashes, and
//! either its origin (scheme, host, port) is exactly one of `federation.redirect_origins`
//! (which may also name an app's reverse-DNS scheme, `com.example.app:`), or — seed 000's
//! rule, when the flock turns on `federation.public_url_domain` — it is https and its host
//! has the same registrable domain (per the public suffix list) as the flock's
//! `public_url`. The domain rule is off by default: every host of the domain (a forgotten
//! subdomain, a user-content host) could then receive sign-in codes.
use crate::domain::flocks::FlockSettings;
use crate::domain::Invalid;

fn refused(m: &str) -> Invalid {
    Invalid::new("redirect_uri_not_allowed", "redirect_uri", m)
}

/// The registrable domain of a host name (`portal.acme.com` → `acme.com`), lowercased.
fn registrable(host: &str) -> Option<String> {
    if host.ends_with('.') || host.is_empty() {
        return None;
    }
    psl::domain_str(host).map(str::to_ascii_lowercase)
}

/// `https://host[:port]` of a URL (the port only when not the scheme's default).
pub(super) fn origin_of(u: &url::Url) -> String {
    match (u.host_str(), u.port()) {
        (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
        (Some(h), None) => format!("{}://{h}", u.scheme()),
        (None, _) => format!("{}:", u.scheme()),
    }
}

/// Checks `raw` against the flock's allow-list; the parsed URL.
pub fn check_redirect(settings: &FlockSettings, raw: &str) -> Result<url::Url, Invalid> {
    if raw.is_empty() || raw.len() > 2048 {
        return Err(refused("redirect_uri is 1 to 2,048 characters"));
    }
    if raw
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(refused(
            "redirect_uri may not contain spaces, control characters or backslashes",
        ));
    }
    let u = url::Url::parse(raw).map_err(|_| refused("redirect_uri must be an absolute URL"))?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(refused("redirect_uri may not carry credentials"));
    }
    if u.fragment().is_some() {
        return Err(refused("redirect_uri may not have a fragment"));
    }
    // Fold adds `code`, `state` and `error`: a URI that already carries one would give the
    // portal two values to choose from.
    if u.query_pairs()
        .any(|(k, _)| matches!(k.as_ref(), "code" | "state" | "error"))
    {
        return Err(refused(
            "redirect_uri may not carry code, state or error parameters",
        ));
    }
    let fed = &settings.federation;
    let origin = origin_of(&u);
    let listed = fed.redirect_origins.iter().any(|o| {
        let o = o.trim_end_matches('/');
        if o.ends_with(':') {
            // An app scheme: the scheme alone, and no host (`com.example.app:/cb`).
            u.host().is_none() && format!("{}:", u.scheme()).eq_ignore_ascii_case(o)
        } else {
            origin.eq_ignore_ascii_case(o)
        }
    });
    if listed {
        return Ok(u);
    }
    let same_site = fed.public_url_domain
        && u.scheme() == "https"
        && matches!(u.host(), Some(url::Host::Domain(_)))
        && settings
            .public_url
            .as_deref()
            .and_then(|p| url::Url::parse(p).ok())
            .and_then(|p| p.host_str().and_then(registrable))
            .zip(u.host_str().and_then(registrable))
            .is_some_and(|(a, b)| a == b);
    if same_site {
        return Ok(u);
    }
    Err(refused(
        "redirect_uri is not in the flock's allowed origins nor on its public_url's domain",
    ))
}

/// Checks one entry of `federation.redirect_origins`.
pub(crate) fn check_origin_entry(o: &str) -> bool {
    if o.len() > 200
        || o.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return false;
    }
    if let Some(scheme) = o.strip_suffix(':') {
        // A reverse-DNS app scheme (RFC 8252): letters, digits, `.`, `+`, `-`, with a dot.
        return scheme.contains('.')
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'));
    }
    match url::Url::parse(o) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.username().is_empty()
                && u.password().is_none()
                && u.path() == "/"
                && u.query().is_none()
                && u.fragment().is_none()
                && origin_of(&u).eq_ignore_ascii_case(o.trim_end_matches('/'))
        }
        Err(_) => false,
    }
}
