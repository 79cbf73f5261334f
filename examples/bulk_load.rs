//! Loads many keys in one pipelined `set_many` call and reports every key's fate.
//!
//! ```sh
//! MEMCACHED_ADDR=127.0.0.1:11211 cargo run --release --example bulk_load              # 500,000 generated keys
//! MEMCACHED_ADDR=127.0.0.1:11211 cargo run --release --example bulk_load -- 100000    # a count
//! MEMCACHED_ADDR=127.0.0.1:11211 cargo run --release --example bulk_load -- data.tsv  # key<TAB>value lines
//! ```
//!
//! A progress bar shows on a terminal; at the end it prints how many keys were stored, how
//! many failed and why, the time taken and keys per second.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use memcache_sync::{BatchError, Client, Config, Entry, ItemResult};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    let source = std::env::args().nth(1).unwrap_or_else(|| "500000".into());
    let config = Config::default().with_read_timeout(Duration::from_secs(5));
    let mut client = Client::builder(&addr).config(config).connect()?;

    let malformed = Cell::new(0usize);
    let (entries, total): (Box<dyn Iterator<Item = OwnedEntry>>, Option<u64>) =
        match source.parse::<u64>() {
            Ok(count) => (Box::new((0..count).map(generated)), Some(count)),
            Err(_) => {
                let lines = BufReader::new(File::open(&source)?).split(b'\n');
                let entries = lines.map_while(Result::ok).filter_map(|line| {
                    let parsed = parse_line(&line);
                    malformed.set(malformed.get() + usize::from(parsed.is_none()));
                    parsed
                });
                (Box::new(entries), None)
            }
        };

    let progress = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    progress.set_style(ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} keys sent ({per_sec})",
    )?);
    let started = Instant::now();
    // Entries are pulled as the pipeline sends them, so the bar counts keys sent. Every
    // outcome is reported below, stored or not, so the report is wanted either way.
    let report = client
        .set_many(entries.inspect(|_| progress.inc(1)))
        .unwrap_or_else(BatchError::into_report);
    let elapsed = started.elapsed();
    progress.finish_and_clear();

    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for (_, result) in report.failures() {
        let reason = match result {
            ItemResult::Failed(error) => error.to_string(),
            ItemResult::Unconfirmed => "sent, but no reply before the batch stopped".into(),
            ItemResult::NotSent => "not sent: the batch stopped first".into(),
            ItemResult::Done(()) => unreachable!("failures() lists only items not done"),
        };
        *reasons.entry(reason).or_default() += 1;
    }
    let stored = report.done_count();
    println!("stored:   {stored}");
    // A count knows its length, so a stopped batch can say how many it never took; a file
    // cannot, and its rest was simply not read.
    let untaken = report.not_taken();
    println!(
        "failed:   {}",
        report.len() - stored + malformed.get() + untaken.unwrap_or(0)
    );
    match untaken {
        Some(0) => {}
        Some(untaken) => {
            println!("  {untaken:>8} × not sent: the batch stopped before taking them")
        }
        None => println!("  the rest of the file was not read: the batch stopped first"),
    }
    if malformed.get() > 0 {
        println!("  {:>8} × line without a tab", malformed.get());
    }
    for (reason, count) in &reasons {
        println!("  {count:>8} × {reason}");
    }
    if let Some(error) = report.stop_error() {
        println!("stopped:  {error}");
    }
    println!("elapsed:  {elapsed:.2?}");
    println!(
        "rate:     {:.0} keys/s",
        report.len() as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

type OwnedEntry = Entry<Vec<u8>, Vec<u8>>;

fn generated(i: u64) -> OwnedEntry {
    Entry::new(
        format!("bulk:{i:027}").into_bytes(),
        format!("{i:0>100}").into_bytes(),
    )
}

fn parse_line(line: &[u8]) -> Option<OwnedEntry> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let tab = line.iter().position(|&b| b == b'\t')?;
    Some(Entry::new(line[..tab].to_vec(), line[tab + 1..].to_vec()))
}
