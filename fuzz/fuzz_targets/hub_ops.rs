//! Fuzz target: operation sequences against one hub, its sessions and client devices, with
//! invariant checks after every step. The harness is `fuzz/harness/hub_ops/` (`input.rs`, the
//! byte code; `mod.rs`, the ops on `im_revoke_core::sim::World`; `checks.rs`, the invariants);
//! `HUB_OPS_TRACE=1` prints each op and frame, `HUB_OPS_STATS=1` the answers per request kind.
#![no_main]

#[path = "../harness/hub_ops/mod.rs"]
mod harness;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

impl<'a> Arbitrary<'a> for harness::Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(harness::Input::decode(u.bytes(u.len())?))
    }
}

fuzz_target!(|input: harness::Input| harness::run(&input));
