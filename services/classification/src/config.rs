//! Configuration of the classification service: for now only the platform's part.

use platform::{ConfigError, PlatformConfig, ServiceConfig};

/// The gRPC port when `GRPC_ADDR` is not set.
pub const DEFAULT_GRPC_PORT: u16 = 50052;

#[derive(Debug, Clone)]
pub struct Config {
    pub platform: PlatformConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            platform: PlatformConfig::from_env(crate::SPEC.name, DEFAULT_GRPC_PORT)?,
        })
    }
}

impl ServiceConfig for Config {
    fn platform(&self) -> &PlatformConfig {
        &self.platform
    }
}
