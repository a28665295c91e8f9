//! Fetching a JWKS by URL.

/// The body of a GET of `url`.
pub async fn get(url: &str) -> Result<String, String> {
    Err(format!("fetching a JWKS by URL ({url}) is not supported yet; mount it as a file"))
}
