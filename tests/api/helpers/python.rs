//! The Python the tests check latchkey with (PyJWT; Django with its hashers,
//! Django REST framework and Simple JWT), provisioned by the tests
//! themselves on first use so that `cargo test` needs nothing installed by
//! hand: a virtualenv under `target/`, from the pinned
//! `tests/verifiers/requirements.txt`, reused while that file is unchanged.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const REQUIREMENTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/verifiers/requirements.txt"
);
/// A Python interpreter that can import the checkers, and the extra module
/// path it needs (set when the packages were installed with `pip --target`).
#[derive(Clone, Debug)]
pub struct Python {
    interpreter: PathBuf,
    module_path: Option<PathBuf>,
}

impl Python {
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.interpreter);
        if let Some(path) = &self.module_path {
            command.env("PYTHONPATH", path);
        }
        command
    }
}

/// Runs `script` with `args` on the provisioned Python, off the async
/// workers; its standard output. A failing script fails the test with its
/// standard error, under `what`.
pub async fn run_python(script: &'static str, args: Vec<String>, what: &'static str) -> String {
    let output = tokio::task::spawn_blocking(move || {
        python()
            .command()
            .arg(script)
            .args(&args)
            .output()
            .expect("the provisioned python runs")
    })
    .await
    .expect("blocking task");
    assert!(
        output.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// The provisioned Python, once per test process.
pub fn python() -> Python {
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
            if imports_checkers(candidate) {
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
                    "the Python checkers (PyJWT, Django) are missing and could not be installed: \
                     `python3 -m venv` failed ({venv_error}) and `pip install --target` failed \
                     ({pip_error}); install python3 with venv or pip"
                )
            })?;
            target
        }
    };
    if !imports_checkers(&chosen) {
        return Err(format!(
            "the Python checkers were installed under {} but do not import",
            root.display()
        ));
    }
    std::fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(chosen)
}

fn imports_checkers(python: &Python) -> bool {
    python
        .command()
        .args([
            "-c",
            "import jwt, cryptography, django, argon2, bcrypt, rest_framework_simplejwt, psycopg",
        ])
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
