//! The minting doors through the real proxy, on SQLite and on PostgreSQL,
//! with two instances sharing the store: a server key (created over the
//! admin API) mints an `ek_` for a user and an `rk_` for an agent; both
//! pass on the ordinary hot path with their actor and parent as identity
//! headers; a short-lived one expires; revoking the parent refuses its
//! children on the other instance too, and rotating it out ends them at
//! the overlap deadline. Every refusal of the doors: wrong participant,
//! chaining (`ek_`, `rk_`, `pk_` cannot mint), a workspace without minting,
//! scopes beyond the parent's, a config-file server key, bad input. And
//! the browser surface: `pk_` passes, `sk_` is refused with a hint.

mod common;

use common::pg::TempDb;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const EPHEMERAL: &str = "/auth/ephemeral-keys";
const CAPABILITY: &str = "/auth/capability";

fn config(store_url: &str, admin_stanza: &str, file_key: &str) -> String {
    format!(
        r#"
[store]
url = "{store_url}"
poll_interval = "100ms"
auto_migrate = true

{admin_stanza}

[[credentials.prefixes]]
prefix = "sk_test_"
kind = "server_key"

[[credentials.prefixes]]
prefix = "ek_"
kind = "ephemeral_key"
checksum = true

[[credentials.prefixes]]
prefix = "rk_"
kind = "restricted_key"
checksum = true

[[credentials.prefixes]]
prefix = "pk_"
kind = "publishable_key"
checksum = true

[minting]
workspaces = ["acme"]
keep_expired = "1s"
purge_interval = "300ms"
models = {{ tasks = ["create", "read", "update", "delete"], comments = ["create", "read"] }}

[minting.server_keys.srv_short]
ephemeral_ttl = "2s"

{file_key}

[[routes]]
path = "{EPHEMERAL}"
methods = ["POST"]
handler = "mint_ephemeral"
auth = {{ accept = ["server_key"] }}

[[routes]]
path = "{CAPABILITY}"
methods = ["POST"]
handler = "mint_capability"
auth = {{ accept = ["server_key"] }}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/tasks"
upstream = "echo"
auth = {{ accept = ["server_key", "ephemeral_key", "restricted_key"] }}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/tasks/update"
upstream = "echo"
auth = {{ accept = ["ephemeral_key", "restricted_key"], scopes = ["tasks.update"] }}

[[routes]]
path = "/api/v1/workspaces/{{workspace}}/tasks/delete"
upstream = "echo"
auth = {{ accept = ["ephemeral_key", "restricted_key"], scopes = ["tasks.delete"] }}

[[routes]]
path = "/browser/{{workspace}}/widget"
upstream = "echo"
auth = {{ accept = ["publishable_key", "server_key"], usage = "browser" }}
"#
    )
}

struct T {
    c: reqwest::Client,
    admin: String,
}

impl T {
    /// Create a key of `kind` over `g`'s admin API; returns its secret.
    async fn create(&self, g: &Gate, body: Value) -> String {
        let r = self
            .c
            .post(g.admin_url("/admin/v1/keys"))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{v}");
        v["secret"].as_str().unwrap().to_string()
    }

    async fn admin_post(&self, g: &Gate, path: &str, body: Value) -> u16 {
        self.c
            .post(g.admin_url(path))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// POST `body` to a door with `x-server-key: key`.
    async fn door(&self, g: &Gate, path: &str, key: &str, body: &str) -> (u16, Value) {
        let r = self
            .c
            .post(g.url(path))
            .header("x-server-key", key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn mint(&self, g: &Gate, path: &str, key: &str, body: Value) -> Value {
        let (s, v) = self.door(g, path, key, &body.to_string()).await;
        assert_eq!(s, 200, "{v}");
        v
    }

    async fn get(&self, g: &Gate, path: &str, bearer: &str) -> (u16, Value) {
        let r = self
            .c
            .get(g.url(path))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn server_key(id: &str, workspace: &str, scopes: &[&str]) -> Value {
    json!({"kind": "server_key", "id": id, "subject": format!("app-{id}"), "workspace": workspace, "scopes": scopes})
}

const TASKS: &str = "/api/v1/workspaces/acme/tasks";

async fn flow(store_url: &str) {
    let up = Upstream::start();
    let (admin, stanza) = admin_token();
    let (file_sk, file_stanza) = key("sk_test_", "server_key", "srv_file", "acme", &[], "");
    let cfg = config(store_url, &stanza, &file_stanza);
    let g = Gate::start(&up, &cfg);
    let g2 = Gate::start(&up, &cfg);
    store_ready(&g, store_url).await;
    store_ready(&g2, store_url).await;
    let t = T { c: client(), admin };

    let sk = t.create(&g, server_key("srv_acme", "acme", &[])).await;
    assert!(sk.starts_with("sk_"));

    // The user door: a Stripe-shaped answer, the secret once.
    let ek = t
        .mint(&g, EPHEMERAL, &sk, json!({"user": {"id": "u_123"}}))
        .await;
    let secret = ek["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ek_"), "{ek}");
    assert_eq!(ek["object"], "ephemeral_key");
    assert_eq!(ek["actor"], json!({"kind": "user", "id": "u_123"}));
    assert_eq!(ek["workspace"], "acme");
    let life = ek["expires_at"].as_i64().unwrap() - ek["created"].as_i64().unwrap();
    assert_eq!(life, 900, "15 minutes by default: {ek}");

    // It passes on the ordinary hot path, on both instances, and the
    // upstream learns who holds it and which key minted it.
    for gate in [&g, &g2] {
        let (s, v) = t.get(gate, TASKS, &secret).await;
        assert_eq!(s, 200, "{v}");
    }
    let seen = up.seen();
    let h = &seen.last().unwrap()["headers"];
    assert_eq!(h["x-auth-subject"], "u_123");
    assert_eq!(h["x-auth-workspace"], "acme");
    assert_eq!(h["x-auth-method"], "ephemeral_key");
    assert_eq!(h["x-auth-actor-kind"], "user");
    assert_eq!(h["x-auth-actor-id"], "u_123");
    assert_eq!(h["x-auth-parent-credential-id"], "srv_acme");
    // Its workspace is the server key's: another one's path is refused.
    let (s, _) = t.get(&g, "/api/v1/workspaces/globex/tasks", &secret).await;
    assert_eq!(s, 404);
    // A client cannot spoof the actor headers.
    let r =
        t.c.get(g.url(TASKS))
            .bearer_auth(&sk)
            .header("x-auth-actor-id", "spoofed")
            .header("x-auth-parent-credential-id", "spoofed")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let seen = up.seen();
    let h = &seen.last().unwrap()["headers"];
    assert!(h.get("x-auth-actor-id").is_none(), "{h}");
    assert!(h.get("x-auth-parent-credential-id").is_none(), "{h}");

    // The agent door: exactly the operations named.
    let rk = t
        .mint(
            &g,
            CAPABILITY,
            &sk,
            json!({"agent": {"id": "a_42"}, "can": {"tasks": ["update"], "comments": ["create", "read"]}}),
        )
        .await;
    let rk_secret = rk["secret"].as_str().unwrap().to_string();
    assert!(rk_secret.starts_with("rk_"), "{rk}");
    assert_eq!(
        rk["scopes"],
        json!(["comments.create", "comments.read", "tasks.update"])
    );
    assert_eq!(rk["actor"], json!({"kind": "agent", "id": "a_42"}));
    let (s, v) = t.get(&g2, &format!("{TASKS}/update"), &rk_secret).await;
    assert_eq!(s, 200, "{v}");
    let seen = up.seen();
    let h = &seen.last().unwrap()["headers"];
    assert_eq!(h["x-auth-actor-kind"], "agent");
    assert_eq!(h["x-auth-method"], "restricted_key");
    assert_eq!(
        h["x-auth-scopes"],
        "comments.create comments.read tasks.update"
    );
    let (s, v) = t.get(&g, &format!("{TASKS}/delete"), &rk_secret).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("insufficient_scope")),
        "{v}"
    );
    // The ephemeral key holds the user's whole surface.
    let (s, _) = t.get(&g, &format!("{TASKS}/delete"), &secret).await;
    assert_eq!(s, 200);

    // A short life (per server key) ends on time, cached or not.
    let short = t.create(&g, server_key("srv_short", "acme", &[])).await;
    let brief = t
        .mint(&g, EPHEMERAL, &short, json!({"user": {"id": "u_9"}}))
        .await;
    let brief_secret = brief["secret"].as_str().unwrap().to_string();
    assert_eq!(t.get(&g, TASKS, &brief_secret).await.0, 200);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(t.get(&g, TASKS, &brief_secret).await.0, 401, "expired");
    // And purged from the store by the background task, past keep_expired.
    let brief_id = brief["id"].as_str().unwrap().to_string();
    let purged = eventually(Duration::from_secs(10), || async {
        t.c.get(g.admin_url(&format!("/admin/v1/keys/{brief_id}")))
            .bearer_auth(&t.admin)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
            == 404
    })
    .await;
    assert!(purged, "an expired minted key was never purged");

    // Revoking the parent revokes every child: here at once, on the
    // other instance through the change feed.
    assert_eq!(
        t.admin_post(&g, "/admin/v1/keys/srv_acme/revoke", json!({}))
            .await,
        200
    );
    assert_eq!(t.get(&g, TASKS, &secret).await.0, 401);
    assert_eq!(
        t.get(&g, &format!("{TASKS}/update"), &rk_secret).await.0,
        401
    );
    let gone = eventually(Duration::from_secs(5), || async {
        t.get(&g2, TASKS, &secret).await.0 == 401
            && t.get(&g2, &format!("{TASKS}/update"), &rk_secret).await.0 == 401
    })
    .await;
    assert!(
        gone,
        "the children survived the parent's revocation on the second instance"
    );
    // A revoked server key mints nothing.
    let (s, _) = t.door(&g, EPHEMERAL, &sk, r#"{"user":{"id":"u_1"}}"#).await;
    assert_eq!(s, 401);

    // Rotating a parent out ends its children at the overlap deadline.
    let rot = t.create(&g, server_key("srv_rot", "acme", &[])).await;
    let child = t
        .mint(&g, EPHEMERAL, &rot, json!({"user": {"id": "u_7"}}))
        .await;
    let child_secret = child["secret"].as_str().unwrap().to_string();
    assert_eq!(t.get(&g2, TASKS, &child_secret).await.0, 200);
    assert_eq!(
        t.admin_post(
            &g,
            "/admin/v1/keys/srv_rot/rotate",
            json!({"overlap": "1s"})
        )
        .await,
        201
    );
    let ended = eventually(Duration::from_secs(6), || async {
        t.get(&g, TASKS, &child_secret).await.0 == 401
            && t.get(&g2, TASKS, &child_secret).await.0 == 401
    })
    .await;
    assert!(ended, "a rotated-out parent's child outlived the overlap");

    refusals(&t, &g, &file_sk).await;
}

/// Every way the doors say no.
async fn refusals(t: &T, g: &Gate, file_sk: &str) {
    let sk = t.create(g, server_key("srv_doors", "acme", &[])).await;
    // The two doors are not confusable.
    let (s, v) = t
        .door(
            g,
            CAPABILITY,
            &sk,
            r#"{"user":{"id":"u_1"},"can":{"tasks":["read"]}}"#,
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("invalid_participant_kind")),
        "{v}"
    );
    let (s, v) = t.door(g, EPHEMERAL, &sk, r#"{"agent":{"id":"a_1"}}"#).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("invalid_participant_kind")),
        "{v}"
    );

    // No chaining: what was minted cannot mint, nor can a publishable key.
    let ek = t
        .mint(g, EPHEMERAL, &sk, json!({"user": {"id": "u_2"}}))
        .await;
    let rk = t
        .mint(
            g,
            CAPABILITY,
            &sk,
            json!({"agent": {"id": "a_2"}, "can": {"tasks": ["read"]}}),
        )
        .await;
    let pk = t
        .create(g, json!({"kind": "publishable_key", "subject": "web", "workspace": "acme", "usage": "browser"}))
        .await;
    assert!(pk.starts_with("pk_"));
    for cred in [
        ek["secret"].as_str().unwrap(),
        rk["secret"].as_str().unwrap(),
        pk.as_str(),
    ] {
        for door in [EPHEMERAL, CAPABILITY] {
            let r =
                t.c.post(g.url(door))
                    .bearer_auth(cred)
                    .body(r#"{"user":{"id":"u_3"},"agent":{"id":"a_3"},"can":{"tasks":["read"]}}"#)
                    .send()
                    .await
                    .unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            assert!(
                matches!(status, 401 | 403) && v.get("secret").is_none(),
                "{cred:.3} minted at {door}: {status} {v}"
            );
        }
    }

    // A workspace without minting, and a server key of the config file
    // (minted keys must be able to cascade from their parent's record).
    let globex = t.create(g, server_key("srv_globex", "globex", &[])).await;
    let (s, v) = t
        .door(g, EPHEMERAL, &globex, r#"{"user":{"id":"u_1"}}"#)
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("minting_disabled")),
        "{v}"
    );
    let (s, v) = t
        .door(g, EPHEMERAL, file_sk, r#"{"user":{"id":"u_1"}}"#)
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("parent_inactive")),
        "{v}"
    );

    // Never more than the parent holds.
    let scoped = t
        .create(
            g,
            server_key("srv_scoped", "acme", &["tasks.read", "tasks.update"]),
        )
        .await;
    let (s, v) = t
        .door(
            g,
            CAPABILITY,
            &scoped,
            r#"{"agent":{"id":"a_1"},"can":{"tasks":["update","delete"]}}"#,
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("scope_exceeds_parent")),
        "{v}"
    );
    assert_eq!(v["scopes"], json!(["tasks.delete"]));
    let inherits = t
        .mint(g, EPHEMERAL, &scoped, json!({"user": {"id": "u_5"}}))
        .await;
    assert_eq!(inherits["scopes"], json!(["tasks.read", "tasks.update"]));
    let (s, _) = t
        .get(
            g,
            &format!("{TASKS}/delete"),
            inherits["secret"].as_str().unwrap(),
        )
        .await;
    assert_eq!(
        s, 403,
        "an ephemeral key of a scoped server key stays scoped"
    );

    // Bad input: a precise 400, never a key.
    for (door, body, code) in [
        (EPHEMERAL, r#"{"user":{"id":"u 1"}}"#, "invalid_request"),
        (EPHEMERAL, r#"{"user":{"id":""}}"#, "invalid_request"),
        (EPHEMERAL, r#"{}"#, "invalid_request"),
        (
            EPHEMERAL,
            r#"{"user":{"id":"u_1"},"role":"admin"}"#,
            "invalid_request",
        ),
        (
            EPHEMERAL,
            r#"{"user":{"id":"u_1"},"can":{"tasks":["read"]}}"#,
            "invalid_request",
        ),
        (EPHEMERAL, r#"{"user":"#, "invalid_json"),
        (CAPABILITY, r#"{"agent":{"id":"a_1"}}"#, "invalid_request"),
        (
            CAPABILITY,
            r#"{"agent":{"id":"a_1"},"can":{}}"#,
            "invalid_request",
        ),
        (
            CAPABILITY,
            r#"{"agent":{"id":"a_1"},"can":{"billing":["read"]}}"#,
            "unknown_capability",
        ),
        (
            CAPABILITY,
            r#"{"agent":{"id":"a_1"},"can":{"tasks":["archive"]}}"#,
            "unknown_capability",
        ),
        (
            CAPABILITY,
            r#"{"agent":{"id":"a_1"},"can":{"tasks":[]}}"#,
            "invalid_capability",
        ),
        (
            CAPABILITY,
            r#"{"agent":{"id":"a_1"},"can":{"Tasks":["read"]}}"#,
            "invalid_capability",
        ),
    ] {
        let (s, v) = t.door(g, door, &sk, body).await;
        assert_eq!((s, v["error"].as_str()), (400, Some(code)), "{body}: {v}");
    }

    // Browser surfaces take publishable keys and refuse server keys.
    let widget = "/browser/acme/widget";
    assert_eq!(t.get(g, widget, &pk).await.0, 200);
    // The contract's 403 shape (`error` + `hint`); the reason is in the log.
    let (s, v) = t.get(g, widget, &sk).await;
    assert_eq!(s, 403, "{v}");
    assert!(
        v["hint"].as_str().unwrap().contains("secret server key"),
        "{v}"
    );
    // And a publishable key is refused where browsers do not belong.
    assert_eq!(t.get(g, TASKS, &pk).await.0, 401);
}

#[tokio::test]
async fn minting_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    flow(&format!("sqlite://{}/keys.db", dir.path().display())).await;
}

#[tokio::test]
async fn minting_on_postgres() {
    let db = TempDb::new().await;
    flow(&db.url).await;
}

#[test]
fn minting_config_is_checked() {
    let prefixes = "[[credentials.prefixes]]\nprefix = \"ek_\"\nkind = \"ephemeral_key\"\n[[credentials.prefixes]]\nprefix = \"rk_\"\nkind = \"restricted_key\"\n";
    let store = "[store]\nurl = \"sqlite://k.db\"\n";
    let cases = [
        ("", prefixes, "[minting]\nworkspaces = [\"acme\"]\nany_capability = true\n", "needs a database store"),
        (store, "", "[minting]\nworkspaces = [\"acme\"]\nany_capability = true\n", "minting needs a family of kind ephemeral_key"),
        (store, prefixes, "[minting]\nworkspaces = [\"acme\"]\n", "list the models"),
        (store, prefixes, "[minting]\nworkspaces = [\"acme\"]\nany_capability = true\nscope_format = \"{model}\"\n", "names {model} and {operation}"),
        (store, prefixes, "[[routes]]\npath = \"/m\"\nhandler = \"mint_ephemeral\"\nauth = { accept = [\"server_key\"] }\n", "needs [minting]"),
        (store, prefixes, "[minting]\nworkspaces = [\"*\"]\nany_capability = true\n[[routes]]\npath = \"/m\"\nhandler = \"mint_capability\"\nauth = { accept = [\"server_key\", \"ephemeral_key\"] }\n", "a server key's door"),
        (store, "[[credentials.prefixes]]\nprefix = \"pk_\"\nkind = \"publishable_key\"\n", "[[routes]]\npath = \"/w\"\nupstream = \"a\"\nauth = { accept = [\"publishable_key\"] }\n", "only on browser surfaces"),
    ];
    for (store, prefixes, rest, want) in cases {
        let err = check_refuses(&format!(
            "{store}{prefixes}[upstreams.a]\nbackends = [\"127.0.0.1:9\"]\n{rest}"
        ));
        assert!(err.contains(want), "want {want} in:\n{err}");
    }
}

/// Without door routes, `[minting]` mounts the doors at their default
/// paths (POST, server keys only); an empty path leaves a door unmounted.
#[tokio::test]
async fn doors_are_mounted_at_their_default_paths() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/keys.db", dir.path().display());
    let (admin, stanza) = admin_token();
    let cfg = format!(
        "[store]\nurl = \"{url}\"\nauto_migrate = true\n\n{stanza}\n[[credentials.prefixes]]\nprefix = \"ek_\"\nkind = \"ephemeral_key\"\n\n[[credentials.prefixes]]\nprefix = \"rk_\"\nkind = \"restricted_key\"\n\n[minting]\nworkspaces = [\"acme\"]\nany_capability = true\ncapability_path = \"\"\n"
    );
    let up = Upstream::start();
    let g = Gate::start(&up, &cfg);
    store_ready(&g, &url).await;
    let t = T { c: client(), admin };
    let sk = t.create(&g, server_key("srv_default", "acme", &[])).await;
    let ek = t
        .mint(&g, EPHEMERAL, &sk, json!({"user": {"id": "u_1"}}))
        .await;
    assert!(ek["secret"].as_str().unwrap().starts_with("ek_"));
    // Only POST, only server keys.
    let r =
        t.c.get(g.url(EPHEMERAL))
            .header("x-server-key", &sk)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 405);
    let (s, _) = t
        .door(
            &g,
            EPHEMERAL,
            ek["secret"].as_str().unwrap(),
            r#"{"user":{"id":"u_2"}}"#,
        )
        .await;
    assert_eq!(s, 401);
    // capability_path = "": that door is not mounted.
    let (s, _) = t
        .door(
            &g,
            CAPABILITY,
            &sk,
            r#"{"agent":{"id":"a_1"},"can":{"tasks":["read"]}}"#,
        )
        .await;
    assert_eq!(s, 404);
}
