//! Fuzz target: see `sluice_protocol::fuzzing::requests` for the property.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_protocol::fuzzing::requests(data));
