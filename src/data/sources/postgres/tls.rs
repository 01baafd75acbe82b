//! TLS for PostgreSQL connections (rustls with the ring provider), with libpq's `sslmode`
//! semantics:
//!
//! | sslmode        | TLS                                              | checks                      |
//! |----------------|--------------------------------------------------|-----------------------------|
//! | `disable`      | never                                            | -                           |
//! | `allow`        | plain first; TLS if the server refuses plain     | chain, if a root cert exists |
//! | `prefer` (default) | TLS if the server offers it; plain if TLS fails | chain, if a root cert exists |
//! | `require`      | TLS or fail                                      | chain, if a root cert exists |
//! | `verify-ca`    | TLS or fail                                      | chain (root cert required)  |
//! | `verify-full`  | TLS or fail                                      | chain and host name         |
//!
//! The root certificates come from `sslrootcert` (URL) or `PGSSLROOTCERT`, else
//! `~/.postgresql/root.crt`; `sslrootcert=system` is the operating system's store, and (as in
//! libpq 16) makes `verify-full` the default and any weaker mode an error. Like libpq, a root
//! certificate file that exists turns on chain verification in every mode that uses TLS, and a
//! Unix-socket connection never uses TLS.
//!
//! The postgres crate's URL parser knows only disable/prefer/require and no `sslrootcert`, so
//! those parameters are taken out of the connection string ([`split_params`]) before it is
//! parsed.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use postgres::Socket;
use postgres::tls::{MakeTlsConnect, TlsConnect};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    fn verifies(self) -> bool {
        matches!(self, Self::VerifyCa | Self::VerifyFull)
    }
}

/// The TLS parameters taken out of a connection string (values decoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
}

/// `conn` without its `sslmode` and `sslrootcert` parameters (and JDBC's `ssl=true`, which
/// libpq reads as `sslmode=require`), and their values. Works on URLs
/// (`postgres://h/db?sslmode=verify-full&sslrootcert=ca.pem`) and key-value strings
/// (`host=h sslmode=verify-full`); everything else is left as written.
pub fn split_params(conn: &str) -> (String, Params) {
    let mut params = Params::default();
    let mut ssl_true = false;
    let mut take = |key: &str, value: String| -> bool {
        match key {
            "sslmode" => params.sslmode = Some(value),
            "sslrootcert" => params.sslrootcert = Some(value),
            "ssl" if value == "true" => ssl_true = true,
            _ => return false,
        }
        true
    };
    let rest = if super::is_url(conn) {
        match conn.split_once('?') {
            Some((head, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        !take(&percent_decode(k), percent_decode(v))
                    })
                    .collect();
                if kept.is_empty() {
                    head.to_string()
                } else {
                    format!("{head}?{}", kept.join("&"))
                }
            }
            None => conn.to_string(),
        }
    } else {
        let mut kept = Vec::new();
        for (key, value, text) in key_values(conn) {
            if !take(key, value) {
                kept.push(text);
            }
        }
        kept.join(" ")
    };
    if ssl_true && params.sslmode.is_none() {
        params.sslmode = Some("require".into());
    }
    (rest, params)
}

/// `%XX` escapes decoded (as the URL parser does; invalid escapes are kept).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `key = value` pairs of a key-value connection string: key, decoded value and the
/// pair's text as written.
fn key_values(s: &str) -> Vec<(&str, String, &str)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_ws(i);
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &s[start..i];
        i = skip_ws(i);
        if i >= b.len() || b[i] != b'=' {
            // Not a pair: kept as written (the parser will say what is wrong).
            out.push((key, String::new(), &s[start..i]));
            continue;
        }
        i = skip_ws(i + 1);
        let mut value = Vec::new();
        if i < b.len() && b[i] == b'\'' {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                value.push(b[i]);
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                value.push(b[i]);
                i += 1;
            }
        }
        out.push((
            key,
            String::from_utf8_lossy(&value).into_owned(),
            &s[start..i],
        ));
    }
    out
}

/// Where the root certificates come from.
#[derive(Debug, Clone)]
pub enum Roots {
    /// None found: no verification (allow, prefer, require).
    None,
    /// A PEM file (`sslrootcert`, `PGSSLROOTCERT` or `~/.postgresql/root.crt`).
    File(PathBuf, Arc<RootCertStore>),
    /// The operating system's store (`sslrootcert=system`).
    System(Arc<RootCertStore>),
}

/// The TLS decisions for one connection.
#[derive(Debug, Clone)]
pub struct Tls {
    pub mode: SslMode,
    pub roots: Roots,
}

impl Tls {
    /// Resolves the mode and root certificates from the URL's parameters, then `PGSSLMODE`,
    /// `PGSSLROOTCERT` and `HOME` read through `env`, as libpq does. `unix_socket`: every host
    /// is a Unix socket (never TLS). The error is one line naming what to provide.
    pub fn resolve(params: &Params, env: super::Env<'_>, unix_socket: bool) -> Result<Tls, String> {
        let rootcert = params
            .sslrootcert
            .clone()
            .or_else(|| env("PGSSLROOTCERT"))
            .filter(|s| !s.is_empty());
        let system = rootcert.as_deref() == Some("system");
        let mode_text = params.sslmode.clone().or_else(|| env("PGSSLMODE"));
        let mode = match &mode_text {
            Some(m) => SslMode::parse(m).ok_or_else(|| {
                format!(
                    "invalid sslmode value \"{m}\" (use disable, allow, prefer, require, verify-ca or verify-full)"
                )
            })?,
            None if system => SslMode::VerifyFull,
            None => SslMode::Prefer,
        };
        if system && mode != SslMode::VerifyFull {
            return Err(format!(
                "weak sslmode \"{}\" may not be used with sslrootcert=system (use \"verify-full\")",
                mode.name()
            ));
        }
        if mode == SslMode::Disable || unix_socket {
            return Ok(Tls {
                mode: SslMode::Disable,
                roots: Roots::None,
            });
        }
        let roots = if system {
            Roots::System(Arc::new(system_roots()?))
        } else {
            let path = match rootcert {
                Some(p) => Some(PathBuf::from(p)),
                None => env("HOME").map(|h| PathBuf::from(h).join(".postgresql/root.crt")),
            };
            match path {
                Some(p) if p.exists() => {
                    let store = load_roots(&p)?;
                    Roots::File(p, Arc::new(store))
                }
                Some(p) if mode.verifies() => {
                    return Err(format!(
                        "sslmode={}: root certificate file \"{}\" does not exist; give the CA certificate with sslrootcert=PATH (or PGSSLROOTCERT), use sslrootcert=system for the system's trusted roots, or use sslmode=require to connect without verification",
                        mode.name(),
                        p.display()
                    ));
                }
                None if mode.verifies() => {
                    return Err(format!(
                        "sslmode={}: no root certificate (HOME is not set, so there is no ~/.postgresql/root.crt); give the CA certificate with sslrootcert=PATH (or PGSSLROOTCERT), or use sslrootcert=system",
                        mode.name()
                    ));
                }
                _ => Roots::None,
            }
        };
        Ok(Tls { mode, roots })
    }

    /// Whether the server's certificate is checked (chain, and host name under verify-full).
    pub fn verified(&self) -> bool {
        !matches!(self.roots, Roots::None)
    }

    /// A connector for this connection; `started` is set when a TLS handshake begins.
    pub fn connector(&self, started: Arc<AtomicBool>) -> Result<Connector, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match &self.roots {
            Roots::None => None,
            Roots::File(_, r) | Roots::System(r) => Some(r.clone()),
        };
        let verifier = Verifier {
            roots,
            check_name: self.mode == SslMode::VerifyFull,
            provider: provider.clone(),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Connector {
            inner: MakeRustlsConnect::new(config),
            started,
        })
    }
}

/// The certificates of a PEM file as a root store.
fn load_roots(path: &std::path::Path) -> Result<RootCertStore, String> {
    let what = || format!("root certificate file \"{}\"", path.display());
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the {}: {e}", what()))?;
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| format!("the {} is not PEM: {e}", what()))?;
        store
            .add(cert)
            .map_err(|e| format!("the {} holds a bad certificate: {e}", what()))?;
    }
    if store.is_empty() {
        return Err(format!("the {} holds no certificate", what()));
    }
    Ok(store)
}

/// The operating system's trusted roots.
fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(found.certs);
    if store.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(format!(
            "sslrootcert=system: found no trusted root certificates in the system's store{why}"
        ));
    }
    Ok(store)
}

/// Checks the server's certificate as libpq does: with root certificates, the chain (and
/// under verify-full the host name); without, nothing but the handshake signatures, which
/// prove the server holds the key of the certificate it sent.
#[derive(Debug)]
struct Verifier {
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
            if self.check_name {
                rustls::client::verify_server_name(&cert, server_name)?;
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
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
        rustls::crypto::verify_tls13_signature(
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

/// tokio-postgres-rustls's connector, noting whether a TLS handshake was started (the server
/// answered the TLS request with yes), so the caller knows a connection uses TLS.
#[derive(Clone)]
pub struct Connector {
    inner: MakeRustlsConnect,
    started: Arc<AtomicBool>,
}

impl MakeTlsConnect<Socket> for Connector {
    type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;
    type TlsConnect = Connect<<MakeRustlsConnect as MakeTlsConnect<Socket>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        Ok(Connect {
            inner: MakeTlsConnect::<Socket>::make_tls_connect(&mut self.inner, domain)?,
            started: self.started.clone(),
        })
    }
}

/// One handshake of [`Connector`].
pub struct Connect<T> {
    inner: T,
    started: Arc<AtomicBool>,
}

impl<T: TlsConnect<Socket>> TlsConnect<Socket> for Connect<T> {
    type Stream = T::Stream;
    type Error = T::Error;
    type Future = T::Future;

    fn connect(self, stream: Socket) -> Self::Future {
        self.started.store(true, Ordering::SeqCst);
        self.inner.connect(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_urls() {
        let (rest, p) = split_params(
            "postgres://ann:pw@db/crm?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem",
        );
        assert_eq!(rest, "postgres://ann:pw@db/crm?application_name=x");
        assert_eq!(p.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(p.sslrootcert.as_deref(), Some("/tmp/ca.pem"));
        let (rest, p) = split_params("postgresql://db/crm?sslmode=require");
        assert_eq!(rest, "postgresql://db/crm");
        assert_eq!(p.sslmode.as_deref(), Some("require"));
        let (rest, p) = split_params("postgres://db/crm");
        assert_eq!((rest.as_str(), p), ("postgres://db/crm", Params::default()));
        // JDBC's ssl=true is require, as libpq reads it.
        let (rest, p) = split_params("postgres://db/crm?ssl=true");
        assert_eq!(rest, "postgres://db/crm");
        assert_eq!(p.sslmode.as_deref(), Some("require"));
        // What remains parses.
        let (rest, _) = split_params("postgres://ann@db:5433/crm?sslmode=verify-ca&sslrootcert=x");
        let cfg: postgres::Config = rest.parse().unwrap();
        assert_eq!(cfg.get_ports(), &[5433]);
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_key_values() {
        let (rest, p) = split_params(
            "host=db sslmode = verify-full user=ann sslrootcert='/tmp/my ca.pem' password='se cret'",
        );
        assert_eq!(rest, "host=db user=ann password='se cret'");
        assert_eq!(p.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(p.sslrootcert.as_deref(), Some("/tmp/my ca.pem"));
        let cfg: postgres::Config = rest.parse().unwrap();
        assert_eq!(cfg.get_password(), Some(&b"se cret"[..]));
    }

    #[test]
    fn sslmodes_resolve_as_in_libpq() {
        let params = |mode: &str, root: Option<&str>| Params {
            sslmode: (!mode.is_empty()).then(|| mode.to_string()),
            sslrootcert: root.map(str::to_string),
        };
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_string_lossy().to_string();
        let env = |k: &str| (k == "HOME").then(|| home.clone());
        // Default: prefer, no verification without ~/.postgresql/root.crt.
        let t = Tls::resolve(&params("", None), &env, false).unwrap();
        assert_eq!(t.mode, SslMode::Prefer);
        assert!(!t.verified());
        for m in ["disable", "allow", "prefer", "require"] {
            let t = Tls::resolve(&params(m, None), &env, false).unwrap();
            assert_eq!(t.mode.name(), m);
            assert!(!t.verified());
        }
        // verify-* without a root certificate: one line naming what to give.
        for m in ["verify-ca", "verify-full"] {
            let e = Tls::resolve(&params(m, None), &env, false).unwrap_err();
            assert!(e.contains("root.crt\" does not exist"), "{e}");
            assert!(e.contains("sslrootcert=PATH") && !e.contains('\n'), "{e}");
            let e =
                Tls::resolve(&params(m, Some("/nonexistent/ca.pem")), &no_env, false).unwrap_err();
            assert!(e.contains("\"/nonexistent/ca.pem\" does not exist"), "{e}");
            let e = Tls::resolve(&params(m, None), &no_env, false).unwrap_err();
            assert!(e.contains("HOME is not set"), "{e}");
        }
        // sslrootcert=system: verify-full by default, weaker modes refused.
        let e = Tls::resolve(&params("require", Some("system")), &no_env, false).unwrap_err();
        assert!(e.contains("weak sslmode \"require\""), "{e}");
        let e = Tls::resolve(&params("verify-ca", Some("system")), &no_env, false).unwrap_err();
        assert!(e.contains("use \"verify-full\""), "{e}");
        if let Ok(t) = Tls::resolve(&params("", Some("system")), &no_env, false) {
            assert_eq!(t.mode, SslMode::VerifyFull);
            assert!(t.verified());
        }
        // Environment after the URL.
        let env2 = |k: &str| match k {
            "PGSSLMODE" => Some("disable".to_string()),
            _ => None,
        };
        assert_eq!(
            Tls::resolve(&params("", None), &env2, false).unwrap().mode,
            SslMode::Disable
        );
        assert_eq!(
            Tls::resolve(&params("require", None), &env2, false)
                .unwrap()
                .mode,
            SslMode::Require
        );
        let e = Tls::resolve(&params("verify", None), &env, false).unwrap_err();
        assert!(e.starts_with("invalid sslmode value \"verify\""), "{e}");
        // A Unix socket never uses TLS.
        assert_eq!(
            Tls::resolve(&params("require", None), &env, true)
                .unwrap()
                .mode,
            SslMode::Disable
        );
        // A root file that exists turns verification on, even under prefer and require; a
        // file that is not PEM is an error.
        std::fs::create_dir(dir.path().join(".postgresql")).unwrap();
        std::fs::write(dir.path().join(".postgresql/root.crt"), "not a certificate").unwrap();
        let e = Tls::resolve(&params("require", None), &env, false).unwrap_err();
        assert!(e.contains("holds no certificate"), "{e}");
    }

    #[test]
    fn tls_errors_are_one_line_without_the_password() {
        let url = "postgres://ann:topsecret@127.0.0.1:1/crm?sslmode=verify-full&sslrootcert=%2Fnonexistent%2Fca.pem";
        let msg = super::super::read(url, Some("customers"), None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("postgres://ann:***@127.0.0.1:1/crm?sslmode=verify-full&sslrootcert=%2Fnonexistent%2Fca.pem: TLS: sslmode=verify-full: root certificate file \"/nonexistent/ca.pem\" does not exist"),
            "{msg}"
        );
        let url = "postgres://ann:topsecret@127.0.0.1:1/crm?sslmode=sometimes";
        let msg = super::super::read(url, Some("t"), None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("invalid sslmode value \"sometimes\""), "{msg}");
        // The URL with TLS parameters still parses, so the password is still found and masked
        // in the server's own text.
        assert_eq!(
            super::super::password_of(
                "postgres://ann:topsecret@db/crm?sslmode=verify-ca&sslrootcert=x"
            )
            .as_deref(),
            Some("topsecret")
        );
        for url in [
            "postgres://ann:topsecret@127.0.0.1:1/crm?sslmode=require",
            "host=127.0.0.1 port=1 user=ann password=topsecret sslmode=verify-full sslrootcert=/nonexistent",
        ] {
            let msg = super::super::read(url, Some("t"), None)
                .unwrap_err()
                .to_string();
            assert!(!msg.contains("topsecret") && !msg.contains('\n'), "{msg}");
        }
    }
}
