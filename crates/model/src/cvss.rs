//! CVSS v3.0 and v3.1 vectors: parsing (section 6 of the FIRST specification: prefix, every base
//! metric exactly once, optional temporal and environmental metrics, no unknown or repeated
//! metric) and scoring by the formulas of section 7 (base, temporal, environmental) with the
//! Roundup of Appendix A (v3.1) or of the v3.0 specification (a plain ceiling to one decimal).

use std::fmt;

/// Which CVSS v3 minor version a vector states; the formulas differ slightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `CVSS:3.0/`.
    V3_0,
    /// `CVSS:3.1/`.
    V3_1,
}

/// Metric abbreviations in the order of the specification's Table 15, with their allowed
/// values. Base metrics (the first eight) are mandatory; the rest default to `X` (Not Defined).
const METRICS: [(&str, &str); 22] = [
    ("AV", "NALP"),
    ("AC", "LH"),
    ("PR", "NLH"),
    ("UI", "NR"),
    ("S", "UC"),
    ("C", "HLN"),
    ("I", "HLN"),
    ("A", "HLN"),
    ("E", "XUPFH"),
    ("RL", "XOTWU"),
    ("RC", "XURC"),
    ("CR", "XLMH"),
    ("IR", "XLMH"),
    ("AR", "XLMH"),
    ("MAV", "XNALP"),
    ("MAC", "XLH"),
    ("MPR", "XNLH"),
    ("MUI", "XNR"),
    ("MS", "XUC"),
    ("MC", "XNLH"),
    ("MI", "XNLH"),
    ("MA", "XNLH"),
];

const BASE: usize = 8;
const AV: usize = 0;
const AC: usize = 1;
const PR: usize = 2;
const UI: usize = 3;
const S: usize = 4;
const C: usize = 5;
const I: usize = 6;
const A: usize = 7;
const E: usize = 8;
const RL: usize = 9;
const RC: usize = 10;
const CR: usize = 11;
const IR: usize = 12;
const AR: usize = 13;
const MAV: usize = 14;
const MAC: usize = 15;
const MPR: usize = 16;
const MUI: usize = 17;
const MS: usize = 18;
const MC: usize = 19;
const MI: usize = 20;
const MA: usize = 21;

/// A parsed CVSS v3.0/v3.1 vector: its base metrics and any temporal and environmental ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cvss {
    version: Version,
    /// One value letter per metric of [`METRICS`], `X` when a non-base metric is absent.
    values: [u8; 22],
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

/// Severity rating of a score (specification section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// 0.0.
    None,
    /// 0.1 to 3.9.
    Low,
    /// 4.0 to 6.9.
    Medium,
    /// 7.0 to 8.9.
    High,
    /// 9.0 to 10.0.
    Critical,
}

impl Severity {
    /// The rating of a score.
    pub fn of(score: f64) -> Severity {
        if score <= 0.0 {
            Severity::None
        } else if score < 4.0 {
            Severity::Low
        } else if score < 7.0 {
            Severity::Medium
        } else if score < 9.0 {
            Severity::High
        } else {
            Severity::Critical
        }
    }
}

impl Cvss {
    /// Parses a vector such as `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H`, optionally
    /// followed by temporal (`E`, `RL`, `RC`) and environmental (`CR`, `IR`, `AR`, `MAV` ...
    /// `MA`) metrics, in any order. Every base metric is required exactly once; an unknown
    /// metric, a repeated one or a value outside the metric's set is an error.
    pub fn parse(vector: &str) -> Result<Cvss, CvssError> {
        let fail = |reason: String| CvssError {
            vector: vector.to_owned(),
            reason,
        };
        let mut parts = vector.split('/');
        let version = match parts.next() {
            Some("CVSS:3.1") => Version::V3_1,
            Some("CVSS:3.0") => Version::V3_0,
            _ => return Err(fail("must start with `CVSS:3.1/` or `CVSS:3.0/`".into())),
        };
        let mut seen: [Option<u8>; 22] = [None; 22];
        for part in parts {
            let (key, val) = part
                .split_once(':')
                .ok_or_else(|| fail(format!("`{part}` is not METRIC:VALUE")))?;
            let slot = METRICS
                .iter()
                .position(|(n, _)| *n == key)
                .ok_or_else(|| fail(format!("unknown metric `{key}`")))?;
            let allowed = METRICS[slot].1;
            let v = match val.as_bytes() {
                [b] if allowed.as_bytes().contains(b) => *b,
                _ => {
                    return Err(fail(format!(
                        "{key}:{val} is not a valid value (expected one of {})",
                        allowed
                            .chars()
                            .map(String::from)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            };
            if seen[slot].replace(v).is_some() {
                return Err(fail(format!("metric {key} appears twice")));
            }
        }
        let mut values = [b'X'; 22];
        for (slot, v) in seen.iter().enumerate() {
            match v {
                Some(v) => values[slot] = *v,
                None if slot < BASE => {
                    return Err(fail(format!("missing base metric {}", METRICS[slot].0)));
                }
                None => {}
            }
        }
        Ok(Cvss {
            version,
            values,
            network: values[AV] == b'N',
        })
    }

    /// The version the vector states.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The value letter of a metric by its abbreviation (`AV`, `PR`, `MAV`, ...): `X` for an
    /// absent temporal or environmental metric, `None` for an unknown abbreviation.
    pub fn metric(&self, name: &str) -> Option<char> {
        METRICS
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| char::from(self.values[i]))
    }

    fn v(&self, slot: usize) -> u8 {
        self.values[slot]
    }

    /// The value used for an environmental score: the modified metric, or the base metric
    /// when the modified one is Not Defined.
    fn modified(&self, m: usize, base: usize) -> u8 {
        match self.v(m) {
            b'X' => self.v(base),
            v => v,
        }
    }

    /// Exploitability sub-score, 0 to about 3.9: `8.22 × AV × AC × PR × UI`.
    pub fn exploitability(&self) -> f64 {
        let changed = self.v(S) == b'C';
        exploitability(self.v(AV), self.v(AC), self.v(PR), self.v(UI), changed)
    }

    /// Impact sub-score (may be negative before clamping, as in the specification).
    pub fn impact(&self) -> f64 {
        let iss = 1.0 - (1.0 - cia(self.v(C))) * (1.0 - cia(self.v(I))) * (1.0 - cia(self.v(A)));
        if self.v(S) == b'C' {
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
        let raw = if self.v(S) == b'C' { 1.08 * raw } else { raw };
        self.roundup(raw.min(10.0))
    }

    fn temporal_factor(&self) -> f64 {
        let e = match self.v(E) {
            b'U' => 0.91,
            b'P' => 0.94,
            b'F' => 0.97,
            _ => 1.0, // H, X
        };
        let rl = match self.v(RL) {
            b'O' => 0.95,
            b'T' => 0.96,
            b'W' => 0.97,
            _ => 1.0, // U, X
        };
        let rc = match self.v(RC) {
            b'U' => 0.92,
            b'R' => 0.96,
            _ => 1.0, // C, X
        };
        e * rl * rc
    }

    /// The temporal score: `Roundup(BaseScore × E × RL × RC)` (section 7.2); equal to the base
    /// score when no temporal metric is given.
    pub fn temporal_score(&self) -> f64 {
        self.roundup(self.base_score() * self.temporal_factor())
    }

    /// The environmental score (section 7.3): the base equations over the modified metrics
    /// (each falling back to its base metric when Not Defined), the impact weighted by the
    /// security requirements and capped at 0.915, then the temporal metrics.
    pub fn environmental_score(&self) -> f64 {
        let req = |slot: usize| match self.v(slot) {
            b'L' => 0.5,
            b'H' => 1.5,
            _ => 1.0, // M, X
        };
        let changed = self.modified(MS, S) == b'C';
        let miss = (1.0
            - (1.0 - req(CR) * cia(self.modified(MC, C)))
                * (1.0 - req(IR) * cia(self.modified(MI, I)))
                * (1.0 - req(AR) * cia(self.modified(MA, A))))
        .min(0.915);
        let m_impact = if changed {
            match self.version {
                Version::V3_1 => 7.52 * (miss - 0.029) - 3.25 * (miss * 0.9731 - 0.02).powi(13),
                Version::V3_0 => 7.52 * (miss - 0.029) - 3.25 * (miss - 0.02).powi(15),
            }
        } else {
            6.42 * miss
        };
        if m_impact <= 0.0 {
            return 0.0;
        }
        let m_expl = exploitability(
            self.modified(MAV, AV),
            self.modified(MAC, AC),
            self.modified(MPR, PR),
            self.modified(MUI, UI),
            changed,
        );
        let raw = if changed {
            (1.08 * (m_impact + m_expl)).min(10.0)
        } else {
            (m_impact + m_expl).min(10.0)
        };
        self.roundup(self.roundup(raw) * self.temporal_factor())
    }

    /// The qualitative rating of the base score.
    pub fn severity(&self) -> Severity {
        Severity::of(self.base_score())
    }

    fn roundup(&self, x: f64) -> f64 {
        match self.version {
            Version::V3_1 => roundup(x),
            Version::V3_0 => (x * 10.0).ceil() / 10.0,
        }
    }
}

/// `8.22 × AV × AC × PR × UI` from value letters (PR weighs more when the scope changes).
fn exploitability(av: u8, ac: u8, pr: u8, ui: u8, scope_changed: bool) -> f64 {
    let av = match av {
        b'N' => 0.85,
        b'A' => 0.62,
        b'L' => 0.55,
        _ => 0.2, // P
    };
    let ac = if ac == b'H' { 0.44 } else { 0.77 };
    let pr = match (pr, scope_changed) {
        (b'L', false) => 0.62,
        (b'L', true) => 0.68,
        (b'H', false) => 0.27,
        (b'H', true) => 0.5,
        _ => 0.85, // N
    };
    let ui = if ui == b'R' { 0.62 } else { 0.85 };
    8.22 * av * ac * pr * ui
}

/// Confidentiality, integrity or availability weight.
fn cia(v: u8) -> f64 {
    match v {
        b'H' => 0.56,
        b'L' => 0.22,
        _ => 0.0, // N
    }
}

/// CVSS v3.1 Roundup (Appendix A): the smallest number with one decimal not below the input,
/// computed on integers (the input scaled by 100 000 and rounded) so that floating-point
/// artefacts such as `4.000000000000001` do not round up to 4.1.
pub fn roundup(x: f64) -> f64 {
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
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),  // CVE-2021-4034 (PwnKit)
            // By hand: 6.42·0.56 + 8.22·0.85·0.44·0.85·0.85 = 5.816, rounded up to 5.9.
            ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ];
        for (v, score) in cases {
            assert_eq!(Cvss::parse(v).unwrap().base_score(), score, "{v}");
        }
    }

    /// Every example of the FIRST document "Common Vulnerability Scoring System v3.1:
    /// Examples" (https://www.first.org/cvss/v3.1/examples, revision 1.0, June 2019): the
    /// vector and base score stated for each, in the document's order.
    #[test]
    fn base_scores_match_the_first_v3_1_examples() {
        let cases = [
            (
                "CVE-2013-0375 MySQL stored SQL injection",
                "AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N",
                6.4,
            ),
            (
                "CVE-2014-3566 SSLv3 POODLE",
                "AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
                3.1,
            ),
            (
                "CVE-2012-1516 VMware guest to host escape",
                "AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H",
                9.9,
            ),
            (
                "CVE-2009-0783 Apache Tomcat XML parser",
                "AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L",
                4.2,
            ),
            (
                "CVE-2012-0384 Cisco IOS command execution",
                "AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H",
                7.2,
            ),
            (
                "CVE-2015-1098 Apple iWork DoS",
                "AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
                7.8,
            ),
            (
                "CVE-2014-0160 OpenSSL Heartbleed",
                "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                7.5,
            ),
            (
                "CVE-2014-6271 GNU Bash Shellshock",
                "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                9.8,
            ),
            (
                "CVE-2008-1447 DNS Kaminsky bug",
                "AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N",
                6.8,
            ),
            (
                "CVE-2014-2005 Sophos login screen bypass",
                "AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                6.8,
            ),
            (
                "CVE-2010-0467 Joomla directory traversal",
                "AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N",
                5.8,
            ),
            (
                "CVE-2012-1342 Cisco access control bypass",
                "AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:L/A:N",
                5.8,
            ),
            (
                "CVE-2013-6014 Juniper proxy ARP DoS",
                "AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H",
                9.3,
            ),
            (
                "CVE-2009-0658 Adobe Acrobat buffer overflow",
                "AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
                7.8,
            ),
            (
                "CVE-2011-1265 Windows Bluetooth RCE",
                "AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                8.8,
            ),
            (
                "CVE-2014-2019 Apple iOS security control bypass",
                "AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N",
                4.6,
            ),
            (
                "CVE-2015-0970 SearchBlox CSRF",
                "AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
                8.8,
            ),
            (
                "CVE-2016-1645 Chrome PDFium JPEG 2000 RCE",
                "AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
                8.8,
            ),
            (
                "CVE-2014-0224 SSL/TLS MITM",
                "AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N",
                7.4,
            ),
            (
                "CVE-2012-5376 Google Chrome sandbox bypass",
                "AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H",
                9.6,
            ),
            (
                "CVE-2016-0128 Badlock (SAMR/LSAD downgrade)",
                "AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N",
                6.8,
            ),
            (
                "CVE-2016-2118 Badlock (Samba)",
                "AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:H",
                7.5,
            ),
            (
                "CVE-2019-7551 Cantemo Portal stored XSS",
                "AV:N/AC:L/PR:L/UI:R/S:C/C:H/I:H/A:H",
                9.0,
            ),
            (
                "CVE-2017-5942 WordPress Mail plugin reflected XSS",
                "AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
                6.1,
            ),
            (
                "CVE-2016-5558 Oracle Outside In RCE",
                "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:L",
                8.6,
            ),
            (
                "CVE-2016-5729 Lenovo ThinkPwn",
                "AV:L/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H",
                8.2,
            ),
            (
                "CVE-2015-2890 failure to lock flash on resume",
                "AV:L/AC:L/PR:H/UI:N/S:U/C:N/I:H/A:H",
                6.0,
            ),
            (
                "CVE-2018-3652 Intel DCI",
                "AV:P/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
                7.6,
            ),
            (
                "CVE-2019-0884 scripting engine memory corruption",
                "AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N",
                4.2,
            ),
            (
                "CVE-2018-18913 Opera DLL search order hijacking",
                "AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
                7.8,
            ),
        ];
        for (name, v, score) in cases {
            let c = Cvss::parse(&format!("CVSS:3.1/{v}")).unwrap();
            assert_eq!(c.base_score(), score, "{name}: {v}");
            // With no temporal metric the temporal score is the base score; so is the
            // environmental score when the scope is unchanged (with a changed scope v3.1's
            // modified-impact formula differs from the base one: 0.9731 and the 13th power).
            assert_eq!(c.temporal_score(), score, "{name}");
            if v.contains("S:U") {
                assert_eq!(c.environmental_score(), score, "{name}");
            }
        }
    }

    /// Examples of the v3.0 document (https://www.first.org/cvss/v3.0/examples) that the v3.1
    /// document dropped or re-scored, scored with the v3.0 rules.
    #[test]
    fn base_scores_match_the_first_v3_0_examples() {
        let cases = [
            (
                "CVE-2013-1937 phpMyAdmin reflected XSS",
                "AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
                6.1,
            ),
            (
                "CVE-2014-9253 DokuWiki reflected XSS",
                "AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N",
                5.4,
            ),
            // Re-scored PR:L → PR:H (7.2) in v3.1.
            (
                "CVE-2012-0384 Cisco IOS command execution",
                "AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                8.8,
            ),
        ];
        for (name, v, score) in cases {
            let c = Cvss::parse(&format!("CVSS:3.0/{v}")).unwrap();
            assert_eq!(c.version(), Version::V3_0);
            assert_eq!(c.base_score(), score, "{name}: {v}");
        }
    }

    /// Appendix A's reason for the integer Roundup: 4.000000000000001 must give 4.0, not 4.1.
    #[test]
    fn roundup_follows_appendix_a() {
        assert_eq!(roundup(4.000_000_000_000_001), 4.0);
        assert_eq!(roundup(4.02), 4.1);
        assert_eq!(roundup(4.0), 4.0);
        assert_eq!(roundup(0.0), 0.0);
        assert_eq!(roundup(9.96), 10.0);
        // The naive ceiling shows the artefact the appendix warns of.
        assert_eq!((4.000_000_000_000_001_f64 * 10.0).ceil() / 10.0, 4.1);
    }

    /// Temporal and environmental scores worked by hand from section 7 of the specification.
    #[test]
    fn temporal_and_environmental_scores_follow_section_7() {
        let score = |v: &str| {
            let c = Cvss::parse(v).unwrap();
            (c.base_score(), c.temporal_score(), c.environmental_score())
        };
        // Temporal: 9.8 · E:P 0.94 · RL:O 0.95 · RC:C 1 = 8.7514 → 8.8 (environmental, with
        // no modified metric, repeats the base equation then applies the same factor).
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C"),
            (9.8, 8.8, 8.8)
        );
        // Temporal: 6.1 · E:U 0.91 · RL:W 0.97 · RC:R 0.96 = 5.169 → 5.2.
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N/E:U/RL:W/RC:R").1,
            5.2
        );
        // Environmental, Heartbleed with CR:H and MAV:A (scope unchanged):
        // MISS = min(1 − (1 − 1.5·0.56), 0.915) = 0.84; MImpact = 6.42·0.84 = 5.3928;
        // MExpl = 8.22·0.62·0.77·0.85·0.85 = 2.8353; sum 8.2281 → 8.3.
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/CR:H/MAV:A"),
            (7.5, 7.5, 8.3)
        );
        // Environmental with a modified scope (v3.1 formula): PwnKit with MS:C, CR:L.
        // MISS = 1 − (1 − 0.5·0.56)(1 − 0.56)(1 − 0.56) = 0.860608;
        // MImpact = 7.52·(0.860608 − 0.029) − 3.25·(0.860608·0.9731 − 0.02)^13 = 6.0171;
        // MExpl (MPR:L, scope changed: 0.68) = 8.22·0.55·0.77·0.68·0.85 = 2.0121;
        // 1.08·8.0292 = 8.6716 → 8.7.
        assert_eq!(
            score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H/MS:C/CR:L").2,
            8.7
        );
        // CVE-2012-1516 (base 9.9) with no environmental metric: the v3.1 environmental
        // equation gives MImpact = 7.52·(0.914816 − 0.029) − 3.25·(0.914816·0.9731 − 0.02)^13
        // = 6.1280, and 1.08·(6.1280 + 3.1096) = 9.977 → 10.0.
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H"),
            (9.9, 9.9, 10.0)
        );
        // Modified impacts of None give 0.
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/MC:N/MI:N/MA:N").2,
            0.0
        );
        // Explicit X equals absence.
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/CR:H/MAV:A/E:X/MPR:X"),
            (7.5, 7.5, 8.3)
        );
    }

    #[test]
    fn metrics_are_readable() {
        let c = Cvss::parse("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H/E:F").unwrap();
        assert_eq!(c.metric("AV"), Some('L'));
        assert_eq!(c.metric("PR"), Some('L'));
        assert_eq!(c.metric("E"), Some('F'));
        assert_eq!(c.metric("MAV"), Some('X'));
        assert_eq!(c.metric("ZZ"), None);
        assert_eq!(c.severity(), Severity::High);
        assert!(!c.network);
    }

    #[test]
    fn bad_vectors_say_why() {
        let e = Cvss::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H").unwrap_err();
        assert!(e.to_string().contains("missing base metric A"), "{e}");
        let e = Cvss::parse("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap_err();
        assert!(e.to_string().contains("AV:X"), "{e}");
        let e = Cvss::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1").unwrap_err();
        assert!(e.to_string().contains("unknown metric `ZZ`"), "{e}");
        let e = Cvss::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:Q").unwrap_err();
        assert!(e.to_string().contains("E:Q"), "{e}");
        assert!(Cvss::parse("AV:N/AC:L").is_err());
        assert!(Cvss::parse("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").is_err());
        assert!(Cvss::parse("CVSS:3.1/AV:NN/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").is_err());
        assert!(Cvss::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/").is_err());
    }
}
