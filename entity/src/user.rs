//! A user of one flock. Email and phone are unique per flock (normalised before storage).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub flock_id: Uuid,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    pub status: String,
    pub role: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub email_verified: bool,
    pub phone_verified: bool,
    /// JSON object of opt-outs (`{"email": true, "sms": false}`).
    pub opt_outs: Json,
    pub terms_accepted_at: Option<DateTimeUtc>,
    pub source: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub username: Option<String>,
    pub company: Option<String>,
    pub picture_url: Option<String>,
    /// The user's id in the flock's own systems (at most 36 characters, unique per flock).
    pub external_id: Option<String>,
    pub referer: Option<String>,
    /// Visible to the back office only.
    pub note: Option<String>,
    /// `person` or `business`.
    pub kind: String,
    pub registration_number: Option<String>,
    pub vat_number: Option<String>,
    /// The business contact this person belongs to (same flock).
    pub business_id: Option<Uuid>,
    pub confirmed_at: Option<DateTimeUtc>,
    /// Mail to the email stops from then on.
    pub email_invalid_at: Option<DateTimeUtc>,
    pub bo_access: bool,
    pub api_access: bool,
    /// Lowercase "first last" (or the company of a business): the name search and sort key.
    pub name_key: String,
    /// The look-alike key of `email` (`migration::lookalike`), unique per flock.
    pub email_key: Option<String>,
    /// When the account became a registered one (None while unclaimed).
    pub registered_at: Option<DateTimeUtc>,
    /// The last session granted (sign-in of any kind; refresh does not count).
    pub last_sign_in_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
