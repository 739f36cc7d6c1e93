//! The `fleet-sim` binary's command line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn the_binary_refuses_bad_arguments_with_a_clear_error() {
    let bin = env!("CARGO_BIN_EXE_fleet-sim");
    for (args, says) in [
        (&["--instances", "many"][..], "--instances"),
        (&["--dialects", "oracle"][..], "dialects are"),
        (
            &["--instances", "8", "--first", "3"][..],
            "must start a cluster",
        ),
        (&["--cluster-size", "0"][..], "at least 1"),
        (&["--explode"][..], "unknown argument"),
    ] {
        let out = std::process::Command::new(bin)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed a ready line");
    }
}

/// The commands a benchmark drives the simulator with, over stdin.
#[test]
fn stdin_commands_answer_one_line_each() {
    use std::io::{BufRead, BufReader, Write};
    let bin = env!("CARGO_BIN_EXE_fleet-sim");
    // A port of its own: the servers' addresses (127.1.x.y) differ per run
    // only by port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(bin)
        .args(["--instances", "8", "--port", &port.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains("\"ready\":true"), "{line}");
    let mut ask = |command: &str| {
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
        let mut answer = String::new();
        stdout.read_line(&mut answer).unwrap();
        answer.trim().to_string()
    };
    assert_eq!(ask("gaps reset"), "ok");
    let gaps = ask("gaps");
    assert!(gaps.starts_with("gaps servers=8 max_ms="), "{gaps}");
    assert!(
        gaps.ends_with("over_2s=0"),
        "nothing is 2 s old yet: {gaps}"
    );
    assert!(ask("stats").starts_with("statements="));
    assert!(ask("die 10.0.0.1:1").starts_with("error: "));
    assert_eq!(ask(&format!("die 127.1.0.2:{port}")), "ok");
    assert!(ask("gaps").starts_with("gaps servers=7 "));
    let _ = child.kill();
    let _ = child.wait();
}
