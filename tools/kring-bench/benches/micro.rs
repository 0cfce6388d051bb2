// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Host micro-benchmarks of the code kring shares between kernel and user space: the ring
//! index math (`kring::ring`) and the schema validator (`kring::schema`, the very code the
//! module runs on every send to a typed queue), plus the encoder.
//!
//! `cargo bench -p kring-bench --bench micro` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kring::ring::{self, Geometry};
use kring::uapi::{KringSqe, KRING_NR_PRIO};

#[path = "../src/cases.rs"]
#[allow(dead_code)]
mod cases;

/// Pseudo-random ring states: heads, and tails up to 64 ahead.
fn states(n: usize) -> Vec<([u32; KRING_NR_PRIO], [u32; KRING_NR_PRIO])> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u32
    };
    (0..n)
        .map(|_| {
            let heads = [0; KRING_NR_PRIO].map(|_| next());
            let mut tails = heads;
            for t in tails.iter_mut() {
                // Half the rings empty, the others up to 64 queued.
                if next() % 2 == 0 {
                    *t = t.wrapping_add(next() % 64 + 1);
                }
            }
            (heads, tails)
        })
        .collect()
}

fn ring_math(c: &mut Criterion) {
    let st = states(1024);
    let geo = Geometry::new(256, 4096, 4096).expect("geometry");
    let mut g = c.benchmark_group("ring");
    g.throughput(Throughput::Elements(st.len() as u64));
    g.bench_function("next_priority", |b| {
        b.iter(|| {
            st.iter()
                .map(|(h, t)| ring::next_priority(black_box(h), black_box(t)).unwrap_or(9))
                .sum::<usize>()
        })
    });
    g.bench_function("ring_len x4", |b| {
        b.iter(|| {
            st.iter()
                .map(|(h, t)| {
                    (0..KRING_NR_PRIO)
                        .map(|p| ring::ring_len(black_box(h[p]), black_box(t[p])))
                        .sum::<u32>()
                })
                .sum::<u32>()
        })
    });
    g.bench_function("accept_head", |b| {
        b.iter(|| {
            st.iter()
                .filter_map(|(h, t)| {
                    ring::accept_head(
                        black_box(h[0]),
                        black_box(h[0].wrapping_add(1)),
                        black_box(t[0]),
                    )
                })
                .count()
        })
    });
    g.bench_function("entry_offset", |b| {
        b.iter(|| {
            st.iter()
                .map(|(h, _)| {
                    geo.entry_offset(black_box(h[0] as usize % KRING_NR_PRIO), black_box(h[1]))
                        .unwrap_or(0)
                })
                .sum::<u64>()
        })
    });
    g.bench_function("check_sqe", |b| {
        let sqes: Vec<KringSqe> = st
            .iter()
            .map(|(h, _)| KringSqe {
                offset: h[0] % 60_000,
                len: h[1] % 4096,
                priority: (h[2] % 4) as u8,
                flags: 0,
                reserved: 0,
                reserved2: 0,
            })
            .collect();
        b.iter(|| {
            sqes.iter()
                .filter(|s| ring::check_sqe(black_box(s), 65536, 4096).is_ok())
                .count()
        })
    });
    g.finish();
}

fn schema(c: &mut Criterion) {
    let all =
        [cases::vec768(), cases::strings(), cases::records(64)].map(|r| r.expect("schema case"));
    let mut g = c.benchmark_group("schema");
    for case in &all {
        g.throughput(Throughput::Bytes(case.bytes.len() as u64));
        g.bench_function(
            format!("validate {} ({} B)", case.name, case.bytes.len()),
            |b| b.iter(|| case.schema.validate(black_box(&case.bytes)).is_ok()),
        );
        g.bench_function(
            format!("encode {} ({} B)", case.name, case.bytes.len()),
            |b| {
                b.iter(|| {
                    case.schema
                        .encode(black_box(&case.value))
                        .map(|v| v.len())
                        .unwrap_or(0)
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, ring_math, schema);
criterion_main!(benches);
