// SPDX-License-Identifier: GPL-2.0 OR MIT
//! The scenarios: what runs, in which process layout, and the children's loops.

use std::sync::Arc;
use std::time::Duration;

use kring::schema::Schema;
use kring::RegisteredSchema;

use crate::cases;
use crate::harness::{self, Ctx, Plan, Sample};
use crate::kringt::{KringLink, Mode, Names};
use crate::payload::{stamp_word, Layout, Payload, Verifier, END_SEQ};
use crate::stats::percentile;
use crate::sys::now_ns;
use crate::transport::{Link, Rx, Skip, Tx, BASELINES};

/// Scenario names and what they measure.
pub const SCENARIOS: [(&str, &str); 5] = [
    (
        "throughput",
        "1 sender -> 1 receiver process, 8/64/512/4096 B, msgs/s",
    ),
    (
        "pingpong",
        "round-trip latency p50/p99, 64 B, blocking receive on both sides",
    ),
    (
        "fanin",
        "4 sender processes -> 1 receiver, 64 B, aggregate msgs/s",
    ),
    (
        "large",
        "3072 B (768 x f32) and 1 MiB blocks, copies vs descriptors, MB/s",
    ),
    (
        "schema",
        "~3 KB typed messages on a kring queue with vs without a schema, msgs/s and ns/byte extra",
    ),
];

/// One measurement to make.
#[derive(Clone)]
pub struct Combo {
    /// Scenario.
    pub scenario: &'static str,
    /// Transport.
    pub transport: &'static str,
    /// What is sent.
    pub payload: Arc<Payload>,
    /// Sending processes (ping-pong: 1, the responder).
    pub senders: usize,
    /// Room in the queue, in messages.
    pub depth: usize,
    /// The schema to attach (kring-schema transports).
    pub schema: Option<Arc<Schema>>,
}

impl Combo {
    /// Message size.
    pub fn size(&self) -> usize {
        self.payload.len()
    }
    /// The metric(s) reported.
    pub fn metrics(&self) -> &'static [&'static str] {
        match self.scenario {
            "pingpong" => &["ns p50", "ns p99"],
            "large" => &["MB/s"],
            _ => &["msgs/s"],
        }
    }
    /// A sample's value for `metric`.
    pub fn value(metric: &str, s: &Sample) -> f64 {
        match metric {
            "ns p50" => s.p50_ns as f64,
            "ns p99" => s.p99_ns as f64,
            "MB/s" => s.mbps(),
            _ => s.rate(),
        }
    }
}

/// Queue depth for a message size: 256 messages, at most about 4 MiB, at least 4.
fn depth(size: usize) -> usize {
    let d = ((4 << 20) / size.max(1)).clamp(4, 256);
    1 << (usize::BITS - 1 - d.leading_zeros())
}

const KRING_PLAIN: [&str; 2] = ["kring-send", "kring-batch"];

/// The schema scenario's payloads: a template and where the stamp goes.
fn schema_payloads() -> Result<Vec<(Payload, Arc<Schema>)>, String> {
    let e = |e: kring::schema::SchemaError| format!("schema payloads: {e:?}");
    let mut out = Vec::new();
    let v = cases::vec768().map_err(e)?;
    let off = u32::from_le_bytes(v.bytes[0..4].try_into().map_err(|_| "short vec768")?) as usize;
    out.push((
        Payload::new(v.name, v.bytes.clone(), Layout::At(off)),
        Arc::new(v.schema),
    ));
    let s = cases::strings().map_err(e)?;
    let at = s
        .bytes
        .windows(cases::STRING_STAMP.len())
        .position(|w| w == cases::STRING_STAMP.as_bytes())
        .ok_or("no stamp marker in the string payload")?;
    out.push((
        Payload::new(s.name, s.bytes.clone(), Layout::Hex(at)),
        Arc::new(s.schema),
    ));
    let r = cases::records(256).map_err(e)?;
    let list = u32::from_le_bytes(r.bytes[0..4].try_into().map_err(|_| "short records")?) as usize;
    let offs = [0usize, 1, 2, 3].map(|i| list + 12 * i + 8);
    for (i, &o) in offs.iter().enumerate() {
        if r.bytes.get(o..o + 2) != Some(&(0xA500u16 + i as u16).to_le_bytes()[..]) {
            return Err("the small-record layout is not the expected one".into());
        }
    }
    out.push((
        Payload::new(r.name, r.bytes.clone(), Layout::U16s(offs)),
        Arc::new(r.schema),
    ));
    Ok(out)
}

/// Every measurement of the selected scenarios and transports, grouped so that a size's
/// baselines and kring transports run one after the other.
pub fn plan(only: &[String], transports: &[String]) -> Result<Vec<Combo>, String> {
    let picked = |t: &str| transports.is_empty() || transports.iter().any(|x| x == t);
    let mut out = Vec::new();
    let mut add = |scenario: &'static str,
                   ts: &[&'static str],
                   payload: Arc<Payload>,
                   senders: usize,
                   schema: Option<Arc<Schema>>| {
        for &t in ts.iter().filter(|t| picked(t)) {
            let schema = if t.starts_with("kring-schema") {
                schema.clone()
            } else {
                None
            };
            out.push(Combo {
                scenario,
                transport: t,
                payload: payload.clone(),
                senders,
                depth: depth(payload.len()),
                schema,
            });
        }
    };
    let mut common: Vec<&'static str> = BASELINES.to_vec();
    common.extend(KRING_PLAIN);
    for (sc, _) in SCENARIOS {
        if !only.is_empty() && !only.iter().any(|o| o == sc) {
            continue;
        }
        match sc {
            "throughput" => [8, 64, 512, 4096]
                .into_iter()
                .for_each(|s| add(sc, &common, Arc::new(Payload::raw(s)), 1, None)),
            "pingpong" => add(sc, &common, Arc::new(Payload::raw(64)), 1, None),
            "fanin" => add(sc, &common, Arc::new(Payload::raw(64)), 4, None),
            "large" => {
                let mut ts = common.clone();
                ts.extend(["kring-desc", "kring-desc-fresh", "kring-desc-append"]);
                [3072, 1 << 20]
                    .into_iter()
                    .for_each(|s| add(sc, &ts, Arc::new(Payload::raw(s)), 1, None));
            }
            "schema" => {
                for (p, schema) in schema_payloads()? {
                    add(
                        sc,
                        &[
                            "kring-send",
                            "kring-schema",
                            "kring-batch",
                            "kring-schema-batch",
                        ],
                        Arc::new(p),
                        1,
                        Some(schema),
                    );
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// In the large scenario every transport sends the same fixed set of distinct blocks, in turn
/// (16 MiB of them, 4 to 64 blocks): baselines copy them, `kring-desc` names them in a region
/// filled and sealed once, before the timed part. Elsewhere every message is fresh (`None`).
pub fn block_cycle(scenario: &str, size: usize) -> Option<u64> {
    (scenario == "large").then(|| ((16usize << 20) / size.max(1)).clamp(4, 64) as u64)
}

/// What a measurement came to.
pub enum Outcome {
    /// The samples of every repeat, and remarks on the setup.
    Done(Vec<Sample>, Vec<String>),
    /// Not measurable here.
    Skipped(String),
}

/// Runs one measurement: links, processes, repeats. `Err` aborts the benchmark (a child
/// failed or data did not verify); a transport that cannot be set up is `Skipped`.
pub fn run(
    c: &Combo,
    durations: Vec<Duration>,
    grace: Duration,
    tag: &str,
) -> Result<Outcome, String> {
    let mut names = Names::default();
    let reg = match &c.schema {
        Some(s) => Some(
            RegisteredSchema::register(s.clone()).map_err(|e| format!("register schema: {e}"))?,
        ),
        None => None,
    };
    let pingpong = c.scenario == "pingpong";
    let cycle = block_cycle(c.scenario, c.size());
    let mut links = Vec::new();
    let mut notes = Vec::new();
    for dir in 0..(if pingpong { 2 } else { 1 }) {
        let t = format!("{tag}-{dir}");
        let senders = c.senders;
        let link = match Mode::of(c.transport) {
            Some(_) => KringLink::new(c.transport, c.size(), c.depth, reg.as_ref(), &mut names, &t)
                .map(|k| Link::Kring(Box::new(k.with_blocks(c.payload.clone(), cycle)))),
            None => Link::new(c.transport, c.size(), c.depth, senders, &t),
        };
        match link {
            Ok(l) => {
                notes.extend(l.note(c.size(), c.depth));
                links.push(l);
            }
            Err(Skip(why)) => return Ok(Outcome::Skipped(why)),
        }
    }
    let plan = Plan {
        peers: c.senders,
        durations,
        grace,
    };
    let p: &Payload = &c.payload;
    let senders = c.senders;
    let size = c.size();
    let samples = if pingpong {
        let client = |links: Vec<Link>, _: usize, ctx: &Ctx| -> Result<(), String> {
            let [there, back] = <[Link; 2]>::try_from(links).map_err(|_| "two links")?;
            let tx = there.into_tx(0)?;
            let rx = back.into_rx(size)?;
            client_loop(tx, rx, p, ctx)
        };
        let responder = |links: Vec<Link>, _: usize, ctx: &Ctx| -> Result<(), String> {
            let [there, back] = <[Link; 2]>::try_from(links).map_err(|_| "two links")?;
            let rx = there.into_rx(size)?;
            let tx = back.into_tx(0)?;
            responder_loop(tx, rx, p, ctx)
        };
        harness::run(links, &plan, &client, &responder, &mut || {
            names.unlink_all()
        })?
    } else {
        let receiver = |links: Vec<Link>, _: usize, ctx: &Ctx| -> Result<(), String> {
            let rx = links.into_iter().next().ok_or("no link")?.into_rx(size)?;
            receiver_loop(rx, p, senders, cycle, ctx)
        };
        let sender = |links: Vec<Link>, i: usize, ctx: &Ctx| -> Result<(), String> {
            let tx = links.into_iter().next().ok_or("no link")?.into_tx(i)?;
            sender_loop(tx, p, i, cycle, ctx)
        };
        harness::run(links, &plan, &receiver, &sender, &mut || names.unlink_all())?
    };
    drop(reg);
    notes.dedup();
    Ok(Outcome::Done(samples, notes))
}

/// A sender: stamps and sends until told to stop, then sends its end marker.
fn sender_loop(
    mut tx: Box<dyn Tx>,
    p: &Payload,
    id: usize,
    cycle: Option<u64>,
    ctx: &Ctx,
) -> Result<(), String> {
    let size = p.len();
    // A batch stays within the 64 KiB a submission area holds at least.
    let batch = tx.batch().min((64 << 10) / size).max(1);
    let mut buf = p.buffer(batch);
    for r in 1..=ctx.repeats() {
        ctx.barrier(r);
        let mut seq = 0u64;
        while !ctx.stopped(r) {
            for m in buf.chunks_mut(size) {
                p.stamp(m, stamp_word(id as u8, cycle.map_or(seq, |c| seq % c)));
                seq += 1;
            }
            tx.send(&buf, size)?;
        }
        p.stamp(&mut buf[..size], stamp_word(id as u8, END_SEQ));
        tx.send(&buf[..size], size)?;
        tx.flush()?;
    }
    Ok(())
}

/// The receiver: verifies everything until every sender's end marker, then reports the time
/// from the barrier to the last message.
fn receiver_loop(
    mut rx: Box<dyn Rx>,
    p: &Payload,
    senders: usize,
    cycle: Option<u64>,
    ctx: &Ctx,
) -> Result<(), String> {
    let mut v = Verifier::new(p, senders).cycle(cycle);
    for r in 1..=ctx.repeats() {
        ctx.barrier(r);
        v.reset();
        while !v.all_ended() {
            rx.recv(&mut |m| v.check(m).map(|_| ()))?;
        }
        let elapsed_ns = now_ns().saturating_sub(ctx.t_go());
        ctx.report(
            r,
            Sample {
                count: v.count,
                bytes: v.count * p.len() as u64,
                elapsed_ns,
                ..Sample::default()
            },
        );
    }
    Ok(())
}

/// The ping-pong client: one message out, wait for its echo, time the round trip.
fn client_loop(
    mut tx: Box<dyn Tx>,
    mut rx: Box<dyn Rx>,
    p: &Payload,
    ctx: &Ctx,
) -> Result<(), String> {
    let size = p.len();
    let mut v = Verifier::new(p, 1);
    let mut buf = p.buffer(1);
    let mut lat: Vec<u64> = Vec::with_capacity(1 << 16);
    for r in 1..=ctx.repeats() {
        ctx.barrier(r);
        v.reset();
        lat.clear();
        let mut seq = 0;
        let mut t_prev = now_ns();
        loop {
            let end = ctx.stopped(r);
            p.stamp(&mut buf, stamp_word(0, if end { END_SEQ } else { seq }));
            tx.send(&buf, size)?;
            let before = v.count;
            while v.count == before {
                rx.recv(&mut |m| v.check(m).map(|_| ()))?;
            }
            let t = now_ns();
            lat.push(t - t_prev);
            t_prev = t;
            if end {
                break;
            }
            seq += 1;
        }
        lat.sort_unstable();
        let s = Sample {
            count: v.count,
            bytes: v.count * size as u64,
            elapsed_ns: t_prev.saturating_sub(ctx.t_go()),
            p50_ns: percentile(&lat, 50.0),
            p99_ns: percentile(&lat, 99.0),
        };
        ctx.report(r, s);
    }
    Ok(())
}

/// The ping-pong responder: blocking receive, verify, send the same bytes back.
fn responder_loop(
    mut tx: Box<dyn Tx>,
    mut rx: Box<dyn Rx>,
    p: &Payload,
    ctx: &Ctx,
) -> Result<(), String> {
    let size = p.len();
    let mut v = Verifier::new(p, 1);
    for r in 1..=ctx.repeats() {
        ctx.barrier(r);
        v.reset();
        while !v.all_ended() {
            rx.recv(&mut |m| {
                v.check(m)?;
                tx.send(m, size)
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths() {
        assert_eq!(depth(8), 256);
        assert_eq!(depth(4096), 256);
        assert_eq!(depth(3072), 256);
        assert_eq!(depth(1 << 20), 4);
    }

    #[test]
    fn the_plan_covers_every_scenario() {
        let p = plan(&[], &[]).unwrap();
        assert_eq!(p.iter().filter(|c| c.scenario == "throughput").count(), 24);
        assert_eq!(p.iter().filter(|c| c.scenario == "large").count(), 18);
        assert_eq!(p.iter().filter(|c| c.scenario == "schema").count(), 12);
        assert!(p
            .iter()
            .filter(|c| c.scenario == "schema")
            .all(|c| c.schema.is_some() == c.transport.starts_with("kring-schema")));
        let only = plan(&["fanin".into()], &["pipe".into(), "kring-batch".into()]).unwrap();
        assert_eq!(only.len(), 2);
        assert!(only.iter().all(|c| c.senders == 4));
    }

    #[test]
    fn schema_payloads_are_valid_and_stay_valid_when_stamped() {
        for (p, schema) in schema_payloads().unwrap() {
            assert!(
                (2900..3300).contains(&p.len()),
                "{} is {} bytes",
                p.name,
                p.len()
            );
            let mut b = p.buffer(1);
            for w in [stamp_word(3, 12345), stamp_word(0, END_SEQ), u64::MAX] {
                p.stamp(&mut b, w);
                assert!(schema.validate(&b).is_ok(), "{} stamped with {w:x}", p.name);
                assert_eq!(p.read_stamp(&b), Some(w));
            }
        }
    }

    /// The baselines, end to end on the host, with every process layout.
    #[test]
    fn baselines_run_and_verify() {
        let d = vec![Duration::from_millis(20); 2];
        for c in plan(
            &["throughput".into(), "pingpong".into(), "fanin".into()],
            &BASELINES.map(String::from),
        )
        .unwrap()
        {
            if c.size() > 64 {
                continue;
            }
            match run(
                &c,
                d.clone(),
                Duration::from_secs(30),
                &format!("t-{}-{}", c.scenario, c.transport),
            )
            .unwrap()
            {
                Outcome::Done(s, _) => assert!(
                    s.len() == 1 && s[0].count > 1,
                    "{} {}: {s:?}",
                    c.scenario,
                    c.transport
                ),
                Outcome::Skipped(why) => eprintln!("skipped {} {}: {why}", c.scenario, c.transport),
            }
        }
    }
}
