//! Builders of what a test sends: a request with a bearer token, a period.

use haicheng_proto::common::v1::Period;
use tonic::Request;

/// `message` as a request with `authorization: Bearer <token>`.
pub fn with_token<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let value = format!("Bearer {token}")
        .parse()
        .expect("a token is printable ASCII");
    request.metadata_mut().insert("authorization", value);
    request
}

/// `message` with `authorization: Bearer <token>` when there is a token, anonymous otherwise.
pub fn with_optional_token<T>(token: Option<&str>, message: T) -> Request<T> {
    match token {
        Some(token) => with_token(token, message),
        None => Request::new(message),
    }
}

/// `message` with the development token of `department` (`commerce`, `natural_resources`,
/// …: `dev-commerce`, `dev-natural-resources`).
pub fn as_dept<T>(department: &str, message: T) -> Request<T> {
    with_token(&format!("dev-{}", department.replace('_', "-")), message)
}

/// The period `code` (`2024`, `2024Q3`) as a request field.
pub fn period(code: &str) -> Option<Period> {
    Some(Period { code: code.into() })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_department_is_called_with_its_development_token() {
        let request = super::as_dept("natural_resources", ());
        assert_eq!(
            request.metadata().get("authorization").unwrap(),
            "Bearer dev-natural-resources"
        );
        assert_eq!(super::period("2024Q3").unwrap().code, "2024Q3");
        let anonymous = super::with_optional_token(None, ());
        assert!(anonymous.metadata().get("authorization").is_none());
    }
}
