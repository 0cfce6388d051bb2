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
use std::sync::Arc;

use std::time::{Duration, Instant};

use kring::schema::{Schema, Value};
use kring::{uapi, CreateOptions, Kring, Message, MsgPriority, Queue, QueueConfig, Region, RegionPolicy, RegisteredSchema, DEVICE_PATH};

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
    schema_demo()?;
    Ok(())
}

/// The demo's schema, `Documentation/examples/sensor.wit`, compiled in.
const SENSOR_WIT: &str = include_str!("../../../Documentation/examples/sensor.wit");

fn reading(seq: u64, sensor: &str, values: Vec<f32>, tags: &[&str]) -> Value {
    let s = |x: &str| Value::String(x.to_owned());
    Value::Record(vec![
        ("sensor".into(), s(sensor)),
        ("seq".into(), Value::U64(seq)),
        ("kind".into(), Value::Enum("temperature".into())),
        ("values".into(), Value::List(values.into_iter().map(Value::F32).collect())),
        ("tags".into(), Value::List(tags.iter().map(|t| s(t)).collect())),
        ("location".into(), Value::Option(Some(Box::new(Value::Tuple(vec![Value::F64(48.137), Value::F64(11.575)]))))),
        ("status".into(), Value::Result(Ok(None))),
        ("flags".into(), Value::Flags(vec!["calibrated".into(), "clock-synced".into()])),
        (
            "source".into(),
            Value::Record(vec![
                ("address".into(), Value::Variant("i2c".into(), Some(Box::new(Value::U8(0x48))))),
                ("serial".into(), s("TMP117-0042")),
                ("firmware".into(), Value::Tuple(vec![Value::U16(1), Value::U16(4), Value::U16(2)])),
            ]),
        ),
        ("unit".into(), Value::Char('°')),
        ("valid".into(), Value::Bool(true)),
    ])
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Record(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
        _ => None,
    }
}

fn schema_demo() -> Result<(), kring::Error> {
    println!("11. Schemas: the kernel checks every message of a typed queue at send time.");
    let schema = Arc::new(Schema::from_wit(SENSOR_WIT, "reading").map_err(kring::Error::Schema)?);
    let reg = RegisteredSchema::register(schema.clone())?;
    println!(
        "    Documentation/examples/sensor.wit, type `reading` (a record of 11 fields: strings, lists, an enum,\n    \
         an option, a result, flags, a nested record with a variant, a char, a bool), lowered to a {}-byte\n    \
         schema program and registered: id {}. Its inline part is {} bytes.",
        schema.program().len(),
        reg.id(),
        reg.min_size()
    );
    let q = Queue::create(QueueConfig::new(64, 4096), &CreateOptions { schema: Some(&reg), ..Default::default() })?;
    let sent = [
        reading(1, "attic", vec![21.5, 21.25], &["indoor"]),
        reading(2, "roof", vec![-3.0], &["outdoor", "north"]),
        reading(3, "cellar", vec![12.0, 12.0, 11.75], &[]),
    ];
    for v in &sent {
        q.sender().send_value(v, MsgPriority::Normal)?;
    }
    println!("    Sent {} typed readings with send_value (encoded in user space, validated by the kernel).", sent.len());
    let good = schema.encode(&sent[0]).map_err(kring::Error::Schema)?;
    println!("12. Now malformed messages, sent as raw bytes past the encoder:");
    // The byte of the bool `valid`: the one inline byte where 7 is a bad bool.
    let is_bool = |i: usize| {
        let mut m = good.clone();
        m[i] = 7;
        schema.validate(&m).is_err_and(|v| v.reason == kring::schema::program::reason::BOOL)
    };
    let mut bad_bool = good.clone();
    if let Some(i) = (0..reg.min_size()).find(|&i| is_bool(i)) {
        bad_bool[i] = 7;
    }
    let mut bad_utf8 = good.clone();
    if let Some(p) = good.windows(5).position(|w| w == b"attic") {
        bad_utf8[p + 1] = 0xff;
    }
    let mut trailing = good.clone();
    trailing.push(0);
    for (what, m) in [("`valid` set to 7", &bad_bool), ("0xff inside the sensor name", &bad_utf8), ("one byte appended", &trailing)] {
        match q.sender().send(m, MsgPriority::Urgent) {
            Err(e) => println!("    {what}: refused: {e}"),
            Ok(()) => println!("    {what}: ACCEPTED (unexpected!)"),
        }
    }
    println!("    Queued: {} messages (the refused ones were never queued).", q.len());
    let mut buf = vec![0u8; 4096];
    for _ in 0..sent.len() {
        let n = q.recv(&mut buf)?;
        let v = schema.decode(&buf[..n]).map_err(kring::Error::Schema)?;
        let show = |f: &str| field(&v, f).map_or_else(String::new, |x| x.to_string());
        println!("    received {n:>3} bytes: sensor {} seq {} values {} flags {}", show("sensor"), show("seq"), show("values"), show("flags"));
    }
    let n = {
        q.send(&good, MsgPriority::Normal)?;
        q.recv(&mut buf)?
    };
    println!("    In full, as the receiver decodes it:\n    {}", schema.decode(&buf[..n]).map_err(kring::Error::Schema)?);
    validation_cost()?;
    Ok(())
}

/// Times sends of the same bytes to a queue with and without a schema (both drained as they
/// go): the difference is what validation costs. Timings in a TCG VM are slow; the ratio and
/// the per-byte cost relative to each other are what mean something.
fn validation_cost() -> Result<(), kring::Error> {
    const ROUNDS: u32 = 2000;
    println!("13. What validation costs per send ({ROUNDS} sends each, same bytes, schema queue vs. plain queue):");
    for (label, wit, ty, value) in [
        ("768 x f32 vector", "package d:v; interface v { record vec { data: list<f32> } }", "vec",
         Value::Record(vec![("data".into(), Value::List((0..768).map(|i| Value::F32(i as f32)).collect()))])),
        ("3000-byte string", "package d:s; interface s { record text { body: string } }", "text",
         Value::Record(vec![("body".into(), Value::String("kring ✓ ".repeat(300)))])),
        ("64 x record{bool, char, u16}", "package d:r; interface r { record item { on: bool, c: char, n: u16 } record items { all: list<item> } }", "items",
         Value::Record(vec![("all".into(), Value::List((0..64).map(|i| Value::Record(vec![
             ("on".into(), Value::Bool(i % 2 == 0)), ("c".into(), Value::Char('λ')), ("n".into(), Value::U16(i)),
         ])).collect()))])),
    ] {
        let schema = Arc::new(Schema::from_wit(wit, ty).map_err(kring::Error::Schema)?);
        let bytes = schema.encode(&value).map_err(kring::Error::Schema)?;
        let reg = RegisteredSchema::register(schema)?;
        let typed = Queue::create(QueueConfig::new(4, 4096), &CreateOptions { schema: Some(&reg), ..Default::default() })?;
        let plain = Queue::create(QueueConfig::new(4, 4096), &CreateOptions::default())?;
        let mut buf = vec![0u8; 4096];
        let mut time = |q: &kring::KernelQueue| -> Result<f64, kring::Error> {
            let t = std::time::Instant::now();
            for _ in 0..ROUNDS {
                q.send(&bytes, MsgPriority::Normal)?;
                q.recv(&mut buf)?;
            }
            Ok(t.elapsed().as_nanos() as f64 / ROUNDS as f64)
        };
        // Interleave to share whatever the VM does in the background.
        let (mut t_plain, mut t_typed) = (0.0, 0.0);
        for _ in 0..3 {
            t_plain += time(&plain)? / 3.0;
            t_typed += time(&typed)? / 3.0;
        }
        println!(
            "    {label:<30} {:>5} bytes: plain {t_plain:>8.0} ns, schema {t_typed:>8.0} ns per send+recv: {:+.1} ns/byte ({:.2}x)",
            bytes.len(),
            (t_typed - t_plain) / bytes.len() as f64,
            t_typed / t_plain
        );
    }
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
    let rx = Queue::create_receiver(QueueConfig::new(16, 256), &CreateOptions { name: Some(&name), mode: 0o600, ..Default::default() })?;
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
