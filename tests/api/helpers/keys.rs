//! Keys a test generates and configures, and the third-party tools the
//! tests check keys and tokens with: PyJWT (a JWT library we did not write,
//! from `super::python`), and `openssl`, which the machine provides.
//! Nothing is skipped: a tool that cannot be had fails the test with one line
//! saying what is missing.

use std::process::{Command, Stdio};

use super::python::run_python;

use latchkey::settings::{KeySettings, Settings};
use serde_json::Value;

const PYJWT_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/verifiers/pyjwt_verify.py"
);

/// Verifies `tokens` with PyJWT's `PyJWKClient`, fetching the JWKS at
/// `jwks_url` afresh: one `{"ok": ..., "claims"|"error": ...}` per token.
pub async fn pyjwt_verify(jwks_url: String, tokens: Vec<String>) -> Vec<Value> {
    let args = std::iter::once(jwks_url).chain(tokens).collect();
    run_python(PYJWT_SCRIPT, args, "PyJWT verifier")
        .await
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

/// `openssl` with `args`, `input` on its standard input; its standard output.
pub fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = match Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!(
                "openssl is missing: install the openssl package (Debian: apt-get install openssl)"
            )
        }
        Err(e) => panic!("openssl could not start: {e}"),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("openssl reads its input");
    let output = child.wait_with_output().expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A generated private key, with what configures it.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub algorithm: &'static str,
    pub private_pem: String,
}

impl TestKey {
    pub fn generate(algorithm: &'static str) -> Self {
        let parsed = latchkey::tokens::parse_algorithm(algorithm).expect("known algorithm");
        let key = latchkey::tokens::keys::generate(parsed).expect("key generated");
        Self {
            kid: key.kid,
            algorithm,
            private_pem: key.pem,
        }
    }

    /// The `jwt.keys` entry holding the private key.
    pub fn private(&self) -> KeySettings {
        KeySettings {
            kid: self.kid.clone(),
            algorithm: latchkey::tokens::parse_algorithm(self.algorithm).expect("known algorithm"),
            file: String::new(),
            pem: self.private_pem.clone(),
            secret: String::new(),
        }
    }

    /// The `jwt.keys` entry holding only the public key (verify only).
    pub fn public(&self) -> KeySettings {
        let public = openssl(&["pkey", "-pubout"], self.private_pem.as_bytes());
        KeySettings {
            pem: String::from_utf8(public).expect("PEM text"),
            ..self.private()
        }
    }
}

/// Settings signing with `signer` alone, without the shared secret.
pub fn sign_with_key(settings: &mut Settings, signer: &TestKey, others: &[KeySettings]) {
    settings.jwt.signing_key.clear();
    settings.jwt.signing_kid = signer.kid.clone();
    settings.jwt.keys = std::iter::once(signer.private())
        .chain(others.iter().cloned())
        .collect();
}
