//! Store and Redis URLs read from the environment (`store.url_env`,
//! `redis.url_env`), through the real binary against the real PostgreSQL
//! and Redis: the config file names only the variables; a key issued through
//! the admin API lands in the database the variable names and works through
//! the proxy, and a global limit counts in the Redis it names. A variable
//! left unset is refused by its key (`tests/config_validation.rs`).

mod common;

use common::pg::TempDb;
use common::redis_server::{url as redis_url, TempPrefix};
use common::*;
use serde_json::{json, Value};

const PATH: &str = "/w/acme/x";

fn config(prefix: &str, tokens: &str) -> String {
    format!(
        "[store]\nurl_env = \"AG_TEST_STORE_URL\"\nauto_migrate = true\n\n\
         [redis]\nurl_env = \"AG_TEST_REDIS_URL\"\nprefix = \"{prefix}\"\ntimeout = \"500ms\"\n\n\
         {tokens}\n\
         [[routes]]\nname = \"x\"\npath = \"/w/{{workspace}}/x\"\nupstream = \"echo\"\n\
         auth = {{ accept = [\"api_key\"] }}\n\n\
         [[rate_limits]]\nname = \"x\"\nkey = \"credential\"\nrate = 1\nper = \"1h\"\nburst = 1\n\
         routes = [\"x\"]\nscope = \"global\"\non_outage = \"closed\"\n"
    )
}

async fn status(c: &reqwest::Client, g: &Gate, key: &str) -> u16 {
    let r = c.get(g.url(PATH)).bearer_auth(key).send().await.unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn store_and_redis_urls_come_from_the_environment() {
    let db = TempDb::new().await;
    let p = TempPrefix::new();
    let up = Upstream::start();
    let (t, stanza) = admin_token();
    let redis = redis_url();
    let g = Gate::start_env(
        &up,
        &config(&p.prefix, &stanza),
        &[
            ("AG_TEST_STORE_URL", &db.url),
            ("AG_TEST_REDIS_URL", &redis),
        ],
        false,
    );
    let text = std::fs::read_to_string(&g.config).unwrap();
    assert!(
        !text.contains("postgres://") && !text.contains("redis://"),
        "the config file holds a URL:\n{text}"
    );
    store_ready(&g, &db.url).await;

    // A key issued through the admin API is written to the variable's database.
    let c = client();
    let r = c
        .post(g.admin_url("/admin/v1/keys"))
        .bearer_auth(&t)
        .json(&json!({"kind": "api_key", "subject": "svc-env", "workspace": "acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.unwrap();
    let secret = v["secret"].as_str().unwrap().to_string();
    let id = v["key"]["id"].as_str().unwrap().to_string();
    let (pg, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows: i64 = pg
        .query_one("SELECT count(*) FROM authgate_keys WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        rows, 1,
        "key {id} is not in the database the variable names"
    );

    // It works through the proxy; the upstream sees its identity.
    assert_eq!(status(&c, &g, &secret).await, 200);
    let seen = up.seen();
    let last = seen.last().expect("the upstream saw the request");
    assert_eq!(last["headers"]["x-auth-subject"], "svc-env", "{last}");

    // The global limit (burst 1) counts in the variable's Redis: refusals
    // come once the lease taken from it is spent.
    let mut refused = false;
    for _ in 0..20 {
        match status(&c, &g, &secret).await {
            429 => {
                refused = true;
                break;
            }
            s => assert_eq!(s, 200),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "a burst of 1 an hour admitted 20 requests");
    assert!(
        !p.keys().is_empty(),
        "no bucket under {} in the variable's Redis",
        p.prefix
    );
}
