//! Spoofable headers and request targets, end to end through the real proxy
//! to a raw upstream that shows exactly what arrived: underscore spellings
//! of protected names, client-address headers, method/URL overrides,
//! absolute-form targets, and clients that leave mid header.

mod common;

use common::raw::{header_pairs, Behaviour, RawUpstream};
use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

const ROUTES: &str = r#"
[[routes]]
name = "public"
path = "/public/{*rest}"
upstream = "echo"
auth = { public = true }

[[routes]]
name = "backend"
path = "/internal/{*rest}"
upstream = "echo"
auth = { accept = ["server_key"] }

[[routes]]
name = "read runs"
path = "/api/v1/workspaces/{workspace}/runs"
methods = ["GET"]
upstream = "echo"
auth = { accept = ["access_token"], scopes = ["runs:read"] }

[[routes]]
name = "write runs"
path = "/api/v1/workspaces/{workspace}/runs"
methods = ["POST"]
upstream = "echo"
auth = { accept = ["access_token"], scopes = ["runs:write"] }

[[routes]]
name = "override read"
path = "/ovr/workspaces/{workspace}/runs"
methods = ["GET"]
upstream = "echo"
keep_override_headers = true
auth = { accept = ["access_token"], scopes = ["runs:read"] }

[[routes]]
name = "override write"
path = "/ovr/workspaces/{workspace}/runs"
methods = ["POST"]
upstream = "echo"
keep_override_headers = true
auth = { accept = ["access_token"], scopes = ["runs:write"] }

[[routes]]
name = "restricted"
host = "api.example.com"
path = "/restricted"
upstream = "echo"
auth = { public = true }
"#;

struct Setup {
    up: RawUpstream,
    gate: Gate,
    server: String,
    reader: String,
    writer: String,
}

fn setup(identity: &str) -> Setup {
    let (server, k1) = key("sk_live_", "server_key", "sk_backend", "acme", &[], "");
    let (reader, k2) = key(
        "mantyx_at_",
        "access_token",
        "tok_r",
        "acme",
        &["runs:read"],
        "",
    );
    let (writer, k3) = key(
        "mantyx_at_",
        "access_token",
        "tok_w",
        "acme",
        &["runs:read", "runs:write"],
        "",
    );
    let up = RawUpstream::start(Behaviour::Answer);
    let (port, admin) = (free_port(), free_port());
    let cfg = format!(
        "{}\n{identity}\n{ROUTES}\n{k1}{k2}{k3}",
        base_config(port, admin, up.addr)
    );
    let gate = Gate::start_with(&cfg, port, admin);
    Setup {
        up,
        gate,
        server,
        reader,
        writer,
    }
}

fn send(s: &Setup, head: &str) -> (u16, String) {
    raw_request(
        s.gate.port,
        &format!("{head}Connection: close\r\nContent-Length: 0\r\n\r\n"),
    )
}

/// The last request head the upstream received.
fn last_head(s: &Setup) -> String {
    s.up.heads()
        .last()
        .cloned()
        .expect("the upstream received a request")
}

fn names_of(head: &str) -> Vec<String> {
    header_pairs(head).into_iter().map(|(n, _)| n).collect()
}

fn value_of(head: &str, name: &str) -> Vec<String> {
    header_pairs(head)
        .into_iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v)
        .collect()
}

const UNDERSCORE_SPOOFS: &str = "x_auth_subject: evil\r\nX_Auth_Workspace: other\r\n\
     x_auth_scopes: admin\r\nx_forwarded_for: 10.9.9.9\r\nx_real_ip: 10.9.9.9\r\n\
     x_api_key: mantyx_other\r\nx_http_method_override: DELETE\r\nx_request_id: forged\r\n\
     my_header: kept\r\n";

#[tokio::test]
async fn underscore_spellings_of_protected_headers_never_reach_the_upstream() {
    let s = setup("");
    // A server-key route (no workspace injected), a public route, and a scoped route.
    for (path, cred) in [
        ("/internal/x", format!("x-server-key: {}\r\n", s.server)),
        ("/public/x", String::new()),
        (
            "/api/v1/workspaces/acme/runs",
            format!("Authorization: Bearer {}\r\n", s.reader),
        ),
    ] {
        let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{cred}{UNDERSCORE_SPOOFS}");
        let (status, _) = send(&s, &head);
        assert_eq!(status, 200, "{path}");
        let got = last_head(&s);
        let names = names_of(&got);
        for n in &names {
            let dashed = n.replace('_', "-");
            assert!(
                !n.contains('_') || n == "my_header",
                "{path}: underscore spelling {n} reached the upstream:\n{got}"
            );
            assert!(!dashed.starts_with("x-auth-") || !n.contains('_'), "{n}");
        }
        assert_eq!(value_of(&got, "my_header"), ["kept"], "{path}");
        let subject = value_of(&got, "x-auth-subject");
        if path.starts_with("/public") {
            assert!(subject.is_empty(), "{got}");
        } else {
            assert_eq!(subject.len(), 1, "{got}");
            assert_ne!(subject[0], "evil");
        }
        assert_eq!(value_of(&got, "x-forwarded-for"), ["127.0.0.1"]);
    }
}

const ADDRESS_SPOOFS: &str = "X-Real-IP: 10.1.1.1\r\nTrue-Client-IP: 10.1.1.2\r\n\
     X-Client-IP: 10.1.1.3\r\nCF-Connecting-IP: 10.1.1.4\r\nFastly-Client-IP: 10.1.1.5\r\n\
     X-Cluster-Client-IP: 10.1.1.6\r\n";

const ADDRESS_NAMES: [&str; 6] = [
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-cluster-client-ip",
];

#[tokio::test]
async fn client_address_headers_pass_only_from_trusted_proxies() {
    let untrusted = setup("");
    send(
        &untrusted,
        &format!("GET /public/a HTTP/1.1\r\nHost: x\r\n{ADDRESS_SPOOFS}"),
    );
    let got = last_head(&untrusted);
    for name in ADDRESS_NAMES {
        assert!(value_of(&got, name).is_empty(), "{name} passed:\n{got}");
    }

    let trusted = setup("[identity]\ntrusted_proxies = [\"127.0.0.1/32\"]\n");
    send(
        &trusted,
        &format!("GET /public/a HTTP/1.1\r\nHost: x\r\n{ADDRESS_SPOOFS}"),
    );
    let got = last_head(&trusted);
    for (i, name) in ADDRESS_NAMES.iter().enumerate() {
        assert_eq!(value_of(&got, name), [format!("10.1.1.{}", i + 1)], "{got}");
    }
}

#[tokio::test]
async fn x_real_ip_set_to_the_peer_when_asked() {
    let s = setup("[identity]\nset_real_ip = true\n");
    send(
        &s,
        "GET /public/a HTTP/1.1\r\nHost: x\r\nX-Real-IP: 10.1.1.1\r\n",
    );
    assert_eq!(value_of(&last_head(&s), "x-real-ip"), ["127.0.0.1"]);
    send(&s, "GET /public/b HTTP/1.1\r\nHost: x\r\n");
    assert_eq!(value_of(&last_head(&s), "x-real-ip"), ["127.0.0.1"]);

    let proxied = setup("[identity]\nset_real_ip = true\ntrusted_proxies = [\"127.0.0.0/8\"]\n");
    send(
        &proxied,
        "GET /public/a HTTP/1.1\r\nHost: x\r\nX-Real-IP: 10.1.1.1\r\n",
    );
    assert_eq!(value_of(&last_head(&proxied), "x-real-ip"), ["10.1.1.1"]);
}

const OVERRIDES: [&str; 5] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-url",
    "x-rewrite-url",
];

#[tokio::test]
async fn override_headers_are_stripped_unless_the_route_keeps_them() {
    let s = setup("");
    let spoofs = "X-HTTP-Method-Override: POST\r\nX-HTTP-Method: POST\r\n\
                  X-Method-Override: POST\r\nX-Original-URL: /api/v1/workspaces/other/runs\r\n\
                  X-Rewrite-URL: /api/v1/workspaces/other/runs\r\n";
    let head = format!(
        "GET /api/v1/workspaces/acme/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n{spoofs}",
        s.reader
    );
    let (status, _) = send(&s, &head);
    assert_eq!(status, 200);
    let got = last_head(&s);
    for name in OVERRIDES {
        assert!(value_of(&got, name).is_empty(), "{name} passed:\n{got}");
    }
}

#[tokio::test]
async fn kept_overrides_are_authorised_on_the_overridden_method_and_path() {
    let s = setup("");
    let get = |token: &str, extra: &str| {
        format!(
            "GET /ovr/workspaces/acme/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{extra}"
        )
    };
    // A runs:read token's GET overridden to POST needs runs:write.
    let (status, body) = send(&s, &get(&s.reader, "X-HTTP-Method-Override: POST\r\n"));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(r#""required":"runs:write""#), "{body}");
    assert_eq!(s.up.heads().len(), 0);
    // With the scope it passes, and the upstream gets the override.
    let (status, _) = send(&s, &get(&s.writer, "X-HTTP-Method-Override: POST\r\n"));
    assert_eq!(status, 200);
    assert_eq!(value_of(&last_head(&s), "x-http-method-override"), ["POST"]);
    // A URL override into another workspace is that workspace's request: 404.
    let other = "X-Original-URL: /ovr/workspaces/other/runs\r\n";
    let (status, body) = send(&s, &get(&s.writer, other));
    assert_eq!(status, 404, "{body}");
    // Overriding into a route that does not keep overrides is refused.
    let into = "X-Original-URL: /api/v1/workspaces/acme/runs\r\n";
    let (status, body) = send(&s, &get(&s.writer, into));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("override_not_allowed"), "{body}");
    // Disagreeing overrides and non-path URLs are refused.
    let two = "X-HTTP-Method-Override: POST\r\nX-Method-Override: DELETE\r\n";
    let (status, body) = send(&s, &get(&s.writer, two));
    assert_eq!(status, 400);
    assert!(body.contains("ambiguous_override"), "{body}");
    let abs = "X-Rewrite-URL: http://evil.example/ovr/workspaces/acme/runs\r\n";
    let (status, body) = send(&s, &get(&s.writer, abs));
    assert_eq!(status, 400);
    assert!(body.contains("bad_override"), "{body}");
    let dots = "X-Original-URL: /ovr/workspaces/acme/../other/runs\r\n";
    assert_eq!(send(&s, &get(&s.writer, dots)).0, 400);
    assert_eq!(
        s.up.heads().len(),
        1,
        "only the allowed request went upstream"
    );
}

#[tokio::test]
async fn absolute_form_targets_leave_in_origin_form_with_their_authority() {
    let s = setup("");
    let (status, _) = send(
        &s,
        "GET http://api.example.com/restricted?q=1 HTTP/1.1\r\nHost: api.example.com\r\n",
    );
    assert_eq!(status, 200);
    let got = last_head(&s);
    assert!(
        got.starts_with("GET /restricted?q=1 HTTP/1.1\r\n"),
        "request line:\n{got}"
    );
    assert_eq!(value_of(&got, "host"), ["api.example.com"]);

    // The host-restricted route cannot be reached with a foreign authority,
    // whether the foreign name is in the target or in Host.
    // (pingora refuses these itself before authgate sees them; authgate's
    // own check backs it up and covers h2's `:authority`.)
    for head in [
        "GET http://evil.example/restricted HTTP/1.1\r\nHost: api.example.com\r\n",
        "GET http://api.example.com/restricted HTTP/1.1\r\nHost: evil.example\r\n",
    ] {
        let (status, _) = send(&s, head);
        assert_eq!(status, 400, "{head}");
    }
    let (status, _) = send(
        &s,
        "GET http://evil.example/restricted HTTP/1.1\r\nHost: evil.example\r\n",
    );
    assert_eq!(status, 404);
    assert_eq!(
        s.up.heads().len(),
        1,
        "refused requests never reach the upstream"
    );
}

#[tokio::test]
async fn clients_leaving_mid_header_are_counted_not_logged_as_errors() {
    let up = Upstream::start();
    let gate = Gate::start_logged(&up, ROUTES);
    for _ in 0..3 {
        let mut s = TcpStream::connect(("127.0.0.1", gate.port)).unwrap();
        s.write_all(b"GET /public/a HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        drop(s);
    }
    let c = client();
    let counted = eventually(Duration::from_secs(5), || {
        let c = c.clone();
        let url = gate.admin_url("/metrics");
        async move {
            let text = c.get(url).send().await.unwrap().text().await.unwrap();
            text.contains("authgate_client_aborts_total{reason=\"closed\"} 3")
        }
    })
    .await;
    assert!(counted, "three aborts counted");
    // A real request still works and is logged.
    let r = c.get(gate.url("/public/ok")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The access line is written after the response: wait for it.
    let logged = eventually(Duration::from_secs(5), || async {
        gate.log().contains("/public/ok")
    })
    .await;
    assert!(logged, "access log works: {}", gate.log());
    let log = gate.log();
    assert!(
        !log.contains("Fail to proxy") && !log.contains("\"ERROR\""),
        "no error line for clients that left: {log}"
    );
}
