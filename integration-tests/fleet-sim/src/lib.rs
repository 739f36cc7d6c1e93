//! `fleet-sim`: thousands of simulated MySQL and MariaDB servers for scale
//! tests and benchmarks. A test tool, not part of the product.
//!
//! Every simulated server listens on its own loopback address
//! ([`model::address`]: `127.1.0.1`, `127.1.0.2`, ...) on one port, and
//! answers over the MySQL wire protocol (the `opensrv-mysql` crate) what
//! orchestrator-rs asks: the probe's batch in every dialect it speaks
//! (MariaDB 10.11, MySQL 5.7, 8.0 and 8.4: `SHOW ALL SLAVES STATUS`,
//! `SHOW REPLICA STATUS`, `SHOW BINARY LOG STATUS`, ...), the watch
//! connection's `DO SLEEP`, and the statements a failover or a relocation
//! runs (`STOP SLAVE`, `CHANGE MASTER TO`, `RESET SLAVE ALL`,
//! `SET GLOBAL read_only`, `MASTER_GTID_WAIT`, ...). Replication is
//! simulated ([`Fleet::tick`]): writable masters commit, replicas receive
//! and apply, a dead source breaks its replicas' I/O threads.
//!
//! Faults are applied by [`Command`]: `die` (connections refused, open
//! ones closed), `hang` (accepted, never answered), `up`, `lag`, `break`
//! (replication error), `repair`, `master` (change source), `errant`
//! (errant transactions). The `fleet-sim` binary reads commands on stdin.
//! A statement the simulator does not know gets a syntax error naming it.

mod model;
mod server;
mod sql;

pub use model::{Dialect, Fleet, FleetSpec, Liveness, MAX_INSTANCES, Reply, SessionVars, address};
pub use server::Simulator;
pub use sql::statements;

/// A replication thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    /// The I/O (receiver) thread.
    Io,
    /// The SQL (applier) thread.
    Sql,
}

/// A change applied to the fleet by command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The server refuses connections and closes open ones (kill -9).
    Die(usize),
    /// The server accepts connections and answers nothing.
    Hang(usize),
    /// The server answers again (after `die`, as a restarted server).
    Up(usize),
    /// The server applies its source's transactions this many seconds late.
    Lag(usize, u64),
    /// A replication thread of the server stops with an error.
    Break(usize, Thread),
    /// Replication errors are cleared.
    Repair(usize),
    /// The server replicates from another one.
    Master(usize, usize),
    /// The server commits this many transactions its cluster does not have.
    Errant(usize, u64),
}

impl Command {
    /// Parses `die I`, `hang I`, `up I`, `lag I SECONDS`, `break I [io|sql]`,
    /// `repair I`, `master I SOURCE`, `errant I [N]`. A server is named by
    /// index or by `host:port`, resolved against `fleet`.
    pub fn parse(line: &str, fleet: &Fleet) -> Result<Self, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let server = |at: usize| -> Result<usize, String> {
            let w = words
                .get(at)
                .ok_or_else(|| format!("`{line}`: a server (index or host:port) is missing"))?;
            fleet
                .resolve(w)
                .ok_or_else(|| format!("`{w}`: no such server in a fleet of {}", fleet.len()))
        };
        let number = |at: usize, default: Option<u64>| -> Result<u64, String> {
            match words.get(at) {
                Some(w) => w.parse().map_err(|_| format!("`{w}` is not a number")),
                None => default.ok_or_else(|| format!("`{line}`: a number is missing")),
            }
        };
        let verb = words.first().copied().unwrap_or_default();
        let max_words = match verb {
            "die" | "hang" | "up" | "repair" => 2,
            _ => 3,
        };
        if words.len() > max_words {
            return Err(format!("`{line}`: too many words"));
        }
        Ok(match verb {
            "die" => Self::Die(server(1)?),
            "hang" => Self::Hang(server(1)?),
            "up" => Self::Up(server(1)?),
            "lag" => Self::Lag(server(1)?, number(2, None)?),
            "break" => Self::Break(
                server(1)?,
                match words.get(2).copied().unwrap_or("sql") {
                    "io" => Thread::Io,
                    "sql" => Thread::Sql,
                    other => return Err(format!("`{other}`: a thread is io or sql")),
                },
            ),
            "repair" => Self::Repair(server(1)?),
            "master" => Self::Master(server(1)?, server(2)?),
            "errant" => Self::Errant(server(1)?, number(2, Some(1))?),
            other => {
                return Err(format!(
                    "`{other}`: commands are die, hang, up, lag, break, repair, master, errant"
                ));
            }
        })
    }
}

/// Raises this process's open-file limit as far as it may go (every
/// simulated server holds a listener, every probe a connection). Returns
/// the limit in force.
pub fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    // Root may raise the hard limit too; others get the hard limit.
    let wanted: u64 = 262_144;
    if hard < wanted && setrlimit(Resource::RLIMIT_NOFILE, wanted, wanted).is_ok() {
        return wanted;
    }
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

#[cfg(test)]
mod tests;
