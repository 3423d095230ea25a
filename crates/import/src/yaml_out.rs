//! Writing a twin as YAML with `saphyr`'s emitter (the maintained successor of yaml-rust;
//! `serde_yaml` is deprecated). Strings that would read back as something else (`"1.10"`,
//! `"true"`, `"8080"`) are quoted by the emitter, so the text loads back to the same twin.

use doppel_model::Twin;
use saphyr::{Mapping, Scalar, Yaml, YamlEmitter};
use serde_json::Value;

/// Why a twin could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The twin did not serialise (a non-finite number).
    #[error("cannot serialise the twin: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The emitter failed.
    #[error("cannot write YAML: {0}")]
    Emit(#[from] saphyr::EmitError),
}

/// Fields whose value is the format's default, left out of the written file to keep it short
/// (`kind: app`, `protocol: tcp`, `concurrency: {workers: 1}`...).
const DEFAULTS: [(&str, &str); 11] = [
    ("kind", r#""app""#),
    ("kind", r#""vm""#),
    ("protocol", r#""tcp""#),
    ("direction", r#""ingress""#),
    ("default", r#""deny""#),
    ("load_balancing", r#""round-robin""#),
    ("concurrency", r#"{"workers":1}"#),
    ("public", "false"),
    ("directed", "false"),
    ("cost", "1.0"),
    ("latency", "0"),
];

fn strip_defaults(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, x| {
                let text = x.to_string();
                !DEFAULTS.iter().any(|(dk, dv)| dk == k && *dv == text)
            });
            map.values_mut().for_each(strip_defaults);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_defaults),
        _ => {}
    }
}

/// The twin as a YAML document, starting with a comment line when `header` is given. Fields
/// at their default are left out when the shorter text still loads to the same twin.
pub fn to_yaml(twin: &Twin, header: Option<&str>) -> Result<String, WriteError> {
    let full = serde_json::to_value(twin)?;
    let mut short = full.clone();
    strip_defaults(&mut short);
    let same = serde_json::from_value::<Twin>(short.clone()).is_ok_and(|t| t == *twin);
    let value = if same { short } else { full };
    let yaml = to_node(&value);
    let mut body = String::new();
    YamlEmitter::new(&mut body).dump(&yaml)?;
    let body = body.strip_prefix("---\n").unwrap_or(&body);
    let mut out = String::new();
    if let Some(h) = header {
        for line in h.lines() {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(body);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

fn to_node(v: &Value) -> Yaml<'static> {
    match v {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Value(Scalar::Integer(i)),
            None => Yaml::Value(Scalar::FloatingPoint(n.as_f64().unwrap_or(0.0).into())),
        },
        Value::String(s) => Yaml::Value(Scalar::String(s.clone().into())),
        Value::Array(items) => Yaml::Sequence(items.iter().map(to_node).collect()),
        Value::Object(map) => {
            let mut m = Mapping::new();
            for (k, v) in map {
                m.insert(Yaml::Value(Scalar::String(k.clone().into())), to_node(v));
            }
            Yaml::Mapping(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_yaml_loads_back_to_the_same_twin() {
        let text = "name: shop\nhosts:\n  web-1: {cores: 4, addresses: [10.0.1.5], software: {openssl: \"1.10\"}, tags: [\"true\", \"8080\", \"a: b\"]}\nservices:\n  cart:\n    version: \"2.0\"\n    endpoints:\n      default: {service_time: {dist: lognormal, mean: 2ms, p99: 9ms}}\n";
        let loaded = doppel_model::load_str("in.yaml", text);
        assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
        let written = to_yaml(&loaded.twin, Some("written by a test")).unwrap();
        assert!(
            !written.contains("round-robin"),
            "defaults are left out:\n{written}"
        );
        assert!(written.starts_with("# written by a test\n"), "{written}");
        let back = doppel_model::load_str("out.yaml", &written);
        assert!(back.is_valid(), "{:?}\n{written}", back.diagnostics);
        assert_eq!(back.twin, loaded.twin);
    }
}
