//! Runs the NAB benchmark on a data directory: `cargo run --release -p doppel-predict --example
//! nab_bench -- DATA_DIR LABELS.json [PROFILES.json]`. The CLI's `doppel bench nab` does the
//! same; this example exists so the library can be measured on its own. `DETECTORS=doppel,holt`
//! limits the detectors; `DOPPEL=window=500,refractory=300` overrides Doppel's settings (for
//! measuring alternatives: the defaults are what ships); `PER_FILE=1` prints each file's share;
//! `WINDOWS=1` prints, per file, the largest score outside windows and per window the largest
//! score inside it and where the first alert falls; `DUMP=NAME` prints the rows and scores of
//! the files whose name contains `NAME`; `FPS=1` lists every alert outside the windows
//! after the probation period (file, row, score). `CV=1` cross-validates the global settings, leaving
//! one category out at a time (see `bench::cross_validate`): the threshold alone, then the
//! candidate settings in `CV_GRID` (`;`-separated `DOPPEL`-style overrides of the defaults)
//! with the default threshold and with NAB's optimiser; `DOPPEL` overrides apply to every
//! candidate, so a variant can be cross-validated as if it were the defaults.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;

use doppel_predict::bench::{self, CorpusFile};
use doppel_predict::detect::DetectorKind;
use doppel_predict::doppel::{Doppel, DoppelConfig};
use doppel_predict::{nab, series};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn collect(dir: &Path, root: &Path, out: &mut Vec<CorpusFile>) -> Res<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            collect(&p, root, out)?;
        } else if p.extension().is_some_and(|x| x == "csv") {
            let name = p.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
            let series = series::parse_csv(&std::fs::read_to_string(&p)?)
                .map_err(|e| format!("{}: {e}", p.display()))?;
            out.push(CorpusFile { name, series });
        }
    }
    Ok(())
}

fn config() -> Res<DoppelConfig> {
    config_from(std::env::var("DOPPEL").ok())
}

fn config_from(spec: Option<String>) -> Res<DoppelConfig> {
    let mut c = DoppelConfig::default();
    if let Some(v) = spec {
        for kv in v.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').ok_or("DOPPEL: key=value")?;
            let f: f64 = v.parse()?;
            match k {
                "window" => c.window = f as usize,
                "history" => c.history = f as usize,
                "q" => c.reference_quantile = f,
                "warmup" => c.warmup = f as usize,
                "alpha" => c.fast_alpha = f,
                "shift_rows" => c.shift_rows = f as usize,
                "days" => c.seasonal_days = f as usize,
                "jitter" => c.seasonal_jitter = f,
                "forecast_view" => c.forecast_view = f > 0.0,
                "sshift" => c.seasonal_shift_rows = f as usize,
                "lshift" => c.long_shift_rows = f as usize,
                "dshift" => c.day_shift_rows = f as usize,
                "agreement" => c.agreement = f,
                "young" => c.short_history_exponent = f,
                "refractory" => c.refractory = f as usize,
                "damping" => c.refractory_damping = f,
                "threshold" => c.alert_threshold = f,
                other => c.extra.push((other.to_string(), f)),
            }
        }
    }
    Ok(c)
}

fn cross_validation(
    corpus: &[CorpusFile],
    labels: &nab::Labels,
    profiles: &[nab::Profile],
) -> Res<()> {
    let grid: Vec<String> = std::iter::once(String::new())
        .chain(
            std::env::var("CV_GRID")
                .unwrap_or_default()
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        )
        .collect();
    // `DOPPEL` overrides apply to every candidate (the first is `DOPPEL` alone).
    let base = std::env::var("DOPPEL").unwrap_or_default();
    let mut candidates = Vec::new();
    for spec in &grid {
        let c = config_from(Some(format!("{base},{spec}")))?;
        let t = std::time::Instant::now();
        candidates.push(bench::run_with(
            corpus,
            &move || Box::new(Doppel::new(c.clone())),
            2,
        ));
        eprintln!("candidate `{spec}` run in {:.0?}", t.elapsed());
    }
    let default = config_from(Some(base))?.alert_threshold;
    for p in profiles {
        let in_sample = bench::score_corpus(
            corpus,
            labels,
            std::slice::from_ref(p),
            &candidates[0],
            default,
        );
        let runs = [
            (
                "threshold only",
                bench::cross_validate(corpus, labels, p, &candidates[..1], None),
            ),
            (
                "settings, default threshold",
                bench::cross_validate(corpus, labels, p, &candidates, Some(default)),
            ),
            (
                "settings and threshold",
                bench::cross_validate(corpus, labels, p, &candidates, None),
            ),
        ];
        println!(
            "{:10} in-sample defaults: default {:.1} best {:.1}",
            p.name, in_sample[0].default.score, in_sample[0].best.score
        );
        for (what, cv) in runs {
            let folds: Vec<String> = cv
                .folds
                .iter()
                .map(|f| {
                    format!(
                        "{}: `{}` @{:.3}",
                        f.category, grid[f.candidate], f.threshold
                    )
                })
                .collect();
            println!(
                "{:10}   CV {what:30} {:6.1}  [{}]",
                p.name,
                cv.score,
                folds.join("; ")
            );
        }
    }
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let data = Path::new(
        args.get(1)
            .ok_or("usage: nab_bench DATA_DIR LABELS.json [PROFILES.json]")?,
    );
    let labels = nab::parse_labels(&std::fs::read_to_string(args.get(2).ok_or("labels")?)?)?;
    let profiles = match args.get(3) {
        Some(p) => nab::parse_profiles(&std::fs::read_to_string(p)?)?,
        None => nab::default_profiles(),
    };
    let mut corpus = Vec::new();
    collect(data, data, &mut corpus)?;
    let only: Vec<DetectorKind> = match std::env::var("DETECTORS") {
        Ok(v) => DetectorKind::ALL
            .into_iter()
            .filter(|k| v.split(',').any(|n| n == k.name()))
            .collect(),
        Err(_) => DetectorKind::ALL.to_vec(),
    };
    if std::env::var("MASE").is_ok() {
        for m in bench::mase_corpus(&corpus) {
            println!(
                "{:15} mean {:.3} median {:.3} wins {} of {}",
                m.method, m.mean, m.median, m.wins, m.series
            );
        }
        return Ok(());
    }
    let cfg = config()?;
    if std::env::var("CV").is_ok() {
        return cross_validation(&corpus, &labels, &profiles);
    }
    for kind in only {
        let scores = if kind == DetectorKind::Doppel {
            let c = cfg.clone();
            bench::run_with(&corpus, &move || Box::new(Doppel::new(c.clone())), 2)
        } else {
            bench::run_detector(&corpus, kind, 2)
        };
        let thr = if kind == DetectorKind::Doppel {
            cfg.alert_threshold
        } else {
            kind.default_threshold()
        };
        let res = bench::score_corpus(&corpus, &labels, &profiles, &scores, thr);
        for p in &res {
            println!(
                "{:18} {:18}: default {:.4} -> {:6.1} (tp {:4} fp {:4} missed {:2}) | best {:.6} -> {:6.1} (tp {:4} fp {:4} missed {:2})",
                kind.name(),
                p.profile,
                p.default.threshold,
                p.default.score,
                p.default.tp_rows,
                p.default.fp_rows,
                p.default.missed_windows,
                p.best.threshold,
                p.best.score,
                p.best.tp_rows,
                p.best.fp_rows,
                p.best.missed_windows
            );
        }
        if let Ok(name) = std::env::var("DUMP") {
            for (f, s) in corpus.iter().zip(&scores) {
                if f.name.contains(&name) {
                    for (i, (v, sc)) in f.series.values.iter().zip(s).enumerate() {
                        println!("{i} {v} {sc:.4}");
                    }
                }
            }
        }
        if std::env::var("WINDOWS").is_ok() {
            // Diagnosis: per window, the largest score inside it and where the first alert
            // falls (0 = window start, 1 = end); per file, the largest score outside windows
            // after the probation period.
            let empty = Vec::new();
            for (f, s) in corpus.iter().zip(&scores) {
                let ts = &f.series.timestamps;
                let w = labels.get(&f.name).unwrap_or(&empty);
                let prob = nab::probation_length(ts.len());
                let mut out_max: f64 = 0.0;
                for (i, (&t, &v)) in ts.iter().zip(s).enumerate() {
                    if i >= prob && !w.iter().any(|&(a, b)| t >= a && t <= b) {
                        out_max = out_max.max(v);
                    }
                }
                let mut line = format!("  {:52} out {:.3} |", f.name, out_max);
                for &(a, b) in w {
                    let idx: Vec<usize> = (0..ts.len())
                        .filter(|&i| ts[i] >= a && ts[i] <= b)
                        .collect();
                    let m = idx.iter().map(|&i| s[i]).fold(0.0_f64, f64::max);
                    let first = idx.iter().position(|&i| s[i] >= thr);
                    let pos = first.map_or(-1.0, |k| k as f64 / idx.len().max(1) as f64);
                    line.push_str(&format!(" {m:.3}@{pos:.2}"));
                }
                println!("{line}");
            }
        }
        if std::env::var("FPS").is_ok() {
            // Diagnosis: every alert outside the windows after the probation period.
            let empty = Vec::new();
            for (f, s) in corpus.iter().zip(&scores) {
                let ts = &f.series.timestamps;
                let w = labels.get(&f.name).unwrap_or(&empty);
                let prob = nab::probation_length(ts.len());
                for (i, (&t, &v)) in ts.iter().zip(s).enumerate() {
                    if i >= prob && v >= thr && !w.iter().any(|&(a, b)| t >= a && t <= b) {
                        println!(
                            "  fp {:52} row {i:6} of {:6} score {v:.3}",
                            f.name,
                            ts.len()
                        );
                    }
                }
            }
        }
        if std::env::var("PER_FILE").is_ok() {
            let t = res.first().map_or(thr, |p| p.best.threshold);
            for (f, s) in corpus.iter().zip(&scores) {
                let one = [f.clone()];
                let r =
                    bench::score_corpus(&one, &labels, &profiles[..1], std::slice::from_ref(s), t);
                if let Some(p) = r.first() {
                    let w = labels.get(&f.name).map_or(0, Vec::len);
                    println!(
                        "  {:55} windows {w} missed {} fp {:3} raw-ish {:.1}",
                        f.name, p.default.missed_windows, p.default.fp_rows, p.default.score
                    );
                }
            }
        }
    }
    Ok(())
}
