//! The key set: which key signs, which keys verify, and the public keys
//! published as a JWKS. Verification finds a key by the token's `kid` in an
//! in-memory map only: a header never leads to a file, a query or a URL.
//! Every key has exactly one algorithm, and a token naming another algorithm
//! is refused before its signature is looked at (no RS/HS confusion).
//!
//! [`material`] parses and checks one key, [`loading`] builds the set from
//! its configured sources, [`generation`] makes new keys.

pub mod generation;
pub mod loading;
pub mod material;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Value, json};

use super::algorithms::algorithm_name;
pub use generation::{GeneratedKey, generate, write_private_file};
pub use loading::KeySource;
pub use material::LoadedKey;
use material::Signer;

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

    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// The kid of the signing key, and every kid held, sorted: what an
    /// operator needs to see of a key set (never the keys).
    pub fn describe(&self) -> String {
        let mut kids: Vec<&str> = self.by_kid.keys().map(String::as_str).collect();
        kids.sort_unstable();
        format!(
            "signing kid {}; kids [{}]",
            self.signing.kid.as_deref().unwrap_or("(none)"),
            kids.join(", ")
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keys")
            .join(name);
        std::fs::read(&path).expect("fixture")
    }

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
