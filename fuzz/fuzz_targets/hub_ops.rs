//! Fuzz target: operation sequences against one hub, its sessions and client devices, with
//! invariant checks after every step. The harness (input format, world, checks) is
//! `fuzz/harness/hub_ops.rs`; `HUB_OPS_TRACE=1` prints each op and frame, `HUB_OPS_STATS=1`
//! the answers per request kind.
#![no_main]

#[path = "../harness/hub_ops.rs"]
mod harness;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

impl<'a> Arbitrary<'a> for harness::Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(harness::Input::decode(u.bytes(u.len())?))
    }
}

fuzz_target!(|input: harness::Input| harness::run(&input));
