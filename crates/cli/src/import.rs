//! `doppel import SOURCE PATH... [--into TWIN]` and `doppel diff A B`: build a twin from the
//! sources of truth teams keep, merge it into an existing twin file (written atomically: to a
//! temporary file beside it, then renamed), and compare two versions of a twin.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use doppel_import::{Input, MAX_INPUT_BYTES, Source};
use doppel_model::Twin;

/// Build a twin from Terraform, Kubernetes, Ansible, NetBox or traces; print it, or merge it
/// into a twin file. Prints diagnostics as `FILE:LINE:COL: POINTER: SEVERITY: message`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// What the files are: terraform (`terraform show -json` of a state or plan, or a raw v4
    /// state), k8s (manifests), ansible (INI or YAML inventories), netbox (REST API JSON),
    /// otlp (OTLP/HTTP traces, JSON or protobuf) or jaeger (Jaeger JSON traces).
    #[arg(value_name = "SOURCE", value_parser = parse_source)]
    pub source: Source,
    /// Files to read; a directory means the files in it (not recursive). For `netbox`, also
    /// an API URL such as `https://netbox.example.com/api/dcim/devices/` (all pages are read;
    /// the token comes from the `NETBOX_TOKEN` environment variable).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Merge into this twin file (created when missing) and write it back. Without it the
    /// imported twin is printed.
    #[arg(long, value_name = "TWIN")]
    pub into: Option<PathBuf>,
    /// Output format when printing: yaml or json.
    #[arg(long, value_enum, default_value_t = OutputFormat::Yaml)]
    pub format: OutputFormat,
    /// Exit 1 when merging finds conflicts (the twin is still written).
    #[arg(long)]
    pub strict: bool,
    /// On a conflict take the imported value instead of keeping the twin's (to refresh a twin
    /// from new traces or a new state). Conflicts are reported either way.
    #[arg(long)]
    pub prefer_new: bool,
    /// Show what would change in `--into` without writing it.
    #[arg(long, requires = "into")]
    pub dry_run: bool,
}

/// Show the entities added, removed or changed between two versions of a twin, by stable id.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The older twin file.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The newer twin file.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Output format: text (`+ service:cart`, `- host:h2`, `~ host:h1: cores`) or json.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Exit 1 when the twins differ (as `git diff --exit-code`).
    #[arg(long)]
    pub exit_code: bool,
}

/// How `doppel import` prints a twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// YAML, as `doppel.yaml` is written.
    Yaml,
    /// JSON (also valid YAML).
    Json,
}

/// How `doppel diff` prints changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// One line per entity.
    Text,
    /// `[{"id": ..., "change": "added"|"removed"|"changed", "fields": [...]}]`.
    Json,
}

fn parse_source(s: &str) -> Result<Source, String> {
    s.parse::<Source>().map_err(|e| e.to_string())
}

/// The files a path names: itself, or the files directly inside a directory, sorted.
fn files_of(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    for entry in
        std::fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))?
    {
        let p = entry?.path();
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if p.is_file() && !hidden {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a file, refusing one larger than the importers accept before reading it.
fn read_bounded(path: &Path) -> anyhow::Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if len > MAX_INPUT_BYTES as u64 {
        anyhow::bail!(
            "{}: {len} bytes is more than the {MAX_INPUT_BYTES} an import accepts",
            path.display()
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes `text` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over `path`. A crash leaves either the old file or the new one.
pub fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("the twin path has no file name")?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn render(twin: &Twin, format: OutputFormat, header: &str) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Yaml => doppel_import::to_yaml(twin, Some(header))?,
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(twin)?;
            s.push('\n');
            s
        }
    })
}

fn counts(t: &Twin) -> String {
    let parts = [
        (t.hosts.len(), "hosts"),
        (t.services.len(), "services"),
        (t.networks.len(), "networks"),
        (t.subnets.len(), "subnets"),
        (t.security_groups.len(), "security groups"),
        (t.network_policies.len(), "network policies"),
        (t.routers.len(), "routers"),
        (t.links.len(), "links"),
        (t.workloads.len(), "workloads"),
    ];
    let shown: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if shown.is_empty() {
        "nothing".into()
    } else {
        shown.join(", ")
    }
}

/// Reads every page of a NetBox REST list endpoint (e.g. `.../api/dcim/devices/`), following
/// its `next` links, and returns them as one list response. GET only: Doppel never writes to
/// the systems it mirrors. The API token comes from `NETBOX_TOKEN` and is never printed.
fn fetch_netbox(url: &str) -> anyhow::Result<Vec<u8>> {
    const MAX_PAGES: usize = 10_000;
    let token = std::env::var("NETBOX_TOKEN").ok().filter(|t| !t.is_empty());
    let mut results = Vec::new();
    let mut next = Some(url.to_owned());
    let mut pages = 0usize;
    while let Some(page) = next.take() {
        pages += 1;
        if pages > MAX_PAGES {
            anyhow::bail!("{url}: more than {MAX_PAGES} pages; narrow the query");
        }
        let mut request = ureq::get(&page).header("Accept", "application/json");
        if let Some(t) = &token {
            request = request.header("Authorization", &format!("Token {t}"));
        }
        let mut response = request.call().with_context(|| format!("GET {page}"))?;
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_INPUT_BYTES as u64)
            .read_to_vec()
            .with_context(|| format!("reading {page}"))?;
        let value: serde_json::Value = serde_json::from_slice(&body)
            .with_context(|| format!("{page}: the response is not JSON"))?;
        match value.get("results").and_then(serde_json::Value::as_array) {
            Some(items) => {
                results.extend(items.iter().cloned());
                next = value
                    .get("next")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned);
            }
            // A single object (`.../devices/7/`): hand it over as it is.
            None if pages == 1 => return Ok(body),
            None => anyhow::bail!("{page}: a page without `results`"),
        }
    }
    let all = serde_json::json!({"count": results.len(), "next": null, "previous": null, "results": results});
    Ok(serde_json::to_vec(&all)?)
}

/// Runs `doppel import`.
pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut names = Vec::new();
    let mut contents = Vec::new();
    for p in &args.paths {
        let text = p.display().to_string();
        if text.starts_with("http://") || text.starts_with("https://") {
            if args.source != Source::Netbox {
                anyhow::bail!("only `netbox` reads from a URL; {text} is not a file");
            }
            contents.push(fetch_netbox(&text)?);
            names.push(text);
            continue;
        }
        for f in files_of(p)? {
            contents.push(read_bounded(&f)?);
            names.push(f.display().to_string());
        }
    }
    let inputs: Vec<Input<'_>> = names
        .iter()
        .zip(&contents)
        .map(|(name, bytes)| Input { name, bytes })
        .collect();
    let result = doppel_import::import(args.source, &inputs);
    let mut err = std::io::stderr().lock();
    for d in &result.diagnostics {
        writeln!(err, "{d}")?;
    }
    let mut failed = result.has_errors();
    let header = format!(
        "Written by `doppel import {}`; edit freely: re-imports merge by name and report conflicts.",
        args.source
    );

    let Some(into) = &args.into else {
        let text = render(&result.delta, args.format, &header)?;
        std::io::stdout().lock().write_all(text.as_bytes())?;
        writeln!(
            err,
            "imported {} from {} files",
            counts(&result.delta),
            inputs.len()
        )?;
        return Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    };

    let base = if into.exists() {
        let loaded = doppel_model::load(std::slice::from_ref(into), |p| std::fs::read(p));
        if !loaded.is_valid() {
            for d in loaded.errors() {
                writeln!(err, "{d}")?;
            }
            writeln!(
                err,
                "error: {} has errors; fix them before importing into it",
                into.display()
            )?;
            return Ok(ExitCode::from(1));
        }
        if loaded.files.len() > 1 {
            anyhow::bail!(
                "{} includes other files; import into a file of its own and list it under `include`",
                into.display()
            );
        }
        loaded.twin
    } else {
        Twin::default()
    };
    let prefer = if args.prefer_new {
        doppel_import::Prefer::Delta
    } else {
        doppel_import::Prefer::Base
    };
    let (merged, conflicts) = doppel_import::merge_with(&base, &result.delta, prefer);
    for c in &conflicts {
        writeln!(err, "conflict: {c}")?;
    }
    let changes = doppel_import::diff(&base, &merged);
    let mut out = std::io::stdout().lock();
    for c in &changes {
        writeln!(out, "{c}")?;
    }
    // Never write a twin that does not load.
    let json = serde_json::to_string(&merged)?;
    let check = doppel_model::load_str(&into.display().to_string(), &json);
    if !check.is_valid() {
        for d in check.errors() {
            writeln!(err, "{d}")?;
        }
        writeln!(
            err,
            "error: the merged twin is invalid; {} is left as it was",
            into.display()
        )?;
        return Ok(ExitCode::from(1));
    }
    if args.dry_run {
        writeln!(
            err,
            "dry run: {} changes, {} conflicts; nothing written",
            changes.len(),
            conflicts.len()
        )?;
    } else if changes.is_empty() && into.exists() {
        writeln!(
            err,
            "{} is up to date ({} conflicts)",
            into.display(),
            conflicts.len()
        )?;
    } else {
        let text = render(&merged, OutputFormat::Yaml, &header)?;
        write_atomically(into, &text)?;
        writeln!(
            err,
            "wrote {}: {} changes, {} conflicts; it holds {}",
            into.display(),
            changes.len(),
            conflicts.len(),
            counts(&merged)
        )?;
    }
    failed |= args.strict && !conflicts.is_empty();
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `doppel diff`.
pub fn run_diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let mut err = std::io::stderr().lock();
    let mut twins = Vec::new();
    for path in [&args.a, &args.b] {
        let loaded = doppel_model::load(std::slice::from_ref(path), |p| std::fs::read(p));
        if !loaded.is_valid() {
            for d in loaded.errors() {
                writeln!(err, "{d}")?;
            }
            return Ok(ExitCode::from(1));
        }
        twins.push(loaded.twin);
    }
    let changes = doppel_import::diff(&twins[0], &twins[1]);
    let mut out = std::io::stdout().lock();
    match args.format {
        DiffFormat::Text => {
            for c in &changes {
                writeln!(out, "{c}")?;
            }
        }
        DiffFormat::Json => {
            let list: Vec<serde_json::Value> = changes
                .iter()
                .map(|c| {
                    let (kind, fields) = match &c.kind {
                        doppel_import::ChangeKind::Added => ("added", Vec::new()),
                        doppel_import::ChangeKind::Removed => ("removed", Vec::new()),
                        doppel_import::ChangeKind::Changed(f) => ("changed", f.clone()),
                    };
                    serde_json::json!({"id": c.id, "change": kind, "fields": fields})
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
    }
    Ok(if args.exit_code && !changes.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
