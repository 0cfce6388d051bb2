// SPDX-License-Identifier: GPL-2.0 OR MIT
//! `kring-bench`: kring against a pipe, a UNIX SEQPACKET socket, a POSIX mqueue and a
//! shared-memory ring, with the same message sizes and process layout, in the same run.
//!
//! ```text
//! kring-bench run [--quick] [--only SCENARIO[,..]] [--transports T[,..]] [--accel kvm|tcg|host]
//!                 [--budget SECS] [--repeats N] [--out FILE]
//! kring-bench render RESULTS.json OUTDIR
//! kring-bench list
//! ```
//!
//! `run` prints a table per scenario and the target lines, then the results as JSON between
//! the lines `KRING-BENCH-JSON-BEGIN` and `KRING-BENCH-JSON-END` (a VM's console is the only
//! way out of it), and writes the JSON to `--out` too. Progress goes to stderr.

mod cases;
mod harness;
mod kringt;
mod payload;
mod render;
mod report;
mod scenario;
mod stats;
mod sys;
mod transport;

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use report::{Meta, Record, Report, Skipped};
use scenario::{Combo, Outcome};

const USAGE: &str = "usage: kring-bench run [--quick] [--only SCENARIO[,..]] [--transports T[,..]] [--accel kvm|tcg|host]
                       [--budget SECS] [--repeats N] [--out FILE]
       kring-bench render RESULTS.json OUTDIR
       kring-bench list";

/// Options of `run`.
#[derive(Debug, Default, PartialEq)]
struct Opts {
    quick: bool,
    only: Vec<String>,
    transports: Vec<String>,
    accel: Option<String>,
    budget: Option<f64>,
    repeats: Option<usize>,
    out: Option<String>,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = args.iter();
    let list = |v: &str| {
        v.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (a.as_str(), None),
        };
        if flag == "--quick" {
            o.quick = true;
            continue;
        }
        let v = match inline.or_else(|| it.next().cloned()) {
            Some(v) => v,
            None => return Err(format!("{flag} needs a value")),
        };
        match flag {
            "--only" => o.only = list(&v),
            "--transports" => o.transports = list(&v),
            "--accel" if ["kvm", "tcg", "host"].contains(&v.as_str()) => o.accel = Some(v),
            "--budget" => {
                o.budget = Some(
                    v.parse()
                        .ok()
                        .filter(|b: &f64| *b > 0.0)
                        .ok_or("--budget takes seconds")?,
                )
            }
            "--repeats" => {
                o.repeats = Some(
                    v.parse()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or("--repeats takes 1..1000")?,
                )
            }
            "--out" => o.out = Some(v),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    for s in &o.only {
        if !scenario::SCENARIOS.iter().any(|(n, _)| n == s) {
            return Err(format!("unknown scenario {s} (see `kring-bench list`)"));
        }
    }
    for t in &o.transports {
        if !transport::TRANSPORTS.iter().any(|(n, _)| n == t) {
            return Err(format!("unknown transport {t} (see `kring-bench list`)"));
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("run") => parse(&args[1..]).and_then(|o| run(&o)),
        Some("render") if args.len() == 3 => render_cmd(&args[1], &args[2]),
        Some("list") if args.len() == 1 => {
            list();
            Ok(true)
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => Err(USAGE.to_owned()),
    };
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("kring-bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn list() {
    println!("scenarios:");
    for (n, d) in scenario::SCENARIOS {
        println!("  {n:<12} {d}");
    }
    println!("transports:");
    for (n, d) in transport::TRANSPORTS {
        println!("  {n:<19} {d}");
    }
}

fn render_cmd(results: &str, out: &str) -> Result<bool, String> {
    let text = std::fs::read_to_string(results).map_err(|e| format!("{results}: {e}"))?;
    // Accept a whole console log too: take what lies between the markers.
    let json = match (text.find(JSON_BEGIN), text.find(JSON_END)) {
        (Some(b), Some(e)) if b < e => &text[b + JSON_BEGIN.len()..e],
        _ => &text,
    };
    let rep: Report = serde_json::from_str(json.trim()).map_err(|e| format!("{results}: {e}"))?;
    render::render(&rep, std::path::Path::new(out)).map_err(|e| format!("{out}: {e}"))?;
    println!("wrote {out}/results.csv, {out}/table.md, {out}/results.svg");
    Ok(true)
}

const JSON_BEGIN: &str = "KRING-BENCH-JSON-BEGIN";
const JSON_END: &str = "KRING-BENCH-JSON-END";

/// Lets message queues hold what the larger scenarios need (RLIMIT_MSGQUEUE is 800 KiB by
/// default); best effort: a queue that still does not fit is skipped with its error.
fn raise_mqueue_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let want = 256u64 << 20;
    let cur = getrlimit(Resource::Msgqueue);
    if cur.current.is_some_and(|c| c >= want) {
        return;
    }
    let hard = cur.maximum.map_or(want, |m| m.max(want));
    if setrlimit(
        Resource::Msgqueue,
        Rlimit {
            current: Some(want),
            maximum: Some(hard),
        },
    )
    .is_err()
    {
        let m = cur.maximum;
        let _ = setrlimit(
            Resource::Msgqueue,
            Rlimit {
                current: m,
                maximum: m,
            },
        );
    }
}

fn date_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil from days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Per-repeat time: the default, shrunk so that what is left fits the budget (`overhead`:
/// what a measurement takes beyond its repeats, warm-up included).
fn repeat_time(
    default: f64,
    budget: f64,
    elapsed: f64,
    left: usize,
    overhead: f64,
    repeats: usize,
) -> f64 {
    let per_combo = (budget - elapsed).max(0.0) / left.max(1) as f64;
    ((per_combo - overhead) / repeats as f64).clamp(MIN_REPEAT, default)
}

/// The warm-up repeat's length, relative to a repeat.
const WARMUP: f64 = 0.25;
/// The shortest repeat the budget may impose.
const MIN_REPEAT: f64 = 0.02;

fn run(o: &Opts) -> Result<bool, String> {
    let t_start = Instant::now();
    raise_mqueue_limit();
    let repeats = o.repeats.unwrap_or(if o.quick { 3 } else { 5 });
    let default_secs = if o.quick { 0.3 } else { 1.0 };
    // Fit ~3 min (quick) / ~10 min (full) even in a slow emulated VM.
    let budget = o.budget.unwrap_or(if o.quick { 150.0 } else { 540.0 });
    let kring = kringt::probe();
    let mut rep = Report {
        meta: Meta {
            kernel: rustix::system::uname()
                .release()
                .to_string_lossy()
                .into_owned(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            accel: o.accel.clone().unwrap_or_else(|| "unknown".into()),
            quick: o.quick,
            repeats,
            repeat_secs: default_secs,
            date: date_utc(),
            kring_version: kring.as_ref().ok().cloned(),
            bench_version: env!("CARGO_PKG_VERSION").into(),
            wall_secs: 0.0,
        },
        ..Report::default()
    };
    let mut combos = scenario::plan(&o.only, &o.transports)?;
    if let Err(e) = &kring {
        rep.notes.push(format!("kring transports skipped: {e}"));
        eprintln!("kring-bench: kring transports skipped ({e}); the baselines still run");
        let (k, rest): (Vec<Combo>, Vec<Combo>) = combos
            .into_iter()
            .partition(|c| c.transport.starts_with("kring"));
        for c in k {
            rep.skipped.push(Skipped {
                scenario: c.scenario.into(),
                transport: c.transport.into(),
                size: c.size() as u64,
                reason: report::NO_MODULE.into(),
            });
        }
        combos = rest;
    }
    // Setup, warm-up and draining per measurement beyond the repeats themselves: the mean so
    // far (a guess to start with).
    let (mut overhead, mut extra, mut done) = (0.5, 0.0, 0.0);
    let n = combos.len();
    for (i, c) in combos.iter().enumerate() {
        let d = repeat_time(
            default_secs,
            budget,
            t_start.elapsed().as_secs_f64(),
            n - i,
            overhead,
            repeats,
        );
        let mut durations = vec![Duration::from_secs_f64(d * WARMUP)];
        durations.extend(std::iter::repeat_n(Duration::from_secs_f64(d), repeats));
        let grace = Duration::from_secs(60);
        eprint!(
            "[{:>3}/{n}] {:<10} {:>9} {:<8} {:<18} ",
            i + 1,
            c.scenario,
            report::bytes(c.size() as u64),
            c.payload.name,
            c.transport
        );
        let t0 = Instant::now();
        let outcome = scenario::run(c, durations, grace, &i.to_string());
        let took = t0.elapsed().as_secs_f64();
        extra += (took - d * repeats as f64).max(0.0);
        done += 1.0;
        overhead = extra / done;
        match outcome {
            Ok(Outcome::Done(samples, notes)) => {
                for n in notes {
                    let n = format!(
                        "{} {} {}: {n}",
                        c.scenario,
                        report::bytes(c.size() as u64),
                        c.transport
                    );
                    if !rep.notes.contains(&n) {
                        rep.notes.push(n);
                    }
                }
                let mut summary = Vec::new();
                for metric in c.metrics() {
                    let vals: Vec<f64> = samples.iter().map(|s| Combo::value(metric, s)).collect();
                    let (median, min, max) = stats::summary(&vals);
                    summary.push(format!("{} {metric}", report::value(metric, median)));
                    rep.results.push(Record {
                        scenario: c.scenario.into(),
                        transport: c.transport.into(),
                        size: c.size() as u64,
                        payload: c.payload.name.clone(),
                        metric: (*metric).into(),
                        median,
                        min,
                        max,
                        samples: vals,
                        ..Record::default()
                    });
                }
                let msgs: u64 = samples.iter().map(|s| s.count).sum();
                eprintln!(
                    "{} ({msgs} msgs verified, {d:.2}s x {repeats})",
                    summary.join(", ")
                );
            }
            Ok(Outcome::Skipped(why)) => {
                eprintln!("skipped: {why}");
                rep.skipped.push(Skipped {
                    scenario: c.scenario.into(),
                    transport: c.transport.into(),
                    size: c.size() as u64,
                    reason: why,
                });
            }
            Err(e) => {
                eprintln!("FAILED: {e}");
                rep.error = Some(format!(
                    "{} {} {}: {e}",
                    c.scenario,
                    report::bytes(c.size() as u64),
                    c.transport
                ));
                break;
            }
        }
    }
    report::compute_ratios(&mut rep.results);
    rep.targets = report::targets(&rep.results);
    rep.meta.wall_secs = t_start.elapsed().as_secs_f64();
    print!("{}", report::text(&rep));
    let json = serde_json::to_string_pretty(&rep).map_err(|e| e.to_string())?;
    println!("{JSON_BEGIN}\n{json}\n{JSON_END}");
    if let Some(out) = &o.out {
        std::fs::write(out, format!("{json}\n")).map_err(|e| format!("{out}: {e}"))?;
    }
    Ok(rep.error.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = parse(&s(&[
            "--quick",
            "--only",
            "throughput,large",
            "--transports=pipe,kring-batch",
            "--accel",
            "tcg",
            "--budget",
            "60",
            "--repeats",
            "2",
            "--out",
            "x.json",
        ]))
        .unwrap();
        assert_eq!(
            o,
            Opts {
                quick: true,
                only: s(&["throughput", "large"]),
                transports: s(&["pipe", "kring-batch"]),
                accel: Some("tcg".into()),
                budget: Some(60.0),
                repeats: Some(2),
                out: Some("x.json".into())
            }
        );
        assert!(parse(&s(&["--only", "nope"])).is_err());
        assert!(parse(&s(&["--transports", "carrier-pigeon"])).is_err());
        assert!(parse(&s(&["--accel", "qemu"])).is_err());
        assert!(parse(&s(&["--repeats"])).is_err());
    }

    #[test]
    fn budget_shrinks_repeats_but_never_grows_them() {
        assert_eq!(repeat_time(1.0, 540.0, 0.0, 10, 0.3, 5), 1.0);
        let d = repeat_time(1.0, 100.0, 0.0, 60, 0.3, 5);
        assert!((d - (100.0 / 60.0 - 0.3) / 5.0).abs() < 1e-9);
        assert_eq!(repeat_time(1.0, 10.0, 20.0, 5, 0.3, 5), MIN_REPEAT);
    }

    #[test]
    fn dates() {
        let d = date_utc();
        assert_eq!(d.len(), 20);
        assert!(d.starts_with("20") && d.ends_with('Z'));
    }
}
