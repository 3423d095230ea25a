//! Reading and writing the cohorts file (`cohorts.yaml`): YAML through the model's hardened
//! reader (positions, alias bombs refused), written with `saphyr`'s emitter.

use saphyr::{Mapping, Scalar, Yaml, YamlEmitter};
use serde_json::Value;

use crate::model::{CohortSet, FORMAT_VERSION};

/// Why a cohorts file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not YAML.
    #[error("{file}:{line}:{col}: {message}")]
    Syntax {
        /// The file as named.
        file: String,
        /// Line, from 1.
        line: u32,
        /// Column, from 1.
        col: u32,
        /// What was wrong.
        message: String,
    },
    /// YAML, but not a cohorts file.
    #[error("{file}:{line}:{col}: {path}: {message}")]
    Shape {
        /// The file as named.
        file: String,
        /// Line, from 1.
        line: u32,
        /// Column, from 1.
        col: u32,
        /// JSON Pointer of the field.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// Could not be written.
    #[error("cannot write YAML: {0}")]
    Emit(String),
}

/// Parses a cohorts file.
pub fn from_yaml(file: &str, text: &str) -> Result<CohortSet, FileError> {
    let parsed = doppel_model::yaml::parse(text).map_err(|errs| {
        let first = errs.into_iter().next();
        FileError::Syntax {
            file: file.to_owned(),
            line: first.as_ref().map_or(1, |e| e.loc.line),
            col: first.as_ref().map_or(1, |e| e.loc.col),
            message: first.map_or_else(|| "not YAML".to_owned(), |e| e.message),
        }
    })?;
    if let Some(e) = parsed.errors.first() {
        return Err(FileError::Syntax {
            file: file.to_owned(),
            line: e.loc.line,
            col: e.loc.col,
            message: e.message.clone(),
        });
    }
    let set: CohortSet = serde_path_to_error_like(&parsed.value).map_err(|(path, message)| {
        let loc = parsed.index.value(&path);
        FileError::Shape {
            file: file.to_owned(),
            line: loc.line.max(1),
            col: loc.col.max(1),
            path: if path.is_empty() {
                "(document)".into()
            } else {
                path
            },
            message,
        }
    })?;
    if set.version != FORMAT_VERSION {
        let loc = parsed.index.value("/version");
        return Err(FileError::Shape {
            file: file.to_owned(),
            line: loc.line.max(1),
            col: loc.col.max(1),
            path: "/version".into(),
            message: format!(
                "version {} is not supported (this Doppel reads {FORMAT_VERSION})",
                set.version
            ),
        });
    }
    Ok(set)
}

/// Decodes, naming the top-level field that failed when serde's message allows.
fn serde_path_to_error_like(v: &Value) -> Result<CohortSet, (String, String)> {
    serde_json::from_value::<CohortSet>(v.clone()).map_err(|e| {
        // Find the first cohort or field that fails alone, for a position.
        let mut path = String::new();
        if let Some(cohorts) = v.get("cohorts").and_then(Value::as_array) {
            for (i, c) in cohorts.iter().enumerate() {
                if serde_json::from_value::<crate::model::Cohort>(c.clone()).is_err() {
                    path = format!("/cohorts/{i}");
                    break;
                }
            }
        }
        (path, e.to_string())
    })
}

/// The cohorts file's text, with a comment header.
pub fn to_yaml(set: &CohortSet, header: &str) -> Result<String, FileError> {
    let value = serde_json::to_value(set).map_err(|e| FileError::Emit(e.to_string()))?;
    let mut body = String::new();
    YamlEmitter::new(&mut body)
        .dump(&to_node(&value))
        .map_err(|e| FileError::Emit(e.to_string()))?;
    let body = body.strip_prefix("---\n").unwrap_or(&body);
    let mut out = String::new();
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
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
