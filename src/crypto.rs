//! The process-wide rustls crypto provider. aws-lc-rs is the only one compiled in (see
//! STACK.md, trap 1); every TLS user (the server, the Nomad client, the health check)
//! installs it before building a config. Installing twice is harmless.

pub fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
