//! The provisioned Grafana dashboard (`conf/grafana/dashboards/authgate.json`)
//! is valid JSON and queries only metrics authgate defines.

use std::collections::BTreeSet;

#[test]
fn the_dashboard_queries_only_metrics_authgate_defines() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dash =
        std::fs::read_to_string(format!("{root}/conf/grafana/dashboards/authgate.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&dash).expect("valid JSON");
    assert_eq!(doc["uid"], "authgate");
    let defined = std::fs::read_to_string(format!("{root}/crates/core/src/metrics.rs")).unwrap();
    let mut names = BTreeSet::new();
    for p in doc["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for (i, _) in expr.match_indices("authgate_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name.trim_end_matches("_bucket").to_string());
            }
        }
    }
    assert!(names.len() >= 8, "{names:?}");
    for n in &names {
        assert!(
            defined.contains(&format!("\"{n}\"")),
            "the dashboard queries {n}, which authgate does not define"
        );
    }
}
