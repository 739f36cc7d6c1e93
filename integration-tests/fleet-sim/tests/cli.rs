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
