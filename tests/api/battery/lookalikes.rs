//! Look-alike accounts (docs/SECURITY.md battery item 29): with `ann@example.com`,
//! `jose@…` spelt with a composed é and `ape@example.com` registered, addresses that a
//! person would read as one of them — homoglyphs from Cyrillic and Greek in the local part
//! and the domain, invisible characters, bidi overrides, full-width forms, decomposed
//! accents, the punycode form of a look-alike domain, quoted local parts, IP literals —
//! create no account; and no mail goes to the look-alike address.
use crate::helpers::{TestApp, PASSWORD};
use reqwest::StatusCode;

const TAKEN: [&str; 3] = [
    "ann@example.com",
    "jos\u{e9}@example.com",
    "ape@example.com",
];

const LOOKALIKES: [&str; 20] = [
    "\u{430}nn@example.com",                // Cyrillic а in the local part
    "ann@ex\u{430}mple.com",                // Cyrillic а in the domain
    "\u{430}nn@\u{435}x\u{430}mple.com",    // both
    "ann@examp\u{4cf}e.com",                // Cyrillic palochka for l
    "\u{3b1}nn@example.com",                // Greek alpha
    "ann@ex\u{3b1}mple.com",                // Greek alpha in the domain
    "\u{430}\u{440}\u{435}@example.com",    // "ape" written wholly in Cyrillic
    "ann\u{200d}@example.com",              // zero-width joiner
    "ann\u{ad}@example.com",                // soft hyphen
    "\u{202e}ann@example.com",              // right-to-left override
    "ann\u{2066}@example.com",              // left-to-right isolate
    "\u{ff41}\u{ff4e}\u{ff4e}@example.com", // full-width "ann"
    "ann@\u{ff45}xample.com",               // full-width e in the domain
    "ann@example\u{3002}com",               // ideographic full stop
    "jose\u{301}@example.com",              // é decomposed (NFD)
    "ann@xn--exmple-4nf.com",               // punycode of ex(Cyrillic а)mple.com
    "ANN@Example.COM",                      // case
    "\"ann\"@example.com",                  // quoted local part
    "ann@[127.0.0.1]",                      // IP literal
    "ann@example.com.",                     // trailing dot
];

#[tokio::test]
async fn look_alike_addresses_create_no_account_and_mail_no_look_alike() {
    let app = TestApp::spawn().await;
    let f = app.create_flock("acme").await;
    for e in TAKEN {
        let (s, b) = app.register(&f.slug, e, PASSWORD).await;
        assert_eq!(s, StatusCode::CREATED, "{e}: {b}");
    }
    let before = app.user_rows().await;
    let (mut refused, mut taken) = (0, 0);
    for e in LOOKALIKES {
        let (s, b) = app.register(&f.slug, e, PASSWORD).await;
        match s {
            StatusCode::BAD_REQUEST => {
                assert_eq!(b["field"], "email", "{e:?}: {b}");
                refused += 1;
            }
            // The flock's enumeration policy answers an existing address as it answers
            // a new one (201 with an id that leads nowhere) or with 409 `email_taken`.
            StatusCode::CREATED | StatusCode::CONFLICT => taken += 1,
            s => panic!("{e:?}: {s} {b}"),
        }
    }
    let created = app.user_rows().await - before;
    println!(
        "look-alike battery: {} addresses, {refused} refused as malformed, {taken} answered as existing, {created} accounts created",
        LOOKALIKES.len()
    );
    assert_eq!(created, 0);
    // No mail went to a look-alike address (a notice, if any, goes to the held one).
    let strays: Vec<_> = app
        .outbox()
        .into_iter()
        .filter(|m| !TAKEN.contains(&m.to.as_str()))
        .map(|m| m.to)
        .collect();
    assert!(strays.is_empty(), "mail to look-alikes: {strays:?}");

    // The other side: real international addresses still register, one account each.
    for e in [
        "\u{438}\u{432}\u{430}\u{43d}@\u{43f}\u{43e}\u{447}\u{442}\u{430}.\u{440}\u{444}",
        "j\u{f6}rg@m\u{fc}ller.de",
        "\u{7530}\u{4e2d}@example.jp",
        "ann.lee+news@example.com",
    ] {
        let (s, b) = app.register(&f.slug, e, PASSWORD).await;
        assert_eq!(s, StatusCode::CREATED, "{e}: {b}");
    }
    assert_eq!(app.user_rows().await - before, 4);
}
