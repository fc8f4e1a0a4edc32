//! `nomad-gateway healthcheck`: asks the running gateway's `/readyz`, for container health
//! checks. Over HTTPS on the derived local URL it trusts exactly the certificate the
//! gateway is configured to serve (a pin), since `localhost` rarely appears in it.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::config::Config;

#[derive(clap::Args, Debug)]
pub struct HealthcheckArgs {
    /// URL to check; default: /readyz on the configured listen address.
    #[arg(long)]
    pub url: Option<String>,
    /// How long to wait for the answer.
    #[arg(long, default_value = "5s", value_parser = crate::config::parse_duration)]
    pub timeout: Duration,
}

/// The local URL of `/readyz`: an unspecified listen address is reached on loopback.
fn default_url(config: &Config) -> String {
    let listen = config.server.listen;
    let host = match listen.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}:{}/readyz", listen.port())
}

/// Accepts the server when its leaf certificate is byte-for-byte the pinned one.
#[derive(Debug)]
struct PinnedCertificate {
    pinned: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server certificate is not the one in GATEWAY_TLS_CERT".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn client(config: &Config, url: &str, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    let builder = reqwest::Client::builder().timeout(timeout);
    let Some(tls) = config.tls.as_ref().filter(|_| url.starts_with("https://")) else {
        return Ok(builder.build()?);
    };
    crate::crypto::install_provider();
    let pinned = CertificateDer::from_pem_file(&tls.cert)
        .map_err(|e| anyhow::anyhow!("GATEWAY_TLS_CERT: {}: {e}", tls.cert.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedCertificate { pinned, provider });
    let rustls = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(builder.tls_backend_preconfigured(rustls).build()?)
}

pub async fn run(config: &Config, args: &HealthcheckArgs) -> ExitCode {
    let url = args.url.clone().unwrap_or_else(|| default_url(config));
    let result = async {
        let response = client(config, &url, args.timeout)?.get(&url).send().await?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        anyhow::Ok((status, body))
    }
    .await;
    match result {
        Ok((status, body)) if status.is_success() => {
            println!("{url}: {status} {}", body.trim());
            ExitCode::SUCCESS
        }
        Ok((status, body)) => {
            eprintln!("{url}: {status} {}", body.trim());
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{url}: {error:#}");
            ExitCode::FAILURE
        }
    }
}
