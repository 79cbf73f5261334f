//! The compare bench's `COMPARE_*` settings, and where it runs.

use crate::common::env::{env_flag, env_list, env_usize};
use crate::common::host::proc_status_field;
use crate::common::keys::VALUE_LEN;
use crate::common::placement::Placement;
use crate::workload::{Workload, KINDS};

pub const PREFIX: &str = "COMPARE";
/// The largest value memcached takes with `-I 1m`, the item's header included.
const MAX_VALUE: usize = 1_000_000;

pub struct Settings {
    pub quick: bool,
    pub rounds: usize,
    pub seq_ops: usize,
    pub many_ops: usize,
    pub bulk_keys: usize,
    pub classic_bulk_keys: usize,
    pub slices: usize,
    pub floor_window: usize,
    pub meta_chunk: usize,
    pub placement: Placement,
    pub placement_note: String,
    pub value_sizes: Vec<usize>,
    pub workloads: Vec<Workload>,
    /// Implementations besides the floor, by name; `None`: the default set.
    pub impls: Option<Vec<String>>,
    /// Exploration: bulk-only floor variants with these window sizes, bulk-only MetaClient
    /// variants with these chunk sizes, a floor get_many split into lines as memcache-sync
    /// splits them.
    pub floor_windows: Vec<usize>,
    pub meta_chunks: Vec<usize>,
    pub floor_split: bool,
}

impl Settings {
    pub fn from_env() -> Settings {
        let (placement, placement_note) = establish_placement();
        let quick = env_flag("COMPARE_QUICK");
        let kinds = env_list("COMPARE_ONLY").unwrap_or_else(|| KINDS.map(String::from).to_vec());
        for kind in &kinds {
            assert!(
                KINDS.contains(&kind.as_str()),
                "COMPARE_ONLY: unknown workload {kind:?}"
            );
        }
        let mut value_sizes = numbers("COMPARE_VALUE_SIZES", "bytes")
            .unwrap_or_else(|| vec![VALUE_LEN, 10 * 1024, 500 * 1024]);
        let mut seen = std::collections::HashSet::new();
        value_sizes.retain(|size| seen.insert(*size));
        for &size in &value_sizes {
            assert!(
                (1..=MAX_VALUE).contains(&size),
                "COMPARE_VALUE_SIZES: {size} is not 1..={MAX_VALUE} bytes (memcached runs with -I 1m)"
            );
        }
        Settings {
            quick,
            rounds: env_usize("COMPARE_ROUNDS", if quick { 3 } else { 7 }).max(1),
            seq_ops: env_usize("COMPARE_OPS", if quick { 5_000 } else { 60_000 }),
            many_ops: env_usize("COMPARE_MANY_OPS", if quick { 500 } else { 6_000 }),
            bulk_keys: env_usize("COMPARE_BULK_KEYS", if quick { 200_000 } else { 500_000 }),
            classic_bulk_keys: env_usize(
                "COMPARE_CLASSIC_BULK_KEYS",
                if quick { 2_000 } else { 10_000 },
            ),
            slices: env_usize("COMPARE_SLICES", if quick { 5 } else { 10 }).max(1),
            floor_window: env_usize("COMPARE_FLOOR_WINDOW", 64 * 1024),
            meta_chunk: env_usize("COMPARE_META_CHUNK", 1_000).max(1),
            placement,
            placement_note,
            workloads: Workload::all(&kinds, &value_sizes),
            value_sizes,
            impls: env_list("COMPARE_IMPLS"),
            floor_windows: numbers("COMPARE_FLOOR_WINDOWS", "bytes").unwrap_or_default(),
            meta_chunks: numbers("COMPARE_META_CHUNKS", "a count").unwrap_or_default(),
            floor_split: std::env::var("COMPARE_FLOOR_SPLIT").is_ok_and(|v| v == "1"),
        }
    }

    /// Operations per implementation per round of a workload (not the bulk load).
    pub fn ops(&self, workload: Workload) -> usize {
        match workload {
            Workload::GetMany(_) => (self.many_ops as f64 * workload.scale()).round() as usize,
            _ => (self.seq_ops as f64 * workload.scale()).round() as usize,
        }
    }

    /// The classic client's share of the bulk keys.
    pub fn classic_keys(&self) -> usize {
        self.classic_bulk_keys.min(self.bulk_keys)
    }
}

fn numbers(name: &str, what: &str) -> Option<Vec<usize>> {
    env_list(name).map(|list| {
        list.iter()
            .map(|n| {
                n.replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: {n:?} is not {what}"))
            })
            .collect()
    })
}

/// Pinned by default: this process re-executed under `taskset`, and every memcached thread on
/// the same CPU.
fn establish_placement() -> (Placement, String) {
    match Placement::establish(PREFIX, &["pinned", "spread"]) {
        Ok(Placement::Pinned(cpu)) => {
            let allowed = proc_status_field("self", "Cpus_allowed_list");
            (
                Placement::Pinned(cpu),
                format!("pinned: bench and all memcached threads on CPU {cpu} (bench Cpus_allowed_list={allowed})"),
            )
        }
        Ok(placement) => (placement, "spread (COMPARE_PLACEMENT=spread)".into()),
        Err(why) => {
            let note = format!("spread (taskset could not run: {why})");
            eprintln!("compare: {note}");
            (Placement::Spread, note)
        }
    }
}
