//! `latchkey serve` as its own OS process, as an operator runs it: for
//! what only a process shows (signals, its whole log). Its log lines are
//! kept for the test to read.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct ServerProcess {
    child: Child,
    pub address: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `latchkey serve` on port 0 with `env` (on top of test
    /// defaults: cheap hashes, info logs) and waits until it serves.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .arg("serve")
            .env("LATCHKEY_SERVER__BIND", "127.0.0.1:0")
            .env("LATCHKEY_PASSWORDS__ITERATIONS", "1000")
            .env("LATCHKEY_LOG__FILTER", "info")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("latchkey runs");
        let stderr = child.stderr.take().expect("stderr");
        // Killed with the value, even when the start below fails.
        let mut server = Self {
            child,
            address: String::new(),
            log: Arc::new(Mutex::new(Vec::new())),
        };
        let (lines, read) = std::sync::mpsc::channel();
        let kept = server.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().expect("log").push(line.clone());
                let _ = lines.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match read.recv_timeout(left) {
                Ok(line) => {
                    if let Some(port) = line.split("serving on port ").nth(1) {
                        break port.trim_matches(|c: char| !c.is_ascii_digit()).to_owned();
                    }
                }
                Err(_) => panic!("latchkey did not start within 30 s: {:#?}", server.log()),
            }
        };
        server.address = format!("http://127.0.0.1:{port}");
        server
    }

    /// Sends `signal` (HUP, TERM, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -s {signal} failed");
    }

    /// Every log line so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// Waits until a log line contains `text`.
    pub fn wait_for_log(&self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log().iter().any(|line| line.contains(text)) {
            assert!(
                Instant::now() < deadline,
                "no log line with {text:?} within {within:?}: {:#?}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit by itself.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // The log thread reads until the pipe closes.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "latchkey did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
