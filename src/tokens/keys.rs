//! The key set: which key signs, which keys verify, and the public keys
//! published as a JWKS. Verification finds a key by the token's `kid` in an
//! in-memory map only: a header never leads to a file, a query or a URL.
//! Every key has exactly one algorithm, and a token naming another algorithm
//! is refused before its signature is looked at (no RS/HS confusion).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::signature;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use serde_json::{Value, json};

use crate::settings::{KeySettings, MIN_HMAC_SECRET_BYTES, Settings};
use crate::tokens::{algorithm_name, parse_algorithm};

/// RSA keys shorter than this are refused (NIST SP 800-131A).
const MIN_RSA_BITS: usize = 2048;

/// The key new tokens are signed with, with its encoded JOSE header ready.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: Option<String>,
    pub algorithm: Algorithm,
    signer: Arc<Signer>,
    /// base64url of the header JSON, keys sorted as PyJWT writes them.
    header_b64: String,
}

// Key material stays out of logs.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn header_b64(&self) -> &str {
        &self.header_b64
    }

    /// The base64url JWS signature of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        self.signer.sign(message)
    }
}

/// A private key parsed once. jsonwebtoken's signers parse the key on every
/// signature, which for RSA cost more than the signature itself
/// (`cargo bench --bench tokens`); these sign with the same aws-lc-rs
/// primitives, and every key proves at load that jsonwebtoken verifies what
/// it signs.
enum Signer {
    Hmac(EncodingKey, Algorithm),
    Ed25519(signature::Ed25519KeyPair),
    Ecdsa(signature::EcdsaKeyPair),
    Rsa(signature::RsaKeyPair, &'static dyn signature::RsaEncoding),
}

impl Signer {
    fn new(algorithm: Algorithm, encoding: &EncodingKey) -> anyhow::Result<Self> {
        let der = encoding.as_bytes();
        let rejected = |e: aws_lc_rs::error::KeyRejected| {
            anyhow::anyhow!("the {} key is rejected: {e}", algorithm_name(algorithm))
        };
        Ok(match algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                Self::Hmac(encoding.clone(), algorithm)
            }
            Algorithm::EdDSA => {
                Self::Ed25519(signature::Ed25519KeyPair::from_pkcs8(der).map_err(rejected)?)
            }
            Algorithm::ES256 => Self::Ecdsa(
                signature::EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                )
                .map_err(rejected)?,
            ),
            Algorithm::ES384 => Self::Ecdsa(
                signature::EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    der,
                )
                .map_err(rejected)?,
            ),
            rsa => {
                let padding: &'static dyn signature::RsaEncoding = match rsa {
                    Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                    Algorithm::PS512 => &signature::RSA_PSS_SHA512,
                    other => anyhow::bail!("latchkey cannot sign with {other:?}"),
                };
                Self::Rsa(
                    signature::RsaKeyPair::from_der(der).map_err(rejected)?,
                    padding,
                )
            }
        })
    }

    fn sign(&self, message: &[u8]) -> String {
        let failed = "signing with a key that signed its load-time probe";
        match self {
            Self::Hmac(key, algorithm) => {
                jsonwebtoken::crypto::sign(message, key, *algorithm).expect(failed)
            }
            Self::Ed25519(pair) => URL_SAFE_NO_PAD.encode(pair.sign(message)),
            Self::Ecdsa(pair) => URL_SAFE_NO_PAD.encode(
                pair.sign(&aws_lc_rs::rand::SystemRandom::new(), message)
                    .expect(failed),
            ),
            Self::Rsa(pair, padding) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    *padding,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .expect(failed);
                URL_SAFE_NO_PAD.encode(signature)
            }
        }
    }
}

/// A key tokens are checked against; exactly one algorithm per key.
#[derive(Clone)]
pub struct VerificationKey {
    pub algorithm: Algorithm,
    pub decoding: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// One key as loaded from configuration, before it takes its place in a set.
pub struct LoadedKey {
    kid: Option<String>,
    algorithm: Algorithm,
    /// Present when we hold the private key (or secret), so it can sign.
    signer: Option<Arc<Signer>>,
    decoding: DecodingKey,
    /// The public JWK (without `kid`, `alg`, `use`); `None` for HMAC secrets.
    public_jwk: Option<Value>,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("can_sign", &self.signer.is_some())
            .finish_non_exhaustive()
    }
}

impl LoadedKey {
    pub fn hmac(kid: Option<String>, algorithm: Algorithm, secret: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            algorithm.family() == AlgorithmFamily::Hmac,
            "{} is not an HMAC algorithm",
            algorithm_name(algorithm)
        );
        anyhow::ensure!(
            secret.len() >= MIN_HMAC_SECRET_BYTES,
            "the HMAC secret must be at least {MIN_HMAC_SECRET_BYTES} bytes"
        );
        Ok(Self {
            kid,
            algorithm,
            signer: Some(Arc::new(Signer::Hmac(
                EncodingKey::from_secret(secret),
                algorithm,
            ))),
            decoding: DecodingKey::from_secret(secret),
            public_jwk: None,
        })
    }

    /// A key from PEM text: a PKCS#8 (or PKCS#1 RSA) private key, which can
    /// sign, or a public key, which verifies only. The key must suit
    /// `algorithm` (curve, type, RSA size); a private key proves it by signing.
    pub fn from_pem(kid: String, algorithm: Algorithm, pem: &[u8]) -> anyhow::Result<Self> {
        let family = algorithm.family();
        anyhow::ensure!(
            family != AlgorithmFamily::Hmac,
            "{} keys are secrets, not PEM files",
            algorithm_name(algorithm)
        );
        let tag = pem::parse(pem)
            .map_err(|e| anyhow::anyhow!("not a PEM key: {e}"))?
            .tag()
            .to_owned();
        let (encoding, jwk) = match tag.as_str() {
            "PRIVATE KEY" | "RSA PRIVATE KEY" => {
                let encoding = match family {
                    AlgorithmFamily::Ed => EncodingKey::from_ed_pem(pem),
                    AlgorithmFamily::Ec => EncodingKey::from_ec_pem(pem),
                    _ => EncodingKey::from_rsa_pem(pem),
                }
                .map_err(|e| key_mismatch(algorithm, &e))?;
                let jwk = Jwk::from_encoding_key(&encoding, algorithm)
                    .map_err(|e| key_mismatch(algorithm, &e))?;
                (Some(encoding), jwk)
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                let decoding = match family {
                    AlgorithmFamily::Ed => DecodingKey::from_ed_pem(pem),
                    AlgorithmFamily::Ec => DecodingKey::from_ec_pem(pem),
                    _ => DecodingKey::from_rsa_pem(pem),
                }
                .map_err(|e| key_mismatch(algorithm, &e))?;
                let jwk = Jwk::from_decoding_key(&decoding, Some(algorithm))
                    .map_err(|e| key_mismatch(algorithm, &e))?;
                (None, jwk)
            }
            "EC PRIVATE KEY" => anyhow::bail!(
                "this is a SEC1 EC key; convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pkcs8.pem`"
            ),
            "ENCRYPTED PRIVATE KEY" => {
                anyhow::bail!(
                    "encrypted private keys are not supported; store the key unencrypted with restricted file permissions"
                )
            }
            other => anyhow::bail!("a PEM {other:?} is not a key latchkey can use"),
        };
        let public_jwk = public_jwk(algorithm, &jwk)?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| key_mismatch(algorithm, &e))?;
        let signer = match encoding {
            Some(encoding) => {
                let signer = Signer::new(algorithm, &encoding)?;
                prove_pair(algorithm, &signer, &decoding)?;
                Some(Arc::new(signer))
            }
            None => None,
        };
        Ok(Self {
            kid: Some(kid),
            algorithm,
            signer,
            decoding,
            public_jwk: Some(public_jwk),
        })
    }

    /// The RFC 7638 thumbprint of the public key, the kid `keys generate` gives.
    pub fn thumbprint(&self) -> Option<String> {
        let jwk: Jwk = serde_json::from_value(self.public_jwk.clone()?).ok()?;
        jwk.thumbprint(ThumbprintHash::SHA256).ok()
    }

    fn verification(&self) -> VerificationKey {
        VerificationKey {
            algorithm: self.algorithm,
            decoding: self.decoding.clone(),
        }
    }
}

fn key_mismatch(algorithm: Algorithm, error: &jsonwebtoken::errors::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "not a usable {} key ({error}); {}",
        algorithm_name(algorithm),
        match algorithm.family() {
            AlgorithmFamily::Ed => "EdDSA takes an Ed25519 key",
            AlgorithmFamily::Ec => "ES256 takes a P-256 key, ES384 a P-384 key, in PKCS#8",
            _ => "RS* and PS* take an RSA key of at least 2048 bits",
        }
    )
}

/// Signs and verifies a probe, so a private key that does not suit its
/// algorithm is refused at start rather than on the first login.
fn prove_pair(algorithm: Algorithm, signer: &Signer, decoding: &DecodingKey) -> anyhow::Result<()> {
    let probe = b"latchkey key check";
    let signature = signer.sign(probe);
    let verified = jsonwebtoken::crypto::verify(&signature, probe, decoding, algorithm)
        .map_err(|e| key_mismatch(algorithm, &e))?;
    anyhow::ensure!(
        verified,
        "the {} key does not verify its own signature",
        algorithm_name(algorithm)
    );
    Ok(())
}

/// The public half of `jwk` as RFC 7517/7518/8037 members, after checking it
/// suits `algorithm`.
fn public_jwk(algorithm: Algorithm, jwk: &Jwk) -> anyhow::Result<Value> {
    let wrong = || {
        anyhow::anyhow!(
            "the key does not suit {}: EdDSA takes Ed25519, ES256 P-256, ES384 P-384, RS*/PS* RSA",
            algorithm_name(algorithm)
        )
    };
    match (&jwk.algorithm, algorithm) {
        (AlgorithmParameters::OctetKeyPair(ed), Algorithm::EdDSA)
            if ed.curve == EllipticCurve::Ed25519 =>
        {
            Ok(json!({"kty": "OKP", "crv": "Ed25519", "x": ed.x}))
        }
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256 | Algorithm::ES384) => {
            let crv = match (&ec.curve, algorithm) {
                (EllipticCurve::P256, Algorithm::ES256) => "P-256",
                (EllipticCurve::P384, Algorithm::ES384) => "P-384",
                _ => return Err(wrong()),
            };
            Ok(json!({"kty": "EC", "crv": crv, "x": ec.x, "y": ec.y}))
        }
        (AlgorithmParameters::RSA(rsa), _) if algorithm.family() == AlgorithmFamily::Rsa => {
            let modulus = URL_SAFE_NO_PAD
                .decode(&rsa.n)
                .map_err(|_| anyhow::anyhow!("the RSA modulus is malformed"))?;
            let leading = modulus.iter().take_while(|byte| **byte == 0).count();
            let bits = (modulus.len() - leading) * 8;
            anyhow::ensure!(
                bits >= MIN_RSA_BITS,
                "the RSA key has about {bits} bits; at least {MIN_RSA_BITS} are required"
            );
            Ok(json!({"kty": "RSA", "n": rsa.n, "e": rsa.e}))
        }
        _ => Err(wrong()),
    }
}

#[derive(Clone, Debug)]
pub struct KeySet {
    signing: SigningKey,
    by_kid: HashMap<String, VerificationKey>,
    /// For tokens without a `kid`: the shared secret, when one is configured
    /// (Simple JWT's tokens, or ones issued before a kid was configured).
    unnamed: Option<VerificationKey>,
    /// `{"keys":[...]}`, serialized once.
    jwks: String,
    published: Vec<Algorithm>,
}

impl KeySet {
    /// One HMAC secret, optionally named by `kid`: Simple JWT's setup.
    pub fn hmac(secret: &[u8], algorithm: Algorithm, kid: Option<String>) -> anyhow::Result<Self> {
        let key = LoadedKey::hmac(kid, algorithm, secret)?;
        Self::new(vec![key], 0, Some(0))
    }

    /// A set of `keys`, `signer` indexing the one that signs and `unnamed`
    /// the one that checks tokens without a `kid`.
    pub fn new(
        keys: Vec<LoadedKey>,
        signer: usize,
        unnamed: Option<usize>,
    ) -> anyhow::Result<Self> {
        let signer_key = keys
            .get(signer)
            .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        let signer = signer_key.signer.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "the signing key {:?} is a public key; signing needs the private key",
                signer_key.kid.as_deref().unwrap_or_default()
            )
        })?;
        let algorithm = signer_key.algorithm;
        let header = match &signer_key.kid {
            Some(kid) => json!({"alg": algorithm_name(algorithm), "kid": kid, "typ": "JWT"}),
            None => json!({"alg": algorithm_name(algorithm), "typ": "JWT"}),
        };
        let signing = SigningKey {
            kid: signer_key.kid.clone(),
            algorithm,
            signer,
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
        };
        let unnamed = unnamed
            .and_then(|index| keys.get(index))
            .map(LoadedKey::verification);
        let mut published = Vec::new();
        let mut published_algorithms = Vec::new();
        let mut by_kid = HashMap::new();
        for key in &keys {
            let Some(kid) = &key.kid else { continue };
            if let Some(Value::Object(public)) = &key.public_jwk {
                let mut jwk = public.clone();
                jwk.insert("kid".to_owned(), Value::from(kid.as_str()));
                jwk.insert("alg".to_owned(), Value::from(algorithm_name(key.algorithm)));
                jwk.insert("use".to_owned(), Value::from("sig"));
                published.push(Value::Object(jwk));
                if !published_algorithms.contains(&key.algorithm) {
                    published_algorithms.push(key.algorithm);
                }
            }
            anyhow::ensure!(
                by_kid.insert(kid.clone(), key.verification()).is_none(),
                "the kid {kid:?} is used twice"
            );
        }
        Ok(Self {
            signing,
            by_kid,
            unnamed,
            jwks: json!({ "keys": published }).to_string(),
            published: published_algorithms,
        })
    }

    /// The key set the settings describe, reading key files. In development
    /// with no key configured, an EdDSA key kept under `data_dir`.
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        let jwt = &settings.jwt;
        let mut keys = Vec::new();
        let mut unnamed = None;
        if !jwt.signing_key.is_empty() {
            let algorithm = parse_algorithm(&jwt.algorithm)
                .ok_or_else(|| anyhow::anyhow!("unsupported jwt.algorithm {:?}", jwt.algorithm))?;
            let kid = (!jwt.key_id.is_empty()).then(|| jwt.key_id.clone());
            keys.push(LoadedKey::hmac(kid, algorithm, jwt.signing_key.as_bytes())?);
            unnamed = Some(0);
        }
        for entry in &jwt.keys {
            keys.push(
                load_configured(entry)
                    .map_err(|e| anyhow::anyhow!("jwt.keys[{}]: {e:#}", entry.kid))?,
            );
        }
        if keys.is_empty() {
            let path = settings.data_dir.join(DEV_KEY_FILE);
            tracing::warn!(
                path = %path.display(),
                "DEVELOPMENT SETUP: signing tokens with a generated EdDSA key kept on local disk; \
                 configure jwt.keys and LATCHKEY_DATABASE__URL for any real deployment"
            );
            let pem = load_or_create_dev_key(&path)?;
            let mut key = LoadedKey::from_pem(String::new(), Algorithm::EdDSA, pem.as_bytes())
                .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
            key.kid = Some(if jwt.key_id.is_empty() {
                key.thumbprint()
                    .ok_or_else(|| anyhow::anyhow!("cannot compute the key's thumbprint"))?
            } else {
                jwt.key_id.clone()
            });
            keys.push(key);
        }
        let signer = if jwt.signing_kid.is_empty() {
            0
        } else {
            keys.iter()
                .position(|key| key.kid.as_deref() == Some(jwt.signing_kid.as_str()))
                .ok_or_else(|| anyhow::anyhow!("no key has the kid {:?}", jwt.signing_kid))?
        };
        Self::new(keys, signer, unnamed)
    }

    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// The key for a token header's `kid`, or `None` for a kid we do not hold.
    pub fn verification(&self, kid: Option<&str>) -> Option<&VerificationKey> {
        match kid {
            Some(kid) => self.by_kid.get(kid),
            None => self.unnamed.as_ref(),
        }
    }

    /// Every algorithm some key verifies, each once.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let mut algorithms: Vec<Algorithm> = self
            .by_kid
            .values()
            .chain(self.unnamed.as_ref())
            .map(|key| key.algorithm)
            .collect();
        algorithms.sort_by_key(|algorithm| algorithm_name(*algorithm));
        algorithms.dedup();
        algorithms
    }

    /// The algorithms of the keys in the JWK Set.
    pub fn published_algorithms(&self) -> Vec<Algorithm> {
        self.published.clone()
    }

    /// The JWK Set document: public keys only, HMAC secrets never.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }
}

fn load_configured(entry: &KeySettings) -> anyhow::Result<LoadedKey> {
    let algorithm = parse_algorithm(&entry.algorithm)
        .ok_or_else(|| anyhow::anyhow!("unsupported algorithm {:?}", entry.algorithm))?;
    if !entry.secret.is_empty() {
        return LoadedKey::hmac(Some(entry.kid.clone()), algorithm, entry.secret.as_bytes());
    }
    let pem = if entry.pem.is_empty() {
        std::fs::read(&entry.file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", entry.file))?
    } else {
        entry.pem.as_bytes().to_vec()
    };
    LoadedKey::from_pem(entry.kid.clone(), algorithm, &pem)
}

/// The development key's file under `data_dir`.
pub const DEV_KEY_FILE: &str = "signing_key.pem";

/// A newly generated private key.
pub struct GeneratedKey {
    /// PKCS#8, PEM-encoded.
    pub pem: String,
    pub kid: String,
}

/// Generates a private key for `algorithm`, named by its RFC 7638 thumbprint.
/// aws-lc-rs generates it: it is the library that signs with it, and ring
/// cannot generate RSA keys.
pub fn generate(algorithm: Algorithm) -> anyhow::Result<GeneratedKey> {
    use aws_lc_rs::encoding::AsDer;
    let failed = |_| anyhow::anyhow!("key generation failed");
    let der: Vec<u8> = match algorithm {
        Algorithm::EdDSA => signature::Ed25519KeyPair::generate()
            .and_then(|pair| pair.to_pkcs8v1())
            .map_err(failed)?
            .as_ref()
            .to_vec(),
        Algorithm::ES256 | Algorithm::ES384 => {
            let curve = if algorithm == Algorithm::ES256 {
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING
            };
            signature::EcdsaKeyPair::generate(curve)
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(failed)?
                .as_ref()
                .to_vec()
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .and_then(|pair| pair.as_der())
            .map_err(failed)?
            .as_ref()
            .to_vec(),
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => anyhow::bail!(
            "HMAC keys are secrets: generate one with `openssl rand -base64 48` and set it as a key's secret"
        ),
        other => anyhow::bail!("latchkey does not generate {other:?} keys"),
    };
    let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der));
    let key = LoadedKey::from_pem(String::new(), algorithm, pem.as_bytes())?;
    let kid = key
        .thumbprint()
        .ok_or_else(|| anyhow::anyhow!("cannot compute the key's thumbprint"))?;
    Ok(GeneratedKey { pem, kid })
}

/// Writes `contents` to a new file readable by its owner only; never
/// overwrites an existing key.
pub fn write_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    crate::private_files::write_new(path, contents)
}

/// Reads the development key from `path`, generating it on first use.
fn load_or_create_dev_key(path: &PathBuf) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(pem) => Ok(pem),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = generate(Algorithm::EdDSA)?;
            write_private_file(path, key.pem.as_bytes())?;
            Ok(key.pem)
        }
        Err(error) => Err(anyhow::anyhow!("cannot read {}: {error}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_sign_and_publish_their_public_half() {
        for algorithm in [
            Algorithm::EdDSA,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::RS256,
            Algorithm::PS512,
        ] {
            let generated = generate(algorithm).expect("generate");
            let key =
                LoadedKey::from_pem(generated.kid.clone(), algorithm, generated.pem.as_bytes())
                    .expect("load");
            assert_eq!(key.thumbprint().as_deref(), Some(generated.kid.as_str()));
            let set = KeySet::new(vec![key], 0, None).expect("set");
            let jwks: Value = serde_json::from_str(set.jwks()).expect("json");
            let jwk = &jwks["keys"][0];
            assert_eq!(jwk["kid"], generated.kid.as_str());
            assert_eq!(jwk["alg"], algorithm_name(algorithm));
            assert_eq!(jwk["use"], "sig");
            assert!(jwk.get("d").is_none(), "no private member is published");
            assert!(
                set.verification(None).is_none(),
                "tokens without kid have no key"
            );
        }
    }

    #[test]
    fn a_key_that_does_not_suit_its_algorithm_is_refused() {
        let p256 = generate(Algorithm::ES256).expect("generate");
        assert!(LoadedKey::from_pem("k".into(), Algorithm::ES384, p256.pem.as_bytes()).is_err());
        assert!(LoadedKey::from_pem("k".into(), Algorithm::EdDSA, p256.pem.as_bytes()).is_err());
        assert!(LoadedKey::from_pem("k".into(), Algorithm::RS256, p256.pem.as_bytes()).is_err());
        assert!(LoadedKey::from_pem("k".into(), Algorithm::HS256, p256.pem.as_bytes()).is_err());
        assert!(LoadedKey::from_pem("k".into(), Algorithm::EdDSA, b"not pem").is_err());
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keys")
            .join(name);
        std::fs::read(&path).expect("fixture")
    }

    #[test]
    fn keys_in_openssl_formats_load() {
        let pairs = [
            (
                "openssl-ed25519.pem",
                "openssl-ed25519-public.pem",
                Algorithm::EdDSA,
            ),
            (
                "openssl-p256.pem",
                "openssl-p256-public.pem",
                Algorithm::ES256,
            ),
            (
                "openssl-rsa2048-pkcs8.pem",
                "openssl-rsa2048-public.pem",
                Algorithm::RS256,
            ),
            (
                "openssl-rsa2048-pkcs8.pem",
                "openssl-rsa2048-public.pem",
                Algorithm::PS384,
            ),
        ];
        for (private, public, algorithm) in pairs {
            let private = LoadedKey::from_pem("k".into(), algorithm, &fixture(private))
                .unwrap_or_else(|e| panic!("{private}: {e:#}"));
            let public = LoadedKey::from_pem("k".into(), algorithm, &fixture(public))
                .unwrap_or_else(|e| panic!("{public}: {e:#}"));
            assert!(private.signer.is_some());
            assert!(public.signer.is_none(), "a public key verifies only");
            assert_eq!(private.public_jwk, public.public_jwk);
        }
        LoadedKey::from_pem(
            "k".into(),
            Algorithm::RS256,
            &fixture("openssl-rsa2048-pkcs1.pem"),
        )
        .expect("PKCS#1 RSA keys load");
        let sec1 = LoadedKey::from_pem(
            "k".into(),
            Algorithm::ES256,
            &fixture("openssl-p256-sec1.pem"),
        )
        .expect_err("SEC1 refused");
        assert!(sec1.to_string().contains("openssl pkcs8"), "{sec1}");
        let short = LoadedKey::from_pem(
            "k".into(),
            Algorithm::RS256,
            &fixture("openssl-rsa1024.pem"),
        )
        .expect_err("1024-bit RSA refused");
        assert!(short.to_string().contains("2048"), "{short}");
    }

    #[test]
    fn a_public_key_cannot_sign() {
        let public = LoadedKey::from_pem(
            "k".into(),
            Algorithm::EdDSA,
            &fixture("openssl-ed25519-public.pem"),
        )
        .expect("load");
        let error = KeySet::new(vec![public], 0, None).expect_err("refused");
        assert!(error.to_string().contains("private key"), "{error}");
    }

    #[test]
    fn hmac_secrets_are_never_published() {
        let set = KeySet::hmac(&[7; 32], Algorithm::HS256, Some("shared".into())).expect("set");
        assert_eq!(set.jwks(), r#"{"keys":[]}"#);
        assert!(set.verification(None).is_some());
        assert!(set.verification(Some("shared")).is_some());
        assert!(set.verification(Some("other")).is_none());
    }
}
