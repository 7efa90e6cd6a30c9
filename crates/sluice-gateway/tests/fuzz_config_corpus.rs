//! Replays the config fuzz seed corpus (`fuzz/corpus/config/`) through
//! [`sluice_gateway::config::fuzz`], the function the `config` fuzz target
//! runs, so every `cargo test` checks it.
#![cfg(test)]

#[test]
fn config_seeds_parse_without_panicking() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("the corpus directory exists") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| sluice_gateway::config::fuzz(&data));
        assert!(
            result.is_ok(),
            "{} panics the config parser",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 10, "only {n} config seeds");
}
