//! Structured fuzzing of what the identity platform answers (every Microsoft provider's first
//! call): token answers and their lifetimes, token-endpoint errors, the claims of an access
//! token read as a JWT, and `Retry-After` headers. Arbitrary bytes never panic; seed answers
//! (Entra's documented shapes) with fields replaced by wrong types, huge numbers or odd unicode,
//! or removed, never panic and give sane results: a cache lifetime within a day, throttling and
//! outages never read as authentication failures, roles read back as written.
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{cache_lifetime_ms, token_claims, token_error, token_permissions, TokenResponse, MAX_TOKEN_LIFETIME_S};
use crate::fuzz_support::{apply, apply_json, edits, json_edits};
use crate::http::retry_after_ms;
use crate::types::ProviderError;

fn token_answer() -> Value {
    json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "eyJ0eXAiOiJKV1Qi.eyJyb2xlcyI6W119.c2ln", "refresh_token": "0.AAAA"})
}

fn error_answer() -> Value {
    json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x\r\nCorrelation ID: y", "error_codes": [7000215], "timestamp": "2026-03-23 09:00:00Z", "trace_id": "x", "correlation_id": "y"})
}

fn claims() -> Value {
    json!({"aud": "https://graph.microsoft.com", "tid": "6e8f3a2b-0c4d-4e5f-8a9b-1c2d3e4f5a6b", "roles": ["Calendars.ReadBasic", "Place.Read.All"], "scp": "Calendars.Read User.ReadBasic.All"})
}

fn jwt(payload: &[u8]) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    format!("{}.{}.{}", b64(br#"{"alg":"RS256","typ":"JWT"}"#), b64(payload), b64(b"signature"))
}

/// What a token answer leads to: the lifetime it is cached for, when it is readable.
fn lifetime_of(body: &[u8]) -> Option<i64> {
    let parsed: TokenResponse = serde_json::from_slice(body).ok()?;
    Some(cache_lifetime_ms(parsed.expires_in.as_ref()))
}

fn check_error(status: u16, e: &ProviderError) -> Result<(), TestCaseError> {
    match status {
        429 => prop_assert!(matches!(e, ProviderError::Throttled(_)), "{status}: {e:?}"),
        500..=599 => prop_assert!(matches!(e, ProviderError::Unavailable(_)), "{status}: {e:?}"),
        _ => {}
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_token_answers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Some(ms) = lifetime_of(&body) {
            prop_assert!((0..=MAX_TOKEN_LIFETIME_S * 1000).contains(&ms));
        }
    }

    #[test]
    fn edited_token_answers_cache_for_at_most_a_day(edits in json_edits(), bytes in proptest::option::of(edits())) {
        let mut body = serde_json::to_vec(&apply_json(&token_answer(), &edits)).unwrap();
        if let Some(bytes) = bytes {
            body = apply(&body, &bytes);
        }
        if let Some(ms) = lifetime_of(&body) {
            prop_assert!((0..=MAX_TOKEN_LIFETIME_S * 1000).contains(&ms), "{ms} ms");
        }
    }

    #[test]
    fn any_expires_in_gives_a_lifetime_within_a_day(n in any::<i64>(), as_text in any::<bool>()) {
        let v = if as_text { Value::from(n.to_string()) } else { Value::from(n) };
        let ms = cache_lifetime_ms(Some(&v));
        prop_assert!((0..=MAX_TOKEN_LIFETIME_S * 1000).contains(&ms));
        if (600..=MAX_TOKEN_LIFETIME_S).contains(&n) {
            prop_assert_eq!(ms, (n - 300) * 1000);
        }
    }

    #[test]
    fn token_errors_never_panic_and_outages_are_not_auth_failures(
        status in prop_oneof![Just(400u16), Just(401), Just(429), Just(500), Just(503), any::<u16>()],
        edits in json_edits(),
        bytes in proptest::option::of(edits()),
        retry_after in proptest::option::of(any::<String>()),
    ) {
        let mut body = serde_json::to_vec(&apply_json(&error_answer(), &edits)).unwrap();
        if let Some(bytes) = bytes {
            body = apply(&body, &bytes);
        }
        let e = token_error(status, &body, retry_after.as_deref());
        check_error(status, &e)?;
    }

    #[test]
    fn arbitrary_error_bodies_never_panic(status in any::<u16>(), body in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_error(status, &token_error(status, &body, None))?;
    }

    #[test]
    fn arbitrary_tokens_never_panic(token in any::<String>(), payload in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = token_permissions(&token);
        let _ = token_permissions(&jwt(&payload));
        let _ = token_claims(&format!("{token}.{token}.{token}"));
    }

    #[test]
    fn edited_claims_never_panic_and_roles_read_back(edits in json_edits()) {
        let edited = apply_json(&claims(), &edits);
        let token = jwt(&serde_json::to_vec(&edited).unwrap());
        let got = token_permissions(&token);
        // Only nesting beyond serde_json's recursion limit makes the claims unreadable.
        prop_assert!(got.is_some() || serde_json::from_slice::<Value>(&serde_json::to_vec(&edited).unwrap()).is_err());
        if let (Some(got), Some(roles)) = (got, edited["roles"].as_array()) {
            let written: Vec<&str> = roles.iter().filter_map(Value::as_str).collect();
            prop_assert!(got.len() >= written.len());
            prop_assert_eq!(&got[..written.len()], &written[..]);
        }
    }

    #[test]
    fn retry_after_never_panics(value in prop_oneof![any::<String>(), any::<f64>().prop_map(|f| f.to_string()), any::<u64>().prop_map(|n| n.to_string())]) {
        if let Some(ms) = retry_after_ms(Some(&value)) {
            let s: f64 = value.trim().parse().unwrap();
            prop_assert!(s >= 0.0 && (s * 1000.0).ceil().min(u32::MAX as f64) as u32 == ms);
        }
    }
}

#[test]
fn a_huge_or_negative_expires_in_cannot_overflow_the_cache_lifetime() {
    for v in [json!(i64::MAX), json!(i64::MIN), json!(i64::MAX.to_string()), json!(-3600)] {
        assert!((0..=MAX_TOKEN_LIFETIME_S * 1000).contains(&cache_lifetime_ms(Some(&v))), "{v}");
    }
    assert_eq!(cache_lifetime_ms(Some(&json!(3599))), 3_299_000);
    assert_eq!(cache_lifetime_ms(None), 3_299_000);
    assert_eq!(cache_lifetime_ms(Some(&json!(60))), 30_000);
}
