//! The simulator's RSA signing key: generated, or loaded from (and first written to) a PEM file so a
//! restarted simulator keeps its kid; published as a PEM for Connect and as a JWK for Forge.

use std::{
    fmt, fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::{
    RsaPrivateKey,
    pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey},
    pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding},
    traits::PublicKeyParts,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Atlassian's Connect install keys and Forge invocation keys are 2048-bit RSA.
const KEY_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not generate a {KEY_BITS}-bit RSA key")]
    Generate(#[source] rsa::Error),
    #[error("could not read the key file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not write the key file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the key file {path} holds no RSA private key (PKCS#8 or PKCS#1 PEM expected)")]
    Parse { path: PathBuf },
    #[error("could not encode the RSA key: {0}")]
    Encode(String),
}

/// An RSA key pair with its kid and the public forms Atlassian publishes.
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    private_pem: String,
    public_pem: String,
    modulus: String,
    exponent: String,
}

/// The public half as a JSON Web Key, the shape of one entry of Forge's JWKS.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub n: String,
    pub e: String,
}

impl SigningKey {
    /// A fresh key. Slow (about a second in debug builds): call it off the async runtime.
    pub fn generate() -> Result<Self, KeyError> {
        let private =
            RsaPrivateKey::new(&mut rand::thread_rng(), KEY_BITS).map_err(KeyError::Generate)?;
        Self::from_private(private)
    }

    /// The key kept in `path`, or a fresh one written there first (mode 0600, parent folders
    /// created). Two processes starting together end up with the same key: the file is published
    /// with a hard link, which never replaces a file another process published first.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        match fs::read_to_string(path) {
            Ok(pem) => {
                return Self::from_pem(&pem).ok_or_else(|| KeyError::Parse {
                    path: path.to_owned(),
                });
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(KeyError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        }
        let key = Self::generate()?;
        let write_err = |source| KeyError::Write {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            fs::create_dir_all(parent).map_err(write_err)?;
        }
        let staging = staging_path(path);
        write_private(&staging, &key.private_pem).map_err(write_err)?;
        let published = fs::hard_link(&staging, path);
        // The staging file is only a vehicle; a leftover is harmless, so its removal may fail.
        let _ = fs::remove_file(&staging);
        match published {
            Ok(()) => Ok(key),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Self::load_or_create(path),
            Err(source) => Err(write_err(source)),
        }
    }

    /// Parses a private key in PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM.
    pub fn from_pem(pem: &str) -> Option<Self> {
        let private = RsaPrivateKey::from_pkcs8_pem(pem)
            .ok()
            .or_else(|| RsaPrivateKey::from_pkcs1_pem(pem).ok())?;
        Self::from_private(private).ok()
    }

    fn from_private(private: RsaPrivateKey) -> Result<Self, KeyError> {
        let encode = |err: &dyn fmt::Display| KeyError::Encode(err.to_string());
        let public = private.to_public_key();
        let spki = public.to_public_key_der().map_err(|e| encode(&e))?;
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| encode(&e))?;
        let private_pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| encode(&e))?;
        let pkcs1 = private.to_pkcs1_der().map_err(|e| encode(&e))?;
        Ok(Self {
            kid: kid_of(spki.as_bytes()),
            encoding: EncodingKey::from_rsa_der(pkcs1.as_bytes()),
            private_pem: private_pem.to_string(),
            public_pem,
            modulus: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            exponent: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as SPKI PEM (`BEGIN PUBLIC KEY`), as connect-install-keys.atlassian.com serves it.
    pub fn public_key_pem(&self) -> &str {
        &self.public_pem
    }

    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "RSA".into(),
            kid: self.kid.clone(),
            alg: "RS256".into(),
            use_: "sig".into(),
            n: self.modulus.clone(),
            e: self.exponent.clone(),
        }
    }

    /// A compact JWS over `claims`: RS256, header `kid` and `typ: JWT`, as Atlassian signs.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }
}

impl fmt::Debug for SigningKey {
    // Never print the private key, even in a test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A UUID-shaped kid (like Atlassian's) derived from the public key, so the same key file always
/// gives the same kid and a different key never reuses one.
fn kid_of(spki_der: &[u8]) -> String {
    let digest = Sha256::digest(spki_der);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn staging_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    path.with_file_name(name)
}

fn write_private(path: &Path, pem: &str) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_gives_the_same_kid_after_a_restart() {
        let dir = std::env::temp_dir().join(format!("jira-simulator-key-{}", uuid::Uuid::new_v4()));
        let path = dir.join("nested/key.pem");
        let first = SigningKey::load_or_create(&path).expect("create key");
        let again = SigningKey::load_or_create(&path).expect("load key");
        assert_eq!(first.kid(), again.kid());
        assert_eq!(first.public_key_pem(), again.public_key_pem());
        let pem = fs::read_to_string(&path).expect("read key file");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the private key must not be world-readable");
        }
        let leftovers = fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .count();
        assert_eq!(leftovers, 1, "only key.pem remains");
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn a_file_without_a_key_is_refused_with_its_path() {
        let path =
            std::env::temp_dir().join(format!("jira-simulator-bad-{}.pem", uuid::Uuid::new_v4()));
        fs::write(&path, "not a key").expect("write");
        let err = SigningKey::load_or_create(&path).expect_err("garbage is not a key");
        assert!(matches!(err, KeyError::Parse { .. }), "{err:?}");
        fs::remove_file(path).expect("clean up");
    }
}
