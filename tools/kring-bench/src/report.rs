// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Results: the JSON model, ratios against the baselines, the targets, and text tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::transport::BASELINES;

/// The whole output of a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Where and how it ran.
    pub meta: Meta,
    /// One record per (scenario, size, payload, transport, metric).
    pub results: Vec<Record>,
    /// The targets, judged.
    pub targets: Vec<Target>,
    /// What could not be measured, and why.
    pub skipped: Vec<Skipped>,
    /// Remarks (e.g. "kring transports skipped: no /dev/kring").
    pub notes: Vec<String>,
    /// Set when the run was aborted (a child failed, data did not verify).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where and how a run happened.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    /// `uname -r`.
    pub kernel: String,
    /// CPUs available.
    pub cpus: usize,
    /// `kvm`, `tcg`, `host` (as passed with `--accel`), or `unknown`.
    pub accel: String,
    /// `--quick`.
    pub quick: bool,
    /// Repeats per measurement (after one warm-up).
    pub repeats: usize,
    /// Seconds per repeat asked for (the budget may have shortened later ones).
    pub repeat_secs: f64,
    /// UTC, ISO 8601.
    pub date: String,
    /// The kring module's release and ABI, if it answered.
    pub kring_version: Option<String>,
    /// This tool's version.
    pub bench_version: String,
    /// Wall time of the run.
    pub wall_secs: f64,
}

/// One measured figure.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// `throughput`, `pingpong`, `fanin`, `large`, `schema`.
    pub scenario: String,
    /// Transport name.
    pub transport: String,
    /// Message size in bytes.
    pub size: u64,
    /// `raw`, or the schema payload.
    pub payload: String,
    /// `msgs/s`, `MB/s`, `ns p50`, `ns p99`.
    pub metric: String,
    /// Median over the repeats.
    pub median: f64,
    /// Smallest repeat.
    pub min: f64,
    /// Largest repeat.
    pub max: f64,
    /// Every repeat.
    pub samples: Vec<f64>,
    /// Speed-up against each reference measured in the same group: > 1 is better than the
    /// reference (throughput ÷ reference's, or reference's latency ÷ latency).
    #[serde(default)]
    pub ratios: BTreeMap<String, f64>,
    /// Derived figures (schema: `ns/msg extra`, `ns/byte extra`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, f64>,
}

impl Record {
    /// Whether larger is better for this metric.
    pub fn higher_is_better(&self) -> bool {
        !self.metric.starts_with("ns")
    }

    fn group(&self) -> (&str, u64, &str, &str) {
        (&self.scenario, self.size, &self.payload, &self.metric)
    }
}

/// A judged target.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Target {
    /// `a1`, `a2`, `b`, `c`, ...
    pub id: String,
    /// What is required.
    pub description: String,
    /// `PASS`, `MISS`, or `SKIP` (not measured).
    pub verdict: String,
    /// The measured ratio.
    pub ratio: Option<f64>,
    /// The ratio required.
    pub threshold: f64,
}

impl Target {
    /// The line printed for it.
    pub fn line(&self) -> String {
        match (self.verdict.as_str(), self.ratio) {
            (v, Some(r)) => format!(
                "{v} ({}) {}: measured {r:.2}x, target {:.2}x",
                self.id, self.description, self.threshold
            ),
            (v, None) => format!(
                "{v} ({}) {}: not measured in this run",
                self.id, self.description
            ),
        }
    }
}

/// Something not measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Skipped {
    /// Scenario.
    pub scenario: String,
    /// Transport.
    pub transport: String,
    /// Size in bytes.
    pub size: u64,
    /// Why.
    pub reason: String,
}

/// The reason recorded for kring measurements when `/dev/kring` is missing.
pub const NO_MODULE: &str = "no kring module";

/// The references a scenario's ratios are taken against.
pub fn references(scenario: &str) -> Vec<&'static str> {
    if scenario == "schema" {
        vec!["kring-send", "kring-batch"]
    } else {
        BASELINES.to_vec()
    }
}

/// The reference of a scenario's chart (ratio 1).
pub fn chart_reference(scenario: &str) -> &'static str {
    if scenario == "schema" {
        "kring-send"
    } else {
        "pipe"
    }
}

/// Fills every record's ratios, and the schema scenario's extra cost.
pub fn compute_ratios(records: &mut [Record]) {
    let snapshot = records.to_vec();
    for r in records.iter_mut() {
        r.ratios.clear();
        for b in references(&r.scenario) {
            if let Some(base) = snapshot
                .iter()
                .find(|x| x.transport == b && x.group() == r.group())
            {
                if let Some(v) = ratio(r.median, base.median, r.higher_is_better()) {
                    r.ratios.insert(b.to_owned(), v);
                }
            }
        }
        r.extra.clear();
        let plain = match r.transport.as_str() {
            "kring-schema" => "kring-send",
            "kring-schema-batch" => "kring-batch",
            _ => continue,
        };
        if let Some(p) = snapshot
            .iter()
            .find(|x| x.transport == plain && x.group() == r.group())
        {
            if r.metric == "msgs/s" && r.median > 0.0 && p.median > 0.0 && r.size > 0 {
                let extra = 1e9 / r.median - 1e9 / p.median;
                r.extra.insert("ns/msg extra".into(), extra);
                r.extra
                    .insert("ns/byte extra".into(), extra / r.size as f64);
            }
        }
    }
}

fn ratio(v: f64, base: f64, higher_better: bool) -> Option<f64> {
    let r = if higher_better { v / base } else { base / v };
    r.is_finite().then_some(r)
}

fn find<'a>(
    rs: &'a [Record],
    scenario: &str,
    size: u64,
    transport: &str,
    metric: &str,
) -> Option<&'a Record> {
    rs.iter().find(|r| {
        r.scenario == scenario && r.size == size && r.transport == transport && r.metric == metric
    })
}

fn judge(id: &str, description: &str, ratio: Option<f64>, threshold: f64) -> Target {
    let verdict = match ratio {
        None => "SKIP",
        Some(r) if r >= threshold => "PASS",
        Some(_) => "MISS",
    };
    Target {
        id: id.into(),
        description: description.into(),
        verdict: verdict.into(),
        ratio,
        threshold,
    }
}

/// The targets, judged from `rs` (ratios computed).
pub fn targets(rs: &[Record]) -> Vec<Target> {
    let batch64 = find(rs, "throughput", 64, "kring-batch", "msgs/s");
    let a1 = batch64.and_then(|r| r.ratios.get("shm-ring").copied());
    let best = ["pipe", "unix", "mqueue"]
        .iter()
        .filter_map(|t| find(rs, "throughput", 64, t, "msgs/s"))
        .map(|r| r.median)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let a2 = batch64
        .zip(best)
        .and_then(|(r, b)| ratio(r.median, b, true));
    let b = find(rs, "pingpong", 64, "kring-send", "ns p50")
        .and_then(|r| r.ratios.get("unix").copied());
    let c = find(rs, "large", 1 << 20, "kring-desc", "MB/s")
        .and_then(|r| r.ratios.get("pipe").copied());
    let c2 = find(rs, "large", 1 << 20, "kring-desc-append", "MB/s")
        .and_then(|r| r.ratios.get("pipe").copied());
    let c3 = find(rs, "large", 1 << 20, "kring-desc-fresh", "MB/s")
        .and_then(|r| r.ratios.get("pipe").copied());
    vec![
        judge("a1", "64 B throughput, kring-batch vs shm-ring", a1, 0.5),
        judge(
            "a2",
            "64 B throughput, kring-batch vs the best of pipe/unix/mqueue",
            a2,
            2.0,
        ),
        judge(
            "b",
            "64 B round trip p50, kring-send vs unix (speed-up, >= 1: no slower)",
            b,
            1.0,
        ),
        judge(
            "c",
            "1 MiB throughput, kring-desc (blocks of a sealed Immutable region) vs pipe",
            c,
            10.0,
        ),
        judge(
            "c-append",
            "1 MiB throughput, kring-desc-append (each block appended: one copy) vs pipe",
            c2,
            10.0,
        ),
        judge(
            "c-fresh",
            "1 MiB throughput, kring-desc-fresh (each block in a new sealed region: one copy) vs pipe",
            c3,
            10.0,
        ),
    ]
}

/// `1.23M`-style number.
pub fn si(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        "-".into()
    } else if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A value of `metric`, human-readable.
pub fn value(metric: &str, v: f64) -> String {
    if metric.starts_with("ns") {
        if !v.is_finite() {
            "-".into()
        } else if v >= 1e6 {
            format!("{:.2} ms", v / 1e6)
        } else if v >= 1e3 {
            format!("{:.1} µs", v / 1e3)
        } else {
            format!("{v:.0} ns")
        }
    } else if metric == "MB/s" {
        format!("{v:.1}")
    } else {
        si(v)
    }
}

/// A byte size, human-readable.
pub fn bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} B")
    }
}

/// What each scenario measures (table headings).
pub fn heading(scenario: &str) -> &'static str {
    match scenario {
        "throughput" => "1 sender process -> 1 receiver process",
        "pingpong" => "round trip, 64 B, blocking receive on both sides (2 processes)",
        "fanin" => "4 sender processes -> 1 receiver process, 64 B, aggregate",
        "large" => "768 x f32 (3072 B) and 1 MiB blocks, every byte checksummed by the receiver",
        "schema" => "the same kring queue with a schema attached vs without (~3 KB messages)",
        _ => "",
    }
}

/// Scenario order in reports.
pub const SCENARIO_ORDER: [&str; 5] = ["throughput", "pingpong", "fanin", "large", "schema"];

fn scenarios_in(rs: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = SCENARIO_ORDER
        .iter()
        .filter(|s| rs.iter().any(|r| &r.scenario == *s))
        .map(|s| s.to_string())
        .collect();
    for r in rs {
        if !v.contains(&r.scenario) {
            v.push(r.scenario.clone());
        }
    }
    v
}

/// Rows of one scenario's table: cells as strings, first row the header.
fn rows(rs: &[Record], scenario: &str, repeats: usize) -> Vec<Vec<String>> {
    let refs = references(scenario);
    let mut head = vec![
        "size".to_string(),
        "payload".into(),
        "transport".into(),
        "metric".into(),
        format!("median of {repeats}"),
        "min–max".into(),
    ];
    head.extend(refs.iter().map(|r| format!("x {r}")));
    if scenario == "schema" {
        head.push("ns/byte extra".into());
    }
    let mut out = vec![head];
    for r in rs.iter().filter(|r| r.scenario == scenario) {
        let mut row = vec![
            bytes(r.size),
            r.payload.clone(),
            r.transport.clone(),
            r.metric.clone(),
            value(&r.metric, r.median),
            format!("{}–{}", value(&r.metric, r.min), value(&r.metric, r.max)),
        ];
        row.extend(
            refs.iter()
                .map(|b| r.ratios.get(*b).map_or("-".into(), |v| format!("{v:.2}"))),
        );
        if scenario == "schema" {
            row.push(
                r.extra
                    .get("ns/byte extra")
                    .map_or("-".into(), |v| format!("{v:+.3}")),
            );
        }
        out.push(row);
    }
    out
}

/// The human tables and target lines.
pub fn text(rep: &Report) -> String {
    let mut s = String::new();
    let m = &rep.meta;
    let _ = writeln!(
        s,
        "kring-bench: kernel {}, {} CPUs, accel {}, kring {}, {} repeats{}, {}",
        m.kernel,
        m.cpus,
        m.accel,
        m.kring_version.as_deref().unwrap_or("absent"),
        m.repeats,
        if m.quick { " (quick)" } else { "" },
        m.date
    );
    for sc in scenarios_in(&rep.results) {
        let _ = writeln!(s, "\n== {sc}: {} ==", heading(&sc));
        let t = rows(&rep.results, &sc, m.repeats);
        let widths: Vec<usize> = (0..t[0].len())
            .map(|c| t.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for row in &t {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i >= 4 {
                        format!("{c:>w$}")
                    } else {
                        format!("{c:<w$}")
                    }
                })
                .collect();
            let _ = writeln!(s, "{}", line.join("  ").trim_end());
        }
    }
    s.push_str("\nRatios are speed-ups against the column's transport measured in this run (> 1: faster).\n");
    // Without the module every kring measurement is skipped: the note says so once.
    for k in rep.skipped.iter().filter(|k| k.reason != NO_MODULE) {
        let _ = writeln!(
            s,
            "skipped: {} {} {}: {}",
            k.scenario,
            bytes(k.size),
            k.transport,
            k.reason
        );
    }
    for n in &rep.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s.push_str("\nTargets:\n");
    for t in &rep.targets {
        let _ = writeln!(s, "{}", t.line());
    }
    if let Some(e) = &rep.error {
        let _ = writeln!(s, "\nABORTED: {e}");
    }
    s
}

/// Markdown tables and targets (for Documentation/performance.md).
pub fn markdown(rep: &Report) -> String {
    let mut s = String::new();
    let m = &rep.meta;
    let _ = writeln!(s, "<!-- generated by `kring-bench render` -->");
    let _ = writeln!(
        s,
        "Measured {} on Linux {} with {} CPUs (accel: {}), kring {}. Each figure is the median of {} repeats (after a warm-up), with the min–max spread; ratios are speed-ups against the transport named in the column, measured in the same run with the same message sizes and process layout (> 1: faster).\n",
        m.date,
        m.kernel,
        m.cpus,
        m.accel,
        m.kring_version.as_deref().unwrap_or("(absent)"),
        m.repeats
    );
    for sc in scenarios_in(&rep.results) {
        let _ = writeln!(s, "### {sc}\n\n{}\n", heading(&sc));
        let t = rows(&rep.results, &sc, m.repeats);
        let _ = writeln!(s, "| {} |", t[0].join(" | "));
        let _ = writeln!(
            s,
            "|{}",
            t[0].iter()
                .enumerate()
                .map(|(i, _)| if i >= 4 { " ---: |" } else { " --- |" })
                .collect::<String>()
        );
        for row in &t[1..] {
            let _ = writeln!(s, "| {} |", row.join(" | "));
        }
        s.push('\n');
    }
    if !rep.targets.is_empty() {
        s.push_str("### Targets\n\n");
        for t in &rep.targets {
            let _ = writeln!(s, "- {}", t.line());
        }
        s.push('\n');
    }
    if !rep.skipped.is_empty() || !rep.notes.is_empty() {
        s.push_str("### Notes\n\n");
        for k in &rep.skipped {
            let _ = writeln!(
                s,
                "- skipped {} {} {}: {}",
                k.scenario,
                bytes(k.size),
                k.transport,
                k.reason
            );
        }
        for n in &rep.notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    if let Some(e) = &rep.error {
        let _ = writeln!(s, "\n**Aborted:** {e}");
    }
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// One line per record.
pub fn csv(rep: &Report) -> String {
    let mut refs: Vec<&str> = BASELINES.to_vec();
    refs.extend(["kring-send", "kring-batch"]);
    let mut s = String::from("scenario,transport,size,payload,metric,median,min,max,samples");
    for r in &refs {
        let _ = write!(s, ",x_{r}");
    }
    s.push_str(",ns_per_byte_extra\n");
    for r in &rep.results {
        let samples: Vec<String> = r.samples.iter().map(|v| format!("{v}")).collect();
        let _ = write!(
            s,
            "{},{},{},{},{},{},{},{},{}",
            csv_field(&r.scenario),
            csv_field(&r.transport),
            r.size,
            csv_field(&r.payload),
            csv_field(&r.metric),
            r.median,
            r.min,
            r.max,
            samples.join(";")
        );
        for b in &refs {
            let _ = write!(
                s,
                ",{}",
                r.ratios.get(*b).map_or(String::new(), |v| format!("{v}"))
            );
        }
        let _ = writeln!(
            s,
            ",{}",
            r.extra
                .get("ns/byte extra")
                .map_or(String::new(), |v| format!("{v}"))
        );
    }
    s
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn rec(scenario: &str, transport: &str, size: u64, metric: &str, median: f64) -> Record {
        Record {
            scenario: scenario.into(),
            transport: transport.into(),
            size,
            payload: "raw".into(),
            metric: metric.into(),
            median,
            min: median * 0.9,
            max: median * 1.1,
            samples: vec![median * 0.9, median, median * 1.1],
            ..Record::default()
        }
    }

    /// A small report with every scenario and target.
    pub fn fixture() -> Report {
        let mut rs = vec![
            rec("throughput", "pipe", 64, "msgs/s", 1e6),
            rec("throughput", "unix", 64, "msgs/s", 0.8e6),
            rec("throughput", "mqueue", 64, "msgs/s", 1.2e6),
            rec("throughput", "shm-ring", 64, "msgs/s", 10e6),
            rec("throughput", "kring-batch", 64, "msgs/s", 4e6),
            rec("pingpong", "unix", 64, "ns p50", 8000.0),
            rec("pingpong", "kring-send", 64, "ns p50", 10000.0),
            rec("pingpong", "pipe", 64, "ns p99", 20000.0),
            rec("large", "pipe", 1 << 20, "MB/s", 1000.0),
            rec("large", "kring-desc", 1 << 20, "MB/s", 12000.0),
            rec("schema", "kring-send", 3080, "msgs/s", 1e6),
            rec("schema", "kring-schema", 3080, "msgs/s", 0.5e6),
        ];
        rs.iter_mut()
            .filter(|r| r.scenario == "schema")
            .for_each(|r| r.payload = "vec768".into());
        compute_ratios(&mut rs);
        let targets = targets(&rs);
        Report {
            meta: Meta {
                kernel: "6.1".into(),
                cpus: 2,
                accel: "tcg".into(),
                repeats: 3,
                date: "2026-01-01T00:00:00Z".into(),
                ..Meta::default()
            },
            results: rs,
            targets,
            skipped: vec![Skipped {
                scenario: "large".into(),
                transport: "unix".into(),
                size: 1 << 20,
                reason: "too big, \"really\"".into(),
            }],
            notes: vec!["a note".into()],
            error: None,
        }
    }

    #[test]
    fn ratios_are_speed_ups_for_both_kinds_of_metric() {
        let rep = fixture();
        let get = |t: &str, m: &str| {
            rep.results
                .iter()
                .find(|r| r.transport == t && r.metric == m)
                .unwrap()
        };
        let b = get("kring-batch", "msgs/s");
        assert_eq!(b.ratios["pipe"], 4.0);
        assert_eq!(b.ratios["shm-ring"], 0.4);
        assert_eq!(get("kring-send", "ns p50").ratios["unix"], 0.8);
        assert_eq!(get("pipe", "msgs/s").ratios["pipe"], 1.0);
        let s = get("kring-schema", "msgs/s");
        assert_eq!(s.ratios["kring-send"], 0.5);
        assert!((s.extra["ns/msg extra"] - 1000.0).abs() < 1e-6);
        assert!((s.extra["ns/byte extra"] - 1000.0 / 3080.0).abs() < 1e-9);
    }

    #[test]
    fn targets_are_judged() {
        let rep = fixture();
        let v: Vec<(&str, &str)> = rep
            .targets
            .iter()
            .map(|t| (t.id.as_str(), t.verdict.as_str()))
            .collect();
        assert_eq!(
            v,
            [
                ("a1", "MISS"),
                ("a2", "PASS"),
                ("b", "MISS"),
                ("c", "PASS"),
                ("c-append", "SKIP"),
                ("c-fresh", "SKIP")
            ]
        );
        let a2 = &rep.targets[1];
        assert!((a2.ratio.unwrap() - 4.0 / 1.2).abs() < 1e-9);
        assert!(
            rep.targets[0].line().starts_with("MISS (a1)")
                && rep.targets[0].line().contains("measured 0.40x")
        );
    }

    #[test]
    fn json_round_trip() {
        let rep = fixture();
        let j = serde_json::to_string_pretty(&rep).unwrap();
        let back: Report = serde_json::from_str(&j).unwrap();
        assert_eq!(back, rep);
    }

    #[test]
    fn tables_and_csv() {
        let rep = fixture();
        let t = text(&rep);
        assert!(
            t.contains("== throughput") && t.contains("x shm-ring") && t.contains("PASS (c)"),
            "{t}"
        );
        let md = markdown(&rep);
        assert!(
            md.contains("| size | payload | transport |") && md.contains("### Targets"),
            "{md}"
        );
        let c = csv(&rep);
        assert_eq!(c.lines().count(), rep.results.len() + 1);
        assert!(c.lines().all(|l| l.split(',').count() >= 10));
    }

    #[test]
    fn number_formats() {
        assert_eq!(si(1_234_567.0), "1.23M");
        assert_eq!(si(12_345.0), "12.3k");
        assert_eq!(value("ns p50", 12_345.0), "12.3 µs");
        assert_eq!(value("ns p99", 950.0), "950 ns");
        assert_eq!(bytes(1 << 20), "1 MiB");
        assert_eq!(bytes(3072), "3072 B");
    }
}
