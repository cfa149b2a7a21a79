//! An address's fields: each trimmed and bounded, the country an ISO 3166-1 alpha-2 code,
//! the phone E.164; a patch of them; their JSON form in the database.
use crate::domain::user::Phone;
use crate::domain::Invalid;
use serde::{Deserialize, Serialize};

/// The fields of an address (all optional; the country is ISO 3166-1 alpha-2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub street: Option<String>,
    pub number: Option<String>,
    pub city: Option<String>,
    pub zip: Option<String>,
    pub region: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub company_id: Option<String>,
    pub tax_id: Option<String>,
    pub vat_id: Option<String>,
}

/// Fields to change: absent keeps, `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct AddressPatch {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub company_name: Option<Option<String>>,
    pub street: Option<Option<String>>,
    pub number: Option<Option<String>>,
    pub city: Option<Option<String>>,
    pub zip: Option<Option<String>>,
    pub region: Option<Option<String>>,
    pub country: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub company_id: Option<Option<String>>,
    pub tax_id: Option<Option<String>>,
    pub vat_id: Option<Option<String>>,
}

fn text(v: Option<String>, field: &'static str, max: usize) -> Result<Option<String>, Invalid> {
    let Some(v) = v else { return Ok(None) };
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(Invalid::new(
            "invalid_field",
            field,
            format!("{field} is at most {max} printable characters"),
        ));
    }
    Ok(Some(v.to_owned()))
}

impl AddressFields {
    /// Each field trimmed and bounded; the country an ISO 3166-1 alpha-2 code
    /// (uppercased); the phone E.164.
    pub(super) fn checked(self) -> Result<Self, Invalid> {
        let country = match text(self.country, "country", 2)? {
            Some(c) => {
                let c = c.to_ascii_uppercase();
                if !COUNTRIES.contains(&c.as_str()) {
                    return Err(Invalid::new(
                        "invalid_country",
                        "country",
                        "country is an ISO 3166-1 alpha-2 code, e.g. CY, FR",
                    ));
                }
                Some(c)
            }
            None => None,
        };
        let phone = match text(self.phone, "phone", 32)? {
            Some(p) => Some(
                Phone::parse(&p)
                    .map_err(|_| {
                        Invalid::new(
                            "invalid_phone",
                            "phone",
                            "phone is E.164: + and 8 to 15 digits",
                        )
                    })?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        Ok(Self {
            first_name: text(self.first_name, "first_name", 200)?,
            last_name: text(self.last_name, "last_name", 200)?,
            company_name: text(self.company_name, "company_name", 200)?,
            street: text(self.street, "street", 200)?,
            number: text(self.number, "number", 32)?,
            city: text(self.city, "city", 100)?,
            zip: text(self.zip, "zip", 20)?,
            region: text(self.region, "region", 100)?,
            country,
            phone,
            company_id: text(self.company_id, "company_id", 64)?,
            tax_id: text(self.tax_id, "tax_id", 64)?,
            vat_id: text(self.vat_id, "vat_id", 64)?,
        })
    }

    pub(super) fn patched(mut self, p: AddressPatch) -> Self {
        macro_rules! apply {
            ($($f:ident),*) => { $(if let Some(v) = p.$f { self.$f = v; })* };
        }
        apply!(
            first_name,
            last_name,
            company_name,
            street,
            number,
            city,
            zip,
            region,
            country,
            phone,
            company_id,
            tax_id,
            vat_id
        );
        self
    }

    pub(super) fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub(super) fn from_json(v: serde_json::Value) -> Self {
        serde_json::from_value(v).unwrap_or_default()
    }
}

/// ISO 3166-1 alpha-2 codes.
const COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

#[cfg(test)]
mod tests {
    use super::COUNTRIES;

    #[test]
    fn the_country_list_is_the_249_iso_codes_sorted_and_unique() {
        assert_eq!(COUNTRIES.len(), 249);
        assert!(COUNTRIES.windows(2).all(|w| w[0] < w[1]));
    }
}
