//! Keys a test generates and configures, and the third-party tools the
//! tests check keys and tokens with, provisioned by the tests themselves on
//! first use so that `cargo test` needs nothing installed by hand: PyJWT (a JWT library we did not write) in a virtualenv under
//! `target/`, from the pinned `tests/verifiers/requirements.txt`, reused
//! while that file is unchanged; and `openssl`, which the machine provides.
//! Nothing is skipped: a tool that cannot be had fails the test with one line
//! saying what is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use latchkey::settings::{KeySettings, Settings};
use serde_json::Value;

const REQUIREMENTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/verifiers/requirements.txt"
);
const PYJWT_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/verifiers/pyjwt_verify.py"
);

/// A Python interpreter that can `import jwt`, and the extra module path it
/// needs (set when the packages were installed with `pip --target`).
#[derive(Clone, Debug)]
struct Python {
    interpreter: PathBuf,
    module_path: Option<PathBuf>,
}

impl Python {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.interpreter);
        if let Some(path) = &self.module_path {
            command.env("PYTHONPATH", path);
        }
        command
    }
}

/// The provisioned Python, once per test process.
fn python() -> Python {
    static PYTHON: OnceLock<Result<Python, String>> = OnceLock::new();
    PYTHON
        .get_or_init(provision)
        .clone()
        .unwrap_or_else(|missing| panic!("{missing}"))
}

fn provision() -> Result<Python, String> {
    let wanted = std::fs::read_to_string(REQUIREMENTS)
        .map_err(|e| format!("cannot read {REQUIREMENTS}: {e}"))?;
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("verifiers");
    let stamp = root.join("requirements.installed");
    let venv = Python {
        interpreter: root.join("venv/bin/python"),
        module_path: None,
    };
    let target = Python {
        interpreter: PathBuf::from("python3"),
        module_path: Some(root.join("site-packages")),
    };
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        for candidate in [&venv, &target] {
            if imports_pyjwt(candidate) {
                return Ok(candidate.clone());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let pip = [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
        REQUIREMENTS,
    ];
    // A virtualenv first; where python3 has no venv module (Debian without
    // python3-venv), pip's --target, which an externally managed Python allows.
    let with_venv = run(Command::new("python3")
        .args(["-m", "venv"])
        .arg(root.join("venv")))
    .and_then(|()| run(venv.command().args(pip)));
    let chosen = match with_venv {
        Ok(()) => venv,
        Err(venv_error) => {
            let target_dir = target.module_path.clone().unwrap_or_default();
            run(Command::new("python3")
                .args(pip)
                .arg("--target")
                .arg(&target_dir))
            .map_err(|pip_error| {
                format!(
                    "PyJWT is missing and could not be installed: `python3 -m venv` failed ({venv_error}) \
                     and `pip install --target` failed ({pip_error}); install python3 with venv or pip"
                )
            })?;
            target
        }
    };
    if !imports_pyjwt(&chosen) {
        return Err(format!(
            "PyJWT was installed under {} but does not import",
            root.display()
        ));
    }
    std::fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(chosen)
}

fn imports_pyjwt(python: &Python) -> bool {
    python
        .command()
        .args(["-c", "import jwt, cryptography"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("{:?} could not start: {e}", command.get_program()))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(stderr.lines().last().unwrap_or("failed").trim().to_owned())
}

/// Verifies `tokens` with PyJWT's `PyJWKClient`, fetching the JWKS at
/// `jwks_url` afresh: one `{"ok": ..., "claims"|"error": ...}` per token.
pub async fn pyjwt_verify(jwks_url: String, tokens: Vec<String>) -> Vec<Value> {
    let output = tokio::task::spawn_blocking(move || {
        python()
            .command()
            .arg(PYJWT_SCRIPT)
            .arg(&jwks_url)
            .args(&tokens)
            .output()
            .expect("the provisioned python runs")
    })
    .await
    .expect("blocking task");
    assert!(
        output.status.success(),
        "PyJWT verifier failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
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
