//! For a test file that still says `mod support;`: the support crate under the old name.
//! New test files say `use memcache_sync_test_support as support;` instead, which compiles
//! nothing here.
#[allow(unused_imports)]
pub use memcache_sync_test_support::*;
