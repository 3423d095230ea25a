//! Loading a twin from one or more files: decode, parse, check against the schema, follow
//! `include`, merge, then validate the whole; every problem becomes a positioned
//! [`Diagnostic`].
//!
//! The crate does no IO: the caller passes a `read` function (the CLI reads files, tests read
//! from memory). An entity that fails the schema is left out of the merged twin but its name
//! stays known, so one typo does not also produce a cascade of "unknown service" errors.

use std::collections::{HashMap, HashSet};
use std::path::{Path as FsPath, PathBuf};

use serde_json::Value;

use crate::diag::{self, Diagnostic, Path, Seg, Severity};
use crate::ids::{EntityId, Kind};
use crate::twin::{Provenance, Twin};
use crate::validate;
use crate::yaml::{self, Loc, SpanIndex};

/// A twin read from files, with every problem found and the map back to the sources.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The merged twin (entities that failed the schema are left out).
    pub twin: Twin,
    /// All problems, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The files read, in the order they were read.
    pub files: Vec<String>,
    spans: Vec<SpanIndex>,
    /// (section, name) → index of the file that defined it.
    owners: HashMap<(String, String), usize>,
}

impl Loaded {
    /// True when no diagnostic is an error.
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Only the errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The file and position of a node of the merged twin, given its path. Entities are
    /// found in the file that defined them; top-level fields in the first file.
    pub fn locate(&self, path: &Path, at_key: bool) -> (String, Loc) {
        let file = match path.0.as_slice() {
            [Seg::Key(section), Seg::Key(name), ..] => self
                .owners
                .get(&(section.clone(), name.clone()))
                .copied()
                .unwrap_or(0),
            _ => 0,
        };
        let name = self.files.get(file).cloned().unwrap_or_default();
        let Some(spans) = self.spans.get(file) else {
            return (name, Loc::default());
        };
        let pointer = path.pointer();
        (
            name,
            if at_key {
                spans.key(&pointer)
            } else {
                spans.value(&pointer)
            },
        )
    }

    /// Where an entity's facts came from: its own `provenance` block if an importer wrote
    /// one, otherwise the file and line that define it.
    pub fn provenance(&self, id: &EntityId) -> Option<Provenance> {
        let explicit = self.twin.stated_provenance(id).cloned();
        if explicit.is_some() {
            return explicit;
        }
        let (top, rest) = match id.name.split_once('/') {
            Some((svc, child)) if matches!(id.kind, Kind::Endpoint | Kind::Instance) => {
                let sub = if id.kind == Kind::Endpoint {
                    "endpoints"
                } else {
                    "instances"
                };
                (svc, Some((sub, child)))
            }
            _ => (id.name.as_str(), None),
        };
        let mut path = Path::of([id.kind.section(), top]);
        if let Some((sub, child)) = rest {
            path = path.key(sub).key(child);
        }
        self.owners
            .get(&(id.kind.section().to_owned(), top.to_owned()))?;
        let (name, loc) = self.locate(&path, true);
        Some(Provenance {
            source: "file".into(),
            file: Some(format!("{name}:{}", loc.line)),
            reference: None,
            observed_at: None,
            fields: Default::default(),
        })
    }
}

/// Reads a twin from `roots` (and the files they include) with `read`.
pub fn load<P: AsRef<FsPath>>(
    roots: &[P],
    mut read: impl FnMut(&FsPath) -> std::io::Result<Vec<u8>>,
) -> Loaded {
    let mut loaded = Loaded::default();
    let mut broken: HashSet<(Kind, String)> = HashSet::new();
    let mut queue: Vec<PathBuf> = roots.iter().map(|p| p.as_ref().to_path_buf()).collect();
    queue.reverse();
    let mut seen: HashSet<PathBuf> = HashSet::new();

    // Files that could not be parsed at all: the names they define are unknown.
    let mut unparsed: Vec<String> = Vec::new();
    while let Some(file) = queue.pop() {
        let key = normalize(&file);
        if !seen.insert(key) {
            continue;
        }
        let name = file.display().to_string();
        let file_index = loaded.files.len();
        loaded.files.push(name.clone());
        let file_diag = |loc: Loc, path: Path, message: String, diags: &mut Vec<Diagnostic>| {
            diags.push(Diagnostic {
                file: name.clone(),
                loc,
                severity: Severity::Error,
                path,
                message,
            });
        };

        let bytes = match read(&file) {
            Ok(b) => b,
            Err(e) => {
                file_diag(
                    Loc { line: 1, col: 1 },
                    Path::root(),
                    format!("cannot read file: {e}"),
                    &mut loaded.diagnostics,
                );
                loaded.spans.push(SpanIndex::default());
                continue;
            }
        };
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t,
            Err(e) => {
                let good = &bytes[..e.valid_up_to()];
                let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
                let col = 1 + good.iter().rev().take_while(|&&b| b != b'\n').count();
                let loc = Loc {
                    line: u32::try_from(line).unwrap_or(u32::MAX),
                    col: u32::try_from(col).unwrap_or(u32::MAX),
                };
                file_diag(
                    loc,
                    Path::root(),
                    "file is not valid UTF-8".into(),
                    &mut loaded.diagnostics,
                );
                loaded.spans.push(SpanIndex::default());
                continue;
            }
        };
        let (mut value, spans) = match yaml::parse(text) {
            Ok(parsed) => {
                for e in parsed.errors {
                    let path = Path::from_pointer(&e.pointer, &parsed.value);
                    file_diag(e.loc, path, e.message, &mut loaded.diagnostics);
                }
                (parsed.value, parsed.index)
            }
            Err(errors) => {
                for e in errors {
                    let path = Path::from_pointer(&e.pointer, &Value::Null);
                    file_diag(e.loc, path, e.message, &mut loaded.diagnostics);
                }
                loaded.spans.push(SpanIndex::default());
                unparsed.push(name.clone());
                continue;
            }
        };
        if !value.is_object() {
            let loc = spans.value("");
            file_diag(
                loc,
                Path::root(),
                format!(
                    "a twin file is a mapping of sections, found {}",
                    crate::schema::describe(&value)
                ),
                &mut loaded.diagnostics,
            );
            loaded.spans.push(spans);
            continue;
        }

        // Includes are followed even when the rest of the file has problems.
        if let Some(Value::Array(items)) = value.get("include") {
            let base = file.parent().unwrap_or(FsPath::new(""));
            for item in items.iter().rev() {
                if let Value::String(inc) = item {
                    queue.push(base.join(inc));
                }
            }
        }

        let problems = crate::schema::check(&value);
        for p in &problems {
            let pointer = p.path.pointer();
            let loc = if p.at_key {
                spans.key(&pointer)
            } else {
                spans.value(&pointer)
            };
            let message = match (
                p.message.split_once(" (write it in quotes"),
                raw_token(text, loc),
            ) {
                // Show the number as written: `1.10`, not the `1.1` it parsed to.
                (Some((head, _)), Some(raw)) => format!("{head} (write it in quotes: \"{raw}\")"),
                _ => p.message.clone(),
            };
            file_diag(loc, p.path.clone(), message, &mut loaded.diagnostics);
            prune(&mut value, &p.path, &mut broken);
        }
        // The schema admits almost only what decodes; what it cannot express (a CIDR prefix
        // over 32, an address like 10.0.0.300) fails here, one error at a time, and the entity
        // is pruned like a schema failure until the rest decodes.
        let part: Twin = loop {
            match serde_path_to_error::deserialize::<_, Twin>(&value) {
                Ok(t) => break t,
                Err(e) => {
                    let path = decode_path(e.path());
                    let loc = spans.value(&path.pointer());
                    file_diag(
                        loc,
                        path.clone(),
                        e.into_inner().to_string(),
                        &mut loaded.diagnostics,
                    );
                    let before = value.clone();
                    prune(&mut value, &path, &mut broken);
                    if value == before {
                        break Twin::default();
                    }
                }
            }
        };
        loaded.spans.push(spans);
        merge(&mut loaded, part, file_index);
    }

    // Without every file's names, reference checks would only produce noise.
    if !unparsed.is_empty() && unparsed.len() < loaded.files.len() {
        let first = loaded.files.first().cloned().unwrap_or_default();
        loaded.diagnostics.push(Diagnostic {
            file: first,
            loc: Loc { line: 1, col: 1 },
            severity: Severity::Warning,
            path: Path::root(),
            message: format!(
                "cross-references not checked until {} can be parsed",
                unparsed.join(", ")
            ),
        });
    }
    if !unparsed.is_empty() {
        diag::sort(&mut loaded.diagnostics);
        return loaded;
    }
    for problem in validate::check(&loaded.twin, &broken) {
        let (file, loc) = loaded.locate(&problem.path, problem.at_key);
        loaded.diagnostics.push(Diagnostic {
            file,
            loc,
            severity: problem.severity,
            path: problem.path,
            message: problem.message,
        });
    }
    diag::sort(&mut loaded.diagnostics);
    loaded
}

/// Parses and validates a twin held in memory under the name `name` (its includes are
/// reported as unreadable).
pub fn load_str(name: &str, text: &str) -> Loaded {
    let owned = text.as_bytes().to_vec();
    load(&[name], |p| {
        if p == FsPath::new(name) {
            Ok(owned.clone())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file",
            ))
        }
    })
}

/// Converts serde's path of a decoding error to ours.
fn decode_path(p: &serde_path_to_error::Path) -> Path {
    use serde_path_to_error::Segment;
    Path(
        p.iter()
            .filter_map(|seg| match seg {
                Segment::Seq { index } => Some(Seg::Index(*index)),
                Segment::Map { key } => Some(Seg::Key(key.clone())),
                Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
                Segment::Unknown => None,
            })
            .collect(),
    )
}

/// The plain scalar starting at `loc`, as written in the source.
fn raw_token(text: &str, loc: Loc) -> Option<&str> {
    let line = text
        .lines()
        .nth(usize::try_from(loc.line).ok()?.checked_sub(1)?)?;
    let start = line
        .char_indices()
        .nth(usize::try_from(loc.col).ok()?.checked_sub(1)?)?
        .0;
    let rest = &line[start..];
    let end = rest.find([',', '}', ']', '#']).unwrap_or(rest.len());
    let token = rest[..end].trim();
    (!token.is_empty()).then_some(token)
}

/// Lexically normalises `a/./b/../c` to `a/c` so a file included twice is read once.
fn normalize(p: &FsPath) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Sections that are maps of named entities, and the kind of entity each holds.
const MAP_SECTIONS: [(&str, Kind); 15] = [
    ("regions", Kind::Region),
    ("zones", Kind::Zone),
    ("racks", Kind::Rack),
    ("clusters", Kind::Cluster),
    ("hosts", Kind::Host),
    ("networks", Kind::Network),
    ("subnets", Kind::Subnet),
    ("routers", Kind::Router),
    ("links", Kind::Link),
    ("security_groups", Kind::SecurityGroup),
    ("network_policies", Kind::NetworkPolicy),
    ("services", Kind::Service),
    ("workloads", Kind::Workload),
    ("slos", Kind::Slo),
    ("credentials", Kind::Credential),
];

/// Removes the smallest unit containing a schema error so the rest can still be decoded: the
/// named entity, or the offending top-level field. Removed entities' names stay known.
fn prune(value: &mut Value, path: &Path, broken: &mut HashSet<(Kind, String)>) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    let Some(Seg::Key(section)) = path.0.first() else {
        obj.clear();
        return;
    };
    let kind = MAP_SECTIONS
        .iter()
        .find(|(s, _)| s == section)
        .map(|&(_, k)| k);
    match (kind, path.0.get(1), obj.get_mut(section)) {
        // A broken endpoint takes only itself out, not its whole service.
        (Some(Kind::Service), Some(Seg::Key(name)), Some(Value::Object(entities)))
            if matches!(path.0.get(2), Some(Seg::Key(k)) if k == "endpoints")
                && matches!(path.0.get(3), Some(Seg::Key(_))) =>
        {
            let Some(Seg::Key(endpoint)) = path.0.get(3) else {
                return;
            };
            if let Some(Value::Object(eps)) = entities
                .get_mut(name)
                .and_then(|svc| svc.get_mut("endpoints"))
            {
                eps.shift_remove(endpoint);
            }
            broken.insert((Kind::Endpoint, format!("{name}/{endpoint}")));
        }
        (Some(kind), Some(Seg::Key(name)), Some(Value::Object(entities))) => {
            entities.shift_remove(name);
            broken.insert((kind, name.clone()));
        }
        (Some(kind), _, Some(Value::Object(entities))) => {
            broken.extend(entities.keys().map(|name| (kind, name.clone())));
            obj.remove(section);
        }
        _ => {
            obj.remove(section);
        }
    }
}

/// Merges one file's part into the twin, reporting names defined twice.
fn merge(loaded: &mut Loaded, part: Twin, file: usize) {
    let Twin {
        doppel: _,
        name,
        description,
        include,
        regions,
        zones,
        racks,
        clusters,
        hosts,
        networks,
        subnets,
        routers,
        links,
        security_groups,
        network_policies,
        services,
        workloads,
        slos,
        credentials,
    } = part;
    let t = &mut loaded.twin;
    if t.name.is_none() {
        t.name = name;
    }
    if t.description.is_none() {
        t.description = description;
    }
    t.include.extend(include);
    let mut dups = Vec::new();
    macro_rules! merge_map {
        ($field:ident, $kind:expr) => {
            for (k, v) in $field {
                let key = ($kind.section().to_owned(), k.clone());
                if loaded.owners.contains_key(&key) {
                    dups.push(($kind, k));
                } else {
                    loaded.owners.insert(key, file);
                    loaded.twin.$field.insert(k, v);
                }
            }
        };
    }
    merge_map!(regions, Kind::Region);
    merge_map!(zones, Kind::Zone);
    merge_map!(racks, Kind::Rack);
    merge_map!(clusters, Kind::Cluster);
    merge_map!(hosts, Kind::Host);
    merge_map!(networks, Kind::Network);
    merge_map!(subnets, Kind::Subnet);
    merge_map!(routers, Kind::Router);
    merge_map!(links, Kind::Link);
    merge_map!(security_groups, Kind::SecurityGroup);
    merge_map!(network_policies, Kind::NetworkPolicy);
    merge_map!(services, Kind::Service);
    merge_map!(workloads, Kind::Workload);
    merge_map!(slos, Kind::Slo);
    merge_map!(credentials, Kind::Credential);
    for (kind, name) in dups {
        let path = Path::of([kind.section(), name.as_str()]);
        let here = loaded
            .spans
            .get(file)
            .map(|s| s.key(&path.pointer()))
            .unwrap_or_default();
        let (first_file, first_loc) = loaded.locate(&path, true);
        loaded.diagnostics.push(Diagnostic {
            file: loaded.files[file].clone(),
            loc: here,
            severity: Severity::Error,
            path,
            message: format!(
                "{kind} `{name}` is already defined at {first_file}:{}:{}",
                first_loc.line, first_loc.col
            ),
        });
    }
}
