//! SeaORM entities: one module per table. Every flock-owned table carries `flock_id`.
pub mod address;
pub mod address_request;
pub mod api_key;
pub mod federation_provider;
pub mod flock;
pub mod group_member;
pub mod identity;
pub mod mail_outbox;
pub mod platform_key;
pub mod profile_schema;
pub mod profile_value;
pub mod signing_key;
pub mod user;
pub mod user_file;
pub mod user_group;
pub mod user_meta;
pub mod user_token;
