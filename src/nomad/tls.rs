//! TLS towards Nomad, configured as the Nomad CLI is: a CA bundle (`NOMAD_CACERT`) or a
//! folder of CAs (`NOMAD_CAPATH`) that replaces the system roots, an optional client
//! certificate, `NOMAD_TLS_SERVER_NAME` to verify against a name other than the address
//! (Nomad's certificates name `server.<region>.nomad`), and `NOMAD_SKIP_VERIFY`.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::config::{ConfigError, NomadSettings};

/// Where the trusted CAs came from, for error messages ("which CA file was used").
pub fn trust_source(settings: &NomadSettings) -> String {
    match (&settings.ca_cert, &settings.ca_path) {
        _ if settings.skip_verify => "NOMAD_SKIP_VERIFY=true (no verification)".to_string(),
        (Some(file), Some(dir)) => format!(
            "NOMAD_CACERT={} and NOMAD_CAPATH={}",
            file.display(),
            dir.display()
        ),
        (Some(file), None) => format!("NOMAD_CACERT={}", file.display()),
        (None, Some(dir)) => format!("NOMAD_CAPATH={}", dir.display()),
        (None, None) => "the system's CA roots".to_string(),
    }
}

fn read(variable: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::new(variable, format!("cannot read {}: {e}", path.display())))
}

fn certificates(variable: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let pem = read(variable, path)?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ConfigError::new(
                variable,
                format!("{} is not valid PEM: {e}", path.display()),
            )
        })
}

fn roots(settings: &NomadSettings) -> Result<RootCertStore, ConfigError> {
    let mut store = RootCertStore::empty();
    let mut add = |variable: &str, path: &Path| -> Result<(), ConfigError> {
        for cert in certificates(variable, path)? {
            store.add(cert).map_err(|e| {
                ConfigError::new(
                    variable,
                    format!("{}: unusable CA certificate: {e}", path.display()),
                )
            })?;
        }
        Ok(())
    };
    if let Some(file) = &settings.ca_cert {
        add("NOMAD_CACERT", file)?;
    }
    if let Some(dir) = &settings.ca_path {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            ConfigError::new(
                "NOMAD_CAPATH",
                format!("cannot read folder {}: {e}", dir.display()),
            )
        })?;
        let mut files: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            add("NOMAD_CAPATH", &file)?;
        }
    }
    if store.is_empty() {
        let variable = if settings.ca_cert.is_some() {
            "NOMAD_CACERT"
        } else {
            "NOMAD_CAPATH"
        };
        return Err(ConfigError::new(variable, "holds no PEM certificate"));
    }
    Ok(store)
}

fn client_identity(
    settings: &NomadSettings,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, ConfigError> {
    let (Some(cert), Some(key)) = (&settings.client_cert, &settings.client_key) else {
        return Ok(None);
    };
    let chain = certificates("NOMAD_CLIENT_CERT", cert)?;
    if chain.is_empty() {
        return Err(ConfigError::new(
            "NOMAD_CLIENT_CERT",
            format!("{} holds no PEM certificate", cert.display()),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&read("NOMAD_CLIENT_KEY", key)?).map_err(|e| {
        ConfigError::new(
            "NOMAD_CLIENT_KEY",
            format!("{} holds no usable private key: {e}", key.display()),
        )
    })?;
    Ok(Some((chain, key)))
}

/// Verifies the server's chain as usual but against a fixed name instead of the host
/// in the URL, as the Nomad CLI does with `-tls-server-name`.
#[derive(Debug)]
struct FixedNameVerifier {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Accepts any certificate: `NOMAD_SKIP_VERIFY=true`. Signatures are still checked so the
/// handshake itself stays sound.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls configuration for the Nomad client, or `None` when the defaults (system
/// roots, no client certificate, the URL's host name) apply.
pub fn client_config(
    settings: &NomadSettings,
) -> Result<Option<rustls::ClientConfig>, ConfigError> {
    let custom = settings.ca_cert.is_some()
        || settings.ca_path.is_some()
        || settings.client_cert.is_some()
        || settings.tls_server_name.is_some()
        || settings.skip_verify;
    if !custom {
        return Ok(None);
    }
    crate::crypto::install_provider();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder();
    let builder = if settings.skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let roots = if settings.ca_cert.is_some() || settings.ca_path.is_some() {
            roots(settings)?
        } else {
            RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
        };
        let verifier = WebPkiServerVerifier::builder(Arc::new(roots))
            .build()
            .map_err(|e| ConfigError::new("NOMAD_CACERT", e.to_string()))?;
        match &settings.tls_server_name {
            Some(name) => {
                let name = ServerName::try_from(name.clone()).map_err(|e| {
                    ConfigError::new(
                        "NOMAD_TLS_SERVER_NAME",
                        format!("'{name}' is not a DNS name: {e}"),
                    )
                })?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(FixedNameVerifier {
                        inner: verifier,
                        name,
                    }))
            }
            None => builder.with_webpki_verifier(verifier),
        }
    };
    let mut config = match client_identity(settings)? {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
            ConfigError::new(
                "NOMAD_CLIENT_KEY",
                format!("does not fit NOMAD_CLIENT_CERT: {e}"),
            )
        })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(config))
}
