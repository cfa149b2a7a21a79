//! The look-alike key of an email address: two addresses with the same key look the same
//! to a person, so a flock holds at most one account per key (`ux_users_flock_email_key`).
//!
//! It lives here because migration 0011 fills it in for existing accounts with exactly the
//! function the server uses for new ones.
//!
//! The key is the address in NFKC, lowercase, with an IDNA (`xn--`) domain shown in
//! Unicode, and every non-ASCII character replaced by its UTS #39 confusable prototype
//! (Cyrillic `а` → `a`, Greek `ο` → `o`). ASCII characters are kept as they are: `rn` and
//! `m`, or `l` and `1`, stay different addresses (people tell them apart in their own
//! script, and refusing them would turn away real users).
use unicode_normalization::UnicodeNormalization;

pub fn email_key(email: &str) -> String {
    let lower: String = email.nfkc().collect::<String>().to_lowercase();
    let (local, domain) = match lower.rsplit_once('@') {
        Some((l, d)) => (l.to_owned(), shown_domain(d)),
        None => (lower.clone(), String::new()),
    };
    let whole = if domain.is_empty() {
        local
    } else {
        format!("{local}@{domain}")
    };
    let mut out = String::with_capacity(whole.len());
    for c in whole.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            out.extend(
                unicode_security::skeleton(c.encode_utf8(&mut buf)).flat_map(char::to_lowercase),
            );
        }
    }
    out.nfc().collect()
}

/// A domain as people see it: `xn--` labels decoded (an undecodable one kept as it is).
fn shown_domain(domain: &str) -> String {
    if !domain.split('.').any(|l| l.starts_with("xn--")) {
        return domain.to_owned();
    }
    let (unicode, result) = idna::domain_to_unicode(domain);
    if result.is_ok() {
        unicode
    } else {
        domain.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::email_key;

    #[test]
    fn look_alikes_share_a_key_and_ascii_stays_as_it_is() {
        let ann = email_key("ann@example.com");
        assert_eq!(ann, "ann@example.com");
        for alike in [
            "\u{0430}nn@example.com", // Cyrillic а
            "ann@ex\u{0430}mple.com", // Cyrillic in the domain
            "ANN@EXAMPLE.COM",
            "\u{FF41}nn@example.com", // full-width a
            "ann@xn--exmple-4nf.com", // punycode of ex(Cyrillic а)mple
            "\u{03B1}nn@example.com", // Greek alpha
        ] {
            assert_eq!(email_key(alike), ann, "{alike}");
        }
        assert_ne!(
            email_key("modern@example.com"),
            email_key("modem@example.com")
        );
        assert_eq!(
            email_key("jose\u{301}@example.com"),
            email_key("jos\u{e9}@example.com")
        );
    }
}
