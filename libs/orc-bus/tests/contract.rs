//! One contract, two buses: every behaviour services rely on is checked
//! against the in-process bus and against a real nats-server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use orc_bus::{Bus, Error, LocalBus, NatsBus};
use orc_testkit::NatsServer;

/// A bus under test, keeping its server alive.
struct Harness {
    bus: Arc<dyn Bus>,
    second: Arc<dyn Bus>,
    _server: Option<NatsServer>,
}

async fn local() -> Harness {
    let bus = LocalBus::new();
    Harness {
        bus: Arc::new(bus.clone()),
        second: Arc::new(bus),
        _server: None,
    }
}

async fn nats() -> Harness {
    let server = NatsServer::start().await.expect("nats-server");
    let url = server.url();
    let connect = || NatsBus::connect(&url, "contract", Duration::from_secs(5));
    let bus = connect().await.expect("connect");
    let second = connect().await.expect("connect");
    Harness {
        bus: Arc::new(bus),
        second: Arc::new(second),
        _server: Some(server),
    }
}

/// The distribution's nats-server (2.9 on Debian 12), when it differs from
/// the one the tests use by default: code must keep working with it.
async fn system_nats() -> Option<Harness> {
    let path = std::path::PathBuf::from("/usr/sbin/nats-server");
    if !path.exists() || orc_testkit::nats_server().ok().as_ref() == Some(&path) {
        return None;
    }
    let server = NatsServer::start_with(path)
        .await
        .expect("system nats-server");
    let url = server.url();
    let bus = NatsBus::connect(&url, "contract", Duration::from_secs(5))
        .await
        .expect("connect");
    let second = NatsBus::connect(&url, "contract", Duration::from_secs(5))
        .await
        .expect("connect");
    Some(Harness {
        bus: Arc::new(bus),
        second: Arc::new(second),
        _server: Some(server),
    })
}

const WAIT: Duration = Duration::from_secs(2);

async fn recv(sub: &mut orc_bus::Subscription) -> Option<orc_bus::Message> {
    tokio::time::timeout(WAIT, sub.next()).await.ok().flatten()
}

async fn nothing(sub: &mut orc_bus::Subscription) -> bool {
    tokio::time::timeout(Duration::from_millis(150), sub.next())
        .await
        .is_err()
}

async fn publish_reaches_matching_subscribers_only(h: Harness) {
    let mut exact = h.second.subscribe("orc.test.a").await.unwrap();
    let mut star = h.second.subscribe("orc.test.*").await.unwrap();
    let mut tail = h.second.subscribe("orc.>").await.unwrap();
    let mut other = h.second.subscribe("orc.test.b").await.unwrap();
    h.second.flush().await.unwrap();
    h.bus
        .publish("orc.test.a", Bytes::from_static(b"hi"))
        .await
        .unwrap();
    h.bus.flush().await.unwrap();
    for sub in [&mut exact, &mut star, &mut tail] {
        let m = recv(sub).await.expect("delivered");
        assert_eq!(m.subject, "orc.test.a");
        assert_eq!(&m.payload[..], b"hi");
    }
    assert!(nothing(&mut other).await);
}

async fn queue_groups_deliver_each_message_to_one_member(h: Harness) {
    let mut a = h
        .second
        .queue_subscribe("orc.work", "workers")
        .await
        .unwrap();
    let mut b = h
        .second
        .queue_subscribe("orc.work", "workers")
        .await
        .unwrap();
    let mut watcher = h.second.subscribe("orc.work").await.unwrap();
    h.second.flush().await.unwrap();
    for i in 0..100u8 {
        h.bus
            .publish("orc.work", Bytes::from(vec![i]))
            .await
            .unwrap();
    }
    h.bus.flush().await.unwrap();
    let (mut got_a, mut got_b) = (0, 0);
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            Some(m) = a.next() => { got_a += 1; seen.push(m.payload[0]); }
            Some(m) = b.next() => { got_b += 1; seen.push(m.payload[0]); }
            _ = tokio::time::sleep(Duration::from_millis(300)) => break,
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        (0..100u8).collect::<Vec<_>>(),
        "each message exactly once"
    );
    assert!(got_a > 0 && got_b > 0, "both members work: {got_a}/{got_b}");
    for _ in 0..100 {
        assert!(
            recv(&mut watcher).await.is_some(),
            "plain subscribers see everything"
        );
    }
}

async fn requests_get_the_responders_answer(h: Harness) {
    let mut service = h.second.queue_subscribe("orc.echo", "echo").await.unwrap();
    h.second.flush().await.unwrap();
    let responder = h.second.clone();
    let task = tokio::spawn(async move {
        while let Some(m) = service.next().await {
            let mut answer = b"re:".to_vec();
            answer.extend_from_slice(&m.payload);
            responder.respond(&m, Bytes::from(answer)).await.unwrap();
        }
    });
    let reply = h
        .bus
        .request("orc.echo", Bytes::from_static(b"ping"), WAIT)
        .await
        .unwrap();
    assert_eq!(&reply[..], b"re:ping");
    task.abort();
}

async fn requests_without_responders_fail_fast(h: Harness) {
    let started = Instant::now();
    let err = h
        .bus
        .request("orc.nobody", Bytes::new(), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoResponders { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

async fn requests_to_silent_responders_time_out(h: Harness) {
    let _silent = h.second.subscribe("orc.silent").await.unwrap();
    h.second.flush().await.unwrap();
    let err = h
        .bus
        .request("orc.silent", Bytes::new(), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

async fn dropped_subscriptions_stop_receiving(h: Harness) {
    let sub = h.second.subscribe("orc.gone").await.unwrap();
    let mut kept = h.second.subscribe("orc.gone").await.unwrap();
    h.second.flush().await.unwrap();
    drop(sub);
    h.second.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.bus
        .publish("orc.gone", Bytes::from_static(b"x"))
        .await
        .unwrap();
    h.bus.flush().await.unwrap();
    assert!(recv(&mut kept).await.is_some());
}

async fn one_publishers_messages_arrive_in_order(h: Harness) {
    let mut sub = h.second.subscribe("orc.ordered").await.unwrap();
    h.second.flush().await.unwrap();
    for i in 0..500u32 {
        h.bus
            .publish("orc.ordered", Bytes::from(i.to_be_bytes().to_vec()))
            .await
            .unwrap();
    }
    h.bus.flush().await.unwrap();
    for i in 0..500u32 {
        let m = recv(&mut sub).await.expect("message");
        assert_eq!(u32::from_be_bytes(m.payload[..4].try_into().unwrap()), i);
    }
}

async fn garbage_payloads_fail_to_decode_with_the_subject(_h: Harness) {
    let err =
        orc_bus::decode::<orc_proto_probe::Probe>("orc.snapshot", b"\xff\xff\xff").unwrap_err();
    assert!(err.to_string().contains("orc.snapshot"), "{err}");
}

/// A tiny prost message for the decode contract.
mod orc_proto_probe {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Probe {
        #[prost(string, tag = "1")]
        pub name: String,
    }
}

const TEST_STREAM: orc_bus::StreamSpec = orc_bus::StreamSpec {
    name: "ORC_TEST",
    subjects: &["orc.test.durable"],
    max_age: Duration::from_secs(60),
    duplicate_window: Duration::from_secs(30),
};

async fn durable_streams_store_each_id_once_and_followers_see_it_once(h: Harness) {
    use orc_bus::StartAt;
    let mut follower = h
        .second
        .follow_durable(&TEST_STREAM, StartAt::New)
        .await
        .unwrap();
    let first = h
        .bus
        .publish_durable(
            &TEST_STREAM,
            "orc.test.durable",
            "incident-1",
            Bytes::from_static(b"a"),
        )
        .await
        .unwrap();
    let again = h
        .bus
        .publish_durable(
            &TEST_STREAM,
            "orc.test.durable",
            "incident-1",
            Bytes::from_static(b"a"),
        )
        .await
        .unwrap();
    let other = h
        .bus
        .publish_durable(
            &TEST_STREAM,
            "orc.test.durable",
            "incident-2",
            Bytes::from_static(b"b"),
        )
        .await
        .unwrap();
    assert_eq!((first, again, other), (true, false, true));
    assert_eq!(&recv(&mut follower).await.expect("first").payload[..], b"a");
    assert_eq!(
        &recv(&mut follower).await.expect("second").payload[..],
        b"b"
    );
    assert!(
        nothing(&mut follower).await,
        "the duplicate is not delivered"
    );
    // A follower starting at the beginning replays what is kept.
    let mut replay = h
        .second
        .follow_durable(&TEST_STREAM, StartAt::All)
        .await
        .unwrap();
    assert_eq!(&recv(&mut replay).await.unwrap().payload[..], b"a");
    assert_eq!(&recv(&mut replay).await.unwrap().payload[..], b"b");
}

const TEST_LEASES: orc_bus::LeaseSpec = orc_bus::LeaseSpec {
    bucket: "orc_test_leases",
    ttl: Duration::from_secs(2),
};

async fn leases_are_exclusive_fenced_and_expire(h: Harness) {
    let a = h
        .bus
        .lease_acquire(&TEST_LEASES, "127.0.0.1:3306", "a")
        .await
        .unwrap()
        .expect("free");
    assert_eq!(a.name, "127_0_0_1_3306");
    assert!(
        h.second
            .lease_acquire(&TEST_LEASES, "127.0.0.1:3306", "b")
            .await
            .unwrap()
            .is_none(),
        "exclusive"
    );
    let renewed = h.bus.lease_renew(&TEST_LEASES, &a).await.unwrap();
    assert!(renewed.revision > a.revision, "the fencing token grows");
    let stale = h.bus.lease_renew(&TEST_LEASES, &a).await.unwrap_err();
    assert!(
        matches!(stale, Error::LeaseLost { .. }),
        "an old revision cannot renew: {stale:?}"
    );
    h.bus.lease_release(&TEST_LEASES, &renewed).await.unwrap();
    let b = h
        .second
        .lease_acquire(&TEST_LEASES, "127.0.0.1:3306", "b")
        .await
        .unwrap()
        .expect("released");
    assert!(matches!(
        h.bus.lease_renew(&TEST_LEASES, &renewed).await,
        Err(Error::LeaseLost { .. })
    ));
    // Unrenewed, it lapses.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let c = h
        .bus
        .lease_acquire(&TEST_LEASES, "127.0.0.1:3306", "a")
        .await
        .unwrap()
        .expect("lapsed");
    assert!(c.revision > b.revision);
    assert!(matches!(
        h.second.lease_renew(&TEST_LEASES, &b).await,
        Err(Error::LeaseLost { .. })
    ));
}

async fn key_values_change_only_from_the_revision_read(h: Harness) {
    let (bucket, key) = ("test_masters", "mysql/master/shop");
    assert!(h.bus.kv_get(bucket, key).await.unwrap().is_none());
    let r1 = h
        .bus
        .kv_swap(bucket, key, Bytes::from_static(b"one"), None)
        .await
        .unwrap()
        .expect("created");
    // Creating again, or writing from a revision that is not the last, fails.
    assert!(
        h.second
            .kv_swap(bucket, key, Bytes::from_static(b"x"), None)
            .await
            .unwrap()
            .is_none()
    );
    let (value, rev) = h.second.kv_get(bucket, key).await.unwrap().expect("kept");
    assert_eq!((value.as_ref(), rev), (&b"one"[..], r1));
    let r2 = h
        .second
        .kv_swap(bucket, key, Bytes::from_static(b"two"), Some(r1))
        .await
        .unwrap()
        .expect("updated from the last revision");
    assert!(r2 > r1);
    assert!(
        h.bus
            .kv_swap(bucket, key, Bytes::from_static(b"stale"), Some(r1))
            .await
            .unwrap()
            .is_none()
    );
    let (value, _) = h.bus.kv_get(bucket, key).await.unwrap().unwrap();
    assert_eq!(value.as_ref(), b"two");
    // Other keys are their own.
    assert!(
        h.bus
            .kv_get(bucket, "mysql/master/billing")
            .await
            .unwrap()
            .is_none()
    );
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod in_process {
            use super::*;
            $(#[tokio::test] async fn $case() { super::$case(local().await).await; })*
        }
        mod over_nats {
            use super::*;
            $(#[tokio::test] async fn $case() { super::$case(nats().await).await; })*
        }
        mod over_system_nats {
            use super::*;
            $(#[tokio::test] async fn $case() {
                if let Some(h) = system_nats().await { super::$case(h).await; }
            })*
        }
    };
}

contract!(
    publish_reaches_matching_subscribers_only,
    queue_groups_deliver_each_message_to_one_member,
    requests_get_the_responders_answer,
    requests_without_responders_fail_fast,
    requests_to_silent_responders_time_out,
    dropped_subscriptions_stop_receiving,
    one_publishers_messages_arrive_in_order,
    garbage_payloads_fail_to_decode_with_the_subject,
    durable_streams_store_each_id_once_and_followers_see_it_once,
    leases_are_exclusive_fenced_and_expire,
    key_values_change_only_from_the_revision_read,
);

#[tokio::test]
async fn connecting_to_nothing_is_a_clear_error() {
    let port = orc_testkit::free_port(&[]).unwrap();
    let err = NatsBus::connect(
        &format!("nats://127.0.0.1:{port}"),
        "x",
        Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&port.to_string()));
}

#[tokio::test]
async fn without_echo_a_connection_misses_only_its_own_messages_and_flush_still_works() {
    let server = NatsServer::start().await.expect("nats-server");
    let quiet = NatsBus::connect_with(&server.url(), "quiet", Duration::from_secs(5), false)
        .await
        .expect("connect");
    let other = NatsBus::connect(&server.url(), "other", Duration::from_secs(5))
        .await
        .expect("connect");
    let mut mine = quiet.subscribe("t.echo").await.unwrap();
    let mut theirs = other.subscribe("t.echo").await.unwrap();
    // The barrier holds without echo: the subscription is in place.
    quiet.flush().await.unwrap();
    other.flush().await.unwrap();
    quiet
        .publish("t.echo", Bytes::from_static(b"from quiet"))
        .await
        .unwrap();
    quiet.flush().await.unwrap();
    assert_eq!(
        recv(&mut theirs).await.expect("others get it").payload,
        Bytes::from_static(b"from quiet")
    );
    assert!(nothing(&mut mine).await, "no echo of its own message");
    other
        .publish("t.echo", Bytes::from_static(b"from other"))
        .await
        .unwrap();
    assert_eq!(
        recv(&mut mine)
            .await
            .expect("it gets others' messages")
            .payload,
        Bytes::from_static(b"from other")
    );
}

/// A restarted nats-server (same store) forgets the followers' consumers:
/// a follower re-creates its own and goes on after the last message it
/// delivered — nothing lost, nothing twice — and so does a subscription.
#[tokio::test]
async fn followers_survive_a_restarted_server() {
    use orc_bus::StartAt;
    let server = NatsServer::start().await.expect("nats-server");
    let url = server.url();
    let bus = NatsBus::connect(&url, "restart", Duration::from_secs(5))
        .await
        .expect("connect");
    let mut follower = bus
        .follow_durable(&TEST_STREAM, StartAt::New)
        .await
        .unwrap();
    let mut plain = bus.subscribe("orc.test.plain").await.unwrap();
    bus.flush().await.unwrap();
    let publish = |id: &'static str| {
        let bus = &bus;
        async move {
            bus.publish_durable(&TEST_STREAM, "orc.test.durable", id, Bytes::from(id))
                .await
        }
    };
    publish("before").await.unwrap();
    assert_eq!(&recv(&mut follower).await.unwrap().payload[..], b"before");
    server.restart().await.expect("restart");
    // The client reconnects on its own; publish once it has.
    let deadline = Instant::now() + Duration::from_secs(10);
    while publish("after").await.is_err() {
        assert!(Instant::now() < deadline, "never reconnected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = tokio::time::timeout(Duration::from_secs(10), follower.next())
        .await
        .expect("the follower is not deaf after the restart")
        .unwrap();
    assert_eq!(&got.payload[..], b"after");
    assert!(nothing(&mut follower).await, "nothing delivered twice");
    bus.publish("orc.test.plain", Bytes::from_static(b"p"))
        .await
        .unwrap();
    assert_eq!(&recv(&mut plain).await.unwrap().payload[..], b"p");
}

/// Leases that outlive the test's node loss and reconnection.
const LONG_LEASES: orc_bus::LeaseSpec = orc_bus::LeaseSpec {
    bucket: "orc_test_long_leases",
    ttl: Duration::from_secs(60),
};

/// On a 3-node cluster with 3 replicas, losing the node a client is
/// connected to loses nothing: the client moves to another node, a follower
/// goes on from where it was, what was published before is kept, and a
/// lease held before is still held (and still exclusive) after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_lost_loses_no_message_and_no_lease() {
    use orc_bus::StartAt;
    let cluster = orc_testkit::NatsCluster::start(3).await.expect("cluster");
    // Connected to node 0 first: that is the node killed below.
    let first = cluster.node(0).url();
    let url = std::iter::once(first.clone())
        .chain((1..cluster.len()).map(|i| cluster.node(i).url()))
        .collect::<Vec<_>>()
        .join(",");
    let connect = |name: &'static str| {
        let url = url.clone();
        async move {
            NatsBus::connect(&url, name, Duration::from_secs(5))
                .await
                .expect("connect")
                .with_replicas(3)
        }
    };
    let bus = connect("cluster-a").await;
    let other = NatsBus::connect(&cluster.node(2).url(), "cluster-b", Duration::from_secs(5))
        .await
        .expect("connect")
        .with_replicas(3);
    let mut follower = bus
        .follow_durable(&TEST_STREAM, StartAt::All)
        .await
        .unwrap();
    bus.publish_durable(&TEST_STREAM, "orc.test.durable", "one", Bytes::from("one"))
        .await
        .unwrap();
    assert_eq!(&recv(&mut follower).await.unwrap().payload[..], b"one");
    let held = bus
        .lease_acquire(&LONG_LEASES, "127.0.0.1:3306", "a")
        .await
        .unwrap()
        .expect("acquired");

    cluster.node(0).kill();
    let killed = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(10);
    while bus
        .publish_durable(&TEST_STREAM, "orc.test.durable", "two", Bytes::from("two"))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "no node took over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("published again after {:?}", killed.elapsed());
    let t = Instant::now();
    let got = tokio::time::timeout(Duration::from_secs(30), follower.next())
        .await
        .expect("the follower goes on after its node is lost")
        .unwrap();
    eprintln!("follower went on after {:?}", t.elapsed());
    assert_eq!(&got.payload[..], b"two");
    assert!(nothing(&mut follower).await, "nothing delivered twice");
    // Kept on the surviving replicas: a new follower replays both.
    // (A new consumer waits for JetStream's meta leader, re-elected if it
    // was the lost node.)
    let lost = Instant::now();
    let mut replay = loop {
        match other.follow_durable(&TEST_STREAM, StartAt::All).await {
            Ok(f) => break f,
            Err(e) => {
                assert!(lost.elapsed() < Duration::from_secs(30), "{e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    eprintln!("a new follower after {:?}", lost.elapsed());
    assert_eq!(&recv(&mut replay).await.unwrap().payload[..], b"one");
    assert_eq!(&recv(&mut replay).await.unwrap().payload[..], b"two");
    // The lease survived: still exclusive, still renewable by its holder.
    // (A connection's first use of a bucket may wait for the meta leader.)
    let contender = loop {
        match other
            .lease_acquire(&LONG_LEASES, "127.0.0.1:3306", "b")
            .await
        {
            Ok(got) => break got,
            Err(e) => {
                assert!(lost.elapsed() < Duration::from_secs(30), "{e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert!(contender.is_none(), "the lease was lost with the node");
    bus.lease_renew(&LONG_LEASES, &held)
        .await
        .expect("the holder still holds it");
}
