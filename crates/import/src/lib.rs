//! Importers that build a Doppel twin from the sources of truth teams already keep:
//! Terraform (`terraform show -json` and raw v4 state), Kubernetes manifests, Ansible
//! inventories, NetBox REST JSON and traces (OTLP JSON and protobuf, Jaeger JSON); plus
//! [`merge()`] and [`diff()`] of twins and a YAML writer.
//!
//! Every importer takes the bytes of one or more files (this crate does no IO: the caller reads
//! them) and returns an [`ImportResult`]: a partial twin (the *delta*) and [`Diagnostic`]s that
//! name the file, line, column and JSON Pointer of every problem. No input makes an importer
//! panic. Secrets (Terraform values marked sensitive, fields named like secrets, values shaped
//! like keys or tokens) are never copied into the delta or into a diagnostic: see [`redact`].
//!
//! ```
//! use doppel_import::{Input, Source, import};
//! let manifest = b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers: [{name: web, image: 'nginx:1.27'}]\n";
//! let result = import(Source::Kubernetes, &[Input { name: "web.yaml", bytes: manifest }]);
//! assert_eq!(result.delta.services["web"].replicas, Some(2));
//! assert_eq!(result.delta.services["web"].version.as_deref(), Some("1.27"));
//! ```

pub mod access_log;
pub mod ansible;
pub mod diag;
pub mod kubernetes;
pub mod merge;
pub mod netbox;
pub mod otlp_metrics;
mod otlp_wire;
pub mod redact;
pub mod terraform;
mod text;
pub mod traces;
pub mod yaml_out;

use std::fmt;
use std::str::FromStr;

use doppel_model::Twin;

pub use diag::{Diagnostic, Severity};
pub use merge::{Change, ChangeKind, Conflict, Prefer, diff, merge, merge_with};
pub use yaml_out::to_yaml;

/// Largest input file accepted, in bytes; larger files get an error diagnostic and are skipped.
pub const MAX_INPUT_BYTES: usize = 256 * 1024 * 1024;

/// One input file: its name as the user gave it (used in diagnostics and provenance) and its
/// bytes.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The file name or URL the bytes came from.
    pub name: &'a str,
    /// The file's contents.
    pub bytes: &'a [u8],
}

/// What an importer produced: a partial twin and the problems met on the way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportResult {
    /// The entities the sources describe, to be merged into a twin with [`merge()`].
    pub delta: Twin,
    /// Problems and notes, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl ImportResult {
    /// True when some diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The kinds of source an importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// `terraform show -json` (state or plan) or a raw state file (format version 4).
    Terraform,
    /// Kubernetes manifests, one or many YAML documents per file.
    Kubernetes,
    /// Ansible inventories, INI or YAML.
    Ansible,
    /// NetBox REST API JSON (devices, interfaces, cables, prefixes, virtual machines).
    Netbox,
    /// OpenTelemetry traces as OTLP/HTTP sends them: JSON or protobuf (told apart by content).
    Otlp,
    /// Jaeger JSON (as the Jaeger UI and API export traces).
    Jaeger,
}

impl Source {
    /// Every source, in the order the CLI lists them.
    pub const ALL: [Source; 6] = [
        Source::Terraform,
        Source::Kubernetes,
        Source::Ansible,
        Source::Netbox,
        Source::Otlp,
        Source::Jaeger,
    ];

    /// The name used in provenance blocks and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Terraform => "terraform",
            Source::Kubernetes => "kubernetes",
            Source::Ansible => "ansible",
            Source::Netbox => "netbox",
            Source::Otlp => "otlp",
            Source::Jaeger => "jaeger",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source name that is not one of [`Source::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown source `{0}`; expected terraform, k8s (kubernetes), ansible, netbox, otlp or jaeger"
)]
pub struct UnknownSource(pub String);

impl FromStr for Source {
    type Err = UnknownSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "terraform" | "tf" => Source::Terraform,
            "kubernetes" | "k8s" => Source::Kubernetes,
            "ansible" => Source::Ansible,
            "netbox" => Source::Netbox,
            "otlp" | "otel" | "opentelemetry" => Source::Otlp,
            "jaeger" => Source::Jaeger,
            _ => return Err(UnknownSource(s.to_owned())),
        })
    }
}

/// An importer: reads every input of one kind of source into one partial twin.
pub trait Importer {
    /// Which source this importer reads.
    fn source(&self) -> Source;
    /// Reads the inputs. Implementations never panic and report every problem as a diagnostic.
    fn import(&self, inputs: &[Input<'_>]) -> ImportResult;
}

/// The importer for a source.
pub fn importer(source: Source) -> &'static dyn Importer {
    match source {
        Source::Terraform => &terraform::Terraform,
        Source::Kubernetes => &kubernetes::Kubernetes,
        Source::Ansible => &ansible::Ansible,
        Source::Netbox => &netbox::Netbox,
        Source::Otlp => &traces::Otlp,
        Source::Jaeger => &traces::Jaeger,
    }
}

/// Runs the importer for `source` on `inputs`, then applies the last line of secret defence
/// ([`redact::scrub_result`]) and sorts the diagnostics.
pub fn import(source: Source, inputs: &[Input<'_>]) -> ImportResult {
    let mut result = importer(source).import(inputs);
    redact::scrub_result(&mut result);
    diag::sort(&mut result.diagnostics);
    result
}
