//! Free TCP ports on loopback.
//!
//! Ports are drawn at random from 15000..30000, below the kernel's
//! ephemeral range (32768+), so neither the outgoing connections of a busy
//! test run nor other tests' `bind(0)` calls hand out the same port twice.
//! A port may still be taken between the check and the server's bind:
//! callers detect that (the server exits, or answers with another identity)
//! and retry.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Error;

const LOW: u64 = 15_000;
const HIGH: u64 = 30_000;

fn next_random() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        x = nanos ^ (u64::from(std::process::id()) << 32) | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    x
}

/// A port free on 127.0.0.1 (and on the extra addresses given) right now.
pub fn free_port(extra: &[Ipv4Addr]) -> Result<u16, Error> {
    for _ in 0..200 {
        let port = u16::try_from(LOW + next_random() % (HIGH - LOW)).unwrap_or(15_000);
        let free = std::iter::once(Ipv4Addr::LOCALHOST)
            .chain(extra.iter().copied())
            .all(|addr| TcpListener::bind((addr, port)).is_ok());
        if free {
            return Ok(port);
        }
    }
    Err(Error::Spec("no free port found after 200 tries".into()))
}
