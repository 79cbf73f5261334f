//! TLS against real memcached.
