//! Arbitrary bytes and valid message sequences through the crate's `Decoder`:
//! see [`fuzz_support::fuzz_decoder`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_support::fuzz_decoder(data, false);
});
