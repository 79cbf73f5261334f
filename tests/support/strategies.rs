//! proptest strategies for the text protocol's commands and key bytes, shared by the
//! encoder properties (`codec_props.rs`) and the request parser's (`request_codec.rs`).

use memcache_sync::protocol::{RetrievalCommand, StorageCommand};
use proptest::prelude::*;

/// A byte memcached accepts in a key: printable ASCII but space, or any high byte, ASCII three
/// times in four.
///
/// The encoder and the request parser are each other's oracle only if their properties draw
/// keys, and commands, from the same space: hence one definition for both.
pub fn key_byte() -> impl Strategy<Value = u8> {
    prop_oneof![3 => 0x21u8..=0x7e, 1 => 0x80u8..=0xff]
}

/// Every storage command, `cas` with any token.
pub fn storage_command() -> impl Strategy<Value = StorageCommand> {
    prop_oneof![
        Just(StorageCommand::Set),
        Just(StorageCommand::Add),
        Just(StorageCommand::Replace),
        Just(StorageCommand::Append),
        Just(StorageCommand::Prepend),
        any::<u64>().prop_map(StorageCommand::Cas),
    ]
}

/// Every retrieval command, `gat` and `gats` with any expiry.
pub fn retrieval_command() -> impl Strategy<Value = RetrievalCommand> {
    prop_oneof![
        Just(RetrievalCommand::Get),
        Just(RetrievalCommand::Gets),
        any::<i64>().prop_map(RetrievalCommand::Gat),
        any::<i64>().prop_map(RetrievalCommand::Gats),
    ]
}
