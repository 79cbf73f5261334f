//! The `memcache` crate (0.21), as the comparison drives it: its classic `Client` and its
//! meta-protocol `exp::MetaClient`.

use std::collections::HashMap;

use memcache::exp::{Get, MetaClient, Set};

use crate::contender::Contender;
use crate::workload::Workload;

/// `memcache::Client` (binary protocol unless `protocol=ascii`), one pooled connection.
pub struct Classic {
    client: memcache::Client,
    ascii: bool,
    bulk_keys: usize,
}

impl Classic {
    pub fn connect(addr: &str, ascii: bool, bulk_keys: usize) -> Classic {
        let options = if ascii { "&protocol=ascii" } else { "" };
        let url = format!("memcache://{addr}?tcp_nodelay=true&timeout=10{options}");
        Classic {
            client: memcache::Client::connect(url).expect("memcache connects"),
            ascii,
            bulk_keys,
        }
    }
}

impl Contender for Classic {
    fn name(&self) -> &'static str {
        if self.ascii {
            "memcache (ascii)"
        } else {
            "memcache"
        }
    }

    fn divisor(&self, workload: Workload) -> usize {
        if matches!(workload, Workload::GetMany(_)) {
            20
        } else {
            8
        }
    }

    fn bulk_limit(&self) -> Option<usize> {
        Some(self.bulk_keys)
    }

    fn get_hit(&mut self, key: &str, _value_len: usize) -> usize {
        let value: Vec<u8> = self.client.get(key).expect("get").expect("a hit");
        value.len()
    }

    fn get_miss(&mut self, key: &str) -> bool {
        self.client.get::<Vec<u8>>(key).expect("get").is_none()
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        self.client.set(key, value, 0).expect("set");
    }

    fn get_many(&mut self, keys: &[&str], _value_len: usize) -> usize {
        let found: HashMap<String, Vec<u8>> = self.client.gets(keys).expect("gets");
        found.len()
    }

    /// The classic client has no batch store (no `set_multi` in 0.21): one `set` per key.
    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize {
        for key in keys {
            self.client.set(key, value, 0).expect("set");
        }
        keys.len()
    }
}

/// `memcache::exp::MetaClient` (meta protocol, pooled connection).
pub struct Meta {
    client: MetaClient,
    chunk: usize,
    /// `None` for the default; a name for a bulk-only variant with another chunk size.
    variant: Option<&'static str>,
}

impl Meta {
    pub fn connect(addr: &str, chunk: usize, variant: Option<&'static str>) -> Meta {
        Meta {
            client: MetaClient::connect(addr).expect("MetaClient connects"),
            chunk,
            variant,
        }
    }
}

impl Contender for Meta {
    fn name(&self) -> &'static str {
        self.variant.unwrap_or("memcache MetaClient")
    }

    fn supports(&self, workload: Workload) -> bool {
        self.variant.is_none() || workload == Workload::Bulk
    }

    fn get_hit(&mut self, key: &str, _value_len: usize) -> usize {
        let result = self.client.get(key).send().expect("mg");
        result.value.expect("a hit").len()
    }

    fn get_miss(&mut self, key: &str) -> bool {
        !self.client.get(key).send().expect("mg").hit()
    }

    fn set(&mut self, key: &str, value: &[u8]) {
        assert!(self.client.set(key, value).send().expect("ms").applied());
    }

    fn get_many(&mut self, keys: &[&str], _value_len: usize) -> usize {
        let results = self
            .client
            .run_many(keys.iter().map(Get::new))
            .expect("run_many");
        results
            .into_iter()
            .filter(|r| r.as_ref().expect("mg").hit())
            .count()
    }

    /// `run_many` writes its whole batch before reading, so the load goes in chunks of
    /// `chunk` sets, one `run_many` each.
    fn bulk(&mut self, keys: &[&str], value: &[u8]) -> usize {
        let mut applied = 0;
        for chunk in keys.chunks(self.chunk) {
            let results = self
                .client
                .run_many(chunk.iter().map(|key| Set::new(key, value)))
                .expect("run_many");
            applied += results
                .iter()
                .filter(|r| r.as_ref().expect("ms").applied())
                .count();
        }
        applied
    }
}
