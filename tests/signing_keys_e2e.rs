//! RFC 9421 keys registered by name (`[[signing_keys]]`) through the real
//! proxy: RSA-PSS-SHA512, RSA v1.5-SHA256 and ECDSA P-384 public keys from
//! PEM files, an HMAC-SHA256 secret from a file. Each signs a request that
//! passes (the upstream sees the key's subject); a request signed by
//! another key under the same keyid, an `alg` that lies, and a changed
//! path are refused; the keys are generated here with aws-lc-rs (not
//! authgate's code).

mod common;

use common::httpsig::{sign, Key, Req};
use common::named_keys::{hmac, one_of_each, p384, params, Material};
use common::*;
use std::path::Path;

/// The `[[signing_keys]]` lines of `material`, written to files in `dir`.
fn material_lines(k: &Key, material: &Material, dir: &Path) -> String {
    match material {
        Material::Pem(pem) => {
            let f = dir.join(format!("{}.pem", k.keyid()));
            std::fs::write(&f, pem).unwrap();
            format!("public_key_file = \"{}\"", f.display())
        }
        Material::Secret(secret) => {
            let f = dir.join(format!("{}.secret", k.keyid()));
            std::fs::write(&f, secret).unwrap();
            format!("secret_file = \"{}\"", f.display())
        }
    }
}

async fn send(
    g: &Gate,
    path: &str,
    signed: &(String, String, Option<String>),
) -> (u16, serde_json::Value) {
    let r = client()
        .get(g.url(path))
        .header("signature-input", &signed.0)
        .header("signature", &signed.1)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn keys_registered_by_name_sign_at_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let keys = one_of_each("partner");
    let mut cfg = String::from(
        "[[routes]]\npath = \"/api/v1/workspaces/{workspace}/items\"\nmethods = [\"GET\"]\nupstream = \"echo\"\nauth = { accept = [\"stamp\"] }\n",
    );
    for (k, material) in &keys {
        cfg.push_str(&format!(
            "[[signing_keys]]\nkeyid = \"{id}\"\nalg = \"{alg}\"\n{material}\nsubject = \"svc-{id}\"\nworkspace = \"acme\"\n",
            id = k.keyid(),
            alg = k.alg(),
            material = material_lines(k, material, dir.path()),
        ));
    }
    let up = Upstream::start();
    let g = Gate::start(&up, &cfg);
    let authority = format!("127.0.0.1:{}", g.port);
    let path = "/api/v1/workspaces/acme/items";
    let req = Req {
        method: "GET",
        path,
        query: None,
        body: None,
    };
    for (k, _) in &keys {
        let signed = sign(k, &authority, &req, None, &params(k, k.alg()));
        let (s, v) = send(&g, path, &signed).await;
        assert_eq!(s, 200, "{}: {v}", k.alg());
        let seen = up.seen();
        let h = &seen.last().unwrap()["headers"];
        assert_eq!(
            h["x-auth-subject"],
            format!("svc-{}", k.keyid()).as_str(),
            "{}",
            k.alg()
        );

        // The message's alg may only repeat the registration's.
        let liar = if k.alg() == "hmac-sha256" {
            "rsa-pss-sha512"
        } else {
            "hmac-sha256"
        };
        let signed = sign(k, &authority, &req, None, &params(k, liar));
        let (s, v) = send(&g, path, &signed).await;
        assert_eq!(
            (s, v["reason"].as_str()),
            (401, Some("algorithm_mismatch")),
            "{}: {v}",
            k.alg()
        );

        // Signed for another path, sent to this one.
        let other = Req {
            path: "/api/v1/workspaces/acme/other",
            ..req
        };
        let signed = sign(k, &authority, &other, None, &params(k, k.alg()));
        let (s, v) = send(&g, path, &signed).await;
        assert_eq!(
            (s, v["reason"].as_str()),
            (401, Some("bad_signature")),
            "{}: {v}",
            k.alg()
        );
    }
    // Another key under a registered keyid: refused.
    let (impostor, _) = p384("partner-p384");
    let signed = sign(
        &impostor,
        &authority,
        &req,
        None,
        &params(&impostor, "ecdsa-p384-sha384"),
    );
    assert_eq!(send(&g, path, &signed).await.0, 401);
    // An unknown keyid.
    let (stranger, _) = hmac("nobody");
    let signed = sign(
        &stranger,
        &authority,
        &req,
        None,
        &params(&stranger, "hmac-sha256"),
    );
    let (s, v) = send(&g, path, &signed).await;
    assert_eq!((s, v["reason"].as_str()), (401, Some("unknown_key")), "{v}");
}

#[test]
fn signing_key_config_is_checked() {
    let base = "[upstreams.echo]\nbackends = [\"127.0.0.1:9\"]\n";
    let cases = [
        ("[[signing_keys]]\nkeyid = \"k\"\nalg = \"rsa-sha1\"\npublic_key_file = \"k.pem\"\nsubject = \"s\"\n", "unknown algorithm"),
        ("[[signing_keys]]\nkeyid = \"k\"\nalg = \"hmac-sha256\"\npublic_key_file = \"k.pem\"\nsubject = \"s\"\n", "secret_file, secret_env"),
        ("[[signing_keys]]\nkeyid = \"k\"\nalg = \"rsa-pss-sha512\"\nsecret_env = \"X\"\nsubject = \"s\"\n", "public_key_file"),
        ("[[signing_keys]]\nkeyid = \"k\"\nalg = \"ecdsa-p384-sha384\"\npublic_key_file = \"/nonexistent.pem\"\nsubject = \"s\"\n", "cannot read"),
    ];
    for (extra, want) in cases {
        let text = check_refuses(&format!("{base}{extra}"));
        assert!(text.contains(want), "want {want} in:\n{text}");
    }
}
