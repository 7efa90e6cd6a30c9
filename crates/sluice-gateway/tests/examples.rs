//! Every config in `examples/` validates.

use std::path::Path;

#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "a synchronous test reading fixtures"
)]
fn every_example_config_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("examples dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let env = |_: &str| Some("sk-example-value".to_owned());
        if let Err(e) = sluice_gateway::config::parse(&text, &path.display().to_string(), &env) {
            panic!("{e}");
        }
        n += 1;
    }
    assert!(n >= 12, "expected the example configs, found {n}");
}
