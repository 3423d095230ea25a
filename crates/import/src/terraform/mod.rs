//! Terraform importer: `terraform show -json` output for a state or a plan (the stable public
//! JSON format, `format_version` 0.x and 1.x) and raw state files (format version 4).
//!
//! Every resource instance becomes a [`Res`]: its address, type and attribute values, with
//! values Terraform marks sensitive (`sensitive_values`, a plan's `after_sensitive`, a raw
//! state's `sensitive_attributes`) and fields named like secrets removed before anything reads
//! them (see [`crate::redact`]). [`map`] turns the resources of AWS, GCP and Azure into twin
//! entities; every other type is reported with an info diagnostic and left out. For a plan, the
//! planned values (the state after the change) are imported.

mod map;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::redact::mask_json;
use crate::text::{self, JsonFile, str_at};
use crate::{Diagnostic, ImportResult, Importer, Input, Severity, Source};

/// Reads Terraform JSON.
pub struct Terraform;

impl Importer for Terraform {
    fn source(&self) -> Source {
        Source::Terraform
    }

    fn import(&self, inputs: &[Input<'_>]) -> ImportResult {
        let mut diags = Vec::new();
        let files: Vec<JsonFile<'_>> = inputs
            .iter()
            .filter_map(|i| text::read_json(i, &mut diags))
            .collect();
        let mut resources = Vec::new();
        for (f, file) in files.iter().enumerate() {
            resources.extend(resources_of(f, file, &mut diags));
        }
        let delta = map::build(&files, &resources, &mut diags);
        text::place(&files, &mut diags);
        ImportResult {
            delta,
            diagnostics: diags,
        }
    }
}

/// One resource instance, with sensitive and secret-named values already removed.
#[derive(Debug, Clone)]
pub(crate) struct Res {
    /// Index of the file it came from.
    pub file: usize,
    /// JSON Pointer of its attribute values in the file.
    pub pointer: String,
    /// Full address, e.g. `module.web.aws_instance.app[0]`.
    pub address: String,
    /// The module path, e.g. `module.web` (empty at the root).
    pub module: String,
    /// `managed` or `data`.
    pub mode: String,
    /// Resource type, e.g. `aws_instance`.
    pub ty: String,
    /// Resource name in the configuration, e.g. `app`.
    pub name: String,
    /// `[0]`, `["key"]` or empty.
    pub index: String,
    /// Attribute values.
    pub values: Value,
}

impl Res {
    /// A string attribute, if present and non-empty.
    pub fn s(&self, key: &str) -> Option<&str> {
        str_at(&self.values, key).filter(|s| !s.is_empty())
    }

    /// A diagnostic about this resource, at its values (or a field of them).
    pub fn diag(
        &self,
        files: &[JsonFile<'_>],
        sev: Severity,
        field: &str,
        msg: impl Into<String>,
    ) -> Diagnostic {
        let ptr = format!("{}{field}", self.pointer);
        match files.get(self.file) {
            Some(f) => f.diag(sev, &ptr, msg),
            None => text::file_diag("?", sev, (1, 1), &ptr, msg),
        }
    }
}

fn index_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => format!("[{n}]"),
        Some(Value::String(s)) => format!("[{s:?}]"),
        _ => String::new(),
    }
}

/// The resource instances of one file, whichever of the three formats it is in.
fn resources_of(f: usize, file: &JsonFile<'_>, diags: &mut Vec<Diagnostic>) -> Vec<Res> {
    let v = &file.value;
    let mut out = Vec::new();
    if let Some(fv) = v.get("format_version") {
        let version = fv.as_str().unwrap_or("");
        let major = version.split('.').next().unwrap_or("");
        if !matches!(major, "0" | "1") {
            diags.push(file.diag(
                Severity::Error,
                "/format_version",
                format!(
                    "unsupported `terraform show -json` format version `{}` (this importer reads 0.x and 1.x)",
                    text::name(version)
                ),
            ));
            return out;
        }
        let (root, base) = if let Some(pv) = v.pointer("/planned_values/root_module") {
            (Some(pv), "/planned_values/root_module".to_owned())
        } else {
            (
                v.pointer("/values/root_module"),
                "/values/root_module".to_owned(),
            )
        };
        let changes = v.get("resource_changes").and_then(Value::as_array);
        match root {
            Some(root) => walk_module(f, file, root, base, changes, &mut out, diags),
            None => diags.push(file.diag(
                Severity::Warning,
                "",
                "no `values.root_module` or `planned_values.root_module`: nothing to import (an empty state?)",
            )),
        }
        return out;
    }
    match v.get("version").and_then(Value::as_u64) {
        Some(4) => {}
        Some(n) => {
            diags.push(file.diag(
                Severity::Error,
                "/version",
                format!("unsupported state format version {n}; this importer reads version 4 (Terraform 0.12 and later) and `terraform show -json` output"),
            ));
            return out;
        }
        None => {
            diags.push(file.diag(
                Severity::Error,
                "",
                "not Terraform JSON: neither `format_version` (terraform show -json) nor `version` (a state file)",
            ));
            return out;
        }
    }
    let Some(resources) = v.get("resources").and_then(Value::as_array) else {
        diags.push(file.diag(Severity::Warning, "", "state has no `resources` list"));
        return out;
    };
    for (i, r) in resources.iter().enumerate() {
        let module = str_at(r, "module").unwrap_or("").to_owned();
        let mode = str_at(r, "mode").unwrap_or("managed").to_owned();
        let (Some(ty), Some(name)) = (str_at(r, "type"), str_at(r, "name")) else {
            diags.push(file.diag(
                Severity::Warning,
                &format!("/resources/{i}"),
                "resource without `type` or `name`; skipped",
            ));
            continue;
        };
        let Some(instances) = r.get("instances").and_then(Value::as_array) else {
            continue;
        };
        for (j, inst) in instances.iter().enumerate() {
            let index = index_text(inst.get("index_key"));
            let prefix = if mode == "data" { "data." } else { "" };
            let address = if module.is_empty() {
                format!("{prefix}{ty}.{name}{index}")
            } else {
                format!("{module}.{prefix}{ty}.{name}{index}")
            };
            let mut values = inst.get("attributes").cloned().unwrap_or(Value::Null);
            let mask = inst
                .get("sensitive_attributes")
                .map(mask_from_paths)
                .unwrap_or(Value::Null);
            mask_json(&mut values, Some(&mask));
            out.push(Res {
                file: f,
                pointer: format!("/resources/{i}/instances/{j}/attributes"),
                address,
                module: module.clone(),
                mode: mode.clone(),
                ty: ty.to_owned(),
                name: name.to_owned(),
                index,
                values,
            });
        }
    }
    out
}

fn walk_module(
    f: usize,
    file: &JsonFile<'_>,
    module: &Value,
    pointer: String,
    changes: Option<&Vec<Value>>,
    out: &mut Vec<Res>,
    diags: &mut Vec<Diagnostic>,
) {
    let mod_addr = str_at(module, "address").unwrap_or("").to_owned();
    for (i, r) in module
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let (Some(ty), Some(name)) = (str_at(r, "type"), str_at(r, "name")) else {
            diags.push(file.diag(
                Severity::Warning,
                &format!("{pointer}/resources/{i}"),
                "resource without `type` or `name`; skipped",
            ));
            continue;
        };
        let index = index_text(r.get("index"));
        let mode = str_at(r, "mode").unwrap_or("managed").to_owned();
        let address = str_at(r, "address").map(str::to_owned).unwrap_or_else(|| {
            let prefix = if mode == "data" { "data." } else { "" };
            if mod_addr.is_empty() {
                format!("{prefix}{ty}.{name}{index}")
            } else {
                format!("{mod_addr}.{prefix}{ty}.{name}{index}")
            }
        });
        // Older show output repeats the bare address for every index; make it unique.
        let address = if !index.is_empty() && !address.ends_with(']') {
            format!("{address}{index}")
        } else {
            address
        };
        let mut values = r.get("values").cloned().unwrap_or(Value::Null);
        let mask = r.get("sensitive_values").cloned().or_else(|| {
            changes?
                .iter()
                .find(|c| str_at(c, "address") == Some(address.as_str()))
                .and_then(|c| c.pointer("/change/after_sensitive"))
                .cloned()
        });
        mask_json(&mut values, mask.as_ref());
        out.push(Res {
            file: f,
            pointer: format!("{pointer}/resources/{i}/values"),
            address,
            module: mod_addr.clone(),
            mode,
            ty: ty.to_owned(),
            name: name.to_owned(),
            index,
            values,
        });
    }
    for (k, child) in module
        .get("child_modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        walk_module(
            f,
            file,
            child,
            format!("{pointer}/child_modules/{k}"),
            changes,
            out,
            diags,
        );
    }
}

/// Converts a raw state's `sensitive_attributes` (a list of paths of `get_attr`/`index` steps)
/// into a mask shaped like the values, `true` at each sensitive path.
fn mask_from_paths(paths: &Value) -> Value {
    let mut mask = Value::Null;
    for path in paths.as_array().into_iter().flatten() {
        if let Some(steps) = path.as_array() {
            set_path(&mut mask, steps);
        }
    }
    mask
}

fn set_path(mask: &mut Value, steps: &[Value]) {
    let mut cur = mask;
    for step in steps {
        if matches!(cur, Value::Bool(true)) {
            return;
        }
        let key = match (str_at(step, "type"), step.get("value")) {
            (Some("get_attr"), Some(Value::String(s))) => Some(Value::String(s.clone())),
            (Some("index"), Some(v)) => v.get("value").cloned(),
            _ => None,
        };
        let next = match (cur, key) {
            (c, Some(Value::String(k))) => {
                if !c.is_object() {
                    *c = Value::Object(serde_json::Map::new());
                }
                match c {
                    Value::Object(m) => m.entry(k).or_insert(Value::Null),
                    other => other,
                }
            }
            (c, Some(Value::Number(n))) => {
                let Some(i) = n
                    .as_u64()
                    .and_then(|x| usize::try_from(x).ok())
                    .filter(|i| *i < 10_000)
                else {
                    *c = Value::Bool(true);
                    return;
                };
                if !c.is_array() {
                    *c = Value::Array(Vec::new());
                }
                match c {
                    Value::Array(a) => {
                        if a.len() <= i {
                            a.resize(i + 1, Value::Null);
                        }
                        match a.get_mut(i) {
                            Some(x) => x,
                            None => return,
                        }
                    }
                    other => other,
                }
            }
            (c, _) => {
                *c = Value::Bool(true);
                return;
            }
        };
        cur = next;
    }
    *cur = Value::Bool(true);
}
