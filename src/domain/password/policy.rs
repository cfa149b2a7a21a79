//! The password policy of docs/SECURITY.md: at least the flock's minimum (8 by default) and at
//! most 256 code points, never truncated, no composition rules, not one of the ~10,000
//! most common passwords, not the user's email or name.
use crate::domain::Invalid;
use std::collections::HashSet;
use std::sync::LazyLock;

pub const MAX_CODE_POINTS: usize = 256;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

fn invalid(code: &'static str, message: impl Into<String>) -> Invalid {
    Invalid::new(code, "password", message)
}

/// `personal` holds the user's email and names; the password may not equal any of them.
pub fn check_policy(password: &str, min_len: u32, personal: &[&str]) -> Result<(), Invalid> {
    let n = password.chars().count();
    if n < min_len as usize {
        return Err(invalid(
            "password_too_short",
            format!("password must be at least {min_len} characters"),
        ));
    }
    if n > MAX_CODE_POINTS {
        return Err(invalid(
            "password_too_long",
            format!("password must be at most {MAX_CODE_POINTS} characters"),
        ));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return Err(invalid(
            "password_too_common",
            "this password is too common; choose another",
        ));
    }
    for p in personal.iter().map(|p| p.trim().to_lowercase()) {
        if p.is_empty() {
            continue;
        }
        let local = p.split('@').next().unwrap_or(&p);
        if lower == p || (local.chars().count() >= 4 && lower == local) {
            return Err(invalid(
                "password_is_personal",
                "password must not be your email or name",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocklist_is_loaded_and_refuses_common_passwords() {
        assert!(COMMON.len() >= 9_000);
        assert!(check_policy("password", 8, &[]).is_err());
        assert!(check_policy("Password", 8, &[]).is_err());
    }

    #[test]
    fn length_counts_code_points() {
        // 8 code points, 24 bytes.
        assert!(check_policy("ééééèèèè", 8, &[]).is_ok());
        assert!(check_policy("éééé", 8, &[]).is_err());
        assert!(check_policy(&"a1".repeat(128), 8, &[]).is_ok());
        assert!(check_policy(&"a1".repeat(129), 8, &[]).is_err());
    }

    #[test]
    fn personal_data_is_refused() {
        let err = check_policy("alice@example.com", 8, &["alice@example.com"]);
        assert_eq!(err.err().map(|e| e.code), Some("password_is_personal"));
        assert!(check_policy("alicealice", 8, &["alicealice@example.com"]).is_err());
    }
}
