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

#[test]
fn token_table_parses_and_rejects() {
    let table = TokenTable::parse("s3cret-token=department:finance:notices.read,notices.ack; other-token=service:import:census.write").unwrap();
    let finance = table.lookup("s3cret-token").unwrap();
    assert_eq!(finance.department(), Some(Department::Finance));
    assert!(finance.has_scope("notices.ack"));
    assert!(TokenTable::parse("tok=department:army:x").is_err());
    assert!(TokenTable::parse("short=service:a:b").is_err());
    assert!(!format!("{table:?}").contains("s3cret"));
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
fn enterprise_entries_parse_with_a_valid_uscc_and_no_scopes() {
    let own = uscc("91210381MA0Q1234");
    let table = TokenTable::parse(&format!("firm-token-1=enterprise:{own}")).unwrap();
    let firm = table.lookup("firm-token-1").unwrap();
    assert_eq!(firm.enterprise(), Some(own.as_str()));
    assert_eq!(firm.department(), None);
    assert_eq!(firm.identity.to_string(), format!("enterprise:{own}"));

    let bad = TokenTable::parse("firm-token-1=enterprise:91210381MA0Q12345").unwrap_err();
    assert!(bad.contains("entry 1") && bad.contains("USCC"), "{bad}");
    let scoped =
        TokenTable::parse(&format!("firm-token-1=enterprise:{own}:census.read")).unwrap_err();
    assert!(scoped.contains("carries no scopes"), "{scoped}");
    assert!(TokenTable::parse("firm-token-1=enterprise:").is_err());
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
    let configured = TokenTable::parse("s3cret-token=department:finance:census.read").unwrap();
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
