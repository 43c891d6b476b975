//! New keys: `latchkey keys generate` and the development key.

use std::path::Path;

use aws_lc_rs::signature;
use jsonwebtoken::Algorithm;

use super::material::LoadedKey;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_does_not_suit_its_algorithm_is_refused() {
        let p256 = generate(Algorithm::ES256).expect("generate");
        assert!(LoadedKey::from_pem("k".into(), Algorithm::ES384, p256.pem.as_bytes()).is_err());
        assert!(LoadedKey::from_pem("k".into(), Algorithm::EdDSA, p256.pem.as_bytes()).is_err());
        assert!(LoadedKey::from_pem("k".into(), Algorithm::RS256, p256.pem.as_bytes()).is_err());
        assert!(LoadedKey::from_pem("k".into(), Algorithm::HS256, p256.pem.as_bytes()).is_err());
        assert!(LoadedKey::from_pem("k".into(), Algorithm::EdDSA, b"not pem").is_err());
    }
}
