// SPDX-License-Identifier: GPL-2.0 OR MIT
//! `kring`: command-line tool for the kring module.
//!
//! ```text
//! kring version [--device PATH]   print the module's ABI version and release
//! kring demo    [--device PATH]   walk through what kring does, explaining each step
//! kring send NAME PRIORITY TEXT   send one message to a named queue (PRIORITY: low|normal|high|urgent)
//! kring recv NAME [TIMEOUT_MS]    receive one message from a named queue (as its receiver)
//! kring info NAME                 show a named queue's configuration and counters
//! ```

use std::process::ExitCode;

use std::time::{Duration, Instant};

use kring::{uapi, CreateOptions, Kring, Message, MsgPriority, Queue, QueueConfig, Region, RegionPolicy, DEVICE_PATH};

fn usage() -> ExitCode {
    eprintln!(
        "usage: kring version|demo [--device PATH]\n       kring send NAME PRIORITY TEXT\n       \
         kring recv NAME [TIMEOUT_MS]\n       kring info NAME"
    );
    ExitCode::from(2)
}

fn parse_priority(s: &str) -> Option<MsgPriority> {
    match s {
        "low" => Some(MsgPriority::Low),
        "normal" => Some(MsgPriority::Normal),
        "high" => Some(MsgPriority::High),
        "urgent" => Some(MsgPriority::Urgent),
        _ => None,
    }
}

fn queue_command(cmd: &str, args: &[String]) -> Option<Result<(), kring::Error>> {
    Some(match (cmd, args) {
        ("send", [name, prio, text]) => {
            let p = parse_priority(prio)?;
            Queue::open_sender(name).and_then(|tx| tx.send(text.as_bytes(), p))
        }
        ("recv", [name, rest @ ..]) if rest.len() <= 1 => {
            let t = rest.first().and_then(|t| t.parse().ok()).map(Duration::from_millis);
            Queue::open_receiver(name).and_then(|rx| {
                let mut buf = vec![0u8; rx.config().max_msg_size as usize];
                let m = rx.recv_typed_timeout(&mut buf, t)?;
                println!("{:?} #{}: {}", m.priority, m.seq, String::from_utf8_lossy(&buf[..m.len]));
                Ok(())
            })
        }
        ("info", [name]) => Queue::open_sender(name).and_then(|tx| {
            let i = tx.info()?;
            println!(
                "ring_size {} max_msg_size {} mode {:o} owner {}:{} len {} sent {} received {}",
                i.ring_size, i.max_msg_size, i.mode, i.uid, i.gid, i.len, i.send_count, i.recv_count
            );
            Ok(())
        }),
        _ => return None,
    })
}

fn main() -> ExitCode {
    let all: Vec<String> = std::env::args().skip(1).collect();
    if let Some(cmd) = all.first() {
        if cmd == "demo-sender" {
            return match all.get(1).map(|n| demo_sender(n)) {
                Some(Ok(())) => ExitCode::SUCCESS,
                Some(Err(e)) => {
                    eprintln!("kring demo-sender: {e}");
                    ExitCode::FAILURE
                }
                None => usage(),
            };
        }
        if let Some(r) = queue_command(cmd, &all[1..]) {
            return match r {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("kring {cmd}: {e}");
                    ExitCode::FAILURE
                }
            };
        }
    }
    let mut args = all.into_iter();
    let Some(cmd) = args.next() else { return usage() };
    let mut device = DEVICE_PATH.to_string();
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--device", Some(p)) => device = p,
            _ => return usage(),
        }
    }
    let result = match cmd.as_str() {
        "version" => version(&device),
        "demo" => demo(&device),
        "-h" | "--help" | "help" => {
            usage();
            return ExitCode::SUCCESS;
        }
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kring: {e}");
            ExitCode::FAILURE
        }
    }
}

fn version(device: &str) -> Result<(), kring::Error> {
    let v = Kring::open_path(device)?.version()?;
    println!("kring {} (ABI {}.{}, features {:#x})", v.release, v.abi_major, v.abi_minor, v.features);
    Ok(())
}

fn demo(device: &str) -> Result<(), kring::Error> {
    println!("== kring demo ==");
    println!("1. Opening {device}, the character device the kring module registers.");
    let k = Kring::open_path(device)?;
    println!("   ok: opened; the module is loaded and answers.");
    println!("2. Asking the module which ABI it speaks (ioctl KRING_IOC_VERSION).");
    let v = k.version()?;
    println!(
        "   ok: module release {}, ABI {}.{}; this program was built for ABI {}.{}: {}.",
        v.release,
        v.abi_major,
        v.abi_minor,
        uapi::KRING_ABI_MAJOR,
        uapi::KRING_ABI_MINOR,
        if v.is_compatible() { "compatible" } else { "INCOMPATIBLE" }
    );
    println!("3. Opening a file that is not kring (/dev/null) through the same API.");
    match Kring::open_path("/dev/null") {
        Err(e) => println!("   ok: refused with a named error: {e}"),
        Ok(_) => println!("   unexpected: /dev/null was accepted as kring"),
    }
    queue_demo()?;
    descriptor_demo()?;
    println!("Schema validation comes with the next ABI revision.");
    Ok(())
}

fn descriptor_demo() -> Result<(), kring::Error> {
    const DIM: usize = 768;
    const N: usize = 32;
    println!("10. Zero copy: {N} embedding vectors of {DIM} f32 ({} KiB) go into an Immutable region.", N * DIM * 4 / 1024);
    let bytes: Vec<u8> = (0..N * DIM).flat_map(|i| ((i % 997) as f32 * 0.25).to_le_bytes()).collect();
    let region = Region::create(RegionPolicy::Immutable { size: bytes.len() as u64 })?;
    region.write(0, &bytes)?;
    println!("    Before sealing, the kernel refuses descriptors to it: {}", match Queue::create(QueueConfig::new(64, 64), &CreateOptions::default()) {
        Ok(q) => match q.sender().send_descriptor(&region, 0, 4, MsgPriority::Normal) {
            Err(e) => format!("{e}."),
            Ok(()) => "accepted (unexpected!)".into(),
        },
        Err(e) => format!("(could not create a queue: {e})"),
    });
    region.seal()?;
    println!("    Sealed: now no mapping, mprotect or write can change a byte: {}", match region.write(0, b"x") {
        Err(e) => format!("a write gets \"{e}\"."),
        Ok(()) => "a write went through (unexpected!)".into(),
    });
    let q = Queue::create(QueueConfig::new(64, 64), &CreateOptions::default())?;
    for i in 0..N {
        q.sender().send_descriptor(&region, (i * DIM * 4) as u64, (DIM * 4) as u32, MsgPriority::Normal)?;
    }
    println!("    Sent {N} descriptors (24 bytes each) instead of {} bytes of vectors.", bytes.len());
    let mut buf = [0u8; 64];
    let mut sum = 0f64;
    let mut copied = 0usize;
    let mut in_region = 0usize;
    while let Ok(m) = q.receiver().recv_message(&mut buf) {
        match m {
            Message::Descriptor { descriptor, region: view, .. } => {
                let v = view.bytes(&descriptor).ok_or(kring::Error::CorruptRing)?;
                in_region += v.len();
                sum += v.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).sum::<f64>();
            }
            Message::Inline(i) => copied += i.len,
        }
    }
    let expected: f64 = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).sum();
    println!(
        "    The receiver read {in_region} bytes straight from its read-only mapping of the region ({copied} bytes copied);"
    );
    println!("    checksum {sum:.2}, expected {expected:.2}: {}.", if sum == expected { "identical" } else { "MISMATCH" });
    Ok(())
}

/// What the second process of the demo sends: (priority, text), in sending order.
const DEMO_MESSAGES: [(MsgPriority, &str); 8] = [
    (MsgPriority::Low, "low #1: nightly report"),
    (MsgPriority::Normal, "normal #1: resize image 17"),
    (MsgPriority::Low, "low #2: refresh cache"),
    (MsgPriority::High, "high #1: user is waiting"),
    (MsgPriority::Normal, "normal #2: resize image 18"),
    (MsgPriority::Urgent, "urgent #1: shut down worker 3"),
    (MsgPriority::High, "high #2: user is waiting"),
    (MsgPriority::Urgent, "urgent #2: disk almost full"),
];

fn demo_sender(name: &str) -> Result<(), kring::Error> {
    let tx = Queue::open_sender(name)?;
    if std::env::var_os("KRING_DEMO_DELAY").is_some() {
        std::thread::sleep(Duration::from_millis(500));
        return tx.send(b"late message: you were asleep until it came", MsgPriority::Normal);
    }
    for (p, text) in DEMO_MESSAGES {
        println!("   [sender pid {}] send {:<7} {text}", std::process::id(), format!("{p:?}"));
        tx.send(text.as_bytes(), p)?;
    }
    Ok(())
}

fn run_sender(name: &str, delay: bool) -> Result<std::process::Child, kring::Error> {
    let exe = std::env::current_exe().map_err(|_| kring::Error::NotFound)?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["demo-sender", name]);
    if delay {
        cmd.env("KRING_DEMO_DELAY", "1");
    }
    cmd.spawn().map_err(|_| kring::Error::NotFound)
}

fn queue_demo() -> Result<(), kring::Error> {
    let name = format!("demo-{}", std::process::id());
    println!("4. Creating a named queue \"{name}\" (16 messages of up to 256 bytes, mode 0600).");
    println!("   This process is its receiver; another process will open it by name to send.");
    let rx = Queue::create_receiver(QueueConfig::new(16, 256), &CreateOptions { name: Some(&name), mode: 0o600 })?;
    println!("5. Starting a second process that sends 8 messages of mixed priorities:");
    let mut child = run_sender(&name, false)?;
    let ok = child.wait().map(|s| s.success()).unwrap_or(false);
    if !ok {
        return Err(kring::Error::Disconnected);
    }
    println!(
        "6. Counters, read from the shared ring header without a system call: len {}, available {}, sent {}, received {}.",
        rx.len(),
        rx.available(),
        rx.send_count(),
        rx.recv_count()
    );
    println!("7. Receiving everything. Urgent comes first, then High, Normal, Low; FIFO within each;");
    println!("   the sequence numbers show the order in which the kernel accepted them:");
    let mut buf = [0u8; 256];
    while let Ok(m) = rx.recv_typed(&mut buf) {
        println!("   got {:<7} seq {}  {}", format!("{:?}", m.priority), m.seq, String::from_utf8_lossy(&buf[..m.len]));
    }
    println!(
        "   counters now: len {}, sent {}, received {}.",
        rx.len(),
        rx.send_count(),
        rx.recv_count()
    );
    println!("8. Blocking receive: this process sleeps in the kernel until another process sends.");
    let mut child = run_sender(&name, true)?;
    let t0 = Instant::now();
    let n = rx.recv_timeout(&mut buf, Some(Duration::from_secs(30)))?;
    println!(
        "   woke after {} ms with: {}",
        t0.elapsed().as_millis(),
        String::from_utf8_lossy(&buf[..n])
    );
    let _ = child.wait();
    Queue::unlink(&name)?;
    println!("9. Unlinked the name; the queue is freed when its last fd closes.");
    Ok(())
}
