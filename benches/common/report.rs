//! The printed report: the header every bench opens with, fixed-width and Markdown tables, and
//! how numbers are written in them.

use std::time::Instant;

use super::host::{command_output, loadavg, machine, source_state};

/// What a run notes at its start, to report at its end.
pub struct RunInfo {
    started: Instant,
    load_at_start: String,
    source: String,
}

impl RunInfo {
    pub fn start() -> RunInfo {
        RunInfo {
            started: Instant::now(),
            load_at_start: loadavg(),
            source: source_state(),
        }
    }

    pub fn seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The title, then date, machine, source (and whether it changed during the run),
    /// memcached, placement and load lines.
    pub fn print_header(&self, title: &str, memcached: &str, placement: &str) {
        println!();
        println!("{title}");
        println!(
            "date:       {}",
            command_output("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        );
        println!("machine:    {}", machine());
        let source = &self.source;
        let source_now = source_state();
        if source_now == *source {
            println!("source:     {source}");
        } else {
            println!("source:     {source} at start; {source_now} at the end (changed during the run; the binary was built before it started)");
        }
        println!("memcached:  {memcached}");
        println!("placement:  {placement}");
        println!(
            "load avg:   {} at start, {} at end; run took {:.0} s",
            self.load_at_start,
            loadavg(),
            self.seconds()
        );
    }
}

/// A fixed-width table: the first `left` columns left-aligned, the rest right-aligned; with
/// `grouped`, a blank line between groups of rows with a different first column.
pub fn print_table(headers: &[&str], rows: &[Vec<String>], left: usize, grouped: bool) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |values: &[String]| {
        let mut out = String::new();
        for (i, (v, w)) in values.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - v.chars().count());
            if i < left {
                out.push_str(v);
                out.push_str(&pad);
            } else {
                out.push_str(&pad);
                out.push_str(v);
            }
            out.push_str("  ");
        }
        out.trim_end().to_string()
    };
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    println!("{}", line(&header));
    println!(
        "{}",
        "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
    );
    let mut previous: Option<&str> = None;
    for row in rows {
        if grouped && previous.is_some_and(|p| p != row[0]) {
            println!();
        }
        previous = Some(&row[0]);
        println!("{}", line(row));
    }
}

/// The same table in Markdown, ready to paste.
pub fn print_markdown(headers: &[&str], rows: &[Vec<String>], left: usize) {
    println!("| {} |", headers.join(" | "));
    let align: Vec<&str> = (0..headers.len())
        .map(|i| if i < left { "---" } else { "--:" })
        .collect();
    println!("|{}|", align.join("|"));
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}

pub fn duration_label(ns: f64) -> String {
    if ns.is_nan() {
        "-".into()
    } else if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// `min–max` of two durations, the unit written once when they share it.
pub fn duration_range_label(min_ns: f64, max_ns: f64) -> String {
    let (min, max) = (duration_label(min_ns), duration_label(max_ns));
    match (min.rsplit_once(' '), max.rsplit_once(' ')) {
        (Some((a, unit_a)), Some((_, unit_b))) if unit_a == unit_b => format!("{a}–{max}"),
        _ => format!("{min}–{max}"),
    }
}

pub fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `500k`, `2M`, or the number.
pub fn count_label(n: usize) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// `100 B`, `10 KiB`, `1 MiB`.
pub fn size_label(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

/// One table of a report, under its `== title` line if it has one.
pub struct Section<'a> {
    pub title: Option<String>,
    pub headers: &'a [&'a str],
    pub rows: &'a [Vec<String>],
    /// A blank line between groups of rows with a different first column.
    pub grouped: bool,
}

/// Every section as a fixed-width table, then all of them again in Markdown, then the
/// command that reruns the bench.
pub fn print_sections(sections: &[Section], rerun: &str) {
    for section in sections {
        println!();
        if let Some(title) = &section.title {
            println!("== {title}");
            println!();
        }
        print_table(section.headers, section.rows, 2, section.grouped);
    }
    println!();
    println!("Markdown:");
    for section in sections {
        println!();
        print_markdown(section.headers, section.rows, 2);
    }
    println!();
    println!("rerun: {rerun}");
}
