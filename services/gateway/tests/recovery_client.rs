//! orchestrator-client's recovery and operator-metadata commands against a
//! real gateway (and a stand-in recovery service): the routes they call and
//! what they print.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{CLUSTER, Gw, MASTER, Responder, k, promote, recovery};

async fn prints(gw: &Gw, args: &[&str], expected: &str) {
    let (code, out, err) = gw.client(args).await;
    assert_eq!((code, out.as_str()), (0, expected), "{args:?}: {err}");
}

async fn fails(gw: &Gw, args: &[&str], needle: &str) {
    let (code, out, err) = gw.client(args).await;
    assert_eq!(code, 1, "{args:?}: {out}");
    assert!(
        err.contains(needle),
        "{args:?}: {err:?} should mention {needle:?}"
    );
}

#[tokio::test]
async fn downtime_maintenance_and_candidates_print_the_instance_key() {
    let gw = Gw::start().await;
    let i = ["-i", "127.0.0.1:22102"];
    prints(
        &gw,
        &[
            "-c",
            "begin-downtime",
            i[0],
            i[1],
            "-r",
            "upgrade",
            "-u",
            "1h",
        ],
        "127.0.0.1:22102\n",
    )
    .await;
    let d = gw
        .store
        .metadata()
        .get(&k(22102))
        .await
        .unwrap()
        .downtime
        .unwrap();
    assert_eq!((d.owner.as_str(), d.reason.as_str()), ("tester", "upgrade"));
    assert_eq!(d.ends_at.as_millis() - d.begins_at.as_millis(), 3_600_000);
    prints(&gw, &["-c", "downtimed"], "127.0.0.1:22102\n").await;
    prints(
        &gw,
        &["-c", "downtimed", "-i", CLUSTER],
        "127.0.0.1:22102\n",
    )
    .await;
    prints(
        &gw,
        &["-c", "end-downtime", i[0], i[1]],
        "127.0.0.1:22102\n",
    )
    .await;
    prints(&gw, &["-c", "downtimed"], "").await;
    fails(
        &gw,
        &["-c", "begin-downtime", i[0], i[1]],
        "reason must be provided",
    )
    .await;
    fails(
        &gw,
        &["-c", "begin-downtime", i[0], i[1], "-r", "x", "-u", "soon"],
        "Invalid duration",
    )
    .await;

    prints(
        &gw,
        &[
            "-c",
            "begin-maintenance",
            i[0],
            i[1],
            "-r",
            "backup",
            "-o",
            "ops",
        ],
        "127.0.0.1:22102\n",
    )
    .await;
    let lock = gw
        .store
        .metadata()
        .get(&k(22102))
        .await
        .unwrap()
        .maintenance
        .unwrap();
    assert_eq!(lock.owner, "ops");
    fails(
        &gw,
        &["-c", "begin-maintenance", i[0], i[1], "-r", "again"],
        "already in maintenance",
    )
    .await;
    prints(
        &gw,
        &["-c", "end-maintenance", i[0], i[1]],
        "127.0.0.1:22102\n",
    )
    .await;

    prints(
        &gw,
        &["-c", "register-candidate", i[0], i[1], "-R", "prefer"],
        "127.0.0.1:22102\n",
    )
    .await;
    fails(
        &gw,
        &["-c", "register-candidate", i[0], i[1]],
        "promotion-rule must be provided",
    )
    .await;
    fails(
        &gw,
        &["-c", "register-candidate", i[0], i[1], "-R", "always"],
        "Invalid promotion rule",
    )
    .await;
    fails(
        &gw,
        &["-c", "begin-downtime", "-i", "127.0.0.1:1", "-r", "x"],
        "Cannot read instance",
    )
    .await;
    gw.stop().await;
}

#[tokio::test]
async fn recover_and_takeovers_print_the_promoted_instance() {
    let gw = Gw::start().await;
    let responder = Responder::start(&gw.bus, promote).await;
    let m = ["-i", "127.0.0.1:22101"];
    prints(&gw, &["-c", "recover", m[0], m[1]], "127.0.0.1:22102\n").await;
    prints(
        &gw,
        &["-c", "recover-lite", m[0], m[1], "-d", "127.0.0.1:22103"],
        "127.0.0.1:22103\n",
    )
    .await;
    assert_eq!(
        responder.last().kind(),
        orc_proto::v1::RecoveryCommandKind::RecoverLite
    );
    prints(
        &gw,
        &[
            "-c",
            "graceful-master-takeover",
            "-a",
            CLUSTER,
            "-d",
            "127.0.0.1:22103",
        ],
        "127.0.0.1:22103\n",
    )
    .await;
    prints(
        &gw,
        &["-c", "graceful-master-takeover-auto", m[0], m[1]],
        "127.0.0.1:22102\n",
    )
    .await;
    prints(
        &gw,
        &["-c", "force-master-failover", m[0], m[1]],
        "127.0.0.1:22102\n",
    )
    .await;
    prints(
        &gw,
        &[
            "-c",
            "force-master-takeover",
            m[0],
            m[1],
            "-d",
            "127.0.0.1:22103",
        ],
        "127.0.0.1:22103\n",
    )
    .await;
    let c = responder.last();
    assert_eq!(c.designated, Some((&k(22103)).into()));
    assert_eq!(c.cluster, CLUSTER);
    let sent = responder.commands().len();
    fails(
        &gw,
        &["-c", "force-master-takeover", m[0], m[1]],
        "destination must be provided",
    )
    .await;
    fails(
        &gw,
        &["-c", "recover", "-i", "127.0.0.1:1"],
        "Cannot read instance",
    )
    .await;
    assert_eq!(responder.commands().len(), sent);
    gw.stop().await;
}

#[tokio::test]
async fn acknowledgements_global_switch_and_audit_print_their_details() {
    let gw = Gw::start().await;
    gw.insert(&[
        recovery("a", CLUSTER, MASTER, Some(22102)),
        recovery("b", CLUSTER, MASTER, Some(22102)),
        recovery("c", "127.0.0.1:23001", 23001, None),
    ])
    .await;
    let (code, out, _) = gw.client(&["-c", "audit-recovery"]).await;
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].contains("\tc\t127.0.0.1:23001\tDeadMaster\t-\t"),
        "{out}"
    );
    assert!(lines[1].ends_with("unacknowledged"), "{out}");
    let (_, mine, _) = gw.client(&["-c", "audit-recovery", "-i", CLUSTER]).await;
    assert_eq!(mine.lines().count(), 2);

    fails(
        &gw,
        &["-c", "ack-cluster-recoveries", "-i", CLUSTER],
        "reason must be provided",
    )
    .await;
    prints(
        &gw,
        &["-c", "ack-cluster-recoveries", "-i", CLUSTER, "-r", "seen"],
        "2\n",
    )
    .await;
    prints(
        &gw,
        &[
            "-c",
            "ack-instance-recoveries",
            "-i",
            "127.0.0.1:23001",
            "-r",
            "seen",
        ],
        "1\n",
    )
    .await;
    prints(&gw, &["-c", "ack-all-recoveries", "-r", "seen"], "0\n").await;
    let a = gw.store.recoveries().get("a").await.unwrap().unwrap();
    assert_eq!(
        (a.acknowledged, a.acknowledged_comment.as_str()),
        (true, "seen")
    );

    prints(&gw, &["-c", "disable-global-recoveries"], "disabled\n").await;
    prints(&gw, &["-c", "check-global-recoveries"], "disabled\n").await;
    prints(&gw, &["-c", "enable-global-recoveries"], "enabled\n").await;
    prints(&gw, &["-c", "check-global-recoveries"], "enabled\n").await;

    gw.store
        .recoveries()
        .insert(&recovery("d", CLUSTER, MASTER, Some(22102)))
        .await
        .unwrap();
    gw.store
        .recoveries()
        .record_blocked(&orc_model::BlockedRecovery {
            failed: k(22103),
            cluster: CLUSTER.into(),
            analysis: "DeadIntermediateMaster".into(),
            blocked_at: support::now(),
            blocking_uid: "d".into(),
        })
        .await
        .unwrap();
    let (code, out, _) = gw.client(&["-c", "blocked-recoveries"]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with(
            "127.0.0.1:22103 (cluster 127.0.0.1:22101): DeadIntermediateMaster blocked by recovery "
        ),
        "{out}"
    );
    let (_, out, _) = gw
        .client(&["-c", "blocked-recoveries", "-a", "127.0.0.1:23001"])
        .await;
    assert_eq!(out, "");
    gw.stop().await;
}
