//! The JSON Schema of the twin format, generated from the Rust types, and structural validation
//! of a parsed file against it with errors worded for people.
//!
//! The same schema is committed at `schema/doppel.schema.json` for editors; a test keeps the
//! committed copy equal to the generated one.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::diag::Path;
use crate::twin::Twin;

/// A JSON Schema generated from a format's Rust types, compiled once, with structural checks
/// worded for people. Shared by every file format Doppel reads (twins, scenarios).
pub struct SchemaChecker {
    schema: Value,
    validator: Option<jsonschema::Validator>,
}

impl SchemaChecker {
    /// Compiles `schema`, giving it an `$id` and a `title`.
    pub fn new(mut schema: schemars::Schema, id: &str, title: &str) -> Self {
        schema.insert("$id".into(), id.into());
        schema.insert("title".into(), title.into());
        let schema = schema.to_value();
        let validator = jsonschema::validator_for(&schema).ok();
        SchemaChecker { schema, validator }
    }

    /// The schema as pretty-printed JSON, newline-terminated (the committed form).
    pub fn json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Checks a parsed file against the schema and returns every problem found.
    pub fn check(&self, value: &Value) -> Vec<SchemaError> {
        let Some(validator) = &self.validator else {
            return vec![SchemaError {
                path: Path::root(),
                at_key: false,
                message: "internal error: the schema did not compile".into(),
            }];
        };
        let mut out = Vec::new();
        for err in validator.iter_errors(value) {
            explain(&err, value, &self.schema, &mut out);
        }
        out
    }
}

fn twin_checker() -> &'static SchemaChecker {
    static CHECKER: OnceLock<SchemaChecker> = OnceLock::new();
    CHECKER.get_or_init(|| {
        SchemaChecker::new(
            schemars::schema_for!(Twin),
            "https://doppel.dev/schema/doppel.schema.json",
            "Doppel twin",
        )
    })
}

/// The twin format's JSON Schema, as pretty-printed JSON.
pub fn schema_json() -> String {
    twin_checker().json()
}

/// A structural problem: the path it is at, whether it is about a key (unknown or missing
/// field) rather than a value, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// Path of the offending node.
    pub path: Path,
    /// The problem concerns the key of this node (unknown field, duplicate), not its value.
    pub at_key: bool,
    /// What is wrong.
    pub message: String,
}

/// Checks a twin file's value against the twin schema and returns every problem found.
pub fn check(value: &Value) -> Vec<SchemaError> {
    twin_checker().check(value)
}

/// Turns one validation error into messages, descending into the branch of a `oneOf`/`anyOf`
/// the author most plausibly meant.
fn explain(
    err: &jsonschema::ValidationError<'_>,
    root: &Value,
    schema: &Value,
    out: &mut Vec<SchemaError>,
) {
    let pointer = err.instance_path().as_str();
    let path = Path::from_pointer(pointer, root);
    let instance = err.instance();
    let push = |out: &mut Vec<SchemaError>, path: Path, at_key: bool, message: String| {
        out.push(SchemaError {
            path,
            at_key,
            message,
        });
    };
    // Units word their own problems, whichever keyword caught them.
    if let Some(message) = unit_message(err.schema_path().as_str(), instance) {
        push(out, path, false, message);
        return;
    }
    match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_properties(schema, err.schema_path().as_str());
            for name in unexpected {
                let hint = suggest(name, &allowed);
                push(
                    out,
                    path.key(name.clone()),
                    true,
                    format!("unknown field `{name}`{hint}"),
                );
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            push(out, path, true, format!("missing field `{name}`"));
        }
        ValidationErrorKind::Minimum { limit } => {
            push(
                out,
                path,
                false,
                format!("must be at least {limit}, found {}", describe(instance)),
            );
        }
        ValidationErrorKind::Maximum { limit } => {
            push(
                out,
                path,
                false,
                format!("must be at most {limit}, found {}", describe(instance)),
            );
        }
        ValidationErrorKind::Type { .. }
            if unit_message(err.schema_path().as_str(), instance).is_some() =>
        {
            let message = unit_message(err.schema_path().as_str(), instance).unwrap_or_default();
            push(out, path, false, message);
        }
        ValidationErrorKind::Type { kind } => {
            let expected = type_words(kind);
            let hint = match instance.as_ref() {
                Value::Number(n) if expected == "a string" => {
                    format!(" (write it in quotes: \"{n}\")")
                }
                _ => String::new(),
            };
            push(
                out,
                path,
                false,
                format!("expected {expected}, found {}{hint}", describe(instance)),
            );
        }
        ValidationErrorKind::Pattern { .. } => {
            let message = {
                let parent = err
                    .schema_path()
                    .as_str()
                    .rsplit_once('/')
                    .map_or("", |(p, _)| p);
                match schema
                    .pointer(parent)
                    .and_then(|s| s.get("description"))
                    .and_then(Value::as_str)
                {
                    Some(d) => format!(
                        "{} has the wrong format; expected {}",
                        describe(instance),
                        lowercase_first(d.trim_end_matches('.'))
                    ),
                    None => format!("{} has the wrong format", describe(instance)),
                }
            };
            push(out, path, false, message);
        }
        ValidationErrorKind::Enum { options } => {
            let words: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|o| format!("`{}`", o.as_str().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            push(
                out,
                path,
                false,
                format!("{} is not one of {}", describe(instance), words.join(", ")),
            );
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            explain_branches(pointer, &path, instance, context, root, schema, out);
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            push(
                out,
                path,
                false,
                "matches more than one form; remove the fields that do not belong".into(),
            );
        }
        _ => push(out, path, false, err.to_string()),
    }
}

fn explain_branches(
    pointer: &str,
    path: &Path,
    instance: &Value,
    context: &[Vec<jsonschema::ValidationError<'static>>],
    root: &Value,
    schema: &Value,
    out: &mut Vec<SchemaError>,
) {
    // A tagged union: every branch rejects the tag's value at the same place.
    let tag_errors: Vec<(String, String)> = context
        .iter()
        .filter_map(|branch| {
            branch.iter().find_map(|e| match e.kind() {
                ValidationErrorKind::Constant { expected_value } => Some((
                    e.instance_path().as_str().to_owned(),
                    expected_value.as_str().unwrap_or_default().to_owned(),
                )),
                _ => None,
            })
        })
        .collect();
    if !context.is_empty()
        && tag_errors.len() == context.len()
        && tag_errors.iter().all(|(p, _)| *p == tag_errors[0].0)
    {
        let tag_path = Path::from_pointer(&tag_errors[0].0, root);
        let options: Vec<String> = tag_errors.iter().map(|(_, v)| format!("`{v}`")).collect();
        let found = instance.pointer(tag_errors[0].0.strip_prefix(pointer).unwrap_or_default());
        let found = found.map_or_else(|| "nothing".to_owned(), describe);
        out.push(SchemaError {
            path: tag_path,
            at_key: false,
            message: format!("expected one of {}, found {found}", options.join(", ")),
        });
        return;
    }
    // An optional value (`T` or null) that is present: only `T` can be meant.
    if context.len() == 2 && !instance.is_null() {
        let is_null_branch = |b: &Vec<jsonschema::ValidationError<'static>>| {
            b.len() == 1
                && matches!(b[0].kind(), ValidationErrorKind::Type { kind } if type_words(kind) == "nothing")
        };
        if let Some(other) = context
            .iter()
            .position(is_null_branch)
            .map(|i| &context[1 - i])
        {
            for e in other {
                explain(e, root, schema, out);
            }
            return;
        }
    }
    // Otherwise the branch with the fewest structural mismatches is the one meant.
    let score = |branch: &Vec<jsonschema::ValidationError<'static>>| {
        let structural = branch
            .iter()
            .filter(|e| {
                e.instance_path().as_str() == pointer
                    && matches!(
                        e.kind(),
                        ValidationErrorKind::Type { .. }
                            | ValidationErrorKind::Required { .. }
                            | ValidationErrorKind::Constant { .. }
                    )
            })
            .count();
        (structural, branch.len())
    };
    match context.iter().min_by_key(|b| score(b)) {
        Some(best) if score(best).0 == 0 || context.len() == 1 => {
            for e in best {
                explain(e, root, schema, out);
            }
        }
        _ => {
            let forms: Vec<String> = context
                .iter()
                .filter_map(|b| {
                    b.iter().find_map(|e| match e.kind() {
                        ValidationErrorKind::Type { kind } => Some(type_words(kind)),
                        _ => None,
                    })
                })
                .collect();
            let message = if forms.is_empty() {
                format!("{} does not match any accepted form", describe(instance))
            } else {
                format!(
                    "expected {}, found {}",
                    forms.join(" or "),
                    describe(instance)
                )
            };
            out.push(SchemaError {
                path: path.clone(),
                at_key: false,
                message,
            });
        }
    }
}

/// The property names the schema object owning `keyword_path` allows.
fn allowed_properties(schema: &Value, keyword_path: &str) -> Vec<String> {
    let parent = keyword_path.rsplit_once('/').map_or("", |(p, _)| p);
    schema
        .pointer(parent)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// "did you mean" for a misspelt field.
pub(crate) fn suggest(name: &str, candidates: &[String]) -> String {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min()
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Unit strings are checked by pattern in the schema; the unit's own parser words the problem
/// (a bare number such as `100` where `100/s` is meant included).
fn unit_message(keyword_path: &str, instance: &Value) -> Option<String> {
    use crate::units::{Bandwidth, Bytes, Duration, Percent, Rate};
    let text = match instance {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let text = text.as_str();
    let def = keyword_path.strip_prefix("/$defs/")?.split('/').next()?;
    let err = match def {
        "Duration" => text.parse::<Duration>().err()?.to_string(),
        "Bytes" => text.parse::<Bytes>().err()?.to_string(),
        "Rate" => text.parse::<Rate>().err()?.to_string(),
        "Bandwidth" => text.parse::<Bandwidth>().err()?.to_string(),
        "Percent" => text.parse::<Percent>().err()?.to_string(),
        _ => return None,
    };
    Some(err)
}

fn type_words(kind: &jsonschema::error::TypeKind) -> String {
    use jsonschema::error::TypeKind;
    let one = |t: &jsonschema::JsonType| {
        match t.to_string().as_str() {
            "integer" => "a whole number",
            "number" => "a number",
            "string" => "a string",
            "boolean" => "true or false",
            "object" => "a mapping",
            "array" => "a list",
            "null" => "nothing",
            _ => "a value",
        }
        .to_owned()
    };
    match kind {
        TypeKind::Single(t) => one(t),
        TypeKind::Multiple(ts) => {
            let words: Vec<String> = ts
                .iter()
                .filter(|t| t.to_string() != "null")
                .map(|t| one(&t))
                .collect();
            words.join(" or ")
        }
    }
}

/// "An address" → "an address", but "CVE identifier" stays.
fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match (c.next(), c.next()) {
        (Some(first), Some(second)) if second.is_lowercase() => first
            .to_lowercase()
            .chain(std::iter::once(second))
            .chain(c)
            .collect(),
        _ => s.to_owned(),
    }
}

/// A short description of a value for messages: `"abc"`, `12`, `a list`.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}
