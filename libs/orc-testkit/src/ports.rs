//! Free TCP ports on loopback.

use std::net::{Ipv4Addr, TcpListener};

use crate::Error;
use crate::error::io;

/// A port that is free on 127.0.0.1 right now (and on the extra addresses
/// given). Another process may still take it before we bind: callers retry
/// when their server fails with "address in use".
pub fn free_port(extra: &[Ipv4Addr]) -> Result<u16, Error> {
    for _ in 0..50 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("binding port 0"))?;
        let port = listener
            .local_addr()
            .map_err(io("reading bound port"))?
            .port();
        let all_free = extra
            .iter()
            .all(|addr| TcpListener::bind((*addr, port)).is_ok());
        if all_free {
            return Ok(port);
        }
    }
    Err(Error::Spec("no free port found after 50 tries".into()))
}
