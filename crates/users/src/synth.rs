//! A seeded generator of access logs from known cohorts (known chains, think times and arrival
//! rates): the ground truth the learner is checked against, and demo data. Sessions arrive as
//! a Poisson process per hour (rate by hour of day times a weekday factor), walk their
//! cohort's chain, and pause a log-normal think time between pages. Endpoint templates are
//! filled in (`{id}` with a number, `{slug}` with one of a fixed list of names).

use std::collections::BTreeMap;

use doppel_sim::rng::SimRng;

/// One cohort's true behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct TrueCohort {
    /// The user agent its sessions send (decides the device class).
    pub user_agent: String,
    /// Attributes written to JSON logs (`region`, `plan`).
    pub attributes: BTreeMap<String, String>,
    /// First page: endpoint (`METHOD /template`) and probability.
    pub entry: Vec<(String, f64)>,
    /// Per endpoint: next endpoints with probabilities (the rest is the exit probability).
    pub chain: Vec<(String, Vec<(String, f64)>)>,
    /// Think time: ln-mean and ln-standard deviation (seconds).
    pub think_mu: f64,
    /// Think time's ln-standard deviation.
    pub think_sigma: f64,
    /// Sessions per hour at each local hour (24 values).
    pub per_hour: Vec<f64>,
    /// Weekday factors, Monday first (7 values).
    pub weekday: Vec<f64>,
    /// Probability that a page is answered 503.
    pub error_rate: f64,
}

impl TrueCohort {
    /// The exit probability after `endpoint`.
    pub fn exit(&self, endpoint: &str) -> f64 {
        self.chain
            .iter()
            .find(|(e, _)| e == endpoint)
            .map_or(1.0, |(_, next)| {
                1.0 - next.iter().map(|(_, p)| p).sum::<f64>()
            })
    }
}

/// One generated request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Unix seconds.
    pub time: f64,
    /// Index of its cohort.
    pub cohort: usize,
    /// Index of its session (global).
    pub session: u64,
    /// HTTP method.
    pub method: String,
    /// Concrete path.
    pub path: String,
    /// Response status.
    pub status: u16,
}

/// Slugs filling `{slug}`: more than the learner's default collapse threshold, so that the
/// position must be learned as high-cardinality.
const SLUGS: [&str; 40] = [
    "boots",
    "sandals",
    "trainers",
    "loafers",
    "heels",
    "slippers",
    "socks",
    "laces",
    "insoles",
    "polish",
    "jackets",
    "coats",
    "scarves",
    "gloves",
    "hats",
    "belts",
    "bags",
    "wallets",
    "watches",
    "sunglasses",
    "shirts",
    "blouses",
    "jeans",
    "shorts",
    "skirts",
    "dresses",
    "sweaters",
    "hoodies",
    "vests",
    "pyjamas",
    "swimwear",
    "raincoats",
    "umbrellas",
    "ties",
    "cufflinks",
    "rings",
    "bracelets",
    "necklaces",
    "earrings",
    "brooches",
];

fn pick(rng: &mut SimRng, items: &[(String, f64)]) -> Option<String> {
    let mut u = rng.uniform();
    for (e, p) in items {
        if u < *p {
            return Some(e.clone());
        }
        u -= p;
    }
    None
}

fn concrete(rng: &mut SimRng, endpoint: &str) -> (String, String) {
    let (method, template) = endpoint.split_once(' ').unwrap_or(("GET", endpoint));
    let mut path = String::new();
    for seg in template.split('/').filter(|s| !s.is_empty()) {
        path.push('/');
        match seg {
            "{id}" => path.push_str(&(1 + rng.below(99_999)).to_string()),
            "{slug}" => path.push_str(SLUGS[rng.below(SLUGS.len() as u32) as usize]),
            s => path.push_str(s),
        }
    }
    if path.is_empty() {
        path.push('/');
    }
    (method.to_owned(), path)
}

/// Generates `days` days of sessions from `start_day` (days since 1970-01-01, UTC), seeded.
/// Requests come back sorted by time; a session's pages follow its chain.
pub fn generate(cohorts: &[TrueCohort], start_day: i64, days: u32, seed: u64) -> Vec<Request> {
    let mut rng = SimRng::stream(seed, 0);
    let mut out = Vec::new();
    let mut session = 0u64;
    for d in 0..i64::from(days) {
        let day = start_day + d;
        let wd = crate::learn::weekday(day);
        for hour in 0..24 {
            for (ci, c) in cohorts.iter().enumerate() {
                let rate = c.per_hour.get(hour).copied().unwrap_or(0.0)
                    * c.weekday.get(wd).copied().unwrap_or(1.0);
                if rate <= 0.0 {
                    continue;
                }
                let mut t = 0.0;
                loop {
                    t += rng.exp(3600.0 / rate);
                    if t >= 3600.0 {
                        break;
                    }
                    let start = day as f64 * 86_400.0 + hour as f64 * 3600.0 + t;
                    walk(&mut rng, c, ci, session, start, &mut out);
                    session += 1;
                }
            }
        }
    }
    out.sort_by(|a, b| a.time.total_cmp(&b.time).then(a.session.cmp(&b.session)));
    out
}

fn walk(
    rng: &mut SimRng,
    c: &TrueCohort,
    ci: usize,
    session: u64,
    start: f64,
    out: &mut Vec<Request>,
) {
    let mut at = pick(rng, &c.entry);
    let mut t = start;
    let mut steps = 0;
    while let Some(endpoint) = at {
        let (method, path) = concrete(rng, &endpoint);
        let status = if rng.uniform() < c.error_rate {
            503
        } else {
            200
        };
        out.push(Request {
            time: t,
            cohort: ci,
            session,
            method,
            path,
            status,
        });
        steps += 1;
        if steps > 500 {
            break;
        }
        let next = c
            .chain
            .iter()
            .find(|(e, _)| *e == endpoint)
            .map(|(_, n)| n.as_slice())
            .unwrap_or_default();
        at = pick(rng, next);
        if at.is_some() {
            t += (c.think_mu + c.think_sigma * rng.std_normal()).exp();
        }
    }
}

/// A session's client address: unique per session.
fn ip(session: u64) -> String {
    format!(
        "10.{}.{}.{}",
        (session >> 16) & 255,
        (session >> 8) & 255,
        session & 255
    )
}

fn civil(t: f64) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Inverse of days_from_civil (Hinnant's civil_from_days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// The request as an NCSA Combined line (whole-second time, UTC).
pub fn combined_line(r: &Request, cohorts: &[TrueCohort]) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d, h, mi, s) = civil(r.time);
    let ua = cohorts.get(r.cohort).map_or("-", |c| c.user_agent.as_str());
    format!(
        "{} - - [{d:02}/{}/{y}:{h:02}:{mi:02}:{s:02} +0000] \"{} {} HTTP/1.1\" {} 1024 \"-\" \"{ua}\"",
        ip(r.session),
        MONTHS[(m as usize + 11) % 12],
        r.method,
        r.path,
        r.status
    )
}

/// The request as a JSON line (millisecond time, the cohort's attributes, a session id).
pub fn json_line(r: &Request, cohorts: &[TrueCohort]) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert(
        "ts".into(),
        serde_json::json!((r.time * 1000.0).round() / 1000.0),
    );
    obj.insert("client".into(), ip(r.session).into());
    obj.insert("method".into(), r.method.clone().into());
    obj.insert("path".into(), r.path.clone().into());
    obj.insert("status".into(), r.status.into());
    if let Some(c) = cohorts.get(r.cohort) {
        obj.insert("user_agent".into(), c.user_agent.clone().into());
        for (k, v) in &c.attributes {
            obj.insert(k.clone(), v.clone().into());
        }
    }
    obj.insert("session_id".into(), format!("s{}", r.session).into());
    serde_json::Value::Object(obj).to_string()
}

/// A phone's user agent.
pub const MOBILE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
/// A desktop browser's user agent.
pub const DESKTOP_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
/// A tablet's user agent.
pub const TABLET_UA: &str = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// The demo shop's home endpoint.
pub const H: &str = "GET /";
/// The demo shop's search endpoint.
pub const S: &str = "GET /search";
/// The demo shop's category endpoint.
pub const C: &str = "GET /category/{slug}";
/// The demo shop's product endpoint.
pub const P: &str = "GET /product/{id}";
/// The demo shop's add to cart endpoint.
pub const A: &str = "POST /cart/add";
/// The demo shop's cart endpoint.
pub const K: &str = "GET /cart";
/// The demo shop's checkout (the goal) endpoint.
pub const X: &str = "POST /checkout";

/// The endpoint the learner should name for a true one (slugs are learned as `{id}`).
pub fn learned_name(e: &str) -> String {
    e.replace("{slug}", "{id}")
}

fn chain(rows: &[(&str, &[(&str, f64)])]) -> Vec<(String, Vec<(String, f64)>)> {
    rows.iter()
        .map(|(e, next)| {
            (
                (*e).to_owned(),
                next.iter().map(|(n, p)| ((*n).to_owned(), *p)).collect(),
            )
        })
        .collect()
}

/// A daily curve: `base` plus `peak` times a bump centred on `at` (hours).
fn curve(base: f64, peak: f64, at: f64) -> Vec<f64> {
    (0..24)
        .map(|h| {
            let d = ((h as f64 - at + 36.0) % 24.0) - 12.0;
            base + peak * (-d * d / 18.0).exp()
        })
        .collect()
}

/// Weekday factors of the demo cohorts (Monday first; they average 1).
pub const WEEKDAY: [f64; 7] = [1.0, 0.95, 0.95, 1.0, 1.1, 0.9, 1.1];

/// Three demo cohorts of a web shop (mobile, desktop, tablet) with different chains, think
/// times and daily curves: the ground truth of the tests and `doppel users generate`.
pub fn demo_cohorts() -> Vec<TrueCohort> {
    let attrs = |region: &str, plan: &str| -> BTreeMap<String, String> {
        [("region", region), ("plan", plan)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    vec![
        TrueCohort {
            user_agent: MOBILE_UA.into(),
            attributes: attrs("eu-west", "free"),
            entry: vec![(H.into(), 0.6), (C.into(), 0.25), (P.into(), 0.15)],
            chain: chain(&[
                (H, &[(S, 0.3), (C, 0.3), (P, 0.2)]),
                (S, &[(P, 0.6), (S, 0.15)]),
                (C, &[(P, 0.55), (C, 0.2)]),
                (P, &[(P, 0.25), (A, 0.08), (C, 0.15), (S, 0.1)]),
                (A, &[(K, 0.6), (P, 0.2)]),
                (K, &[(X, 0.35), (P, 0.2)]),
            ]),
            think_mu: 9f64.ln(),
            think_sigma: 0.9,
            per_hour: curve(20.0, 70.0, 20.0),
            weekday: WEEKDAY.to_vec(),
            error_rate: 0.01,
        },
        TrueCohort {
            user_agent: DESKTOP_UA.into(),
            attributes: attrs("us-east", "plus"),
            entry: vec![(H.into(), 0.5), (S.into(), 0.4), (P.into(), 0.1)],
            chain: chain(&[
                (H, &[(S, 0.4), (C, 0.2), (P, 0.2)]),
                (S, &[(P, 0.7), (S, 0.1)]),
                (C, &[(P, 0.6)]),
                (P, &[(P, 0.2), (A, 0.15), (S, 0.15)]),
                (A, &[(K, 0.7), (P, 0.1)]),
                (K, &[(X, 0.55)]),
            ]),
            think_mu: 15f64.ln(),
            think_sigma: 0.7,
            per_hour: curve(8.0, 55.0, 11.0),
            weekday: WEEKDAY.to_vec(),
            error_rate: 0.005,
        },
        TrueCohort {
            user_agent: TABLET_UA.into(),
            attributes: attrs("eu-west", "free"),
            entry: vec![(C.into(), 0.7), (H.into(), 0.3)],
            chain: chain(&[
                (H, &[(C, 0.6)]),
                (C, &[(P, 0.5), (C, 0.3)]),
                (P, &[(C, 0.3), (A, 0.05)]),
                (A, &[(K, 0.5)]),
                (K, &[(X, 0.3)]),
            ]),
            think_mu: 20f64.ln(),
            think_sigma: 1.0,
            per_hour: curve(5.0, 20.0, 21.0),
            weekday: WEEKDAY.to_vec(),
            error_rate: 0.02,
        },
    ]
}

/// The OpenTelemetry span attributes of a request (semantic conventions: `session.id`,
/// `enduser.id` for paying plans, `user_agent.original`, `client.address`, `url.path`,
/// `http.request.method`, `http.response.status_code`) plus the cohort's attributes as
/// `app.region`, `app.plan`. Times are nanoseconds.
fn span_attributes(r: &Request, cohorts: &[TrueCohort]) -> Vec<(String, serde_json::Value)> {
    use serde_json::json;
    let mut a = vec![
        ("session.id".to_owned(), json!(format!("s{}", r.session))),
        ("client.address".to_owned(), json!(ip(r.session))),
        ("url.path".to_owned(), json!(r.path)),
        ("http.request.method".to_owned(), json!(r.method)),
        ("http.response.status_code".to_owned(), json!(r.status)),
    ];
    if let Some(c) = cohorts.get(r.cohort) {
        a.push(("user_agent.original".to_owned(), json!(c.user_agent)));
        for (k, v) in &c.attributes {
            a.push((format!("app.{k}"), json!(v)));
        }
        if c.attributes.get("plan").is_some_and(|p| p != "free") {
            a.push(("enduser.id".to_owned(), json!(format!("u{}", r.session))));
        }
    }
    a
}

fn nanos(t: f64) -> u64 {
    (t * 1e9).round().max(0.0) as u64
}

/// Requests as one OTLP/JSON `ExportTraceServiceRequest` (the Collector's `file` exporter
/// writes one per line): per request a server span of `frontend` (the page, with the
/// attributes above; 40 ms) and below it a client span calling `catalog` with its own
/// `url.path`, which is not a page. `first` numbers the trace and span ids.
pub fn otlp_json(requests: &[Request], cohorts: &[TrueCohort], first: u64) -> String {
    use serde_json::json;
    let kv = |attrs: Vec<(String, serde_json::Value)>| -> Vec<serde_json::Value> {
        attrs
            .into_iter()
            .map(|(k, v)| {
                let value = match v {
                    serde_json::Value::Number(n) => json!({"intValue": n.to_string()}),
                    other => json!({"stringValue": other}),
                };
                json!({"key": k, "value": value})
            })
            .collect()
    };
    let mut front = Vec::new();
    let mut back = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let n = first + i as u64;
        let trace = format!("{:032x}", n + 1);
        let (root, child) = (format!("{:016x}", 2 * n + 1), format!("{:016x}", 2 * n + 2));
        let start = nanos(r.time);
        front.push(json!({
            "traceId": trace, "spanId": root, "name": format!("{} {}", r.method, r.path),
            "kind": 2, "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": (start + 40_000_000).to_string(),
            "attributes": kv(span_attributes(r, cohorts)),
            "status": {"code": if r.status >= 500 { 2 } else { 0 }},
        }));
        back.push(json!({
            "traceId": trace, "spanId": child, "parentSpanId": root, "name": "GET /items",
            "kind": 3, "startTimeUnixNano": (start + 5_000_000).to_string(),
            "endTimeUnixNano": (start + 25_000_000).to_string(),
            "attributes": kv(vec![("url.path".into(), json!("/items")), ("peer.service".into(), json!("catalog"))]),
        }));
    }
    let resource = |name: &str, spans: Vec<serde_json::Value>| {
        json!({
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": name}}]},
            "scopeSpans": [{"scope": {"name": "doppel-synth"}, "spans": spans}],
        })
    };
    json!({"resourceSpans": [resource("frontend", front), resource("frontend-client", back)]})
        .to_string()
}

/// Requests as Jaeger JSON (`{"data": [trace...]}`, times in microseconds): the same two
/// spans per request as [`otlp_json`], attributes as tags.
pub fn jaeger_json(requests: &[Request], cohorts: &[TrueCohort], first: u64) -> String {
    use serde_json::json;
    let tags = |attrs: Vec<(String, serde_json::Value)>| -> Vec<serde_json::Value> {
        attrs
            .into_iter()
            .map(|(k, v)| {
                let ty = if v.is_number() { "int64" } else { "string" };
                json!({"key": k, "type": ty, "value": v})
            })
            .collect()
    };
    let data: Vec<serde_json::Value> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let n = first + i as u64;
            let trace = format!("{:032x}", n + 1);
            let (root, child) = (format!("{:016x}", 2 * n + 1), format!("{:016x}", 2 * n + 2));
            let start = (r.time * 1e6).round().max(0.0) as u64;
            json!({
                "traceID": trace,
                "spans": [
                    {"traceID": trace, "spanID": root, "operationName": format!("{} {}", r.method, r.path),
                     "references": [], "startTime": start, "duration": 40_000, "processID": "p1",
                     "tags": tags(span_attributes(r, cohorts))},
                    {"traceID": trace, "spanID": child, "operationName": "GET /items",
                     "references": [{"refType": "CHILD_OF", "traceID": trace, "spanID": root}],
                     "startTime": start + 5_000, "duration": 20_000, "processID": "p1",
                     "tags": tags(vec![("url.path".into(), json!("/items"))])},
                ],
                "processes": {"p1": {"serviceName": "frontend", "tags": []}},
            })
        })
        .collect();
    json!({ "data": data }).to_string()
}
