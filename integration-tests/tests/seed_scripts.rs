//! The scripting examples of the tutorial the product is specified from
//! ("Practical Orchestrator Tutorial", scripting section), run with bash
//! and our `orchestrator-client` binary against real servers: flatten a
//! topology, build an intermediate master with two replicas, set every
//! replica read-only, and the master failover drill.
//!
//! The commands are the tutorial's, word for word; only the line
//! continuations the slides show before `done` are dropped, as bash would
//! otherwise pass `done` to the client as an argument.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use integration_tests::{Orc, eventually, orc_on, read_only, source_of};
use orc_testkit::{Sandbox, SandboxBuilder};
use serde_json::json;

const FLATTEN: &str = r#"
master=$(orchestrator-client -c which-cluster-master -alias mycluster)
orchestrator-client -c which-cluster-instances -alias mycluster | while read i ; do
orchestrator-client -c relocate -i $i -d $master
done
"#;

const ALL_READ_ONLY: &str = r#"
master=$(orchestrator-client -c which-cluster-master -alias mycluster)
orchestrator-client -c which-replicas -i $master | while read i ; do
orchestrator-client -c set-read-only -i $i
done
"#;

const PREPARE_DRILL: &str = r#"
master=$(orchestrator-client -c which-cluster-master -alias mycluster)
orchestrator-client -c which-cluster-instances -alias mycluster | while read i ; do
orchestrator-client -c relocate -i $i -d $master
done
intermediate_master=$(orchestrator-client -c which-replicas -i $master | shuf | head -1)
orchestrator-client -c which-replicas -i $master | grep -v $intermediate_master | shuf | head -2 | while read i ; do
orchestrator-client -c relocate -i $i -d $intermediate_master
done
echo "$intermediate_master"
"#;

const DRILL: &str = r#"
master=$(orchestrator-client -c which-cluster-master -alias mycluster)
# kill MySQL on master...
kill -9 "$(cat "$MASTER_PID_FILE")"
sleep 30 # graceful wait for recovery
new_master=$(orchestrator-client -c which-cluster-master -alias mycluster)
[ -z "$new_master" ] && { echo "strange, cannot find master" ; exit 1 ; }
[ "$new_master" == "$master" ] && { echo "no change of master" ; exit 1 ; }
orchestrator-client -c which-cluster-instances -alias mycluster | while read i ; do
orchestrator-client -c relocate -i $i -d $new_master
done
count_replicas=$(orchestrator-client -c which-replicas -i $new_master | wc -l)
[ $count_replicas -lt 4 ] && { echo "not enough salvaged replicas" ; exit 1 ; }
echo "$new_master"
"#;

/// Runs a bash script with our orchestrator-client first on `PATH`.
async fn bash(orc: &Orc, script: &str, env: &[(&str, String)]) -> (i32, String, String) {
    let bin = tempfile::tempdir().unwrap();
    let client = integration_tests::workspace_binary("orchestrator-client");
    assert!(client.exists(), "{} is built", client.display());
    std::os::unix::fs::symlink(&client, bin.path().join("orchestrator-client")).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("PATH", path)
        .env("ORCHESTRATOR_API", orc.api())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// m with a tree below it: r1 → c1 → d1, r2 → c2, and r3.
async fn tree() -> Sandbox {
    SandboxBuilder::new()
        .master("m")
        .replica("r1", "m")
        .replica("r2", "m")
        .replica("r3", "m")
        .replica("c1", "r1")
        .replica("c2", "r2")
        .replica("d1", "c1")
        .start()
        .await
        .unwrap()
}

const NAMES: [&str; 6] = ["r1", "r2", "r3", "c1", "c2", "d1"];

async fn config(orc_extra: serde_json::Value, sb: &Sandbox) -> Orc {
    let mut extra = json!({"ClusterNameToAlias": {".*": "mycluster"}});
    for (k, v) in orc_extra.as_object().unwrap() {
        extra[k] = v.clone();
    }
    orc_on(sb, &sb.key("m").unwrap(), extra).await.unwrap()
}

#[tokio::test]
async fn the_tutorials_flatten_and_read_only_scripts_run_as_written() {
    let sb = tree().await;
    let orc = config(json!({}), &sb).await;
    let (code, out, err) = bash(&orc, FLATTEN, &[]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let m = sb.instance("m").unwrap().port();
    for n in NAMES {
        let s = eventually(Duration::from_secs(5), || async {
            source_of(&sb, n).await.filter(|s| s.0 == m && s.1 && s.2)
        })
        .await;
        assert!(
            s.is_some(),
            "{n} replicates from m after flattening: {out}\n{err}"
        );
    }
    // Each replica writable first, so the script has work to do.
    for n in NAMES {
        sb.exec(n, "SET GLOBAL read_only = 0").await.unwrap();
    }
    let (code, out, err) = bash(&orc, ALL_READ_ONLY, &[]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    for n in NAMES {
        assert_eq!(
            read_only(&sb, n).await,
            Some(true),
            "{n} is read-only: {err}"
        );
    }
    assert_eq!(
        read_only(&sb, "m").await,
        Some(false),
        "the master stays writable"
    );
    orc.stop().await.unwrap();
}

#[tokio::test]
async fn the_tutorials_master_failover_drill_passes() {
    let sb = tree().await;
    let orc = config(json!({"RecoverMasterClusterFilters": ["*"]}), &sb).await;
    // Preparation: flatten, then an intermediate master with two replicas.
    let (code, out, err) = bash(&orc, PREPARE_DRILL, &[]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let im = out.lines().last().unwrap_or_default().trim().to_string();
    let im_port: u16 = im.rsplit(':').next().unwrap().parse().unwrap();
    let below_im = eventually(Duration::from_secs(5), || async {
        let mut n = 0;
        for name in NAMES {
            if source_of(&sb, name)
                .await
                .is_some_and(|s| s.0 == im_port && s.1 && s.2)
            {
                n += 1;
            }
        }
        (n == 2).then_some(n)
    })
    .await;
    assert_eq!(below_im, Some(2), "two replicas below {im}: {err}");

    // The drill: kill the master, wait, expect a new master and at least
    // four salvaged replicas below it.
    let pid_file = sb.instance("m").unwrap().dir().join("m.pid");
    let (code, out, err) = bash(
        &orc,
        DRILL,
        &[("MASTER_PID_FILE", pid_file.display().to_string())],
    )
    .await;
    assert_eq!(code, 0, "the drill passes:\n{out}\n{err}");
    let new_master = out.lines().last().unwrap_or_default().trim().to_string();
    assert_ne!(new_master, sb.key("m").unwrap());
    let port: u16 = new_master.rsplit(':').next().unwrap().parse().unwrap();
    let mut below = 0;
    for n in NAMES {
        if source_of(&sb, n)
            .await
            .is_some_and(|s| s.0 == port && s.1 && s.2)
        {
            below += 1;
        }
    }
    assert!(below >= 4, "{below} replicas below {new_master}");
    orc.stop().await.unwrap();
}
