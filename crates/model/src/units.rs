//! Human-readable, checked units: durations (`250ms`), sizes (`2Gi`), rates (`500/s`),
//! bandwidths (`10Gbit/s`) and percentages (`99.9%`).
//!
//! Every unit type parses from and prints to the same text, so a twin read and written back is
//! unchanged. In the JSON Schema each is a string with a `pattern`, so editors flag bad units
//! as they are typed.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a unit string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{text}`: {hint}")]
pub struct UnitError {
    what: &'static str,
    text: String,
    hint: &'static str,
}

impl UnitError {
    fn new(what: &'static str, text: &str, hint: &'static str) -> Self {
        UnitError {
            what,
            text: text.to_owned(),
            hint,
        }
    }
}

/// Splits `"1.5ms"` into `(1.5, "ms")`. The number must be finite and non-negative.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let t = text.trim();
    let end = t
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .map_or(t.len(), |(i, _)| i);
    let (num, rest) = t.split_at(end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let value: f64 = num.replace('_', "").parse().ok()?;
    value.is_finite().then_some((value, rest.trim_start()))
}

/// Formats a float without a trailing `.0` and without exponent noise for common magnitudes.
fn fmt_num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.9}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Accepts the unit's text, or a bare number (`0` for a duration, `4096` for a size): YAML
/// authors write those unquoted, and the parser then judges the number as text.
struct UnitVisitor<T>(std::marker::PhantomData<T>);

impl<T: FromStr<Err = UnitError>> serde::de::Visitor<'_> for UnitVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number with its unit")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}

macro_rules! unit_serde {
    ($ty:ident, $pattern:expr, $desc:expr) => {
        unit_serde!($ty, $pattern, $desc, ["string"], u64::MAX);
    };
    ($ty:ident, $pattern:expr, $desc:expr, [$($types:expr),+], $max_number:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(UnitVisitor(std::marker::PhantomData))
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": [$($types),+],
                    "pattern": $pattern,
                    "minimum": 0,
                    "maximum": $max_number,
                    "description": $desc,
                })
            }
        }
    };
}

/// A span of time, stored exactly in nanoseconds. Text: `250ms`, `1.5s`, `2m`, `1h`, `100us`, `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(u64);

impl Duration {
    /// Zero time.
    pub const ZERO: Duration = Duration(0);

    /// A duration of `n` nanoseconds.
    pub const fn from_nanos(n: u64) -> Self {
        Duration(n)
    }

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms * 1_000_000)
    }

    /// A duration from fractional seconds (negative and NaN clamp to zero).
    pub fn from_secs_f64(s: f64) -> Self {
        Duration((s.max(0.0) * 1e9).round() as u64)
    }

    /// Nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Fractional seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

const DURATION_UNITS: [(&str, f64); 7] = [
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("h", 3600e9),
];

impl FromStr for Duration {
    type Err = UnitError;
    fn from_str(text: &str) -> Result<Self, UnitError> {
        const HINT: &str = "expected a number and a unit: ns, us, ms, s, m or h (e.g. `250ms`)";
        let (value, unit) =
            split_number(text).ok_or_else(|| UnitError::new("duration", text, HINT))?;
        let scale = if unit.is_empty() && value == 0.0 {
            1.0
        } else {
            DURATION_UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|&(_, s)| s)
                .ok_or_else(|| UnitError::new("duration", text, HINT))?
        };
        let nanos = value * scale;
        if nanos > u64::MAX as f64 / 2.0 {
            return Err(UnitError::new("duration", text, "too long"));
        }
        Ok(Duration(nanos.round() as u64))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n == 0 {
            return f.write_str("0s");
        }
        let (scale, unit) = if n.is_multiple_of(3_600_000_000_000) {
            (3600e9, "h")
        } else if n.is_multiple_of(60_000_000_000) {
            (60e9, "m")
        } else if n >= 1_000_000_000 {
            (1e9, "s")
        } else if n >= 1_000_000 {
            (1e6, "ms")
        } else if n >= 1_000 {
            (1e3, "us")
        } else {
            (1.0, "ns")
        };
        write!(f, "{}{unit}", fmt_num(n as f64 / scale))
    }
}

unit_serde!(
    Duration,
    r"^\s*(0|[0-9][0-9_]*(\.[0-9]+)?\s*(ns|us|µs|ms|s|m|h))\s*$",
    "A duration: a number and a unit (ns, us, ms, s, m, h), e.g. `250ms`, `1.5s`, `2m`; or 0.",
    ["string", "integer"],
    0
);

/// An amount of memory or storage in bytes. Text: `512Mi`, `2Gi`, `500G`, `100MB`, `4096`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(u64);

impl Bytes {
    /// A size of `n` bytes.
    pub const fn new(n: u64) -> Self {
        Bytes(n)
    }

    /// The size in bytes.
    pub const fn get(self) -> u64 {
        self.0
    }
}

const BYTE_UNITS: [(&str, f64); 14] = [
    ("", 1.0),
    ("B", 1.0),
    ("Ki", 1024.0),
    ("Mi", 1048576.0),
    ("Gi", 1073741824.0),
    ("Ti", 1099511627776.0),
    ("Pi", 1125899906842624.0),
    ("k", 1e3),
    ("K", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
    ("E", 1e18),
];

impl FromStr for Bytes {
    type Err = UnitError;
    fn from_str(text: &str) -> Result<Self, UnitError> {
        const HINT: &str = "expected a number and a unit: Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T (powers of 1000), optionally followed by B";
        let (value, unit) = split_number(text).ok_or_else(|| UnitError::new("size", text, HINT))?;
        let unit = if unit.len() > 1 {
            unit.strip_suffix('B').unwrap_or(unit)
        } else {
            unit
        };
        let scale = BYTE_UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|&(_, s)| s)
            .ok_or_else(|| UnitError::new("size", text, HINT))?;
        let bytes = value * scale;
        if bytes >= u64::MAX as f64 {
            return Err(UnitError::new("size", text, "too large"));
        }
        Ok(Bytes(bytes.round() as u64))
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, scale) in [
            ("Pi", 1u64 << 50),
            ("Ti", 1 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
        ] {
            if n >= scale && n.is_multiple_of(scale) {
                return write!(f, "{}{unit}", n / scale);
            }
        }
        for (unit, scale) in [("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)] {
            if n as f64 >= scale && (n as f64 % (scale / 1000.0)) == 0.0 {
                return write!(f, "{}{unit}", fmt_num(n as f64 / scale));
            }
        }
        write!(f, "{n}")
    }
}

unit_serde!(
    Bytes,
    r"^\s*[0-9][0-9_]*(\.[0-9]+)?\s*(Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P|E)?B?\s*$",
    "A size in bytes: a number and an optional unit, Ki/Mi/Gi/Ti (1024-based) or k/M/G/T (1000-based), e.g. `512Mi`, `2Gi`.",
    ["string", "integer"],
    u64::MAX
);

/// Events per second. Text: `500/s`, `30/min`, `2/h`, `1.5k/s`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Rate(f64);

impl Rate {
    /// A rate of `per_sec` events per second.
    pub fn per_sec(per_sec: f64) -> Self {
        Rate(per_sec)
    }

    /// Events per second.
    pub fn as_per_sec(self) -> f64 {
        self.0
    }
}

impl FromStr for Rate {
    type Err = UnitError;
    fn from_str(text: &str) -> Result<Self, UnitError> {
        const HINT: &str =
            "expected a count per unit of time, e.g. `500/s`, `30/min`, `2/h`, `1.5k/s`";
        let (value, rest) = split_number(text).ok_or_else(|| UnitError::new("rate", text, HINT))?;
        let (mult, per) = rest
            .split_once('/')
            .ok_or_else(|| UnitError::new("rate", text, HINT))?;
        let mult = match mult.trim() {
            "" => 1.0,
            "k" => 1e3,
            "M" => 1e6,
            _ => return Err(UnitError::new("rate", text, HINT)),
        };
        let per = match per.trim() {
            "s" | "sec" => 1.0,
            "min" | "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(UnitError::new("rate", text, HINT)),
        };
        Ok(Rate(value * mult / per))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", fmt_num(self.0))
    }
}

unit_serde!(
    Rate,
    r"^\s*[0-9][0-9_]*(\.[0-9]+)?\s*(k|M)?\s*/\s*(s|sec|min|m|h|d)\s*$",
    "A rate: a count per unit of time, e.g. `500/s`, `30/min`, `2/h`, `1.5k/s`."
);

/// Network bandwidth in bits per second. Text: `10Gbit/s`, `100Mbps`, `125MB/s`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Bandwidth(f64);

impl Bandwidth {
    /// A bandwidth of `bps` bits per second.
    pub fn bits_per_sec(bps: f64) -> Self {
        Bandwidth(bps)
    }

    /// Bits per second.
    pub fn as_bits_per_sec(self) -> f64 {
        self.0
    }
}

impl FromStr for Bandwidth {
    type Err = UnitError;
    fn from_str(text: &str) -> Result<Self, UnitError> {
        const HINT: &str =
            "expected bits or bytes per second, e.g. `10Gbit/s`, `100Mbps`, `125MB/s`";
        let (value, rest) =
            split_number(text).ok_or_else(|| UnitError::new("bandwidth", text, HINT))?;
        let (prefix, unit) = match rest.chars().next() {
            Some(c @ ('k' | 'K' | 'M' | 'G' | 'T')) => (Some(c), &rest[1..]),
            _ => (None, rest),
        };
        let mult = match prefix {
            None => 1.0,
            Some('k' | 'K') => 1e3,
            Some('M') => 1e6,
            Some('G') => 1e9,
            _ => 1e12,
        };
        let bits = match unit {
            "bit/s" | "bps" | "b/s" => 1.0,
            "B/s" | "Bps" | "byte/s" => 8.0,
            _ => return Err(UnitError::new("bandwidth", text, HINT)),
        };
        Ok(Bandwidth(value * mult * bits))
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        for (unit, scale) in [
            ("Tbit/s", 1e12),
            ("Gbit/s", 1e9),
            ("Mbit/s", 1e6),
            ("kbit/s", 1e3),
        ] {
            if v >= scale {
                return write!(f, "{}{unit}", fmt_num(v / scale));
            }
        }
        write!(f, "{}bit/s", fmt_num(v))
    }
}

unit_serde!(
    Bandwidth,
    r"^\s*[0-9][0-9_]*(\.[0-9]+)?\s*(k|K|M|G|T)?(bit/s|bps|b/s|B/s|Bps|byte/s)\s*$",
    "A bandwidth: bits (`bit/s`, `bps`) or bytes (`B/s`) per second with an optional k/M/G/T prefix, e.g. `10Gbit/s`."
);

/// A percentage, stored as a fraction in `[0, 1]`. Text: `99.9%`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Percent(f64);

impl Percent {
    /// A percentage from a fraction (`0.999` is `99.9%`).
    pub fn from_fraction(f: f64) -> Self {
        Percent(f)
    }

    /// The fraction in `[0, 1]`.
    pub fn fraction(self) -> f64 {
        self.0
    }
}

impl FromStr for Percent {
    type Err = UnitError;
    fn from_str(text: &str) -> Result<Self, UnitError> {
        const HINT: &str = "expected a percentage between 0% and 100%, e.g. `99.9%`";
        let (value, rest) =
            split_number(text).ok_or_else(|| UnitError::new("percentage", text, HINT))?;
        if rest != "%" || value > 100.0 {
            return Err(UnitError::new("percentage", text, HINT));
        }
        Ok(Percent(value / 100.0))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Round away binary noise (0.999 * 100 = 99.90000000000001).
        let pct = (self.0 * 100.0 * 1e9).round() / 1e9;
        write!(f, "{}%", fmt_num(pct))
    }
}

unit_serde!(
    Percent,
    r"^\s*[0-9]+(\.[0-9]+)?\s*%\s*$",
    "A percentage between 0% and 100%, e.g. `99.9%`."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_to_exact_nanoseconds() {
        let cases = [
            ("250ms", 250_000_000),
            ("1.5s", 1_500_000_000),
            ("2m", 120_000_000_000),
            ("1h", 3_600_000_000_000),
            ("100us", 100_000),
            ("7ns", 7),
            ("0", 0),
            ("0.5ms", 500_000),
        ];
        for (text, nanos) in cases {
            assert_eq!(
                text.parse::<Duration>().unwrap().as_nanos(),
                nanos,
                "{text}"
            );
        }
        for bad in [
            "",
            "ms",
            "5",
            "5 parsecs",
            "-1s",
            "1..5s",
            ".5s",
            "1e3s",
            "5S",
        ] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn units_round_trip_through_text() {
        for text in ["250ms", "1.5s", "2m", "1h", "100us", "0s", "90s"] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.to_string().parse::<Duration>().unwrap(), d, "{text}");
        }
        assert_eq!("90s".parse::<Duration>().unwrap().to_string(), "90s");
        assert_eq!("120s".parse::<Duration>().unwrap().to_string(), "2m");
        for text in ["2Gi", "512Mi", "500G", "100MB", "4096", "1.5Gi"] {
            let b: Bytes = text.parse().unwrap();
            assert_eq!(b.to_string().parse::<Bytes>().unwrap(), b, "{text}");
        }
    }

    #[test]
    fn sizes_follow_iec_and_si_prefixes() {
        assert_eq!(
            "2Gi".parse::<Bytes>().unwrap().get(),
            2 * 1024 * 1024 * 1024
        );
        assert_eq!("500G".parse::<Bytes>().unwrap().get(), 500_000_000_000);
        assert_eq!("100MB".parse::<Bytes>().unwrap().get(), 100_000_000);
        assert_eq!("1KiB".parse::<Bytes>().unwrap().get(), 1024);
        assert!("2Gx".parse::<Bytes>().is_err());
    }

    #[test]
    fn rates_and_bandwidths_normalise_to_seconds_and_bits() {
        assert_eq!("500/s".parse::<Rate>().unwrap().as_per_sec(), 500.0);
        assert_eq!("30/min".parse::<Rate>().unwrap().as_per_sec(), 0.5);
        assert_eq!("1.5k/s".parse::<Rate>().unwrap().as_per_sec(), 1500.0);
        assert!("500".parse::<Rate>().is_err());
        assert_eq!(
            "10Gbit/s".parse::<Bandwidth>().unwrap().as_bits_per_sec(),
            1e10
        );
        assert_eq!(
            "125MB/s".parse::<Bandwidth>().unwrap().as_bits_per_sec(),
            1e9
        );
        assert_eq!(
            "100Mbps".parse::<Bandwidth>().unwrap().to_string(),
            "100Mbit/s"
        );
        assert!("10Gb".parse::<Bandwidth>().is_err());
    }

    #[test]
    fn bare_numbers_are_accepted_where_they_make_sense() {
        let d: Duration = serde_json::from_value(serde_json::json!(0)).unwrap();
        assert_eq!(d, Duration::ZERO);
        assert!(serde_json::from_value::<Duration>(serde_json::json!(5)).is_err());
        let b: Bytes = serde_json::from_value(serde_json::json!(4096)).unwrap();
        assert_eq!(b.get(), 4096);
        assert!(serde_json::from_value::<Rate>(serde_json::json!(100)).is_err());
    }

    #[test]
    fn percentages_are_fractions() {
        assert!(("99.9%".parse::<Percent>().unwrap().fraction() - 0.999).abs() < 1e-12);
        assert_eq!("99.9%".parse::<Percent>().unwrap().to_string(), "99.9%");
        assert!("101%".parse::<Percent>().is_err());
        assert!("0.999".parse::<Percent>().is_err());
    }

    /// The schema patterns and the parsers must agree: whatever the pattern admits parses.
    #[test]
    fn schema_patterns_accept_what_parsers_accept() {
        fn pattern_of<T: JsonSchema>() -> String {
            let schema = schemars::schema_for!(T);
            schema
                .get("pattern")
                .and_then(|p| p.as_str())
                .unwrap()
                .to_owned()
        }
        let re = |p: String| {
            jsonschema::validator_for(&serde_json::json!({"type":"string","pattern":p})).unwrap()
        };
        let d = re(pattern_of::<Duration>());
        for ok in ["250ms", "1.5s", "0", "3h"] {
            assert!(
                d.is_valid(&serde_json::json!(ok)) && ok.parse::<Duration>().is_ok(),
                "{ok}"
            );
        }
        for bad in ["5", "1.5", "abc", "5 parsecs"] {
            assert!(
                !d.is_valid(&serde_json::json!(bad)) && bad.parse::<Duration>().is_err(),
                "{bad}"
            );
        }
        let r = re(pattern_of::<Rate>());
        assert!(r.is_valid(&serde_json::json!("500/s")) && !r.is_valid(&serde_json::json!("500")));
        let b = re(pattern_of::<Bandwidth>());
        assert!(
            b.is_valid(&serde_json::json!("10Gbit/s")) && !b.is_valid(&serde_json::json!("10G"))
        );
    }
}
