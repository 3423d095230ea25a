//! CVSS v3.x base vectors: parsing and the base score, exploitability and impact sub-scores,
//! by the formulas of the FIRST CVSS v3.1 specification (section 7.1 and Appendix A).

use std::fmt;

/// A parsed CVSS v3.0/v3.1 base vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cvss {
    av: f64,
    ac: f64,
    pr: f64,
    ui: f64,
    scope_changed: bool,
    c: f64,
    i: f64,
    a: f64,
    /// Attack vector is the network (remotely exploitable).
    pub network: bool,
}

/// Why a vector is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CVSS vector `{vector}`: {reason}")]
pub struct CvssError {
    vector: String,
    reason: String,
}

impl Cvss {
    /// Parses `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H`. Temporal and environmental
    /// metrics may follow and are ignored; every base metric is required exactly once.
    pub fn parse(vector: &str) -> Result<Cvss, CvssError> {
        let fail = |reason: String| CvssError {
            vector: vector.to_owned(),
            reason,
        };
        let mut parts = vector.split('/');
        match parts.next() {
            Some("CVSS:3.1" | "CVSS:3.0") => {}
            _ => return Err(fail("must start with `CVSS:3.1/` or `CVSS:3.0/`".into())),
        }
        let mut m: [Option<char>; 8] = [None; 8];
        const NAMES: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
        for part in parts {
            let (key, val) = part
                .split_once(':')
                .ok_or_else(|| fail(format!("`{part}` is not METRIC:VALUE")))?;
            let mut chars = val.chars();
            let (Some(v), None) = (chars.next(), chars.next()) else {
                return Err(fail(format!("`{part}` has a bad value")));
            };
            if let Some(slot) = NAMES.iter().position(|n| *n == key)
                && m[slot].replace(v).is_some()
            {
                return Err(fail(format!("metric {key} appears twice")));
            }
        }
        let get = |slot: usize| {
            m[slot].ok_or_else(|| fail(format!("missing base metric {}", NAMES[slot])))
        };
        let bad = |slot: usize, v: char| fail(format!("{}:{v} is not a valid value", NAMES[slot]));
        let scope_changed = match get(4)? {
            'U' => false,
            'C' => true,
            v => return Err(bad(4, v)),
        };
        let av_c = get(0)?;
        let av = match av_c {
            'N' => 0.85,
            'A' => 0.62,
            'L' => 0.55,
            'P' => 0.2,
            v => return Err(bad(0, v)),
        };
        let ac = match get(1)? {
            'L' => 0.77,
            'H' => 0.44,
            v => return Err(bad(1, v)),
        };
        let pr = match (get(2)?, scope_changed) {
            ('N', _) => 0.85,
            ('L', false) => 0.62,
            ('L', true) => 0.68,
            ('H', false) => 0.27,
            ('H', true) => 0.5,
            (v, _) => return Err(bad(2, v)),
        };
        let ui = match get(3)? {
            'N' => 0.85,
            'R' => 0.62,
            v => return Err(bad(3, v)),
        };
        let cia = |slot: usize| match get(slot)? {
            'H' => Ok(0.56),
            'L' => Ok(0.22),
            'N' => Ok(0.0),
            v => Err(bad(slot, v)),
        };
        Ok(Cvss {
            av,
            ac,
            pr,
            ui,
            scope_changed,
            c: cia(5)?,
            i: cia(6)?,
            a: cia(7)?,
            network: av_c == 'N',
        })
    }

    /// Exploitability sub-score, 0 to about 3.9: `8.22 × AV × AC × PR × UI`.
    pub fn exploitability(&self) -> f64 {
        8.22 * self.av * self.ac * self.pr * self.ui
    }

    /// Impact sub-score (may be negative before clamping, as in the specification).
    pub fn impact(&self) -> f64 {
        let iss = 1.0 - (1.0 - self.c) * (1.0 - self.i) * (1.0 - self.a);
        if self.scope_changed {
            7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
        } else {
            6.42 * iss
        }
    }

    /// The base score, 0.0 to 10.0, rounded up to one decimal as the specification says.
    pub fn base_score(&self) -> f64 {
        let impact = self.impact();
        if impact <= 0.0 {
            return 0.0;
        }
        let raw = impact + self.exploitability();
        let raw = if self.scope_changed { 1.08 * raw } else { raw };
        roundup(raw.min(10.0))
    }
}

/// CVSS v3.1 Roundup: the smallest one-decimal number not below the input, computed on
/// integers to avoid floating-point artefacts (Appendix A).
fn roundup(x: f64) -> f64 {
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

impl fmt::Display for Cvss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.base_score())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores published by NVD for these vectors.
    #[test]
    fn base_scores_match_nvd() {
        let cases = [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0), // CVE-2021-44228 (Log4Shell)
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),  // CVE-2017-5638 (Struts)
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),  // CVE-2014-0160 (Heartbleed)
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),  // CVE-2021-4034 (PwnKit)
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),  // typical reflected XSS
            // By hand: 6.42·0.56 + 8.22·0.85·0.44·0.85·0.85 = 5.816, rounded up to 5.9.
            ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ];
        for (v, score) in cases {
            assert_eq!(Cvss::parse(v).unwrap().base_score(), score, "{v}");
        }
    }

    #[test]
    fn bad_vectors_say_why() {
        let e = Cvss::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H").unwrap_err();
        assert!(e.to_string().contains("missing base metric A"), "{e}");
        let e = Cvss::parse("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap_err();
        assert!(e.to_string().contains("AV:X"), "{e}");
        assert!(Cvss::parse("AV:N/AC:L").is_err());
        assert!(Cvss::parse("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").is_err());
    }
}
