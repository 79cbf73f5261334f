//! The bulk load, timed and then verified against the server's own counters and contents.

use std::time::{Duration, Instant};

use crate::common::keys::{value_of, Rng, VALUE_LEN};
use crate::common::memcached::Side;
use crate::common::rounds::CpuClock;
use crate::contender::Contender;

/// Keys checked after each bulk load.
const SAMPLE: usize = 1_000;

pub struct BulkCheck {
    side: Side,
    loads: usize,
    rng: Rng,
}

impl BulkCheck {
    /// Creates every key first, so that every timed load replaces items instead of inserting
    /// them and `curr_items` must not move.
    pub fn new(mut side: Side, keys: &[&str]) -> BulkCheck {
        side.load(keys, &value_of("initial", VALUE_LEN));
        BulkCheck {
            side,
            loads: 0,
            rng: Rng::from_clock(),
        }
    }

    /// Runs one bulk load with a value unique to it, then checks the server: `total_items`
    /// grew by the key count, `curr_items` and `evictions` did not move, and 1000 random keys
    /// hold this load's value. Returns the load's wall and CPU time.
    pub fn run(
        &mut self,
        contender: &mut dyn Contender,
        keys: &[&str],
        cpu: &CpuClock,
    ) -> (Duration, u64) {
        self.loads += 1;
        let value = value_of(&format!("load{:06}", self.loads), VALUE_LEN);
        let before = self.side.stats();
        let ((confirmed, elapsed), cpu_used) = cpu.measure(|| {
            let started = Instant::now();
            (contender.bulk(keys, &value), started.elapsed())
        });
        let after = self.side.stats();
        let name = contender.name();
        assert_eq!(confirmed, keys.len(), "{name}: confirmed count");
        let delta = |stat: &str| after[stat] as i64 - before[stat] as i64;
        assert_eq!(
            delta("total_items"),
            keys.len() as i64,
            "{name}: total_items delta"
        );
        assert_eq!(delta("curr_items"), 0, "{name}: curr_items moved");
        assert_eq!(delta("evictions"), 0, "{name}: evictions");
        let sample: Vec<&str> = (0..SAMPLE)
            .map(|_| keys[(self.rng.next() % keys.len() as u64) as usize])
            .collect();
        self.side.check_values(&sample, &value);
        (elapsed, cpu_used)
    }
}
