//! Connecting to the services: endpoints from `HOST:PORT`, and the bearer token on every call.

use std::time::Duration;

use tonic::{
    Request, Status, metadata::AsciiMetadataValue, service::Interceptor, transport::Endpoint,
};

/// An endpoint for `HOST:PORT` (or a full `http://` URL).
pub fn endpoint(address: &str) -> anyhow::Result<Endpoint> {
    let url = if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    };
    Ok(Endpoint::from_shared(url)?.connect_timeout(Duration::from_secs(5)))
}

/// Adds `authorization: Bearer TOKEN` to every call.
#[derive(Clone)]
pub struct Bearer(AsciiMetadataValue);

impl Bearer {
    pub fn new(token: &str) -> anyhow::Result<Self> {
        AsciiMetadataValue::try_from(format!("Bearer {}", token.trim()))
            .map(Self)
            .map_err(|_| anyhow::anyhow!("the token must be printable ASCII"))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}
