//! Freshly generated certificates and keys for one control plane.
//!
//! Three certificate authorities, each used for one purpose: etcd (server, peer and the
//! API server's etcd client), API serving, and client authentication (admin and minted
//! users). Keys are ECDSA P-256, written with mode 0600; nothing is reused between
//! control planes and no key is ever a fixed placeholder.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, io_err, write_file};

/// The OID of X.509 `organizationName`, used for a user's second group (see
/// [`Pki::mint_client`]).
const ORGANIZATION_OID: [u64; 4] = [2, 5, 4, 10];

/// A PEM certificate with its PEM private key.
#[derive(Clone)]
pub struct Credentials {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// The private key (PKCS#8 PEM).
    pub key_pem: String,
}

impl std::fmt::Debug for Credentials {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").finish_non_exhaustive()
    }
}

struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Result<Ca, Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    fn sign(&self, mut params: CertificateParams) -> Result<Credentials, Error> {
        validity(&mut params);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Credentials {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn validity(params: &mut CertificateParams) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(365);
}

fn server_params(
    common_name: &str,
    dns: &[&str],
    ips: &[IpAddr],
) -> Result<CertificateParams, Error> {
    let mut params =
        CertificateParams::new(dns.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())?;
    params
        .subject_alt_names
        .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

fn client_params(user: &str, groups: &[&str]) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, user);
    if let Some(first) = groups.first() {
        params
            .distinguished_name
            .push(DnType::OrganizationName, *first);
    }
    if let Some(second) = groups.get(1) {
        params
            .distinguished_name
            .push(DnType::CustomDnType(ORGANIZATION_OID.to_vec()), *second);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    Ok(params)
}

/// The file layout of a control plane's PKI.
#[derive(Debug, Clone)]
pub struct PkiFiles {
    /// The directory.
    pub dir: PathBuf,
}

impl PkiFiles {
    /// `dir/name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// All certificates of one control plane, plus the client CA for minting users.
pub struct Pki {
    files: PkiFiles,
    serving_ca_pem: String,
    client_ca: Ca,
    admin: Credentials,
}

/// The service-cluster IP of the `kubernetes` Service for `--service-cluster-ip-range=10.0.0.0/24`.
pub const KUBERNETES_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The admin user's name (in group `system:masters`).
pub const ADMIN_USER: &str = "plinth-admin";

impl Pki {
    /// Generates everything into `dir` (created if needed).
    pub fn generate(dir: &Path) -> Result<Pki, Error> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let files = PkiFiles {
            dir: dir.to_owned(),
        };
        let loopback = [IpAddr::V4(Ipv4Addr::LOCALHOST)];

        let etcd_ca = Ca::new("plinth-etcd-ca")?;
        let mut etcd_params = server_params("etcd", &["localhost"], &loopback)?;
        etcd_params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
        let etcd_server = etcd_ca.sign(etcd_params)?;
        let etcd_client = etcd_ca.sign(client_params("kube-apiserver-etcd-client", &[])?)?;

        let serving_ca = Ca::new("plinth-serving-ca")?;
        let apiserver = serving_ca.sign(server_params(
            "kube-apiserver",
            &[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            &[loopback[0], IpAddr::V4(KUBERNETES_SERVICE_IP)],
        )?)?;

        let client_ca = Ca::new("plinth-client-ca")?;
        let admin = client_ca.sign(client_params(ADMIN_USER, &["system:masters"])?)?;
        let service_account = KeyPair::generate()?;

        write(&files, "etcd-ca.crt", &etcd_ca.cert_pem, false)?;
        write(&files, "etcd-server.crt", &etcd_server.cert_pem, false)?;
        write(&files, "etcd-server.key", &etcd_server.key_pem, true)?;
        write(
            &files,
            "apiserver-etcd-client.crt",
            &etcd_client.cert_pem,
            false,
        )?;
        write(
            &files,
            "apiserver-etcd-client.key",
            &etcd_client.key_pem,
            true,
        )?;
        write(&files, "serving-ca.crt", &serving_ca.cert_pem, false)?;
        write(&files, "apiserver.crt", &apiserver.cert_pem, false)?;
        write(&files, "apiserver.key", &apiserver.key_pem, true)?;
        write(&files, "client-ca.crt", &client_ca.cert_pem, false)?;
        // The API server verifies tokens with the public key and signs them with the
        // private one (PKCS#8, which its signing-key reader accepts).
        write(
            &files,
            "service-account.key",
            &service_account.serialize_pem(),
            true,
        )?;
        write(
            &files,
            "service-account.pub",
            &service_account.public_key_pem(),
            false,
        )?;
        Ok(Pki {
            files,
            serving_ca_pem: serving_ca.cert_pem,
            client_ca,
            admin,
        })
    }

    /// Where the files are.
    pub fn files(&self) -> &PkiFiles {
        &self.files
    }

    /// The CA that signed the API server's serving certificate (PEM).
    pub fn serving_ca_pem(&self) -> &str {
        &self.serving_ca_pem
    }

    /// The admin client's credentials (user `plinth-admin`, group `system:masters`).
    pub fn admin(&self) -> &Credentials {
        &self.admin
    }

    /// A client certificate for `user` in `groups` (at most two: the second is written as
    /// a second `O` attribute, which the API server reads like the first; rcgen keeps one
    /// value per attribute type, so a third cannot be expressed).
    pub fn mint_client(&self, user: &str, groups: &[&str]) -> Result<Credentials, Error> {
        if groups.len() > 2 {
            return Err(Error::Client(format!(
                "cannot mint user {user:?} with {} groups: at most 2 are supported; bind RBAC to a group instead",
                groups.len()
            )));
        }
        self.client_ca.sign(client_params(user, groups)?)
    }
}

fn write(files: &PkiFiles, name: &str, pem: &str, secret: bool) -> Result<(), Error> {
    write_file(&files.path(name), pem, secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generates_fresh_material_with_private_keys_locked_down() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let pa = Pki::generate(a.path()).unwrap();
        let pb = Pki::generate(b.path()).unwrap();
        assert_ne!(pa.admin().key_pem, pb.admin().key_pem);
        for key in [
            "etcd-server.key",
            "apiserver.key",
            "service-account.key",
            "apiserver-etcd-client.key",
        ] {
            let mode = std::fs::metadata(a.path().join(key))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
        assert!(format!("{:?}", pa.admin()).contains("Credentials"));
        assert!(!format!("{:?}", pa.admin()).contains("PRIVATE"));
        let user = pa.mint_client("alice", &["dev", "ops"]).unwrap();
        assert!(user.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pa.mint_client("bob", &["a", "b", "c"]).is_err());
    }
}
