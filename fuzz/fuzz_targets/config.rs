//! Fuzz target: config parsing and validation never panic
//! (`sluice_gateway::config::fuzz`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_gateway::config::fuzz(data));
