//! Ansible importer: INI and YAML inventories (see [`inventory`]) into twin hosts.
//!
//! Every inventory host becomes a host named like it, tagged `ansible-group=NAME` for each
//! group it belongs to directly or through parents (not `all`/`ungrouped`). Its address is
//! `ansible_host` when that is an IP address, or the host name itself when it is one. Nothing
//! else of the variables reaches the twin (they often hold credentials); cores are unknown (0).
//! The format is chosen by extension (`.ini`, `.yaml`/`.yml`/`.json`), else by content: a
//! first line `[group]` or a file that is not a YAML mapping of groups is INI.

pub mod inventory;
#[cfg(test)]
mod tests;

use doppel_model::{Host, HostKind, Provenance, Twin};
use serde_json::Value;

use crate::text::{self, YamlFile};
use crate::{Diagnostic, ImportResult, Importer, Input, Severity, Source};
pub use inventory::{Inventory, expand_hosts, parse_ini, parse_yaml};

/// Reads Ansible inventories.
pub struct Ansible;

impl Importer for Ansible {
    fn source(&self) -> Source {
        Source::Ansible
    }

    fn import(&self, inputs: &[Input<'_>]) -> ImportResult {
        let mut diags = Vec::new();
        let mut twin = Twin::default();
        for input in inputs {
            if let Some(inv) = read(input, &mut diags) {
                add_hosts(&mut twin, &inv, input.name, &mut diags);
            }
        }
        ImportResult {
            delta: twin,
            diagnostics: diags,
        }
    }
}

fn looks_like_yaml(name: &str, text: &str) -> Option<bool> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json") {
        return Some(true);
    }
    if lower.ends_with(".ini") || lower.ends_with(".cfg") {
        return Some(false);
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with(['#', ';']))?;
    first.starts_with('[').then_some(false)
}

/// Reads one inventory file in whichever format it is.
pub fn read(input: &Input<'_>, diags: &mut Vec<Diagnostic>) -> Option<Inventory> {
    let text = text::decode(input, diags)?;
    let yaml = match looks_like_yaml(input.name, text) {
        Some(y) => y,
        None => {
            // Try YAML quietly: a mapping whose values are mappings or empty is an inventory.
            let mut quiet = Vec::new();
            text::read_yaml(input, &mut quiet).is_some_and(|f| {
                quiet.is_empty()
                    && f.docs.len() == 1
                    && f.docs[0]
                        .value
                        .as_object()
                        .is_some_and(|m| m.values().all(|v| v.is_object() || v.is_null()))
            })
        }
    };
    let (inv, errors) = if yaml {
        let file = text::read_yaml(input, diags)?;
        let Some(doc) = file.docs.first() else {
            diags.push(text::file_diag(
                input.name,
                Severity::Warning,
                (1, 1),
                "",
                "empty inventory",
            ));
            return None;
        };
        if file.docs.len() > 1 {
            diags.push(file.diag(
                Severity::Warning,
                1,
                "",
                "an inventory is one YAML document; the later ones are ignored",
            ));
        }
        let (inv, errors) = parse_yaml(&doc.value);
        for e in errors {
            diags.push(yaml_diag(&file, &e.pointer, e.message));
        }
        (inv, Vec::new())
    } else {
        parse_ini(text)
    };
    for e in errors {
        diags.push(text::file_diag(
            input.name,
            Severity::Error,
            (e.line.max(1), 1),
            "",
            e.message,
        ));
    }
    if inv.hosts.is_empty() {
        diags.push(text::file_diag(
            input.name,
            Severity::Warning,
            (1, 1),
            "",
            "the inventory has no hosts",
        ));
    }
    Some(inv)
}

fn yaml_diag(file: &YamlFile<'_>, pointer: &str, message: String) -> Diagnostic {
    file.diag(Severity::Error, 0, pointer, message)
}

fn add_hosts(twin: &mut Twin, inv: &Inventory, file: &str, diags: &mut Vec<Diagnostic>) {
    for name in inv.hosts.keys() {
        let vars = inv.host_vars(name);
        let mut host = Host {
            kind: HostKind::Vm,
            provenance: Some(Provenance {
                source: "ansible".into(),
                file: Some(file.to_owned()),
                reference: Some(format!("host {name}")),
                observed_at: None,
                fields: Default::default(),
            }),
            ..Host::default()
        };
        let address = vars
            .get("ansible_host")
            .and_then(Value::as_str)
            .and_then(|a| a.parse::<std::net::IpAddr>().ok())
            .or_else(|| name.parse().ok());
        host.addresses.extend(address);
        for g in inv.groups_of(name) {
            if g != "ungrouped" {
                host.tags.push(format!("ansible-group={g}"));
            }
        }
        let key = text::name(name);
        if twin.hosts.contains_key(&key) {
            diags.push(text::file_diag(
                file,
                Severity::Info,
                (1, 1),
                "",
                format!("host `{key}` appears in several inventories; their groups are merged"),
            ));
            if let Some(h) = twin.hosts.get_mut(&key) {
                for t in host.tags {
                    text::push_unique(&mut h.tags, t);
                }
            }
            continue;
        }
        twin.hosts.insert(key, host);
    }
}
