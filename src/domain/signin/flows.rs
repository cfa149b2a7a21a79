//! Signing in with a password or a one-time code, by activation, and the limited session
//! of a preregistration.
use super::{Activated, SignInError, SignInOptions, SignInService, SignedIn};
use crate::domain::flocks::Flock;
use crate::domain::otp::{self, Channel, OtpError, Purpose};
use crate::domain::sessions::SessionError;
use crate::domain::user::login::Identifier;
use crate::domain::user::{
    AccountFields, Admission, Contact, NewAccount, Origin, PreregisterInput, UserError,
};
use secrecy::SecretString;
use std::collections::BTreeMap;

/// Profile fields for an account a one-time code creates.
#[derive(Debug, Clone, Default)]
pub struct CodeProfile {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub terms_accepted: bool,
    pub email_opt_out: bool,
    pub sms_opt_out: bool,
    /// Profile field values (the fields the flock asks at registration).
    pub fields: BTreeMap<String, serde_json::Value>,
}

fn not_active(n: crate::domain::user::NotAdmitted) -> SignInError {
    UserError::from(n).into()
}

impl SignInService {
    /// Email (or phone) and password. A bad device token is refused before the password
    /// is checked, so it opens nothing.
    pub async fn password(
        &self,
        flock: &Flock,
        id: Identifier<'_>,
        password: SecretString,
        opts: SignInOptions,
    ) -> Result<SignedIn, SignInError> {
        let r = self.password_inner(flock, id, password, opts).await;
        if let Err(e) = &r {
            self.record_failure(flock, e, "password", || {
                self.users.find_by_identifier(flock, id)
            })
            .await;
        }
        r
    }

    async fn password_inner(
        &self,
        flock: &Flock,
        id: Identifier<'_>,
        password: SecretString,
        opts: SignInOptions,
    ) -> Result<SignedIn, SignInError> {
        let mut opts = opts;
        opts.method = Some("password");
        let device = opts.device_token.as_deref();
        self.check_device(flock, device, SessionError::UnknownDevice)
            .await?;
        let user = self
            .users
            .check_password(flock, id, password, opts.meta.ip.as_deref())
            .await?;
        // Only someone holding the password learns the status.
        self.grant(flock, user, Admission::SignIn, opts, not_active)
            .await
    }

    /// Register-or-sign-in with a code: a valid code for a known identifier signs in
    /// (and verifies the identifier); for an unknown one it creates the account (where
    /// self-registration is on) with `profile`, the identifier verified.
    #[allow(clippy::too_many_arguments)]
    pub async fn code(
        &self,
        flock: &Flock,
        channel: Channel,
        identifier: &str,
        purpose: Purpose,
        code: &str,
        profile: CodeProfile,
        opts: SignInOptions,
    ) -> Result<SignedIn, SignInError> {
        let r = self
            .code_inner(flock, channel, identifier, purpose, code, profile, opts)
            .await;
        if let Err(e) = &r {
            let user = || async {
                let id = otp::Identifier::parse(channel, identifier).ok()?;
                self.users
                    .find(flock.id, &id.contact)
                    .await
                    .ok()
                    .flatten()
                    .map(|u| u.id)
            };
            self.record_failure(flock, e, "otp", user).await;
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    async fn code_inner(
        &self,
        flock: &Flock,
        channel: Channel,
        identifier: &str,
        purpose: Purpose,
        code: &str,
        profile: CodeProfile,
        opts: SignInOptions,
    ) -> Result<SignedIn, SignInError> {
        // The identifier and the fields are checked before the code is spent.
        let id = otp::Identifier::parse(channel, identifier).map_err(OtpError::Invalid)?;
        let opt_outs = BTreeMap::from([
            ("email".to_owned(), profile.email_opt_out),
            ("sms".to_owned(), profile.sms_opt_out),
        ]);
        let fields = AccountFields::parse(
            profile.first_name,
            profile.last_name,
            profile.locale,
            Some(opt_outs),
        )
        .map_err(OtpError::Invalid)?;
        self.users
            .check_signup_fields(flock.id, &profile.fields)
            .await?;
        self.otp.verify(flock, &id, purpose, code).await?;
        let contact = id.contact;
        let (user, created) = match self.users.find(flock.id, &contact).await? {
            Some(u) => {
                // The code proves the identifier: verified, and an unclaimed account made
                // by the back office is claimed by its owner here.
                let u = self.users.mark_verified(flock.id, u.id, &contact).await?;
                (self.users.claim(flock, u).await?, false)
            }
            None if !flock.settings.self_registration => {
                return Err(OtpError::RegistrationClosed.into())
            }
            None => {
                let (email, phone) = match contact.clone() {
                    Contact::Email(e) => (Some(e), None),
                    Contact::Phone(p) => (None, Some(p)),
                };
                let mut account = NewAccount::self_service(email, phone, fields, Origin::Code);
                account.terms_accepted = profile.terms_accepted;
                account.profile = profile.fields.clone();
                account.source = Some("otp".to_owned());
                match self.users.create_account(flock, account).await {
                    Ok(u) => (u, true),
                    // Created in parallel by another code: sign that account in.
                    Err(UserError::EmailTaken | UserError::PhoneTaken) => {
                        match self.users.find(flock.id, &contact).await? {
                            Some(u) => (u, false),
                            None => return Err(OtpError::InvalidCode.into()),
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let refused = |_| OtpError::NotActive.into();
        let mut opts = opts;
        opts.method = Some("otp");
        let mut signed_in = self
            .grant(flock, user, Admission::SignIn, opts, refused)
            .await?;
        signed_in.created = created;
        Ok(signed_in)
    }

    /// `activate`: the mailed token confirms the email and moves the account on; an
    /// account that may now sign in gets a session.
    pub async fn activate(
        &self,
        flock: &Flock,
        token: &str,
        opts: SignInOptions,
    ) -> Result<Activated, SignInError> {
        let user = self.users.activate(flock, token).await?;
        if user.session_role(Admission::SignIn).is_err() {
            return Ok(Activated::Confirmed(Box::new(user)));
        }
        let s = self
            .grant(flock, user, Admission::SignIn, opts, not_active)
            .await?;
        Ok(Activated::SignedIn(Box::new(s)))
    }

    /// A user whose identity a provider proved (`domain/federation` decided who, by its
    /// linking rules, and created the account if it had to).
    pub async fn federated(
        &self,
        flock: &Flock,
        user: crate::domain::user::User,
        provider: &str,
        created: bool,
        mut opts: SignInOptions,
    ) -> Result<SignedIn, SignInError> {
        let device = opts.device_token.as_deref();
        self.check_device(flock, device, SessionError::UnknownDevice)
            .await?;
        opts.provider = Some(provider.to_owned());
        opts.method = Some("federated");
        let mut s = self
            .grant(flock, user, Admission::SignIn, opts, not_active)
            .await?;
        s.created = created;
        Ok(s)
    }

    /// A `preregistered` account from an email alone, and its limited session (its own
    /// profile only).
    pub async fn preregister(
        &self,
        flock: &Flock,
        input: PreregisterInput,
        opts: SignInOptions,
    ) -> Result<SignedIn, SignInError> {
        let user = self.users.preregister(flock, input).await?;
        self.grant(flock, user, Admission::Preregistration, opts, not_active)
            .await
    }
}
