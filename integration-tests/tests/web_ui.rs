//! The web UI in a real browser: Debian's headless Chromium driven through
//! chromedriver (WebDriver, the fantoccini crate) against the gateway of a
//! real sandbox. The page shows the topology, a replica dragged onto
//! another server is relocated after a confirmation showing the dry run's
//! plan, a change made elsewhere appears without reloading, and a
//! read-only deployment offers no action. Screenshots are written to
//! `target/test-artefacts/web-ui/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::actions::{InputSource as _, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::{Client, Locator};
use integration_tests::process::free_port;
use integration_tests::{Orc, eventually, source_of, test_config};
use orc_testkit::SandboxBuilder;
use orchestrator::roles::Roles;
use serde_json::json;

struct Browser {
    client: Client,
    _driver: tokio::process::Child,
}

fn find_binary(names: &[&str]) -> Option<PathBuf> {
    names
        .iter()
        .flat_map(|n| {
            ["/usr/bin", "/usr/lib/chromium", "/usr/local/bin"]
                .iter()
                .map(move |d| PathBuf::from(d).join(n))
        })
        .find(|p| p.exists())
}

async fn browser() -> Browser {
    let driver_bin = find_binary(&["chromedriver"])
        .expect("chromedriver (Debian's chromium-driver; scripts/test installs it)");
    let chromium = find_binary(&["chromium", "chromium-browser"]).expect("chromium");
    let port = free_port();
    let driver = tokio::process::Command::new(driver_bin)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"],
        }),
    );
    let client = eventually(Duration::from_secs(20), || {
        let caps = caps.clone();
        let url = url.clone();
        async move {
            fantoccini::ClientBuilder::new(
                hyper_util::client::legacy::connect::HttpConnector::new(),
            )
            .capabilities(caps)
            .connect(&url)
            .await
            .ok()
        }
    })
    .await
    .expect("a WebDriver session with headless Chromium");
    Browser {
        client,
        _driver: driver,
    }
}

fn artefacts() -> PathBuf {
    let dir = integration_tests::workspace_binary("x")
        .parent()
        .and_then(|d| d.parent())
        .map(|t| t.join("test-artefacts").join("web-ui"))
        .unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artefacts().join(format!("{name}.png")), png).unwrap();
}

/// The `data-master` of the node of `key` in the page's tree.
async fn shown_master(c: &Client, key: &str) -> Option<String> {
    let node = c
        .find(Locator::Css(&format!("#tree .node[data-key=\"{key}\"]")))
        .await
        .ok()?;
    node.attr("data-master").await.ok()?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_draws_the_topology_and_relocates_a_replica_by_drag_and_drop() {
    let sb = SandboxBuilder::master_with_replicas(2)
        .start()
        .await
        .unwrap();
    let (m, r1, r2) = (
        sb.key("m").unwrap(),
        sb.key("r1").unwrap(),
        sb.key("r2").unwrap(),
    );
    // A store of the test's own, so that a read-only gateway can be
    // started on it afterwards (a read-only one cannot discover).
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(&dir.path().join("o.sqlite3"), 0.5);
    let orc = Orc::start_with(config.clone(), Roles::ALL, None, None)
        .await
        .unwrap();
    let (code, _, err) = orc.client(&["-c", "discover", "-i", &m]).await;
    assert_eq!(code, 0, "{err}");
    let b = browser().await;
    let c = &b.client;
    c.goto(&format!("http://{}/", orc.http)).await.unwrap();

    // The tree: the master at the root, both replicas below it.
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(&format!("#tree .node[data-key=\"{r2}\"]")))
        .await
        .expect("the topology is drawn");
    assert_eq!(shown_master(c, &r1).await.as_deref(), Some(m.as_str()));
    assert_eq!(shown_master(c, &r2).await.as_deref(), Some(m.as_str()));
    let master_node = c
        .find(Locator::Css(&format!(
            "#tree .node.master[data-key=\"{m}\"]"
        )))
        .await
        .expect("the master is drawn as the master");
    assert!(master_node.text().await.unwrap().contains("writable"));
    screenshot(c, "1-topology").await;

    // Drag r2 onto r1: a confirmation shows the dry run's plan.
    let from = c
        .find(Locator::Css(&format!("#tree .node[data-key=\"{r2}\"]")))
        .await
        .unwrap();
    let to = c
        .find(Locator::Css(&format!("#tree .node[data-key=\"{r1}\"]")))
        .await
        .unwrap();
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: from,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveToElement {
            element: to.clone(),
            duration: Some(Duration::from_millis(200)),
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::MoveToElement {
            element: to,
            duration: Some(Duration::from_millis(50)),
            x: 2.0,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(drag).await.unwrap();
    let ok = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#confirm[open] #confirm-ok:not([disabled])"))
        .await
        .expect("a confirmation with the plan");
    let title = c
        .find(Locator::Id("confirm-title"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(title.contains(&r2) && title.contains(&r1), "{title}");
    let plan = c
        .find(Locator::Id("confirm-plan"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        plan.contains(&format!("point {r2} at {r1}")),
        "the dry run's plan is shown: {plan}"
    );
    // Nothing changed yet: the dry run only planned.
    assert_eq!(
        source_of(&sb, "r2").await.map(|s| s.0),
        Some(sb.instance("m").unwrap().port())
    );
    screenshot(c, "2-confirmation").await;
    ok.click().await.unwrap();

    // The server moved, and the page shows the new tree.
    let r1_port = sb.instance("r1").unwrap().port();
    eventually(Duration::from_secs(15), || async {
        (source_of(&sb, "r2").await == Some((r1_port, true, true))).then_some(())
    })
    .await
    .expect("r2 replicates from r1");
    eventually(Duration::from_secs(15), || async {
        (shown_master(c, &r2).await.as_deref() == Some(r1.as_str())).then_some(())
    })
    .await
    .expect("the page shows r2 below r1");
    let nested = c
        .find(Locator::XPath(&format!(
            "//li[div[@data-key='{r1}']]/ul/li/div[@data-key='{r2}']"
        )))
        .await;
    assert!(nested.is_ok(), "r2 is drawn inside r1's branch");
    screenshot(c, "3-relocated").await;

    // A change made elsewhere (orchestrator-client) shows without a reload.
    let (code, _, err) = orc.client(&["-c", "relocate", "-i", &r2, "-d", &m]).await;
    assert_eq!(code, 0, "{err}");
    let followed = eventually(Duration::from_secs(15), || async {
        (shown_master(c, &r2).await.as_deref() == Some(m.as_str())).then_some(())
    })
    .await;
    if followed.is_none() {
        screenshot(c, "4-live-update-failed").await;
        let (_, now) = orc
            .get(&format!("instance/{}", r2.replace(':', "/")))
            .await
            .unwrap();
        let page = c
            .execute("return JSON.stringify(window.orcState.events) + ' ' + document.getElementById('live').textContent + ' ' + document.getElementById('tree').outerHTML", vec![])
            .await
            .unwrap();
        panic!(
            "the page did not follow a change made through the API: API says master {}; page: {page}",
            now["MasterKey"]
        );
    }
    screenshot(c, "4-live-update").await;

    // Read-only: the same store and topology, no action offered.
    orc.stop().await.unwrap();
    let mut read_only = config;
    read_only["ReadOnly"] = true.into();
    let ro = Orc::start_with(read_only, Roles::ALL, None, None)
        .await
        .unwrap();
    c.goto(&format!("http://{}/", ro.http)).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(&format!("#tree .node[data-key=\"{r2}\"]")))
        .await
        .expect("the read-only page draws the topology");
    let draggable = c.find_all(Locator::Css(".node.draggable")).await.unwrap();
    assert!(
        draggable.is_empty(),
        "a read-only user is offered drag and drop"
    );
    let who = c
        .find(Locator::Id("who"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(who.contains("read-only"), "{who}");
    screenshot(c, "5-read-only").await;

    b.client.close().await.unwrap();
    ro.stop().await.unwrap();
}
