#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
use super::*;
use crate::testkit::{FixtureKey, dpop_proof, jkt, proof_claims};
use serde_json::json;

fn claims(value: Value) -> Claims {
    Claims::from_json(value)
}

const PROOF: &str = "p.p.p";

fn one() -> Vec<String> {
    vec![PROOF.to_owned()]
}

#[test]
fn a_bearer_token_needs_nothing_unless_dpop_is_required() {
    let none = Confirmation::None;
    for mode in [DpopMode::Off, DpopMode::On] {
        let plan = plan(mode, Kind::RestRequest, Some(Scheme::Bearer), none, &[]).unwrap();
        assert_eq!(
            plan,
            Plan {
                certificate: None,
                proof: None
            }
        );
    }
    assert_eq!(
        plan(
            DpopMode::Required,
            Kind::RestRequest,
            Some(Scheme::Bearer),
            none,
            &[]
        ),
        Err(TokenError::ProofRequired)
    );
}

#[test]
fn a_bound_token_sent_as_bearer_needs_a_proof_whatever_dpop_says() {
    let c = claims(json!({"cnf": {"jkt": "abc"}}));
    for mode in [DpopMode::Off, DpopMode::On, DpopMode::Required] {
        for scheme in [Scheme::Bearer, Scheme::Raw] {
            assert_eq!(
                plan(
                    mode,
                    Kind::RestRequest,
                    Some(scheme),
                    Confirmation::of(&c),
                    &one()
                ),
                Err(TokenError::ProofRequired),
                "{mode:?} {scheme:?}"
            );
        }
    }
}

#[test]
fn a_bound_token_on_a_token_authorizer_or_connect_needs_a_proof_it_cannot_carry() {
    let c = claims(json!({"cnf": {"jkt": "abc"}}));
    for kind in [Kind::RestToken, Kind::WebSocket] {
        assert_eq!(
            plan(
                DpopMode::On,
                kind,
                Some(Scheme::DPoP),
                Confirmation::of(&c),
                &one()
            ),
            Err(TokenError::ProofRequired)
        );
    }
}

#[test]
fn the_dpop_scheme_is_refused_while_dpop_is_off() {
    let c = claims(json!({"cnf": {"jkt": "abc"}}));
    assert_eq!(
        plan(
            DpopMode::Off,
            Kind::HttpApi,
            Some(Scheme::DPoP),
            Confirmation::of(&c),
            &one()
        ),
        Err(TokenError::BadProof(ProofError::DpopOff))
    );
}

#[test]
fn the_dpop_scheme_with_an_unbound_token_is_refused() {
    for mode in [DpopMode::On, DpopMode::Required] {
        assert_eq!(
            plan(
                mode,
                Kind::HttpApi,
                Some(Scheme::DPoP),
                Confirmation::None,
                &one()
            ),
            Err(TokenError::BadProof(ProofError::Unbound))
        );
    }
}

#[test]
fn exactly_one_dpop_header_is_needed() {
    let c = claims(json!({"cnf": {"jkt": "abc"}}));
    for proofs in [vec![], vec!["a".to_owned(), "b".to_owned()]] {
        assert_eq!(
            plan(
                DpopMode::On,
                Kind::RestRequest,
                Some(Scheme::DPoP),
                Confirmation::of(&c),
                &proofs
            ),
            Err(TokenError::BadProof(ProofError::HeaderCount))
        );
    }
    let proofs = one();
    let plan = plan(
        DpopMode::On,
        Kind::HttpApi,
        Some(Scheme::DPoP),
        Confirmation::of(&c),
        &proofs,
    )
    .unwrap();
    assert_eq!(plan.proof, Some((PROOF, &json!("abc"))));
}

#[test]
fn a_cnf_with_another_confirmation_method_is_refused() {
    for cnf in [
        json!("x"),
        json!({}),
        json!({"jwk": {"kty": "EC"}}),
        json!({"jkt": "a", "kid": "k"}),
    ] {
        let c = claims(json!({ "cnf": cnf }));
        assert_eq!(
            plan(
                DpopMode::On,
                Kind::RestRequest,
                Some(Scheme::Bearer),
                Confirmation::of(&c),
                &[]
            ),
            Err(TokenError::ProofRequired),
            "{cnf}"
        );
    }
}

#[test]
fn a_certificate_bound_token_is_checked_against_the_certificate() {
    let pem = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
    let good = json!(sha256_b64url(&[1, 2, 3]));
    assert_eq!(check_certificate(&good, Some(pem)), Ok(()));
    assert_eq!(
        check_certificate(&good, None),
        Err(TokenError::CertificateMismatch)
    );
    assert_eq!(
        check_certificate(&json!(sha256_b64url(&[9])), Some(pem)),
        Err(TokenError::CertificateMismatch)
    );
    assert_eq!(
        check_certificate(&json!(5), Some(pem)),
        Err(TokenError::CertificateMismatch)
    );
    let c = claims(json!({"cnf": {"x5t#S256": "t"}}));
    let plan = plan(
        DpopMode::Off,
        Kind::RestToken,
        Some(Scheme::Bearer),
        Confirmation::of(&c),
        &[],
    )
    .unwrap();
    assert_eq!(plan.certificate, Some(&json!("t")));
}

const NOW: u64 = 1_700_000_000;
const TOKEN: &str = "a.b.c";

fn binding(mode: DpopMode, on_error: OnError, table: Option<Arc<dyn ReplayStore>>) -> Binding {
    let settings = DpopSettings {
        mode,
        on_error,
        ..DpopSettings::off()
    };
    Binding::new(settings, 0, table, Arc::new(Counters::default()))
}

fn possession(proof: String) -> Possession {
    Possession {
        proofs: vec![proof],
        method: Some("GET".into()),
        host: Some("api.example.com".into()),
        path: Some("/prod/hello".into()),
        client_cert_pem: None,
    }
}

fn proof() -> String {
    dpop_proof(
        FixtureKey::Ec256,
        &json!({}),
        &proof_claims("GET", "https://api.example.com/prod/hello", NOW, TOKEN),
    )
}

fn bound() -> Claims {
    claims(json!({"cnf": {"jkt": jkt(FixtureKey::Ec256)}}))
}

#[tokio::test]
async fn a_proof_is_accepted_once_per_container() {
    let b = binding(DpopMode::On, OnError::Allow, None);
    let p = possession(proof());
    let claims = bound();
    let check = || {
        b.check(
            TOKEN,
            &claims,
            Kind::RestRequest,
            Some(Scheme::DPoP),
            &p,
            NOW,
        )
    };
    assert_eq!(check().await, Ok(()));
    assert_eq!(check().await, Err(TokenError::ProofReplayed));
    assert_eq!(b.remembered(), 1);
}

#[tokio::test]
async fn the_origin_is_the_host_or_one_of_dpop_origins() {
    let mut b = binding(DpopMode::On, OnError::Allow, None);
    let mut p = possession(proof());
    p.host = Some("other.example.com".into());
    assert_eq!(
        b.judge(TOKEN, &bound(), Kind::HttpApi, Some(Scheme::DPoP), &p, NOW),
        Err(TokenError::BadProof(ProofError::Htu))
    );
    b.settings.origins = vec!["https://api.example.com".into()];
    assert!(
        b.judge(TOKEN, &bound(), Kind::HttpApi, Some(Scheme::DPoP), &p, NOW)
            .is_ok()
    );
    p.path = None;
    assert_eq!(
        b.judge(TOKEN, &bound(), Kind::HttpApi, Some(Scheme::DPoP), &p, NOW),
        Err(TokenError::BadProof(ProofError::Htu))
    );
}

/// A replay table that never answers.
struct Hanging;

impl ReplayStore for Hanging {
    fn remember<'a>(&'a self, _: &'a str, _: &'a str, _: u64, _: u64) -> replay::Remembering<'a> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn a_hanging_table_is_decided_by_on_error_within_the_budget() {
    for (on_error, expected) in [
        (OnError::Allow, Ok(())),
        (OnError::Deny, Err(TokenError::ReplayUnchecked)),
    ] {
        let b = binding(DpopMode::On, on_error, Some(Arc::new(Hanging)));
        let p = possession(proof());
        let started = std::time::Instant::now();
        let result = b
            .check(
                TOKEN,
                &bound(),
                Kind::RestRequest,
                Some(Scheme::DPoP),
                &p,
                NOW,
            )
            .await;
        assert_eq!(result, expected);
        let elapsed = started.elapsed();
        assert!(elapsed >= REPLAY_BUDGET, "{elapsed:?}");
        assert!(elapsed < REPLAY_BUDGET * 2, "{elapsed:?}");
        assert_eq!(b.counters.get(Counter::ReplayUnchecked), 1);
        // The memory check still applies.
        assert_eq!(
            b.check(
                TOKEN,
                &bound(),
                Kind::RestRequest,
                Some(Scheme::DPoP),
                &p,
                NOW
            )
            .await,
            Err(TokenError::ProofReplayed)
        );
    }
}

#[tokio::test]
async fn a_jti_the_table_holds_is_a_replay() {
    let shared: Arc<dyn ReplayStore> = Arc::new(MemoryReplay::new(16));
    let first = binding(DpopMode::On, OnError::Allow, Some(Arc::clone(&shared)));
    let second = binding(DpopMode::On, OnError::Allow, Some(shared));
    let p = possession(proof());
    assert_eq!(
        first
            .check(
                TOKEN,
                &bound(),
                Kind::RestRequest,
                Some(Scheme::DPoP),
                &p,
                NOW
            )
            .await,
        Ok(())
    );
    assert_eq!(
        second
            .check(
                TOKEN,
                &bound(),
                Kind::RestRequest,
                Some(Scheme::DPoP),
                &p,
                NOW
            )
            .await,
        Err(TokenError::ProofReplayed)
    );
}
