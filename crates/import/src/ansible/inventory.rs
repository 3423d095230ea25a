//! Ansible inventories: the INI and YAML formats parsed into one structure of groups, hosts
//! and variables, with host ranges (`web[01:20]`, `db-[a:c]`, `n[0:10:2]`) expanded, and
//! [`Inventory::to_list_json`] giving what `ansible-inventory --list` prints for it.
//!
//! The semantics follow Ansible's own INI and YAML inventory plugins: hosts before any section
//! are ungrouped; `[g:vars]` and `[g:children]` sections; inline `name=value` host variables
//! whose values read as Python literals (`8080` is a number, `'x'` a string); `host:port`;
//! every group without a parent is a child of `all`; `ungrouped` holds the hosts in no other
//! group. Variables merge by group depth (`all` lowest, then parents before children, ties by
//! name), then host variables.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::redact::{REDACTED, is_secret_name, looks_like_secret};

/// A group: its hosts, child groups and variables, in the order the inventory gives them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// Hosts directly in the group.
    pub hosts: Vec<String>,
    /// Child groups.
    pub children: Vec<String>,
    /// Group variables.
    pub vars: Map<String, Value>,
}

/// A parsed inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// Groups in creation order, starting with `all` and `ungrouped`.
    pub groups: IndexMap<String, Group>,
    /// Hosts in the order first seen, with their own variables.
    pub hosts: IndexMap<String, Map<String, Value>>,
}

/// A problem in an inventory file, at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryError {
    /// Line of the problem (1 for the whole file).
    pub line: u32,
    /// JSON Pointer, for YAML inventories.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// Most hosts one range may expand to.
const MAX_RANGE: usize = 100_000;

impl Default for Inventory {
    fn default() -> Self {
        let mut groups = IndexMap::new();
        groups.insert(
            "all".to_owned(),
            Group {
                children: vec!["ungrouped".to_owned()],
                ..Group::default()
            },
        );
        groups.insert("ungrouped".to_owned(), Group::default());
        Inventory {
            groups,
            hosts: IndexMap::new(),
        }
    }
}

impl Inventory {
    fn group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_owned()).or_default()
    }

    fn add_host(&mut self, group: &str, host: &str) {
        self.hosts.entry(host.to_owned()).or_default();
        let g = self.group(group);
        if !g.hosts.iter().any(|h| h == host) {
            g.hosts.push(host.to_owned());
        }
    }

    fn add_child(&mut self, parent: &str, child: &str) {
        self.group(child);
        let g = self.group(parent);
        if !g.children.iter().any(|c| c == child) {
            g.children.push(child.to_owned());
        }
    }

    /// Makes the implicit structure explicit, as Ansible's `reconcile_inventory` does: groups
    /// without a parent become children of `all`; hosts in no group but `all` go to `ungrouped`.
    fn reconcile(&mut self) {
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in &names {
            if name == "all" {
                continue;
            }
            let has_parent = self.groups.values().any(|g| g.children.contains(name));
            if !has_parent {
                self.add_child("all", name);
            }
        }
        for h in self.hosts.keys().cloned().collect::<Vec<_>>() {
            let in_group = self
                .groups
                .iter()
                .any(|(n, g)| n != "all" && n != "ungrouped" && g.hosts.contains(&h));
            if in_group {
                if let Some(u) = self.groups.get_mut("ungrouped") {
                    u.hosts.retain(|x| x != &h);
                }
            } else if !self
                .groups
                .get("ungrouped")
                .is_some_and(|u| u.hosts.contains(&h))
            {
                self.add_host("ungrouped", &h);
            }
        }
    }

    /// The groups `host` is in, directly or through parents, excluding `all`; nearest first.
    pub fn groups_of(&self, host: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut frontier: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| g.hosts.iter().any(|h| h == host))
            .map(|(n, _)| n.clone())
            .collect();
        while let Some(g) = frontier.pop() {
            if g == "all" || out.contains(&g) {
                continue;
            }
            out.push(g.clone());
            for (n, parent) in &self.groups {
                if parent.children.contains(&g) {
                    frontier.push(n.clone());
                }
            }
        }
        out.sort();
        out
    }

    /// Depth of a group below `all` (the longest path), as Ansible orders variable precedence.
    fn depth(&self, group: &str) -> usize {
        let mut best = 0;
        let mut stack = vec![(group.to_owned(), 0usize)];
        let mut steps = 0usize;
        while let Some((g, d)) = stack.pop() {
            steps += 1;
            if steps > 100_000 || d > self.groups.len() {
                break; // a cycle: give up on depth
            }
            best = best.max(d);
            for (n, parent) in &self.groups {
                if parent.children.contains(&g) {
                    stack.push((n.clone(), d + 1));
                }
            }
        }
        best
    }

    /// The variables Ansible resolves for `host`: `all`'s, then each group's by depth and name,
    /// then the host's own.
    pub fn host_vars(&self, host: &str) -> Map<String, Value> {
        let mut groups = self.groups_of(host);
        groups.push("all".to_owned());
        let mut ordered: Vec<(usize, i64, String)> = groups
            .into_iter()
            .map(|g| {
                let prio = self
                    .groups
                    .get(&g)
                    .and_then(|x| x.vars.get("ansible_group_priority"))
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                (self.depth(&g), prio, g)
            })
            .collect();
        ordered.sort();
        let mut vars = Map::new();
        for (_, _, g) in ordered {
            if let Some(group) = self.groups.get(&g) {
                for (k, v) in &group.vars {
                    vars.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(own) = self.hosts.get(host) {
            for (k, v) in own {
                vars.insert(k.clone(), v.clone());
            }
        }
        vars
    }

    /// What `ansible-inventory --list` prints for this inventory, except that variables named
    /// like secrets or holding secret-shaped values read [`REDACTED`].
    pub fn to_list_json(&self) -> Value {
        let mut out = Map::new();
        let mut seen = std::collections::HashSet::new();
        self.format_group("all", &mut out, &mut seen);
        let mut hostvars = Map::new();
        for host in self.hosts.keys() {
            let mut vars = self.host_vars(host);
            for (k, v) in vars.iter_mut() {
                redact_value(k, v);
            }
            if !vars.is_empty() {
                hostvars.insert(host.clone(), Value::Object(vars));
            }
        }
        let mut meta = Map::new();
        meta.insert("hostvars".into(), Value::Object(hostvars));
        let mut result = Map::new();
        result.insert("_meta".into(), Value::Object(meta));
        result.extend(out);
        Value::Object(result)
    }

    fn format_group(
        &self,
        name: &str,
        out: &mut Map<String, Value>,
        seen: &mut std::collections::HashSet<String>,
    ) {
        let Some(g) = self.groups.get(name) else {
            return;
        };
        let mut entry = Map::new();
        if name != "all" && !g.hosts.is_empty() {
            entry.insert(
                "hosts".into(),
                Value::Array(g.hosts.iter().cloned().map(Value::String).collect()),
            );
        }
        if !g.children.is_empty() {
            entry.insert(
                "children".into(),
                Value::Array(g.children.iter().cloned().map(Value::String).collect()),
            );
        }
        if !entry.is_empty() {
            out.insert(name.to_owned(), Value::Object(entry));
        }
        for c in &g.children {
            if seen.insert(c.clone()) {
                self.format_group(c, out, seen);
            }
        }
    }
}

fn redact_value(key: &str, v: &mut Value) {
    if is_secret_name(key) && !v.is_null() {
        *v = Value::String(REDACTED.into());
        return;
    }
    match v {
        Value::String(s) if looks_like_secret(s) => *s = REDACTED.into(),
        Value::Array(items) => items.iter_mut().for_each(|x| redact_value("", x)),
        Value::Object(m) => m.iter_mut().for_each(|(k, x)| redact_value(k, x)),
        _ => {}
    }
}

/// Expands Ansible host range patterns: `web[01:03]` → web01, web02, web03; `db-[a:c]`;
/// `n[0:10:5]` (a stride); several ranges multiply.
pub fn expand_hosts(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_owned()]);
    };
    let close = pattern[open..]
        .find(']')
        .map(|i| open + i)
        .ok_or_else(|| format!("unclosed `[` in host pattern `{pattern}`"))?;
    let (head, range, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let parts: Vec<&str> = range.split(':').collect();
    let (beg, end, step) = match parts.as_slice() {
        [b, e] => (*b, *e, 1usize),
        [b, e, s] => (
            *b,
            *e,
            s.parse::<usize>()
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| format!("bad stride `{s}` in host range"))?,
        ),
        _ => {
            return Err(format!(
                "host range `[{range}]` must be [BEGIN:END] or [BEGIN:END:STEP]"
            ));
        }
    };
    let items: Vec<String> =
        if beg.chars().all(|c| c.is_ascii_digit()) && end.chars().all(|c| c.is_ascii_digit()) {
            let b: usize = if beg.is_empty() {
                0
            } else {
                beg.parse()
                    .map_err(|_| format!("bad range start `{beg}`"))?
            };
            let e: usize = end.parse().map_err(|_| format!("bad range end `{end}`"))?;
            if b > e {
                return Err(format!("host range start {beg} is after its end {end}"));
            }
            let width = if beg.len() > 1 && beg.starts_with('0') {
                if beg.len() != end.len() {
                    return Err(
                        "host range must give begin and end with the same number of digits".into(),
                    );
                }
                beg.len()
            } else {
                0
            };
            if (e - b) / step >= MAX_RANGE {
                return Err(format!("host range expands to more than {MAX_RANGE} hosts"));
            }
            (b..=e)
                .step_by(step)
                .map(|n| format!("{n:0width$}"))
                .collect()
        } else {
            let (Some(b), Some(e)) = (single_letter(beg), single_letter(end)) else {
                return Err(format!(
                    "host range `[{range}]` must be numeric or single letters"
                ));
            };
            if b > e {
                return Err(format!("host range start {beg} is after its end {end}"));
            }
            (b..=e)
                .step_by(step)
                .map(|c| char::from(c).to_string())
                .collect()
        };
    let tails = expand_hosts(tail)?;
    let mut out = Vec::new();
    for i in items {
        for t in &tails {
            out.push(format!("{head}{i}{t}"));
            if out.len() > MAX_RANGE {
                return Err(format!("host range expands to more than {MAX_RANGE} hosts"));
            }
        }
    }
    Ok(out)
}

fn single_letter(s: &str) -> Option<u8> {
    match s.as_bytes() {
        [c] if c.is_ascii_alphabetic() => Some(*c),
        _ => None,
    }
}

/// A Python literal as Ansible's INI plugin reads values (`ast.literal_eval`, else the text).
fn python_literal(v: &str) -> Value {
    let t = v.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Value::from(i);
    }
    if t.contains(['.', 'e', 'E'])
        && !t
            .chars()
            .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        && let Ok(f) = t.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    match t {
        "True" => return Value::Bool(true),
        "False" => return Value::Bool(false),
        "None" => return Value::Null,
        _ => {}
    }
    for q in ['\'', '"'] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return Value::String(t[1..t.len() - 1].to_owned());
        }
    }
    Value::String(v.to_owned())
}

/// Splits a line like a POSIX shell (quotes group, `#` at a word start ends the line).
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' | '"' => {
                in_word = true;
                // Quotes are kept so values read as Python string literals, as in Ansible.
                cur.push(c);
                loop {
                    match chars.next() {
                        Some(x) if x == c => {
                            cur.push(x);
                            break;
                        }
                        Some('\\') if c == '"' => {
                            if let Some(x) = chars.next() {
                                cur.push(x);
                            }
                        }
                        Some(x) => cur.push(x),
                        None => return Err("unterminated quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Splits `host:port` (not an IPv6 address) into host and port.
fn host_and_port(pattern: &str) -> (String, Option<u16>) {
    if pattern.matches(':').count() == 1
        && let Some((h, p)) = pattern.rsplit_once(':')
        && !p.contains(']')
        && h.matches('[').count() == h.matches(']').count()
        && let Ok(port) = p.parse::<u16>()
    {
        return (h.to_owned(), Some(port));
    }
    (pattern.to_owned(), None)
}

/// Parses an INI inventory. Errors are collected; the lines around them are still read.
pub fn parse_ini(text: &str) -> (Inventory, Vec<InventoryError>) {
    let mut inv = Inventory::default();
    let mut errors = Vec::new();
    let mut group = "ungrouped".to_owned();
    let mut state = "hosts";
    for (n, raw) in text.lines().enumerate() {
        let line_no = u32::try_from(n + 1).unwrap_or(u32::MAX);
        let line = raw.trim();
        if line.is_empty() || line.starts_with([';', '#']) {
            continue;
        }
        let mut err = |message: String| {
            errors.push(InventoryError {
                line: line_no,
                pointer: String::new(),
                message,
            })
        };
        if line.starts_with('[') {
            let head = line.split('#').next().unwrap_or(line).trim();
            let Some(inner) = head.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
                err(
                    "a section header must look like [group], [group:vars] or [group:children]"
                        .into(),
                );
                continue;
            };
            let (name, kind) = match inner.split_once(':') {
                Some((g, k)) => (g, k),
                None => (inner, "hosts"),
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                err(format!("`{}` is not a group name", text_of(name)));
                continue;
            }
            match kind {
                "hosts" | "vars" | "children" => {}
                other => {
                    err(format!(
                        "section type `{}` is not hosts, vars or children",
                        text_of(other)
                    ));
                    continue;
                }
            }
            group = name.to_owned();
            state = kind;
            inv.group(&group);
            continue;
        }
        match state {
            "vars" => match line.split_once('=') {
                Some((k, v)) => {
                    let k = k.trim().to_owned();
                    inv.group(&group).vars.insert(k, python_literal(v.trim()));
                }
                None => err("expected `name=value` in a vars section".into()),
            },
            "children" => {
                let child = line.split_whitespace().next().unwrap_or(line);
                if child == group {
                    err(format!("group `{group}` cannot be its own child"));
                } else {
                    inv.add_child(&group, child);
                }
            }
            _ => {
                let words = match shell_words(line) {
                    Ok(w) => w,
                    Err(e) => {
                        err(e);
                        continue;
                    }
                };
                let Some(pattern) = words.first() else {
                    continue;
                };
                let (pattern, port) = host_and_port(pattern);
                let names = match expand_hosts(&pattern) {
                    Ok(n) => n,
                    Err(e) => {
                        err(e);
                        continue;
                    }
                };
                let mut vars = Map::new();
                if let Some(p) = port {
                    vars.insert("ansible_port".into(), Value::from(p));
                }
                for w in words.iter().skip(1) {
                    match w.split_once('=') {
                        Some((k, v)) => {
                            vars.insert(k.to_owned(), python_literal(v));
                        }
                        None => err(format!(
                            "expected `name=value` host variables after the host, found a word of {} characters",
                            w.chars().count()
                        )),
                    }
                }
                for h in names {
                    inv.add_host(&group, &h);
                    if let Some(own) = inv.hosts.get_mut(&h) {
                        for (k, v) in &vars {
                            own.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
    }
    inv.reconcile();
    (inv, errors)
}

/// A short, secret-safe rendering of input text for an error message.
fn text_of(s: &str) -> String {
    if looks_like_secret(s) {
        REDACTED.into()
    } else {
        s.chars().take(40).collect()
    }
}

/// Reads a YAML inventory (already parsed to JSON): top-level keys are groups, each a
/// mapping with optional `hosts`, `vars` and `children`.
pub fn parse_yaml(root: &Value) -> (Inventory, Vec<InventoryError>) {
    let mut inv = Inventory::default();
    let mut errors = Vec::new();
    match root {
        Value::Object(groups) => {
            for (name, body) in groups {
                yaml_group(
                    &mut inv,
                    name,
                    body,
                    &format!("/{}", crate::text::tok(name)),
                    0,
                    &mut errors,
                );
            }
        }
        _ => errors.push(InventoryError {
            line: 1,
            pointer: String::new(),
            message: "a YAML inventory is a mapping of group names".into(),
        }),
    }
    inv.reconcile();
    (inv, errors)
}

fn yaml_group(
    inv: &mut Inventory,
    name: &str,
    body: &Value,
    at: &str,
    depth: usize,
    errors: &mut Vec<InventoryError>,
) {
    let err = |errors: &mut Vec<InventoryError>, pointer: String, message: String| {
        errors.push(InventoryError {
            line: 0,
            pointer,
            message,
        })
    };
    if depth > 64 {
        err(
            errors,
            at.to_owned(),
            "groups nested deeper than 64 levels".into(),
        );
        return;
    }
    inv.group(name);
    let body = match body {
        Value::Null => return,
        Value::Object(m) => m,
        _ => {
            err(
                errors,
                at.to_owned(),
                format!(
                    "group `{}` must be a mapping with hosts, vars or children",
                    text_of(name)
                ),
            );
            return;
        }
    };
    for (key, v) in body {
        let here = format!("{at}/{}", crate::text::tok(key));
        match key.as_str() {
            "hosts" => match v {
                Value::Object(hosts) => {
                    for (pattern, hv) in hosts {
                        let hat = format!("{here}/{}", crate::text::tok(pattern));
                        let (pattern, port) = host_and_port(pattern);
                        let names = match expand_hosts(&pattern) {
                            Ok(n) => n,
                            Err(e) => {
                                err(errors, hat, e);
                                continue;
                            }
                        };
                        let mut vars = match hv {
                            Value::Object(m) => m.clone(),
                            Value::Null => Map::new(),
                            _ => {
                                err(errors, hat, "host variables must be a mapping".into());
                                Map::new()
                            }
                        };
                        if let Some(p) = port {
                            vars.insert("ansible_port".into(), Value::from(p));
                        }
                        for h in names {
                            inv.add_host(name, &h);
                            if let Some(own) = inv.hosts.get_mut(&h) {
                                own.extend(vars.clone());
                            }
                        }
                    }
                }
                Value::Null => {}
                _ => err(
                    errors,
                    here,
                    "`hosts` must be a mapping of host names".into(),
                ),
            },
            "vars" => match v {
                Value::Object(m) => inv.group(name).vars.extend(m.clone()),
                Value::Null => {}
                _ => err(errors, here, "`vars` must be a mapping".into()),
            },
            "children" => match v {
                Value::Object(children) => {
                    for (child, cb) in children {
                        if child == name {
                            err(
                                errors,
                                here.clone(),
                                format!("group `{}` cannot be its own child", text_of(name)),
                            );
                            continue;
                        }
                        inv.add_child(name, child);
                        yaml_group(
                            inv,
                            child,
                            cb,
                            &format!("{here}/{}", crate::text::tok(child)),
                            depth + 1,
                            errors,
                        );
                    }
                }
                Value::Null => {}
                _ => err(
                    errors,
                    here,
                    "`children` must be a mapping of group names".into(),
                ),
            },
            other => err(
                errors,
                here,
                format!(
                    "unknown group key `{}` (expected hosts, vars or children)",
                    text_of(other)
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_like_ansible() {
        assert_eq!(
            expand_hosts("web[01:03]").unwrap(),
            ["web01", "web02", "web03"]
        );
        assert_eq!(expand_hosts("db-[a:c]").unwrap(), ["db-a", "db-b", "db-c"]);
        assert_eq!(
            expand_hosts("n[0:10:5].x").unwrap(),
            ["n0.x", "n5.x", "n10.x"]
        );
        assert_eq!(
            expand_hosts("r[1:2]c[a:b]").unwrap(),
            ["r1ca", "r1cb", "r2ca", "r2cb"]
        );
        assert_eq!(expand_hosts("web[01:20]").unwrap().len(), 20);
        assert!(
            expand_hosts("web[01:100]").is_err(),
            "unequal widths with a leading zero"
        );
        assert!(expand_hosts("web[3:1]").is_err());
        assert!(expand_hosts("web[0:99999999999]").is_err());
        assert!(expand_hosts("web[1:2").is_err());
    }

    #[test]
    fn literals_and_words() {
        assert_eq!(python_literal("8080"), Value::from(8080));
        assert_eq!(python_literal("'8080'"), Value::from("8080"));
        assert_eq!(python_literal("True"), Value::Bool(true));
        assert_eq!(python_literal("web"), Value::from("web"));
        assert_eq!(shell_words("a b='x y' # c").unwrap(), ["a", "b='x y'"]);
    }
}
