//! The replies captured from a real memcached by the scripts under `fuzz/` (also the fuzz
//! seeds), as the codec tests read them.

use std::path::Path;

/// Every capture in `fuzz/seeds/<dir>`, in name order, as its file name and its bytes; fails
/// the test if there are fewer than 40 of them.
///
/// The text and meta codec tests each listed, sorted and read their captures the same way;
/// the floor of 40 is there so that a checkout without the seeds fails rather than passing on
/// nothing.
pub fn captures(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 40, "only {} captured replies", files.len());
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}
