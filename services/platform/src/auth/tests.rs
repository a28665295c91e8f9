//! The access policy, the token table and the enterprise rules together.

use std::collections::BTreeSet;

use super::*;
use crate::uscc::Uscc;

fn headers(token: Option<&str>) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    if let Some(token) = token {
        map.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
    }
    map
}

fn policy() -> AccessPolicy {
    AccessPolicy::new(TokenTable::development())
        .allow(
            "/haicheng.census.v1.CensusService/",
            Rule::Scope(scopes::CENSUS_READ),
        )
        .allow(
            "/haicheng.census.v1.CensusService/SubmitReturn",
            Rule::Scope(scopes::CENSUS_WRITE),
        )
}

#[test]
fn exact_rules_win_over_service_rules() {
    let path = "/haicheng.census.v1.CensusService/SubmitReturn";
    let denied = policy()
        .admit(path, &headers(Some("dev-finance")))
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    assert!(
        policy()
            .admit(path, &headers(Some("dev-commerce")))
            .unwrap()
            .is_some()
    );
    let read = "/haicheng.census.v1.CensusService/ListEnterprises";
    assert!(
        policy()
            .admit(read, &headers(Some("dev-finance")))
            .unwrap()
            .is_some()
    );
}

#[test]
fn methods_without_a_rule_are_refused() {
    let err = policy()
        .admit("/haicheng.x.v1.X/Y", &headers(Some("dev-commerce")))
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
}

/// Static tokens of the tests: 32 random bytes as base64url and as hex.
const FINANCE_TOKEN: &str = "q3Xv9Lm2Rt8Kp0Wz5Yc7Hn4Jd6Fs1Ga3Eb9Ui2Oe5Ty";
const IMPORT_TOKEN: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[test]
fn token_table_parses_digests_and_long_raw_tokens() {
    let table = TokenTable::parse(&format!(
        "{}=department:finance:notices.read,notices.ack; {IMPORT_TOKEN}=service:import:census.write",
        digest_key(FINANCE_TOKEN)
    ))
    .unwrap();
    let finance = table.lookup(FINANCE_TOKEN).unwrap();
    assert_eq!(finance.department(), Some(Department::Finance));
    assert!(finance.has_scope("notices.ack"));
    let import = table.lookup(IMPORT_TOKEN).unwrap();
    assert_eq!(import.identity, Identity::Service("import".into()));
    // The digest itself is not a token.
    assert!(table.lookup(&digest_key(FINANCE_TOKEN)).is_none());
    assert!(table.lookup(&FINANCE_TOKEN[1..]).is_none());
    assert!(TokenTable::parse(&format!("{IMPORT_TOKEN}=department:army:x")).is_err());
}

#[test]
fn short_or_patterned_raw_tokens_are_refused_at_parse() {
    for short in [
        "short",
        "s3cret-token-of-many-characters-but-not-32",
        // 63 hex digits: hex counts 4 bits a character.
        &IMPORT_TOKEN[1..],
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "not base64url, though long enough to pass the length check for sure",
    ] {
        let err = TokenTable::parse(&format!("{short}=service:a:b")).unwrap_err();
        assert!(err.contains("32 random bytes"), "{short}: {err}");
        assert!(!err.contains(short), "the refusal echoes the token: {err}");
    }
    for digest in ["sha256:abc", &format!("sha256:{}", "g".repeat(64))] {
        let err = TokenTable::parse(&format!("{digest}=service:a:b")).unwrap_err();
        assert!(err.contains("64 hexadecimal"), "{err}");
    }
    let twice = format!(
        "{FINANCE_TOKEN}=service:a:b;{}=service:c:d",
        digest_key(FINANCE_TOKEN)
    );
    assert!(TokenTable::parse(&twice).unwrap_err().contains("twice"));
}

#[test]
fn debug_shows_neither_tokens_nor_digests() {
    let table = TokenTable::parse(&format!(
        "{FINANCE_TOKEN}=department:finance:notices.read;{}=service:import:census.write",
        digest_key(IMPORT_TOKEN)
    ))
    .unwrap();
    let shown = format!("{table:?}");
    assert!(shown.contains("department:finance"), "{shown}");
    for secret in [
        FINANCE_TOKEN,
        IMPORT_TOKEN,
        &digest_key(FINANCE_TOKEN)[DIGEST_PREFIX.len()..],
        &digest_key(IMPORT_TOKEN)[DIGEST_PREFIX.len()..],
    ] {
        assert!(!shown.contains(&secret[..16]), "{shown}");
    }
    let development = format!("{:?}", TokenTable::development());
    assert!(!development.contains("dev-commerce"), "{development}");
}

#[test]
fn a_new_static_token_is_32_random_bytes_with_its_digest_entry() {
    let (token, key) = new_static_token().unwrap();
    assert_eq!(token.len(), 43);
    assert_eq!(key, digest_key(&token));
    let table = TokenTable::parse(&format!("{key}=service:import:census.write")).unwrap();
    assert!(table.lookup(&token).is_some());
    assert_ne!(new_static_token().unwrap().0, token);
}

#[test]
fn a_jwt_shaped_token_without_an_issuer_is_unauthenticated() {
    let err = policy()
        .admit(
            "/haicheng.census.v1.CensusService/ListEnterprises",
            &headers(Some("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")),
        )
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert!(err.message().contains("JWT"), "{}", err.message());
}

fn uscc(first16: &str) -> String {
    Uscc::complete(first16).unwrap().as_str().to_string()
}

fn enterprise_policy() -> AccessPolicy {
    policy().allow(
        "/haicheng.census.v1.CensusService/GetEnterpriseFile",
        Rule::ScopeOrEnterprise(scopes::CENSUS_READ),
    )
}

const LIST: &str = "/haicheng.census.v1.CensusService/ListEnterprises";
const FILE: &str = "/haicheng.census.v1.CensusService/GetEnterpriseFile";

#[test]
fn enterprise_entries_are_refused_pointing_to_jwts() {
    let own = uscc("91210381MA0Q1234");
    for entry in [
        format!("{FINANCE_TOKEN}=enterprise:{own}"),
        format!("{}=enterprise:{own}", digest_key(FINANCE_TOKEN)),
    ] {
        let err = TokenTable::parse(&entry).unwrap_err();
        assert!(err.contains("entry 1") && err.contains("JWT"), "{err}");
    }
}

#[test]
fn an_enterprise_is_denied_under_a_scope_rule_whatever_it_claims() {
    let own = uscc("91210381MA0Q1234");
    // A hand-built principal claiming every scope still holds none of them.
    let claiming = Principal {
        identity: Identity::Enterprise(own.clone()),
        scopes: [scopes::CENSUS_READ.to_string()].into(),
    };
    assert!(!claiming.has_scope(scopes::CENSUS_READ));
    let err = claiming.require(scopes::CENSUS_READ).unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert!(err.message().contains("its own"), "{}", err.message());

    let token = TokenTable::development_enterprise_token(&own);
    let err = enterprise_policy()
        .admit(LIST, &headers(Some(&token)))
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
}

#[test]
fn scope_or_enterprise_admits_the_scope_and_any_enterprise() {
    let own = uscc("91210381MA0Q1234");
    let token = TokenTable::development_enterprise_token(&own);
    let admitted = enterprise_policy()
        .admit(FILE, &headers(Some(&token)))
        .unwrap()
        .unwrap();
    assert_eq!(admitted.enterprise(), Some(own.as_str()));
    assert!(
        enterprise_policy()
            .admit(FILE, &headers(Some("dev-finance")))
            .unwrap()
            .is_some()
    );
    // A service without the scope is still refused.
    let err = enterprise_policy()
        .admit(FILE, &headers(Some("dev-census-import")))
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
}

#[test]
fn development_enterprise_tokens_need_a_valid_uscc_and_the_development_table() {
    let own = uscc("91210381MA0Q1234");
    let token = TokenTable::development_enterprise_token(&own);
    assert!(TokenTable::development().lookup(&token).is_some());
    let mut wrong = own.clone();
    wrong.replace_range(17.., if own.ends_with('0') { "1" } else { "0" });
    let err = enterprise_policy()
        .admit(FILE, &headers(Some(&format!("dev-enterprise-{wrong}"))))
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let configured =
        TokenTable::parse(&format!("{FINANCE_TOKEN}=department:finance:census.read")).unwrap();
    assert!(configured.lookup(&token).is_none());
}

#[test]
fn require_enterprise_self_keeps_an_enterprise_to_its_own_uscc() {
    let own = uscc("91210381MA0Q1234");
    let other = uscc("91210381MA10ABCD");
    let firm = Principal {
        identity: Identity::Enterprise(own.clone()),
        scopes: BTreeSet::new(),
    };
    assert!(firm.require_enterprise_self(&own).is_ok());
    let err = firm.require_enterprise_self(&other).unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let department = TokenTable::development()
        .lookup("dev-finance")
        .unwrap()
        .into_owned();
    assert!(department.require_enterprise_self(&other).is_ok());

    assert_eq!(firm.restrict_to_self("").unwrap(), own);
    assert_eq!(firm.restrict_to_self(&own).unwrap(), own);
    assert_eq!(
        firm.restrict_to_self(&other).unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
    assert_eq!(department.restrict_to_self("").unwrap(), "");
    assert_eq!(department.restrict_to_self(&other).unwrap(), other);
}

#[test]
fn a_metric_label_names_departments_and_services_but_not_each_enterprise() {
    assert_eq!(
        Identity::Department(Department::Finance).metric_label(),
        "department:finance"
    );
    assert_eq!(
        Identity::Service("census-import".into()).metric_label(),
        "service:census-import"
    );
    assert_eq!(
        Identity::Enterprise(uscc("91210381MA0Q1234")).metric_label(),
        "enterprise"
    );
}
