//! Builds the web UI (`ui/` at the repository root) with npm and Vite into `OUT_DIR/ui`, and
//! writes `OUT_DIR/ui_assets.rs`: the list of built files, embedded in the binary with
//! `include_bytes!` (see `src/ui.rs`).
//!
//! `npm ci` runs only when `ui/node_modules` is missing or was installed from another
//! `package-lock.json`; `npm run build` runs whenever the UI's sources change. Where npm is
//! missing or fails (offline, say), or `DOPPEL_SKIP_UI=1`, the build still succeeds: a warning
//! says why, and a page saying how to get the UI is embedded instead.

// Cargo reads a build script's instructions from its standard output.
#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files and folders whose change rebuilds the UI (relative to `ui/`; the example scenarios
/// are bundled into the scenario builder).
const INPUTS: [&str; 7] = [
    "../examples/scenarios",
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];

/// Where `npm ci` keeps the lockfile it installed from, to know when to install again.
const STAMP: &str = "node_modules/.doppel-installed-lock.json";

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let ui = manifest.join("..").join("..").join("ui");
    for input in INPUTS {
        println!("cargo:rerun-if-changed={}", ui.join(input).display());
    }
    println!("cargo:rerun-if-env-changed=DOPPEL_SKIP_UI");
    let dist = out.join("ui");
    let built = match build(&ui, &dist) {
        Ok(()) => true,
        Err(why) => {
            println!(
                "cargo:warning=the web UI was not built ({why}); the server will show a page \
                 saying how to get it: install Node.js 18+ and npm, then rebuild"
            );
            if let Err(e) = fallback(&dist) {
                println!("cargo:warning=could not write the UI's fallback page: {e}");
            }
            false
        }
    };
    if let Err(e) = write_assets(&dist, &out.join("ui_assets.rs"), built) {
        // Without the list the crate cannot compile; say why loudly.
        println!("cargo:warning=could not list the UI's files: {e}");
        std::process::exit(1);
    }
}

/// Installs (when needed) and builds the UI into `dist`.
fn build(ui: &Path, dist: &Path) -> Result<(), String> {
    if std::env::var("DOPPEL_SKIP_UI").is_ok_and(|v| v == "1") {
        return Err("DOPPEL_SKIP_UI=1".into());
    }
    if !ui.join("package.json").is_file() {
        return Err(format!("{} has no package.json", ui.display()));
    }
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let version = Command::new(npm)
        .arg("--version")
        .output()
        .map_err(|e| format!("npm not found: {e}"))?;
    if !version.status.success() {
        return Err("`npm --version` failed".into());
    }
    let lock = std::fs::read(ui.join("package-lock.json"))
        .map_err(|e| format!("ui/package-lock.json: {e}"))?;
    let installed = std::fs::read(ui.join(STAMP)).ok();
    if installed.as_deref() != Some(lock.as_slice()) {
        run(
            Command::new(npm)
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(ui),
            "npm ci",
        )?;
        std::fs::write(ui.join(STAMP), &lock).map_err(|e| format!("{STAMP}: {e}"))?;
    }
    run(
        Command::new(npm)
            .args(["run", "build", "--silent"])
            .env("DOPPEL_UI_OUT", dist)
            .current_dir(ui),
        "npm run build",
    )?;
    if !dist.join("index.html").is_file() {
        return Err("the UI build wrote no index.html".into());
    }
    Ok(())
}

/// Runs a command; its error output's last lines when it fails.
fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let tail: Vec<&str> = text.lines().rev().take(6).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!("{what} failed: {}", tail.join(" | ")))
}

/// The page served when the UI could not be built.
fn fallback(dist: &Path) -> std::io::Result<()> {
    if dist.exists() {
        std::fs::remove_dir_all(dist)?;
    }
    std::fs::create_dir_all(dist)?;
    std::fs::write(
        dist.join("index.html"),
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Doppel: web UI not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#1d2430;background:#f6f7f9}
code,pre{background:#e8ebf0;padding:.1rem .3rem;border-radius:4px}pre{padding:.6rem}
@media (prefers-color-scheme: dark){body{color:#e6e9ef;background:#12161c}code,pre{background:#252b35}}</style></head>
<body><h1>The web UI was not built into this binary</h1>
<p>This <code>doppel</code> was compiled without Node.js and npm (or with <code>DOPPEL_SKIP_UI=1</code>),
so it has no web UI. The API works: see <a href="/api/openapi.json">/api/openapi.json</a>.</p>
<p>To get the UI, install Node.js 18 or newer with npm (Debian: <code>apt-get install nodejs npm</code>),
then rebuild from the repository root; the build runs <code>npm ci</code> and <code>npm run build</code> in <code>ui/</code> itself:</p>
<pre>cargo build --release -p doppel-cli</pre>
<p>The build's warnings say why the UI was left out.</p></body></html>
"#,
    )
}

/// Writes the Rust list of `dist`'s files.
fn write_assets(dist: &Path, to: &Path, built: bool) -> std::io::Result<()> {
    let mut files = Vec::new();
    collect(dist, dist, &mut files)?;
    files.sort();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "/// Whether the UI was built (false: only the page saying how to get it).\npub const BUILT: bool = {built};"
    );
    let _ = writeln!(
        s,
        "/// The built files: path relative to the root (with `/`), contents.\npub static FILES: &[(&str, &[u8])] = &["
    );
    for (rel, abs) in &files {
        let _ = writeln!(s, "    ({rel:?}, include_bytes!({abs:?})),");
    }
    s.push_str("];\n");
    std::fs::write(to, s)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((rel.join("/"), path.display().to_string()));
        }
    }
    Ok(())
}
