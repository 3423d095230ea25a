//! Tests of the access-log reader on the hand-written samples in `test_data/access_log`, with
//! expected values worked out by hand (times checked against Python's `datetime`).

use super::time::{days_from_civil, parse_iso, parse_ncsa};
use super::ua::{DeviceClass, device_class, is_bot};
use super::*;

fn sample(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data/access_log")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn civil_days_match_known_dates() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(1969, 12, 31), -1);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(days_from_civil(2400, 2, 29), 157_113);
}

#[test]
fn times_in_every_form() {
    // The Apache documentation's example: 13:55:36 at -0700 is 20:55:36Z.
    let s = parse_ncsa("10/Oct/2000:13:55:36 -0700").expect("parses");
    assert_eq!(s.unix, 971_211_336.0);
    assert_eq!(s.offset_s, -7 * 3600);
    let iso = parse_iso("2026-11-28T09:58:01.250+01:00").expect("parses");
    assert_eq!(iso.unix, 1_795_856_281.25);
    assert_eq!(iso.offset_s, 3600);
    assert_eq!(
        parse_iso("2026-11-28 08:58:01Z").map(|s| s.unix),
        Some(1_795_856_281.0)
    );
    assert_eq!(
        time::parse_any("1795856281250").map(|s| s.unix),
        Some(1_795_856_281.25)
    );
    for bad in [
        "31/Feb/2026:10:00:00 +0000",
        "10/Foo/2000:13:55:36 -0700",
        "10/Oct/2000:24:00:00 -0700",
        "10/Oct/2000:13:55:36 +2500",
        "2026-13-01T00:00:00Z",
        "2026-11-28T10:00",
        "",
    ] {
        assert!(time::parse_any(bad).is_none(), "{bad} parsed");
    }
}

#[test]
fn nginx_combined_sample() {
    let (records, diags, stats) =
        read_all("nginx.log", &sample("nginx_combined.log"), Format::Auto);
    assert_eq!(stats.lines, 15);
    assert_eq!(stats.records, 13);
    assert_eq!(stats.malformed, 2);
    // Googlebot, kube-probe, python-requests.
    assert_eq!(stats.bots, 3);
    let lines: Vec<u32> = diags.iter().map(|d| d.line).collect();
    assert_eq!(lines, [7, 14]);
    assert!(
        diags[0].to_string().starts_with("nginx.log:7:"),
        "{}",
        diags[0]
    );
    assert_eq!(diags[0].pointer, "/request");
    let first = &records[0];
    // 09:58:01 at +0100 is 08:58:01Z.
    assert_eq!(first.time, 1_795_856_281.0);
    assert_eq!(first.utc_offset_s, 3600);
    assert_eq!(first.ip, "198.51.100.23");
    assert_eq!((first.method.as_str(), first.path.as_str()), ("GET", "/"));
    assert_eq!(first.bytes, 18_342);
    assert_eq!(first.referer.as_deref(), Some("https://www.google.com/"));
    assert_eq!(device_class(&first.user_agent), DeviceClass::Mobile);
    let search = &records[2];
    assert_eq!(search.path, "/search");
    assert_eq!(search.query.as_deref(), Some("q=walking+boots"));
    let alice = records
        .iter()
        .find(|r| r.path == "/cart/add")
        .expect("present");
    assert_eq!(alice.user.as_deref(), Some("alice"));
    assert_eq!(
        (alice.method.as_str(), alice.status, alice.line),
        ("POST", 302, 8)
    );
    assert!(records.iter().filter(|r| r.bot).all(|r| r.path != "/cart"));
}

#[test]
fn apache_common_sample() {
    let (records, diags, stats) =
        read_all("access_log", &sample("apache_common.log"), Format::Ncsa);
    assert_eq!((stats.records, stats.malformed), (6, 1));
    assert_eq!(diags.len(), 1);
    assert_eq!((diags[0].line, diags[0].pointer.as_str()), (7, "/time"));
    let frank = &records[0];
    assert_eq!(frank.user.as_deref(), Some("frank"));
    assert_eq!(frank.time, 971_211_336.0);
    assert_eq!((frank.status, frank.bytes), (200, 2326));
    // No user agent in the common format: nothing to call a bot.
    assert_eq!(frank.user_agent, "");
    assert!(!frank.bot);
    // `-` for size is zero bytes.
    assert_eq!(records[3].bytes, 0);
    assert_eq!(records[3].status, 404);
}

#[test]
fn json_sample_with_a_mapping() {
    let mapping = JsonMapping {
        time: vec!["msec".into()],
        client_id: vec!["session".into()],
        attributes: [
            ("region".to_owned(), "geo.region".to_owned()),
            ("plan".to_owned(), "/plan".to_owned()),
        ]
        .into_iter()
        .collect(),
        ..JsonMapping::default()
    };
    let (records, diags, stats) = read_all(
        "json.log",
        &sample("nginx_json.log"),
        Format::Json(Box::new(mapping)),
    );
    assert_eq!(
        (stats.lines, stats.records, stats.malformed, stats.bots),
        (9, 7, 2, 1)
    );
    // Line 7 is cut short; line 9 has no `msec`.
    let where_: Vec<(u32, &str)> = diags.iter().map(|d| (d.line, d.pointer.as_str())).collect();
    assert_eq!(where_, [(7, "/json"), (9, "/time")]);
    let first = &records[0];
    assert_eq!(first.time, 1_795_856_400.12);
    assert_eq!(first.client_id.as_deref(), Some("s-91f2"));
    assert_eq!(first.latency_s, Some(0.041));
    assert_eq!(
        first.attributes.get("region").map(String::as_str),
        Some("eu-west")
    );
    assert_eq!(
        first.attributes.get("plan").map(String::as_str),
        Some("free")
    );
    assert_eq!(device_class(&first.user_agent), DeviceClass::Mobile);
    assert_eq!(records[1].path, "/category/boots");
    assert_eq!(records[1].query.as_deref(), Some("sort=price"));
    let bot = records.iter().find(|r| r.bot).expect("bingbot");
    assert_eq!(bot.client_id, None, "an empty session is no session");
    assert_eq!(device_class(&records[2].user_agent), DeviceClass::Desktop);
}

#[test]
fn json_default_mapping_reads_nginx_names() {
    let (records, diags, stats) = read_all("json.log", &sample("nginx_json.log"), Format::Auto);
    // With the default mapping the time is time_iso8601 (whole seconds): lines 7 and 9 fail.
    assert_eq!((stats.records, stats.malformed), (7, 2), "{diags:#?}");
    assert_eq!(records[0].time, 1_795_856_400.0);
    let lines: Vec<u32> = diags.iter().map(|d| d.line).collect();
    assert_eq!(lines, [7, 9]);
    assert_eq!(diags[1].pointer, "/status");
}

#[test]
fn long_lines_are_skipped_without_being_held() {
    let mut log =
        String::from("10.0.0.1 - - [28/Nov/2026:10:00:00 +0000] \"GET /a HTTP/1.1\" 200 1\n");
    log.push_str(&"x".repeat(MAX_LINE_BYTES * 3));
    log.push('\n');
    log.push_str("10.0.0.1 - - [28/Nov/2026:10:00:05 +0000] \"GET /b HTTP/1.1\" 200 1\n");
    let (records, diags, stats) = read_all("big.log", log.as_bytes(), Format::Auto);
    assert_eq!(
        records.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/a", "/b"]
    );
    assert_eq!(stats.malformed, 1);
    assert_eq!(diags[0].line, 2);
    assert_eq!(stats.bytes, log.len() as u64);
}

#[test]
fn nginx_escapes_and_absolute_targets() {
    let line = r#"10.0.0.1 - - [28/Nov/2026:10:00:00 +0000] "GET http://shop.example.com/p/1?x=1 HTTP/1.1" 200 5 "-" "Mozilla/5.0 \x22quoted\x22 (X11; Linux x86_64)" "0.120""#;
    let r = parse_line(line, &Format::Ncsa).expect("parses");
    assert_eq!(r.path, "/p/1");
    assert_eq!(r.query.as_deref(), Some("x=1"));
    assert_eq!(r.user_agent, "Mozilla/5.0 \"quoted\" (X11; Linux x86_64)");
    assert!(!r.bot);
}

#[test]
fn garbage_never_panics() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in 0..400 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 128) as u8
            })
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_line(&text, &Format::Ncsa);
        let _ = parse_line(&text, &Format::Auto);
        let _ = parse_line(&format!("{{{text}"), &Format::Auto);
    }
}

#[test]
fn bots_and_devices() {
    assert!(is_bot(
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    ));
    assert!(is_bot("curl/8.5.0"));
    assert!(is_bot("-"));
    assert!(!is_bot(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    ));
    assert_eq!(
        device_class("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15"),
        DeviceClass::Tablet
    );
    assert_eq!(
        device_class(
            "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
        ),
        DeviceClass::Tablet
    );
    assert_eq!(device_class("Wget/1.21"), DeviceClass::Bot);
}
