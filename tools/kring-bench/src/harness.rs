// SPDX-License-Identifier: GPL-2.0 OR MIT
//! Processes, barriers and repeats.
//!
//! One measurement forks one *measuring* process (the receiver, or the ping-pong client) and
//! one or more *peer* processes (senders, or the responder); the benchmark process itself only
//! orchestrates. They share a control block in `MAP_SHARED` memory: per repeat, every child
//! announces it is ready and sleeps on `go`; the parent notes the time and opens the barrier,
//! lets the peers run for the repeat's duration, then raises `stop`; the peers finish with an
//! end marker and the measuring process reports what it received, timed from the barrier to
//! its last message. A child that fails writes its error into the block and exits; the parent
//! then kills and reaps every child (also on any early return: [`Children`]'s drop).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};

use crate::sys::{self, SharedMem};

const OFF_READY: usize = 0;
const OFF_GO: usize = 64;
const OFF_STOP: usize = 128;
const OFF_DONE: usize = 192;
const OFF_FAILED: usize = 256;
const OFF_T_GO: usize = 320;
const OFF_RESULT: usize = 384;
const OFF_ERR_LEN: usize = 1016;
const OFF_ERR: usize = 1024;
const ERR_MAX: usize = 1024;
const CTL_LEN: usize = 4096;
/// "Wake everyone": the kernel reads the count as a signed int (`u32::MAX` would wake no one).
const WAKE_ALL: u32 = i32::MAX as u32;

/// What the measuring process reports for one repeat.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// Messages received (round trips for ping-pong), end markers included.
    pub count: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// Nanoseconds from the barrier to the last message.
    pub elapsed_ns: u64,
    /// Round-trip percentiles (ping-pong only).
    pub p50_ns: u64,
    /// 99th percentile round trip.
    pub p99_ns: u64,
}

impl Sample {
    /// Messages per second.
    pub fn rate(&self) -> f64 {
        self.count as f64 * 1e9 / self.elapsed_ns.max(1) as f64
    }
    /// Payload megabytes (10^6) per second.
    pub fn mbps(&self) -> f64 {
        self.bytes as f64 * 1e3 / self.elapsed_ns.max(1) as f64
    }
}

/// The children's view of the control block.
pub struct Ctx {
    mem: SharedMem,
    repeats: u32,
}

impl Ctx {
    /// Repeats, the warm-up (repeat 1) included.
    pub fn repeats(&self) -> u32 {
        self.repeats
    }

    /// Says "ready for repeat `r`" and sleeps until the parent opens the barrier.
    pub fn barrier(&self, r: u32) {
        self.mem.atomic_u32(OFF_READY).fetch_add(1, Release);
        sys::futex_wake(self.mem.atomic_u32(OFF_READY), WAKE_ALL);
        let go = self.mem.atomic_u32(OFF_GO);
        loop {
            let g = go.load(Acquire);
            if g >= r {
                return;
            }
            sys::futex_wait(go, g, None);
        }
    }

    /// Whether the parent asked to end repeat `r` (cheap: one relaxed load).
    pub fn stopped(&self, r: u32) -> bool {
        self.mem.atomic_u32(OFF_STOP).load(Relaxed) >= r
    }

    /// When the barrier of the current repeat opened (`sys::now_ns`).
    pub fn t_go(&self) -> u64 {
        self.mem.atomic_u64(OFF_T_GO).load(Acquire)
    }

    /// Reports repeat `r`'s result (measuring process only).
    pub fn report(&self, r: u32, s: Sample) {
        let f = [s.count, s.bytes, s.elapsed_ns, s.p50_ns, s.p99_ns];
        for (i, v) in f.iter().enumerate() {
            self.mem.atomic_u64(OFF_RESULT + 8 * i).store(*v, Relaxed);
        }
        self.mem.atomic_u32(OFF_DONE).store(r, Release);
        sys::futex_wake(self.mem.atomic_u32(OFF_DONE), WAKE_ALL);
    }

    fn fail(&self, msg: &str) {
        if self
            .mem
            .atomic_u32(OFF_FAILED)
            .compare_exchange(0, 1, Acquire, Relaxed)
            .is_err()
        {
            return;
        }
        let b = msg.as_bytes();
        let n = b.len().min(ERR_MAX);
        for (i, &c) in b[..n].iter().enumerate() {
            self.mem.atomic_u8(OFF_ERR + i).store(c, Relaxed);
        }
        self.mem.atomic_u32(OFF_ERR_LEN).store(n as u32, Release);
        self.mem.atomic_u32(OFF_FAILED).store(2, Release);
        sys::futex_wake(self.mem.atomic_u32(OFF_DONE), WAKE_ALL);
    }

    fn error(&self) -> Option<String> {
        if self.mem.atomic_u32(OFF_FAILED).load(Acquire) != 2 {
            return None;
        }
        let n = (self.mem.atomic_u32(OFF_ERR_LEN).load(Acquire) as usize).min(ERR_MAX);
        let b: Vec<u8> = (0..n)
            .map(|i| self.mem.atomic_u8(OFF_ERR + i).load(Relaxed))
            .collect();
        Some(String::from_utf8_lossy(&b).into_owned())
    }

    fn result(&self) -> Sample {
        let g = |i: usize| self.mem.atomic_u64(OFF_RESULT + 8 * i).load(Relaxed);
        Sample {
            count: g(0),
            bytes: g(1),
            elapsed_ns: g(2),
            p50_ns: g(3),
            p99_ns: g(4),
        }
    }
}

/// A child's body: gets the setup (its own copy, after `fork`) and the control block.
pub type ChildFn<'a, T> = &'a dyn Fn(T, usize, &Ctx) -> Result<(), String>;

/// Forked children still to be reaped. Dropping kills (SIGKILL) and reaps whatever is left,
/// so no error path leaves a child running or a zombie behind.
#[derive(Default)]
struct Children {
    pids: Vec<(Pid, String)>,
}

impl Children {
    /// The first child that ended, with its status, if any did (does not block).
    fn any_exited(&mut self) -> Option<(String, String)> {
        let mut i = 0;
        while i < self.pids.len() {
            match rustix::process::waitpid(Some(self.pids[i].0), WaitOptions::NOHANG) {
                Ok(Some((_, status))) => {
                    let (_, role) = self.pids.remove(i);
                    return Some((role, describe(status)));
                }
                Ok(None) => i += 1,
                Err(e) => {
                    let (_, role) = self.pids.remove(i);
                    return Some((role, format!("waitpid: {e}")));
                }
            }
        }
        None
    }

    /// Waits for every child to exit normally within `timeout`; an error names the first
    /// that did not exit with status 0.
    fn join(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while !self.pids.is_empty() {
            if let Some((role, status)) = self.any_exited() {
                if status != "exit 0" {
                    return Err(format!("{role} ended with {status}"));
                }
                continue;
            }
            if Instant::now() > deadline {
                return Err("children did not exit after the last repeat".into());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }
}

fn describe(status: rustix::process::WaitStatus) -> String {
    if let Some(c) = status.exit_status() {
        format!("exit {c}")
    } else if let Some(s) = status.terminating_signal() {
        format!("signal {s}")
    } else {
        "an unknown status".into()
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (pid, _) in &self.pids {
            let _ = rustix::process::kill_process(*pid, Signal::KILL);
        }
        for (pid, _) in self.pids.drain(..) {
            let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
        }
    }
}

/// How one measurement is run.
pub struct Plan {
    /// Peer processes (senders, or the ping-pong responder).
    pub peers: usize,
    /// Duration of each repeat; the first is the warm-up, whose result is dropped.
    pub durations: Vec<Duration>,
    /// How long the children may take to get ready, and to finish after `stop`.
    pub grace: Duration,
}

/// Runs a measurement: forks the measuring process (`measure(setup, 0, ctx)`) and the peers
/// (`peer(setup, i, ctx)` for `i` in `0..peers`), each with its own copy of `setup`, drives
/// the repeats and returns the samples of all but the warm-up. `after_ready` runs once, when
/// every child is ready for the first repeat (e.g. to unlink names the children opened).
pub fn run<T>(
    setup: T,
    plan: &Plan,
    measure: ChildFn<'_, T>,
    peer: ChildFn<'_, T>,
    after_ready: &mut dyn FnMut(),
) -> Result<Vec<Sample>, String> {
    let repeats = plan.durations.len() as u32;
    let mem = SharedMem::new(CTL_LEN).map_err(|e| format!("control block: {e}"))?;
    let ctx = Ctx { mem, repeats };
    let mut children = Children::default();
    let mut setup = Some(setup);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    for i in 0..=plan.peers {
        let role = if i == 0 {
            "the measuring process".to_string()
        } else {
            format!("peer {}", i - 1)
        };
        match sys::fork().map_err(|e| format!("fork: {e}"))? {
            None => {
                // The child: runs its body with its own copy of the setup and never returns
                // into the parent's frames.
                let code = match setup.take() {
                    Some(s) => {
                        let body = || {
                            if i == 0 {
                                measure(s, 0, &ctx)
                            } else {
                                peer(s, i - 1, &ctx)
                            }
                        };
                        match catch_unwind(AssertUnwindSafe(body)) {
                            Ok(Ok(())) => 0,
                            Ok(Err(e)) => {
                                ctx.fail(&format!("{role}: {e}"));
                                1
                            }
                            Err(_) => {
                                ctx.fail(&format!("{role} panicked"));
                                2
                            }
                        }
                    }
                    None => 3,
                };
                sys::exit_now(code);
            }
            Some(pid) => children.pids.push((pid, role)),
        }
    }
    // The children own the setup now; the parent's copy (fds, mappings) goes.
    drop(setup);
    let n = plan.peers as u32 + 1;
    let mut samples = Vec::new();
    for r in 1..=repeats {
        wait_for(
            &ctx,
            &mut children,
            OFF_READY,
            n * r,
            plan.grace,
            "getting ready",
        )?;
        if r == 1 {
            after_ready();
        }
        ctx.mem.atomic_u64(OFF_T_GO).store(sys::now_ns(), Release);
        ctx.mem.atomic_u32(OFF_GO).store(r, Release);
        sys::futex_wake(ctx.mem.atomic_u32(OFF_GO), WAKE_ALL);
        let d = plan.durations[r as usize - 1];
        // Sleep through the repeat, but notice a failing child at once.
        let until = Instant::now() + d;
        while let Some(left) = until
            .checked_duration_since(Instant::now())
            .filter(|l| !l.is_zero())
        {
            check(&ctx, &mut children)?;
            let done = ctx.mem.atomic_u32(OFF_DONE);
            let v = done.load(Acquire);
            if v >= r {
                break; // the measuring process ended early (ping-pong never does; harmless)
            }
            sys::futex_wait(done, v, Some(left.min(Duration::from_millis(100))));
        }
        ctx.mem.atomic_u32(OFF_STOP).store(r, Release);
        wait_for(
            &ctx,
            &mut children,
            OFF_DONE,
            r,
            plan.grace + d * 10,
            "finishing the repeat",
        )?;
        if r > 1 {
            samples.push(ctx.result());
        }
    }
    children.join(plan.grace)?;
    Ok(samples)
}

fn check(ctx: &Ctx, children: &mut Children) -> Result<(), String> {
    if let Some(e) = ctx.error() {
        return Err(e);
    }
    // A child that is done with its last repeat may exit while the others finish theirs.
    while let Some((role, status)) = children.any_exited() {
        if status != "exit 0" {
            // Give its error message a moment to land.
            std::thread::sleep(Duration::from_millis(20));
            return Err(ctx
                .error()
                .unwrap_or_else(|| format!("{role} ended with {status}")));
        }
    }
    Ok(())
}

fn wait_for(
    ctx: &Ctx,
    children: &mut Children,
    off: usize,
    want: u32,
    timeout: Duration,
    what: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let word = ctx.mem.atomic_u32(off);
    loop {
        let v = word.load(Acquire);
        if v >= want {
            return Ok(());
        }
        check(ctx, children)?;
        if Instant::now() > deadline {
            return Err(format!(
                "timed out after {timeout:?} {what}: a process hangs"
            ));
        }
        sys::futex_wait(word, v, Some(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(peers: usize) -> Plan {
        Plan {
            peers,
            durations: vec![Duration::from_millis(5); 3],
            grace: Duration::from_secs(20),
        }
    }

    #[test]
    fn repeats_are_reported_without_the_warm_up() {
        let measure: ChildFn<'_, u64> = &|k, _, ctx| {
            for r in 1..=ctx.repeats() {
                ctx.barrier(r);
                while !ctx.stopped(r) {
                    std::hint::spin_loop();
                }
                ctx.report(
                    r,
                    Sample {
                        count: k + r as u64,
                        ..Sample::default()
                    },
                );
            }
            Ok(())
        };
        let peer: ChildFn<'_, u64> = &|_, _, ctx| {
            for r in 1..=ctx.repeats() {
                ctx.barrier(r);
            }
            Ok(())
        };
        let mut ready = 0;
        let s = run(40u64, &plan(2), measure, peer, &mut || ready += 1).unwrap();
        assert_eq!(s.iter().map(|s| s.count).collect::<Vec<_>>(), [42, 43]);
        assert_eq!(ready, 1);
    }

    #[test]
    fn a_failing_child_aborts_with_its_error() {
        let measure: ChildFn<'_, ()> = &|_, _, ctx| {
            ctx.barrier(1);
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        };
        let peer: ChildFn<'_, ()> = &|_, _, _| Err("checksum mismatch".into());
        let t = Instant::now();
        let e = run((), &plan(1), measure, peer, &mut || {}).unwrap_err();
        assert!(e.contains("checksum mismatch"), "{e}");
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the hanging child was killed"
        );
    }
}
