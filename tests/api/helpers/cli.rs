//! The `latchkey` binary, run as a user runs it, against a test's database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// `latchkey ARGS` on `database_url`, `stdin` on its standard input.
pub fn latchkey(database_url: &str, args: &[&str], stdin: &str) -> Output {
    latchkey_with(database_url, &[], args, stdin)
}

/// [`latchkey`] with more settings from the environment.
pub fn latchkey_with(
    database_url: &str,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: &str,
) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .envs(env.iter().copied())
        .env("LATCHKEY_DATABASE__URL", database_url)
        .env("LATCHKEY_PASSWORDS__ITERATIONS", "1000")
        .env("LATCHKEY_LOG__FILTER", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("latchkey runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    child.wait_with_output().expect("latchkey exits")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
