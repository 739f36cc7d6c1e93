//! orchestrator's route catalogue against our router: every route the
//! catalogue says we serve is routed (it may answer an error for the
//! sample arguments, never the router's 404), every route we do not serve
//! says why, and the README's table shows them all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway::routes::{ROUTES, Route, name_of};
use integration_tests::Orc;

/// Every concrete form of a route: optional parts (`[/...]`) left out,
/// then each one added.
fn forms(path: &str) -> Vec<String> {
    let mut forms = vec![String::new()];
    let mut rest = path;
    while !rest.is_empty() {
        match rest.find('[') {
            Some(i) => {
                let fixed = &rest[..i];
                let end = rest[i..].find(']').map_or(rest.len(), |j| i + j);
                let optional = &rest[i + 1..end];
                let base = forms.last().cloned().unwrap_or_default() + fixed;
                forms = vec![base.clone(), base + optional];
                rest = rest.get(end + 1..).unwrap_or("");
            }
            None => {
                for f in &mut forms {
                    f.push_str(rest);
                }
                rest = "";
            }
        }
    }
    forms
}

fn concrete(form: &str) -> String {
    form.split('/')
        .map(|seg| match seg {
            ":port" | ":belowPort" | ":siblingPort" | ":designatedPort" | ":candidatePort" => {
                "1".to_string()
            }
            ":host" | ":belowHost" | ":siblingHost" | ":designatedHost" | ":candidateHost" => {
                "127.0.0.1".to_string()
            }
            ":clusterHint" | ":clusterName" => "127.0.0.1:1".to_string(),
            ":page" | ":id" | ":recoveryId" | ":maintenanceKey" | ":seconds" | ":process"
            | ":errorStatusCode" => "0".to_string(),
            s if s.starts_with(':') => format!("x{}", &s[1..]),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn optional_parts_give_every_form() {
    assert_eq!(forms("a/:b[/:c]"), vec!["a/:b", "a/:b/:c"]);
    assert_eq!(forms("x"), vec!["x"]);
    assert_eq!(
        forms("blocked-recoveries[/cluster/:clusterName]"),
        vec![
            "blocked-recoveries",
            "blocked-recoveries/cluster/:clusterName"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_of_the_catalogue_is_served_or_says_why_not() {
    let orc = Orc::start(None).await.unwrap();
    let http = integration_tests::pki::http_client();
    let mut missing = Vec::new();
    let mut served = 0;
    for route in ROUTES {
        match route.absent {
            Some(why) => assert!(why.len() > 20, "{}: a real reason", route.path),
            None => {
                for form in forms(route.path) {
                    let path = concrete(&form);
                    let url = format!("{}/{}", orc.api(), path);
                    let resp = http.get(&url).send().await.unwrap();
                    let status = resp.status().as_u16();
                    let body = resp.text().await.unwrap_or_default();
                    if status == 404 && body.starts_with("404 page not found") {
                        missing.push(path);
                    }
                    served += 1;
                }
            }
        }
    }
    assert!(missing.is_empty(), "routed nowhere: {missing:#?}");
    assert!(served > 200, "{served} forms requested");
    orc.stop().await.unwrap();
}

#[test]
fn the_readme_shows_every_route_and_why_some_are_absent() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let lines: Vec<&str> = readme.lines().collect();
    let row = |r: &Route| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("| `{}` |", r.path)))
    };
    for r in ROUTES {
        let line = row(r).unwrap_or_else(|| panic!("README lacks a row for {}", r.path));
        match r.absent {
            Some(_) => assert!(line.contains("not served"), "{line}"),
            None => assert!(!line.contains("not served"), "{line}"),
        }
    }
    let _ = name_of;
}
