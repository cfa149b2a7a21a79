//! Federation: providers, ID-token sign-in, the code flow (against stand-ins for Google
//! and Apple and a real OpenID Connect provider), identities and the linking rules, the
//! secured admin login; the takeover and hostile-redirect batteries (SECURITY items 23
//! and 24).
mod code_flow;
mod id_tokens;
mod linking;
mod providers;
mod redirects;
mod takeover;
