//! Time series input: `timestamp,value` text (the NAB layout), timestamps as Unix seconds,
//! durations such as `7d` and their human form (`3d 4h`).
//!
//! Nothing here reads files: callers pass the text.

use crate::PredictError;

/// A regularly or irregularly sampled series: non-decreasing timestamps (Unix seconds, UTC
/// or naive local time, the crate never needs to know which) and their values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Timestamps in seconds, never decreasing.
    pub timestamps: Vec<i64>,
    /// The values, one per timestamp.
    pub values: Vec<f64>,
    /// The timestamps as written in the input (echoed back by `doppel detect`).
    pub raw_timestamps: Vec<String>,
}

impl Series {
    /// Builds a series from timestamps and values (raw timestamps are formatted from them).
    pub fn new(timestamps: Vec<i64>, values: Vec<f64>) -> Self {
        let raw_timestamps = timestamps.iter().map(|&t| format_timestamp(t)).collect();
        Series {
            timestamps,
            values,
            raw_timestamps,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The typical sampling step in seconds (the median gap), or `None` under two rows.
    pub fn step(&self) -> Option<i64> {
        median_step(&self.timestamps)
    }
}

/// The median gap between consecutive timestamps.
pub fn median_step(timestamps: &[i64]) -> Option<i64> {
    if timestamps.len() < 2 {
        return None;
    }
    let mut gaps: Vec<i64> = timestamps.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).copied()
}

/// Parses `timestamp,value` text. A first line whose value column is not a number is taken as
/// the header. Empty lines are skipped. Timestamps must not decrease (real exports repeat a
/// timestamp now and then, e.g. around daylight-saving changes: NAB's own data does); values
/// must be finite numbers.
pub fn parse_csv(text: &str) -> Result<Series, PredictError> {
    let mut s = Series::default();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((ts, val)) = line.split_once(',') else {
            return Err(PredictError::Csv {
                line: lineno,
                message: "expected `timestamp,value`".into(),
            });
        };
        let ts = ts.trim().trim_matches('"');
        let val = val.trim().trim_matches('"');
        let value: f64 = match val.parse() {
            Ok(v) => v,
            Err(_) if s.is_empty() && s.raw_timestamps.is_empty() && lineno == first_line(text) => {
                continue; // header
            }
            Err(_) => {
                return Err(PredictError::Csv {
                    line: lineno,
                    message: format!("value {val:?} is not a number"),
                });
            }
        };
        if !value.is_finite() {
            return Err(PredictError::Csv {
                line: lineno,
                message: format!("value {val:?} is not finite"),
            });
        }
        let t = parse_timestamp(ts).map_err(|e| PredictError::Csv {
            line: lineno,
            message: e.to_string(),
        })?;
        if let Some(&prev) = s.timestamps.last()
            && t < prev
        {
            return Err(PredictError::NotIncreasing {
                line: lineno,
                timestamp: ts.to_string(),
            });
        }
        s.timestamps.push(t);
        s.values.push(value);
        s.raw_timestamps.push(ts.to_string());
    }
    if s.is_empty() {
        return Err(PredictError::Empty);
    }
    Ok(s)
}

fn first_line(text: &str) -> usize {
    text.lines()
        .position(|l| !l.trim().is_empty())
        .map_or(1, |p| p + 1)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]`, the ISO 8601 form with `T` and an optional `Z` or
/// `±HH:MM` offset, a bare date, or Unix seconds. Fractions of a second are dropped.
pub fn parse_timestamp(s: &str) -> Result<i64, PredictError> {
    let bad = || PredictError::Timestamp(s.to_string());
    let s = s.trim();
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && !s[1..].contains('-')
    {
        let secs: f64 = s.parse().map_err(|_| bad())?;
        return Ok(secs.floor() as i64);
    }
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, PredictError> {
        let part = s.get(r).ok_or_else(bad)?;
        if part.bytes().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    if b.len() == 10 {
        return Ok(secs);
    }
    if b[10] != b' ' && b[10] != b'T' || b.len() < 16 || b[13] != b':' {
        return Err(bad());
    }
    let (h, mi) = (num(11..13)?, num(14..16)?);
    let mut sec = 0;
    let mut rest = &s[16..];
    if rest.starts_with(':') {
        sec = num(17..19)?;
        rest = &s[19..];
    }
    if h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    secs += h * 3600 + mi * 60 + sec;
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    match rest {
        "" | "Z" | "z" => Ok(secs),
        off if off.len() == 6 && (off.starts_with('+') || off.starts_with('-')) => {
            let oh: i64 = off[1..3].parse().map_err(|_| bad())?;
            let om: i64 = off[4..6].parse().map_err(|_| bad())?;
            let sign = if off.starts_with('-') { -1 } else { 1 };
            Ok(secs - sign * (oh * 3600 + om * 60))
        }
        _ => Err(bad()),
    }
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS`.
pub fn format_timestamp(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Parses a duration: a number followed by `s`, `m`, `h`, `d` or `w` (`90s`, `30m`, `7d`);
/// several may follow each other (`1d12h`).
pub fn parse_duration(s: &str) -> Result<i64, PredictError> {
    let bad = || PredictError::Duration(s.to_string());
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            ' ' if num.is_empty() => continue,
            _ => return Err(bad()),
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any || total <= 0 {
        return Err(bad());
    }
    Ok(total)
}

/// Formats seconds the way people read a countdown: `3d 4h`, `5h 20m`, `12m`, `40s` (two
/// units at most, rounded down).
pub fn human_duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "never".into();
    }
    let s = secs.max(0.0).round() as i64;
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    if d > 0 {
        if h > 0 {
            format!("{d}d {h}h")
        } else {
            format!("{d}d")
        }
    } else if h > 0 {
        if m > 0 {
            format!("{h}h {m}m")
        } else {
            format!("{h}h")
        }
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_known_unix_times() {
        // 2014-04-10 07:15:00 UTC is 1397114100 (date -u -d '2014-04-10 07:15:00' +%s).
        assert_eq!(
            parse_timestamp("2014-04-10 07:15:00").unwrap(),
            1_397_114_100
        );
        assert_eq!(
            parse_timestamp("2014-04-10 07:15:00.000000").unwrap(),
            1_397_114_100
        );
        assert_eq!(
            parse_timestamp("2014-04-10T07:15:00Z").unwrap(),
            1_397_114_100
        );
        assert_eq!(
            parse_timestamp("2014-04-10T09:15:00+02:00").unwrap(),
            1_397_114_100
        );
        assert_eq!(parse_timestamp("1397114100").unwrap(), 1_397_114_100);
        assert_eq!(parse_timestamp("2000-03-01").unwrap(), 951_868_800);
        assert!(parse_timestamp("2014-13-01 00:00:00").is_err());
        assert!(parse_timestamp("yesterday").is_err());
        assert_eq!(format_timestamp(1_397_114_100), "2014-04-10 07:15:00");
        assert_eq!(format_timestamp(951_868_800), "2000-03-01 00:00:00");
    }

    #[test]
    fn csv_with_header_and_errors() {
        let s =
            parse_csv("timestamp,value\n2014-01-01 00:00:00,1.5\n2014-01-01 00:05:00,2\n").unwrap();
        assert_eq!(s.values, vec![1.5, 2.0]);
        assert_eq!(s.step(), Some(300));
        assert_eq!(
            parse_csv("timestamp,value\n2014-01-01 00:00:00,x\n"),
            Err(PredictError::Csv {
                line: 2,
                message: "value \"x\" is not a number".into()
            })
        );
        assert!(matches!(
            parse_csv("2014-01-01 00:05:00,1\n2014-01-01 00:00:00,2\n"),
            Err(PredictError::NotIncreasing { line: 2, .. })
        ));
        assert_eq!(parse_csv("timestamp,value\n"), Err(PredictError::Empty));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        assert_eq!(parse_duration("1d12h").unwrap(), 129_600);
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("d").is_err());
        assert_eq!(
            human_duration(3.0 * 86_400.0 + 4.0 * 3600.0 + 59.0),
            "3d 4h"
        );
        assert_eq!(human_duration(5.0 * 3600.0 + 20.0 * 60.0), "5h 20m");
        assert_eq!(human_duration(40.0), "40s");
        assert_eq!(human_duration(f64::INFINITY), "never");
    }
}
