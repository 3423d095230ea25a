//! Timestamps in access logs: the NCSA form (`10/Oct/2000:13:55:36 -0700`), RFC 3339 / ISO 8601
//! (`2026-11-28T10:00:00.123+01:00`, `Z`, or a space instead of `T`) and Unix epochs (seconds,
//! or milliseconds when larger than 10^11), turned into Unix seconds plus the writer's UTC
//! offset (so hours of the day can be counted in the server's local time).

/// A point in time: Unix seconds (UTC) and the offset from UTC it was written with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stamp {
    /// Seconds since 1970-01-01T00:00:00Z, with any fraction the log gave.
    pub unix: f64,
    /// Offset of the written local time from UTC, in seconds (`-0700` is -25200).
    pub offset_s: i32,
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian), after Howard Hinnant's
/// `days_from_civil` algorithm.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn civil_to_unix(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: f64) -> Option<f64> {
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 {
        return None;
    }
    if !(0.0..61.0).contains(&s) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(days as f64 * 86_400.0 + f64::from(h * 3600 + mi * 60) + s)
}

/// Parses `+hhmm`, `-hh:mm` or `Z`.
fn offset(s: &str) -> Option<i32> {
    if s == "Z" || s == "z" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 {
        return None;
    }
    let h: i32 = num(&digits[..2])?;
    let m: i32 = num(&digits[2..])?;
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// Parses the NCSA timestamp `dd/Mon/yyyy:HH:MM:SS +zzzz` (brackets already removed).
pub fn parse_ncsa(s: &str) -> Option<Stamp> {
    let (datetime, zone) = s.split_once(' ')?;
    let mut parts = datetime.splitn(4, ':');
    let date = parts.next()?;
    let h: u32 = num(parts.next()?)?;
    let mi: u32 = num(parts.next()?)?;
    let sec_text = parts.next()?;
    let sec: f64 = seconds(sec_text)?;
    let mut dp = date.split('/');
    let d: u32 = num(dp.next()?)?;
    let mo = month_number(dp.next()?)?;
    let y: i64 = num(dp.next()?)?;
    if dp.next().is_some() {
        return None;
    }
    let off = offset(zone.trim())?;
    let local = civil_to_unix(y, mo, d, h, mi, sec)?;
    Some(Stamp {
        unix: local - f64::from(off),
        offset_s: off,
    })
}

/// Seconds with an optional fraction (`36`, `36.250`).
fn seconds(s: &str) -> Option<f64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let w: u32 = num(whole)?;
    if !frac.is_empty() && !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let f = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse::<f64>().ok()?
    };
    Some(f64::from(w) + f)
}

/// Parses RFC 3339 / ISO 8601 date-times (`T` or a space between date and time; the zone is
/// `Z`, `+hh:mm`, `+hhmm` or absent, meaning UTC).
pub fn parse_iso(s: &str) -> Option<Stamp> {
    let s = s.trim();
    if s.len() < 19 || !s.is_char_boundary(10) || !s.is_char_boundary(19) {
        return None;
    }
    let (date, rest) = (&s[..10], &s[11..]);
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let mut dp = date.split('-');
    let y: i64 = num(dp.next()?)?;
    let mo: u32 = num(dp.next()?)?;
    let d: u32 = num(dp.next()?)?;
    // The time runs until the zone designator.
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let mut tp = time.split(':');
    let h: u32 = num(tp.next()?)?;
    let mi: u32 = num(tp.next()?)?;
    let sec = seconds(tp.next()?)?;
    if tp.next().is_some() {
        return None;
    }
    let off = if zone.is_empty() { 0 } else { offset(zone)? };
    let local = civil_to_unix(y, mo, d, h, mi, sec)?;
    Some(Stamp {
        unix: local - f64::from(off),
        offset_s: off,
    })
}

/// A Unix epoch number: seconds, or milliseconds when larger than 10^11 (after 5138 in
/// seconds, before 1973 in milliseconds: no real log is ambiguous).
pub fn from_epoch(x: f64) -> Option<Stamp> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let unix = if x > 1e11 { x / 1000.0 } else { x };
    Some(Stamp { unix, offset_s: 0 })
}

/// Any of the forms above, from text.
pub fn parse_any(s: &str) -> Option<Stamp> {
    let t = s.trim();
    if let Ok(x) = t.parse::<f64>() {
        return from_epoch(x);
    }
    parse_iso(t).or_else(|| parse_ncsa(t.trim_start_matches('[').trim_end_matches(']')))
}
