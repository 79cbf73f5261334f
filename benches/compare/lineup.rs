//! Which implementations run: the floor first (every ratio's denominator), then the rest, as
//! `COMPARE_IMPLS` and the exploration variables ask.

use crate::contender::{Contender, FloorContender, FloorRole, MemcacheSync};
use crate::peers::{Classic, Meta};
use crate::quiet::{NoreplyFloor, QuietSync};
use crate::settings::Settings;

pub fn lineup(settings: &Settings, addr: &str) -> Vec<Box<dyn Contender>> {
    let floor = |window: usize, role: FloorRole| -> Box<dyn Contender> {
        Box::new(FloorContender::connect(addr, window, role))
    };
    let classic_keys = settings.classic_keys();
    let mut contenders: Vec<Box<dyn Contender>> = vec![
        floor(settings.floor_window, FloorRole::Floor),
        Box::new(MemcacheSync::connect(addr, false)),
        Box::new(MemcacheSync::connect(addr, true)),
        Box::new(Classic::connect(addr, false, classic_keys)),
        Box::new(Classic::connect(addr, true, classic_keys)),
        Box::new(Meta::connect(addr, settings.meta_chunk, None)),
        Box::new(NoreplyFloor::connect(addr, settings.floor_window)),
        Box::new(QuietSync::connect(addr)),
    ];
    for &window in &settings.floor_windows {
        let name = format!("floor ({} KiB windows)", window / 1024);
        contenders.push(floor(window, FloorRole::Window(leak(name))));
    }
    contenders.push(floor(settings.floor_window, FloorRole::Peek));
    if settings.floor_split {
        contenders.push(floor(settings.floor_window, FloorRole::Split));
    }
    for &chunk in &settings.meta_chunks {
        let name = format!("memcache MetaClient (chunks of {chunk})");
        contenders.push(Box::new(Meta::connect(addr, chunk, Some(leak(name)))));
    }
    match &settings.impls {
        Some(wanted) => contenders.retain(|c| {
            c.name().starts_with("floor")
                || c.name().starts_with("memcache MetaClient (")
                || wanted.iter().any(|w| w == c.name())
        }),
        // The classic client over its ASCII protocol is as slow as over binary; opt-in only.
        None => contenders.retain(|c| c.name() != "memcache (ascii)"),
    }
    contenders
}

/// Names live as long as the run; a variant's is made once.
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}
