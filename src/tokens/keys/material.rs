//! One key's material: parsed once from a secret or PEM text, checked to
//! suit its algorithm (curve, type, RSA size), and proved to sign what
//! jsonwebtoken verifies.

use std::sync::Arc;

use aws_lc_rs::signature;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use serde_json::{Value, json};

use super::VerificationKey;
use crate::tokens::algorithms::{MIN_HMAC_SECRET_BYTES, MIN_RSA_BITS, algorithm_name};

/// A private key parsed once. jsonwebtoken's signers parse the key on every
/// signature, which for RSA cost more than the signature itself
/// (`cargo bench --bench tokens`); these sign with the same aws-lc-rs
/// primitives, and every key proves at load that jsonwebtoken verifies what
/// it signs.
pub(super) enum Signer {
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

    pub(super) fn sign(&self, message: &[u8]) -> String {
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

/// One key as loaded from configuration, before it takes its place in a set.
pub struct LoadedKey {
    pub(super) kid: Option<String>,
    pub(super) algorithm: Algorithm,
    /// Present when we hold the private key (or secret), so it can sign.
    pub(super) signer: Option<Arc<Signer>>,
    decoding: DecodingKey,
    /// The public JWK (without `kid`, `alg`, `use`); `None` for HMAC secrets.
    pub(super) public_jwk: Option<Value>,
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

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The same key under `kid`.
    pub fn named(self, kid: String) -> Self {
        Self {
            kid: Some(kid),
            ..self
        }
    }

    pub(super) fn verification(&self) -> VerificationKey {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
}
