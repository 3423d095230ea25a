//! Golden tests of validation: each case is a twin and the exact diagnostics `doppel validate`
//! prints for it, so wording and positions are reviewed like code.

use expect_test::{Expect, expect};

fn check(input: &str, expect: Expect) {
    let loaded = doppel_model::load_str("twin.yaml", input);
    let text: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    expect.assert_eq(&text.join("\n"));
}

const SERVICE: &str = "
services:
  api:
    endpoints:
      get: {service_time: {dist: exponential, mean: 10ms}}
";

#[test]
fn valid_twin_has_no_diagnostics() {
    check(
        &format!(
            "{SERVICE}workloads:\n  w:\n    open: {{rate: 10/s}}\n    flow: {{steps: {{s: {{service: api}}}}}}\n"
        ),
        expect![[""]],
    );
}

#[test]
fn syntax_error_stops_with_position() {
    check(
        "services:\n  api: {endpoints: [\n",
        expect![
            "twin.yaml:3:1: (document): YAML syntax: while parsing a node, did not find expected node content"
        ],
    );
}

#[test]
fn structural_errors_are_all_reported() {
    check(
        "
hosts:
  h1: {cores: four, memroy: 2Gi}
  h2: {cores: 2, memory: 2 gigs}
services:
  api:
    version: 1.10
    concurrency: {workers: 0}
    endpoints:
      get: {service_time: {dist: exponentail, mean: 5ms}}
",
        expect![[r#"
            twin.yaml:3:15: hosts.h1.cores: expected a number, found "four"
            twin.yaml:3:21: hosts.h1.memroy: unknown field `memroy` (did you mean `memory`?)
            twin.yaml:4:26: hosts.h2.memory: invalid size `2 gigs`: expected a number and a unit: Ki, Mi, Gi, Ti (powers of 1024) or k, M, G, T (powers of 1000), optionally followed by B
            twin.yaml:7:14: services.api.version: expected a string, found 1.1 (write it in quotes: "1.10")
            twin.yaml:8:28: services.api.concurrency.workers: must be at least 1, found 0
            twin.yaml:10:34: services.api.endpoints.get.service_time.dist: expected one of `constant`, `exponential`, `lognormal`, `uniform`, `empirical`, found "exponentail""#]],
    );
}

#[test]
fn references_are_checked_with_suggestions() {
    check(
        "
zones:
  eu-a: {region: eu}
hosts:
  h1: {zone: eu-b, cores: 4}
services:
  api:
    placement: {zones: [eu-a]}
    endpoints:
      get:
        service_time: {dist: constant, value: 1ms}
        calls:
          - service: dbb
          - {service: api, endpoint: gte}
  db:
    endpoints:
      q: {service_time: {dist: constant, value: 1ms}}
      w: {service_time: {dist: constant, value: 1ms}}
workloads:
  w:
    open: {rate: 5/s}
    flow: {steps: {s: {service: db}}}
",
        expect![[r#"
            twin.yaml:3:18: zones.eu-a.region: unknown region `eu`; no such entry under `regions`
            twin.yaml:5:14: hosts.h1.zone: unknown zone `eu-b` (did you mean `eu-a`?); no such entry under `zones`
            twin.yaml:13:22: services.api.endpoints.get.calls[0].service: unknown service `dbb` (did you mean `db`?); no such entry under `services`
            twin.yaml:14:38: services.api.endpoints.get.calls[1].endpoint: service `api` has no endpoint `gte` (did you mean `get`?)
            twin.yaml:22:33: workloads.w.flow.steps.s.service: service `db` has 2 endpoints; say which with `endpoint`"#]],
    );
}

#[test]
fn flows_must_sum_to_one_and_exit() {
    check(
        &format!(
            "{SERVICE}workloads:
  w:
    open: {{rate: 10/s}}
    flow:
      steps:
        a: {{service: api, next: {{b: 0.5, c: 0.2}}}}
        b: {{service: api, next: {{b: 1.0}}}}
        c: {{service: api, next: {{a: 0.5}}, exit: 0.5}}
        d: {{service: api}}
"
        ),
        expect![[r#"
            twin.yaml:11:33: workloads.w.flow.steps.a.next: probabilities of `next` (with no `exit`) sum to 0.7, not 1
            twin.yaml:12:12: workloads.w.flow.steps.b: step `b` can never reach an exit, so arrivals would stay forever
            twin.yaml:14:12: workloads.w.flow.steps.d: warning: step `d` is never reached from `a`"#]],
    );
}

#[test]
fn endless_call_cycles_are_errors() {
    check(
        "
services:
  a:
    endpoints:
      x:
        service_time: {dist: constant, value: 1ms}
        calls: [{service: b}]
  b:
    endpoints:
      y:
        service_time: {dist: constant, value: 1ms}
        calls: [{service: a, probability: 0.5, count: 2}]
  c:
    endpoints:
      z:
        service_time: {dist: constant, value: 1ms}
        calls: [{service: c, probability: 0.3}]
",
        expect![[r#"
            twin.yaml:7:16: services.a.endpoints.x.calls: call cycle a.x → b.y → a.x never ends: the expected number of calls grows by a factor 1.000 per hop around it (the spectral radius of its expected-call matrix must be below 1)
            twin.yaml:17:16: services.c.endpoints.z.calls: warning: call cycle c.z → c.z: recursive calls end with probability 1 (expected calls shrink by a factor 0.300 per hop)"#]],
    );
}

#[test]
fn distributions_and_policies_are_sane() {
    check(
        "
services:
  a:
    endpoints:
      x:
        service_time: {dist: lognormal, mean: 10ms, p99: 1s}
        calls:
          - service: b
            timeout: 0s
            retries: {max: 2, backoff: 100ms, max_backoff: 10ms}
            circuit_breaker: {open_for: 5s}
  b:
    endpoints:
      y:
        service_time:
          dist: empirical
          buckets: [{le: 5ms, weight: 1}, {le: 2ms, weight: 1}]
",
        expect![[r#"
            twin.yaml:6:58: services.a.endpoints.x.service_time.p99: p99 is 100.0 times the mean; a log-normal allows at most 14.9 (use `empirical` for heavier tails)
            twin.yaml:9:22: services.a.endpoints.x.calls[0].timeout: a zero timeout fails every call
            twin.yaml:10:60: services.a.endpoints.x.calls[0].retries.max_backoff: max_backoff (10ms) is below backoff (100ms)
            twin.yaml:11:30: services.a.endpoints.x.calls[0].circuit_breaker: give `error_rate` or `consecutive_failures`, or the breaker never trips
            twin.yaml:17:48: services.b.endpoints.y.service_time.buckets[1].le: bucket bounds must increase (2ms after 5ms)"#]],
    );
}

#[test]
fn network_and_security_facts() {
    check(
        "
networks:
  vpc: {cidr: 10.0.0.0/16}
subnets:
  a: {network: vpc, cidr: 10.0.1.0/24}
  b: {network: vpc, cidr: 10.0.1.128/25}
  c: {network: vpc, cidr: 192.168.0.0/24}
hosts:
  h: {cores: 2, subnet: a, addresses: [10.0.2.1]}
security_groups:
  web:
    rules:
      - {action: allow, ports: 443, peers: [0.0.0.0/0]}
      - {action: allow, ports: 9000-80, peers: [group:nope, cart]}
services:
  s:
    security:
      vulnerabilities:
        - {cve: CVE-2021-44228, cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H'}
        - {cve: log4shell}
    endpoints:
      x: {service_time: {dist: constant, value: 1ms}}
",
        expect![[r#"
            twin.yaml:6:27: subnets.b.cidr: 10.0.1.128/25 overlaps subnet `a` (10.0.1.0/24)
            twin.yaml:7:27: subnets.c.cidr: 192.168.0.0/24 is not inside network `vpc` (10.0.0.0/16)
            twin.yaml:9:40: hosts.h.addresses[0]: address 10.0.2.1 is outside subnet `a` (10.0.1.0/24)
            twin.yaml:14:32: security_groups.web.rules[1].ports: expected a port (1-65535) or a range `LOW-HIGH` with LOW ≤ HIGH
            twin.yaml:14:49: security_groups.web.rules[1].peers[0]: unknown security-group `nope`; no such entry under `security_groups`
            twin.yaml:14:61: security_groups.web.rules[1].peers[1]: `cart` is not a peer; expected `any`, `internet`, a CIDR, `tag:NAME`, `group:NAME` or `KIND:NAME` (e.g. `service:cart`)
            twin.yaml:20:17: services.s.security.vulnerabilities[1].cve: "log4shell" has the wrong format; expected CVE identifier, e.g. `CVE-2021-44228`"#]],
    );
}

#[test]
fn names_defined_twice_across_files_are_reported_at_both() {
    let files = [
        ("main.yaml", "include: [more.yaml]\nzones: {a: {}}\n"),
        ("more.yaml", "zones:\n  b: {}\n  a: {}\n"),
    ];
    let loaded = doppel_model::load(&["main.yaml"], |p| {
        files
            .iter()
            .find(|(n, _)| std::path::Path::new(n) == p)
            .map(|(_, t)| t.as_bytes().to_vec())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    });
    let text: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    expect![[r#"more.yaml:3:3: zones.a: zone `a` is already defined at main.yaml:2:9"#]]
        .assert_eq(&text.join("\n"));
    assert_eq!(loaded.twin.zones.len(), 2);
    assert_eq!(loaded.files, ["main.yaml", "more.yaml"]);
}

#[test]
fn unreadable_and_non_utf8_files() {
    let loaded = doppel_model::load(&["a.yaml", "b.yaml"], |p| {
        if p == std::path::Path::new("a.yaml") {
            Ok(b"name: x\nzones: {\xff: {}}\n".to_vec())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "No such file or directory",
            ))
        }
    });
    let text: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    expect![[r#"
        a.yaml:2:9: (document): file is not valid UTF-8
        b.yaml:1:1: (document): cannot read file: No such file or directory"#]]
    .assert_eq(&text.join("\n"));
}

#[test]
fn values_the_schema_cannot_express_fail_at_decoding_with_a_path() {
    check(
        "
networks:
  vpc: {cidr: 10.0.0.0/33}
hosts:
  h: {cores: 2, addresses: [10.0.0.300]}
  ok: {cores: 2, zone: z}
",
        expect![[r#"
            twin.yaml:3:15: networks.vpc.cidr: invalid IP address syntax
            twin.yaml:5:29: hosts.h.addresses[0]: invalid IP address syntax
            twin.yaml:6:24: hosts.ok.zone: unknown zone `z`; no such entry under `zones`"#]],
    );
}

#[test]
fn a_file_that_cannot_be_parsed_does_not_cascade_into_unknown_names() {
    let files = [
        (
            "main.yaml",
            "include: [net.yaml]\nhosts:\n  h: {zone: a, cores: 1}\n  h: {zone: b, cores: 2}\n",
        ),
        ("net.yaml", "zones:\n  a: {latency: [0}\n"),
    ];
    let loaded = doppel_model::load(&["main.yaml"], |p| {
        files
            .iter()
            .find(|(n, _)| std::path::Path::new(n) == p)
            .map(|(_, t)| t.as_bytes().to_vec())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    });
    let text: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    // The duplicate key keeps the first host and the rest of main.yaml is still checked.
    expect![[r#"
        main.yaml:1:1: (document): warning: cross-references not checked until net.yaml can be parsed
        main.yaml:4:3: hosts.h: duplicate key `h` (first defined at line 3)
        net.yaml:2:18: (document): YAML syntax: while parsing a flow sequence, expected ',' or ']'"#]].assert_eq(&text.join("\n"));
    assert_eq!(loaded.twin.hosts["h"].cores, 1.0);
}

#[test]
fn placement_replicas_and_zone_latency() {
    check(
        "
zones: {a: {}, b: {}, c: {}}
hosts:
  a1: {zone: a, cores: 8, tags: [k8s]}
  a2: {zone: a, cores: 8, tags: [db]}
  b1: {zone: b, cores: 8, tags: [db]}
services:
  web:
    replicas: 2
    placement: {zones: [a, b], host_tags: [k8s]}
    endpoints:
      get: {service_time: {dist: constant, value: 1ms}, calls: [{service: web-ro, async: true, optional: true}]}
  web-ro:
    replica_of: web
    placement: {zones: [c]}
    endpoints:
      get: {service_time: {dist: constant, value: 1ms}}
  solo:
    replica_of: solo
    endpoints:
      get: {service_time: {dist: constant, value: 1ms}}
",
        expect![[r#"
            twin.yaml:2:12: zones.a.latency: warning: no latency stated between zones `a` and `b`, which both run instances; calls between them will cost no time
            twin.yaml:2:12: zones.a.latency: warning: no latency stated between zones `a` and `c`, which both run instances; calls between them will cost no time
            twin.yaml:2:19: zones.b.latency: warning: no latency stated between zones `b` and `c`, which both run instances; calls between them will cost no time
            twin.yaml:10:28: services.web.placement.zones[1]: warning: no host in zone `b` has tags ["k8s"]; replicas placed here get no host
            twin.yaml:12:106: services.web.endpoints.get.calls[0].optional: warning: an `async` call never fails its caller; `optional` changes nothing
            twin.yaml:19:17: services.solo.replica_of: a service cannot be a replica of itself"#]],
    );
    let twin = doppel_model::load_str("t.yaml", "zones: {a: {}}\nhosts:\n  a1: {zone: a, cores: 1, tags: [db]}\n  a2: {zone: a, cores: 1, tags: [k8s]}\nservices:\n  s:\n    replicas: 2\n    placement: {zones: [a], host_tags: [k8s]}\n    endpoints: {e: {service_time: {dist: constant, value: 1ms}}}\n").twin;
    let hosts: Vec<Option<String>> = twin.all_instances().into_iter().map(|i| i.host).collect();
    assert_eq!(hosts, [Some("a2".to_owned()), Some("a2".to_owned())]);
}
