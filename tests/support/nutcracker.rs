//! A real twemproxy (nutcracker) in front of private memcached processes, for the tests of
//! what a proxy does differently from memcached: it answers a multi-key line whose keys span
//! backends in its own order, closes the connection after an error on such a line and on a
//! command it lacks, and answers for a dead or stalled backend with `SERVER_ERROR`.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::memcached::{unique_key, Memcached};

/// How long nutcracker may take to start listening before the test fails.
const START_LIMIT: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How many times a start is retried when a port picked as free was taken meanwhile.
const START_ATTEMPTS: usize = 5;
/// Where Debian's package installs it: `/usr/sbin`, which is not on every user's PATH.
const DEBIAN_PATH: &str = "/usr/sbin/nutcracker";

const NOT_FOUND: &str = "nutcracker (twemproxy) was not found on PATH or at /usr/sbin/nutcracker. \
Install it with \"sudo apt-get install -y nutcracker\" (Debian/Ubuntu) or run scripts/test, \
which installs it.";

/// The pool settings nutcracker runs with, as its YAML config names them.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `timeout`: how long nutcracker waits for a backend's reply before it answers
    /// `SERVER_ERROR Connection timed out`.
    pub timeout: Duration,
    /// `auto_eject_hosts`: whether a failing backend is taken out of the ring, so that its
    /// keys go to another backend.
    pub auto_eject_hosts: bool,
    /// `server_failure_limit`: consecutive failures before a backend is ejected.
    pub server_failure_limit: u32,
    /// `server_retry_timeout`: how long an ejected backend stays out of the ring.
    pub server_retry_timeout: Duration,
}

impl Settings {
    /// The settings the README recommends: no ejection, and `timeout` as given.
    pub fn no_eject(timeout: Duration) -> Settings {
        Settings {
            timeout,
            auto_eject_hosts: false,
            server_failure_limit: 2,
            server_retry_timeout: Duration::from_secs(30),
        }
    }
}

/// A nutcracker process in front of its own memcached backends; both are killed when dropped.
pub struct Nutcracker {
    /// `None` once the process has been killed and reaped.
    child: Option<Child>,
    port: u16,
    /// Holds the config file and nutcracker's log.
    dir: PathBuf,
    backends: Vec<Memcached>,
}

impl Nutcracker {
    /// nutcracker in front of `backends` fresh memcached processes, distributing keys with
    /// ketama over fnv1a_64, never ejecting a failing backend, and giving up on a backend's
    /// reply after `timeout`.
    pub fn start(backends: usize, timeout: Duration) -> Nutcracker {
        Nutcracker::start_with(backends, Settings::no_eject(timeout))
    }

    /// nutcracker in front of `backends` fresh memcached processes, distributing keys with
    /// ketama over fnv1a_64, with the pool `settings`.
    pub fn start_with(backends: usize, settings: Settings) -> Nutcracker {
        let backends: Vec<Memcached> = (0..backends).map(|_| Memcached::start()).collect();
        let name = String::from_utf8(unique_key("memcache-sync-nutcracker-")).unwrap();
        let dir = std::env::temp_dir().join(name);
        if let Err(e) = fs::create_dir(&dir) {
            panic!("cannot create temp dir {}: {e}", dir.display());
        }
        let mut proxy = Nutcracker {
            child: None,
            port: 0,
            dir,
            backends,
        };
        let binary = binary();
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match proxy.spawn(&binary, &settings) {
                Ok(()) => return proxy,
                Err(e) => failures.push(e),
            }
        }
        panic!(
            "nutcracker did not start in {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n")
        );
    }

    /// `"127.0.0.1:PORT"`: where clients connect.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The memcached processes behind the proxy, in the order of its server list.
    pub fn backends(&self) -> &[Memcached] {
        &self.backends
    }

    /// The backend at `index`, to kill or freeze.
    pub fn backend_mut(&mut self, index: usize) -> &mut Memcached {
        &mut self.backends[index]
    }

    fn config_file(&self) -> PathBuf {
        self.dir.join("nutcracker.yml")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("nutcracker.log")
    }

    fn log_text(&self) -> String {
        let text = fs::read_to_string(self.log_file()).unwrap_or_default();
        format!("nutcracker's log:\n{}", text.trim_end())
    }

    /// Writes a config for two fresh ports (clients and stats), starts nutcracker with it and
    /// waits until it accepts. nutcracker cannot be told to pick a free port itself, so a port
    /// found free can be taken by someone else before nutcracker binds it: then it exits, and
    /// the caller tries again.
    fn spawn(&mut self, binary: &Path, settings: &Settings) -> Result<(), String> {
        let (port, stats_port) = (free_port()?, free_port()?);
        let servers: String = self
            .backends
            .iter()
            .map(|backend| format!("    - {}:1\n", backend.addr()))
            .collect();
        let config = format!(
            "pool:\n\
             \x20 listen: 127.0.0.1:{port}\n\
             \x20 hash: fnv1a_64\n\
             \x20 distribution: ketama\n\
             \x20 auto_eject_hosts: {}\n\
             \x20 server_failure_limit: {}\n\
             \x20 server_retry_timeout: {}\n\
             \x20 timeout: {}\n\
             \x20 servers:\n{servers}",
            settings.auto_eject_hosts,
            settings.server_failure_limit,
            settings.server_retry_timeout.as_millis().max(1),
            settings.timeout.as_millis().max(1)
        );
        fs::write(self.config_file(), config)
            .map_err(|e| format!("cannot write {}: {e}", self.config_file().display()))?;
        // Its own log goes to the file; what it prints before opening the log goes beside it.
        let stderr = File::create(self.dir.join("stderr"))
            .map_err(|e| format!("cannot create nutcracker's stderr file: {e}"))?;
        let args = [
            "-c".to_string(),
            self.config_file().display().to_string(),
            "-o".to_string(),
            self.log_file().display().to_string(),
            "-s".to_string(),
            stats_port.to_string(),
            "-a".to_string(),
            "127.0.0.1".to_string(),
        ];
        let command_line = format!("{} {}", binary.display(), args.join(" "));
        let child = Command::new(binary)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!("{NOT_FOUND}"),
            Err(e) => return Err(format!("cannot run `{command_line}`: {e}")),
        };
        self.child = Some(child);
        self.port = port;

        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                let stderr = fs::read_to_string(self.dir.join("stderr")).unwrap_or_default();
                return Err(format!(
                    "`{command_line}` exited with {status} before listening; {}\n{stderr}",
                    self.log_text()
                ));
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "`{command_line}` did not accept within {START_LIMIT:?}; {}",
                    self.log_text()
                ));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Kills and reaps the process, if any.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nutcracker {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
        // The backends are killed by their own Drop.
    }
}

/// `nutcracker` from PATH, else where Debian installs it; a missing binary fails the test
/// with how to install it.
fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("nutcracker"))
            .find(|candidate| candidate.is_file())
    });
    match on_path {
        Some(path) => path,
        None if Path::new(DEBIAN_PATH).is_file() => PathBuf::from(DEBIAN_PATH),
        None => panic!("{NOT_FOUND}"),
    }
}

/// A loopback port nobody was listening on a moment ago.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free loopback port: {e}"))
}
