// SPDX-License-Identifier: GPL-2.0 OR MIT
//! `kring`: command-line tool for the kring module.
//!
//! ```text
//! kring version [--device PATH]   print the module's ABI version and release
//! kring demo    [--device PATH]   walk through what kring does, explaining each step
//! ```

use std::process::ExitCode;

use kring::{uapi, Kring, DEVICE_PATH};

fn usage() -> ExitCode {
    eprintln!("usage: kring <version|demo> [--device PATH]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
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
    println!("Queues, priorities and zero-copy regions come with the next ABI revisions.");
    Ok(())
}
