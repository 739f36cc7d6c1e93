//! The `orchestrator-client` binary as scripts run it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn client(args: &[&str], api: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator-client"))
        .args(args)
        .env("ORCHESTRATOR_API", api)
        .env("ORC_CLIENT_RETRIES", "0")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_commands() {
    let (code, out, _) = client(&["-c", "help"], "http://127.0.0.1:1");
    assert_eq!(code, 0);
    for command in ["topology", "which-master", "discover", "clusters-alias"] {
        assert!(out.contains(command), "{out}");
    }
    let (code, out, _) = client(&["--help"], "http://127.0.0.1:1");
    assert_eq!((code, out.contains("Usage")), (0, true));
}

#[test]
fn which_api_normalizes_the_url() {
    let (code, out, _) = client(&["-c", "which-api"], "http://db-orchestrator:3000/");
    assert_eq!((code, out.trim()), (0, "http://db-orchestrator:3000/api"));
    let (_, out, _) = client(
        &["--command", "which-api", "-U", "http://other:3000/api"],
        "http://x:1",
    );
    assert_eq!(out.trim(), "http://other:3000/api");
}

#[test]
fn an_unreachable_api_fails_with_status_1() {
    let port = orc_free_port();
    let (code, out, err) = client(&["-c", "clusters"], &format!("http://127.0.0.1:{port}"));
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("Cannot access orchestrator"), "{err}");
    let (code, _, err) = client(
        &["-c", "clusters"],
        &format!("http://127.0.0.1:{port} http://127.0.0.1:{port}"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("Cannot determine leader"), "{err}");
}

#[test]
fn bad_flags_fail_with_status_1() {
    let (code, _, err) = client(&["-c", "clusters", "--bogus"], "http://127.0.0.1:1");
    assert_eq!((code, err.trim()), (1, "unknown option: --bogus"));
    let (code, _, err) = client(&[], "http://127.0.0.1:1");
    assert_eq!(code, 1);
    assert!(err.contains("No command given"), "{err}");
}

fn orc_free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
