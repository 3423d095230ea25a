//! `doppel detect`, `doppel forecast` and `doppel bench nab`: read `timestamp,value` files,
//! call `doppel-predict`, print the results. The library does the work; this module only
//! reads files and writes to the terminal.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use doppel_predict::bench::{self, CorpusFile};
use doppel_predict::detect::DetectorKind;
use doppel_predict::forecast::{self, Method};
use doppel_predict::{capacity, nab, series};

/// Output format of `doppel detect` and `doppel forecast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header line.
    Csv,
    /// A JSON array of row objects.
    Json,
}

/// Arguments of `doppel detect`.
#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    /// A `timestamp,value` CSV file (the NAB layout; a header line is optional).
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
}

/// Forecasting method for `doppel forecast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Doppel's seasonal profile plus damped Holt (the default).
    Doppel,
    /// The last value.
    Naive,
    /// The value one season (day or week) earlier.
    SeasonalNaive,
    /// Holt's linear smoothing with factors 0.3 and 0.1.
    Holt,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Doppel => Method::Doppel,
            MethodArg::Naive => Method::Naive,
            MethodArg::SeasonalNaive => Method::SeasonalNaive,
            MethodArg::Holt => Method::Holt,
        }
    }
}

/// Arguments of `doppel forecast`.
#[derive(Debug, clap::Args)]
pub struct ForecastArgs {
    /// A `timestamp,value` CSV file.
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// How far ahead: `90m`, `12h`, `7d`, `2w`.
    #[arg(long, default_value = "1d")]
    pub horizon: String,
    /// Coverage of the prediction interval.
    #[arg(long, default_value_t = 0.9)]
    pub level: f64,
    /// Forecasting method.
    #[arg(long, value_enum, default_value_t = MethodArg::Doppel)]
    pub method: MethodArg,
    /// The resource's capacity (same unit as the values): print when it will be full instead
    /// of the forecast rows, e.g. `full in 3d 4h (90% interval 2d 20h to 3d 16h)`.
    #[arg(long)]
    pub capacity: Option<f64>,
    /// With `--capacity`: fit the growth rate on this much recent history (default: all).
    #[arg(long)]
    pub fit_window: Option<String>,
    /// With `--capacity`: what the resource is, printed before the sentence
    /// (e.g. "disk /var on db-1").
    #[arg(long)]
    pub name: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
}

/// Arguments of `doppel bench nab`.
#[derive(Debug, clap::Args)]
pub struct NabArgs {
    /// The NAB data directory (its CSV files are found recursively; their paths relative to
    /// it are the keys of the labels).
    #[arg(value_name = "DATA_DIR")]
    pub data_dir: PathBuf,
    /// NAB's `combined_windows.json`.
    #[arg(value_name = "LABELS.json")]
    pub labels: PathBuf,
    /// NAB's `profiles.json` (default: NAB's standard, low-FP and low-FN profiles).
    #[arg(long)]
    pub profiles: Option<PathBuf>,
    /// Threads for running the detectors.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn read_series(path: &Path) -> anyhow::Result<series::Series> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    series::parse_csv(&text).with_context(|| format!("{}", path.display()))
}

/// Runs `doppel detect`.
pub fn run_detect(args: DetectArgs) -> anyhow::Result<ExitCode> {
    let s = read_series(&args.file)?;
    let rows = doppel_predict::detect::detect(&s);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        Format::Csv => {
            writeln!(out, "timestamp,value,anomaly_score,alert")?;
            for r in &rows {
                writeln!(
                    out,
                    "{},{},{:.6},{}",
                    r.timestamp, r.value, r.anomaly_score, r.alert
                )?;
            }
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `doppel forecast`.
pub fn run_forecast(args: ForecastArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.level > 0.0 && args.level < 1.0,
        "--level must be between 0 and 1"
    );
    let s = read_series(&args.file)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if let Some(cap) = args.capacity {
        let window = args
            .fit_window
            .as_deref()
            .map(series::parse_duration)
            .transpose()?;
        let e = capacity::exhaustion(&s, cap, window, args.level)?;
        match args.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, &e)?;
                writeln!(out)?;
            }
            Format::Csv => match &args.name {
                Some(n) => writeln!(out, "{n} {}", e.describe())?,
                None => writeln!(out, "{}", e.describe())?,
            },
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let horizon = series::parse_duration(&args.horizon)?;
    let f = forecast::forecast(&s, horizon, args.method.into(), args.level)?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &f)?;
            writeln!(out)?;
        }
        Format::Csv => {
            writeln!(out, "timestamp,forecast,lower,upper")?;
            for i in 0..f.mean.len() {
                writeln!(
                    out,
                    "{},{:.6},{:.6},{:.6}",
                    series::format_timestamp(f.timestamps[i]),
                    f.mean[i],
                    f.lower[i],
                    f.upper[i]
                )?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn collect(dir: &Path, root: &Path, out: &mut Vec<CorpusFile>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, root, out)?;
        } else if p.extension().is_some_and(|x| x == "csv") {
            let name = p
                .strip_prefix(root)?
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(CorpusFile {
                name,
                series: read_series(&p)?,
            });
        }
    }
    Ok(())
}

/// Runs `doppel bench nab`: every detector over the corpus, NAB scores per profile at the
/// detector's default threshold and at the corpus-best threshold, and forecast MASE.
pub fn run_nab(args: NabArgs) -> anyhow::Result<ExitCode> {
    let labels_text = std::fs::read_to_string(&args.labels)
        .with_context(|| format!("reading {}", args.labels.display()))?;
    let labels = nab::parse_labels(&labels_text)?;
    let profiles = match &args.profiles {
        Some(p) => nab::parse_profiles(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )?,
        None => nab::default_profiles(),
    };
    let mut corpus = Vec::new();
    collect(&args.data_dir, &args.data_dir, &mut corpus)?;
    anyhow::ensure!(
        !corpus.is_empty(),
        "no CSV files under {}",
        args.data_dir.display()
    );
    let unlabelled: Vec<&str> = corpus
        .iter()
        .filter(|f| !labels.contains_key(&f.name))
        .map(|f| f.name.as_str())
        .collect();
    anyhow::ensure!(
        unlabelled.is_empty(),
        "files without labels: {}",
        unlabelled.join(", ")
    );
    let results = bench::run(
        &corpus,
        &labels,
        &profiles,
        &DetectorKind::ALL,
        args.threads.max(1),
    );
    let mase = bench::mase_corpus(&corpus);
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = serde_json::json!({
            "files": corpus.len(),
            "windows": labels.values().map(Vec::len).sum::<usize>(),
            "detectors": results,
            "mase_last_day": mase,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "NAB: {} files, {} windows. Normalised scores (0 = null detector, 100 = perfect).\n",
        corpus.len(),
        labels.values().map(Vec::len).sum::<usize>()
    )?;
    out.write_all(bench::markdown(&results).as_bytes())?;
    writeln!(out)?;
    for r in &results {
        for p in &r.profiles {
            writeln!(
                out,
                "{:18} {:18} default threshold {:.6}: {:5.1} (missed {}, fp rows {}) | corpus-best {:.6}: {:5.1} (missed {}, fp rows {})",
                r.detector,
                p.profile,
                p.default.threshold,
                p.default.score,
                p.default.missed_windows,
                p.default.fp_rows,
                p.best.threshold,
                p.best.score,
                p.best.missed_windows,
                p.best.fp_rows
            )?;
        }
    }
    writeln!(
        out,
        "\nForecast of each series' last day, MASE (in-sample one-step naive scale):\n"
    )?;
    writeln!(out, "| method | mean | median | best on |")?;
    writeln!(out, "|---|---:|---:|---:|")?;
    for m in &mase {
        writeln!(
            out,
            "| {} | {:.3} | {:.3} | {} of {} |",
            m.method, m.mean, m.median, m.wins, m.series
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
