//! A throwaway PostgreSQL server of a test's own (`initdb` and `pg_ctl` on
//! a free port, its files in a temporary directory), for tests that stop
//! and start the database: never the shared one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct PostgresCluster {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

impl PostgresCluster {
    /// Initializes a cluster (trust authentication, user `postgres`) and
    /// starts it.
    pub fn start() -> Self {
        let bin = server_binaries();
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        if running_as_root() {
            // initdb refuses root: the cluster is the postgres user's.
            let owned = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(owned.success(), "chown of the cluster directory failed");
        }
        let port = free_port();
        let cluster = Self {
            port,
            bin,
            data,
            _dir: dir,
        };
        let init = cluster.run(
            "initdb",
            &[
                "-D",
                path(&cluster.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        cluster.resume();
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server as an operator would for maintenance: open
    /// connections are terminated, new ones refused.
    pub fn stop(&self) {
        let stopped = self.run(
            "pg_ctl",
            &["-D", path(&self.data), "-m", "fast", "-w", "stop"],
        );
        assert!(
            stopped.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&stopped.stderr)
        );
    }

    /// Starts the (stopped) server again on the same port.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            path(&self.data)
        );
        let log = self.data.join("server.log");
        let started = self.run(
            "pg_ctl",
            &[
                "-D",
                path(&self.data),
                "-o",
                &options,
                "-l",
                path(&log),
                "-w",
                "start",
            ],
        );
        assert!(
            started.status.success(),
            "pg_ctl start failed: {} {}",
            String::from_utf8_lossy(&started.stdout),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let program = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.args(args).output().expect("a PostgreSQL tool runs")
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &["-D", path(&self.data), "-m", "immediate", "-w", "stop"],
        );
    }
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Where `initdb` and `pg_ctl` are: on the PATH, or Debian's newest
/// `/usr/lib/postgresql/<version>/bin`.
fn server_binaries() -> PathBuf {
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let bindir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if bindir.join("initdb").exists() {
            return bindir;
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|bin| bin.join("initdb").exists());
    versions.sort_by_key(|bin| {
        bin.parent()
            .and_then(|version| version.file_name())
            .and_then(|name| name.to_str())
            .and_then(|name| name.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().expect(
        "PostgreSQL's server programs (initdb, pg_ctl): install Debian's postgresql package",
    )
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
