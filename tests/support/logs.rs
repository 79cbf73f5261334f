//! Every `log` line of a test binary at `Info` or above, for the tests that check a policy
//! says what it does (a server down, fail-open, the gutter). One logger per binary: each
//! binary links its own copy of this crate's statics.

use std::sync::{Mutex, OnceLock};

struct Captured(Mutex<Vec<String>>);

impl log::Log for Captured {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}", record.level(), record.args());
            self.0.lock().unwrap().push(line);
        }
    }

    fn flush(&self) {}
}

fn logs() -> &'static Captured {
    static LOGGER: OnceLock<&'static Captured> = OnceLock::new();
    LOGGER.get_or_init(|| {
        let logger: &'static Captured = Box::leak(Box::new(Captured(Mutex::new(Vec::new()))));
        log::set_logger(logger).expect("no other logger in this binary");
        log::set_max_level(log::LevelFilter::Info);
        logger
    })
}

/// Starts capturing, if this binary has not yet: call it before what should log.
pub fn capture_logs() {
    logs();
}

/// Whether a captured line at `level` contains every one of `parts`.
pub fn logged(level: log::Level, parts: &[&str]) -> bool {
    let lines = logs().0.lock().unwrap();
    let level = level.to_string();
    lines
        .iter()
        .any(|line| line.starts_with(&level) && parts.iter().all(|part| line.contains(part)))
}
