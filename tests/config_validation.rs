//! Table-driven config validation: each bad config names the bad key.

use authgate::config::{parse, validate::validate};
use std::path::Path;

const BASE: &str = r#"
[upstreams.api]
backends = ["127.0.0.1:3000"]

[[routes]]
path = "/ok"
upstream = "api"
auth = { public = true }
"#;

fn errors(extra: &str) -> Vec<String> {
    let text = format!("{BASE}\n{extra}");
    let file = match parse(&text, "test.toml") {
        Ok(f) => f,
        Err(e) => return e.0.iter().map(|e| e.to_string()).collect(),
    };
    match validate(file, Path::new("."), None) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn the_base_config_is_valid() {
    assert_eq!(errors(""), Vec::<String>::new());
}

#[test]
fn each_bad_config_names_its_key() {
    let cases: &[(&str, &str)] = &[
        ("[server]\nlisten = [\"not-an-address\"]", "server.listen[0]"),
        ("[server]\nthreads = 0", "server.threads"),
        ("[server]\nlisten = []", "server.listen"),
        ("[server]\nbogus = 1", "unknown field `bogus`"),
        ("[server]\ngrace_period = \"soon\"", "grace_period"),
        ("[server.tls]\nlisten = \"127.0.0.1:8443\"\ncert = \"missing.pem\"\nkey = \"missing.key\"", "server.tls.cert"),
        ("[admin]\nlisten = \"nowhere\"", "admin.listen"),
        ("[log]\nformat = \"xml\"", "log.format"),
        ("[upstreams.empty]\nbackends = []", "upstreams.empty.backends"),
        ("[upstreams.bad]\nbackends = [\"no-port\"]", "upstreams.bad.backends[0]"),
        ("[upstreams.hc]\nbackends = [\"127.0.0.1:1\"]\nhealth_check = { kind = \"icmp\" }", "upstreams.hc.health_check.kind"),
        ("[upstreams.t]\nbackends = [\"127.0.0.1:1\"]\nconnect_timeout = \"0s\"", "upstreams.t.connect_timeout"),
        ("[[routes]]\npath = \"x\"\nupstream = \"api\"\nauth = { public = true }", "routes[1].path"),
        ("[[routes]]\npath = \"/y\"\nupstream = \"nope\"\nauth = { public = true }", "routes[1].upstream"),
        ("[[routes]]\npath = \"/y\"\nupstream = \"api\"", "routes[1].auth.accept"),
        ("[[routes]]\npath = \"/y\"\nupstream = \"api\"\nauth = { accept = [\"magic\"] }", "routes[1].auth.accept[0]"),
        ("[[routes]]\npath = \"/y\"\nupstream = \"api\"\nauth = { public = true, accept = [\"api_key\"] }", "routes[1].auth.public"),
        ("[[routes]]\npath = \"/y\"\nmethods = [\"G T\"]\nupstream = \"api\"\nauth = { public = true }", "routes[1].methods[0]"),
        ("[[routes]]\npath = \"/y\"\nupstream = \"api\"\nauth = { accept = [\"api_key\"], scopes = [\"has space\"] }", "routes[1].auth.scopes[0]"),
        ("[[routes]]\npath = \"/ok\"\nupstream = \"api\"\nauth = { public = true }", "routes[1].path"),
        ("[[routes]]\npath = \"/a/{x}\"\nupstream = \"api\"\nauth = { public = true }\n[[routes]]\npath = \"/a/{y}\"\nupstream = \"api\"\nauth = { public = true }", ".path"),
        ("[credentials]\ndigest = \"md5\"", "credentials.digest"),
        ("[credentials]\ndigest = \"hmac-sha256\"", "credentials.pepper_env"),
        ("[credentials]\nmax_bytes = 0", "credentials.max_bytes"),
        ("[[credentials.prefixes]]\nprefix = \"x_\"\nkind = \"password\"", "credentials.prefixes[0].kind"),
        ("[[credentials.prefixes]]\nprefix = \"\"\nkind = \"api_key\"", "credentials.prefixes[0].prefix"),
        ("[[credentials.prefixes]]\nprefix = \"a_\"\nkind = \"api_key\"\n[[credentials.prefixes]]\nprefix = \"a_\"\nkind = \"reject\"", "credentials.prefixes[1].prefix"),
        ("[[keys]]\nid = \"k\"\ndigest = \"sha256:zz\"\nkind = \"api_key\"\nsubject = \"s\"", "keys[0].digest"),
        ("[[keys]]\nid = \"k\"\ndigest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\nkind = \"jwt\"\nsubject = \"s\"", "keys[0].kind"),
        ("[[keys]]\nid = \"k\"\ndigest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\nkind = \"api_key\"\nsubject = \"s\"\nexpires_at = \"tomorrow\"", "keys[0].expires_at"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\nalgorithms = [\"HS257\"]\nsecret_env = \"X\"", "jwt.issuers[0].algorithms[0]"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\nalgorithms = [\"HS256\", \"RS256\"]\nsecret_env = \"X\"", "jwt.issuers[0].algorithms"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\nalgorithms = [\"RS256\"]", "jwt.issuers[0]"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\nalgorithms = [\"RS256\"]\npublic_key_file = \"missing.pem\"", "jwt.issuers[0].public_key_file"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\nalgorithms = [\"RS256\"]\njwks_url = \"ftp://x\"", "jwt.issuers[0].jwks_url"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\nalgorithms = [\"ES256\"]\npublic_key_file = \"tests/fixtures/jwt/keys/ec384.pub.pem\"", "jwt.issuers[0].algorithms"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\nalgorithms = [\"RS256\"]\npublic_key_file = \"tests/fixtures/jwt/keys/rsa1024.pub.pem\"", "jwt.issuers[0].public_key_file"),
        ("[identity]\nheader_prefix = \"X-Auth-\"", "identity.header_prefix"),
        ("[cache]\nmax_entries = 0", "cache.max_entries"),
        ("[store]\nkeys_file = \"missing.jsonl\"", "store.keys_file"),
        ("[stamps]\nmax_body = 0", "stamps.max_body"),
        ("[[keys]]\nid = \"s\"\nkind = \"stamp\"\nsubject = \"w\"\nscheme = \"p256\"\npublic_key = \"02ff\"", "keys[0].public_key"),
        ("[[keys]]\nid = \"s\"\nkind = \"stamp\"\nsubject = \"w\"\npublic_key = \"02ff\"", "keys[0].scheme"),
        ("[[keys]]\nid = \"k\"\nkind = \"api_key\"\nsubject = \"s\"", "keys[0].digest"),
    ];
    for (extra, key) in cases {
        let errs = errors(extra);
        assert!(
            errs.iter().any(|e| e.contains(key)),
            "config:\n{extra}\nexpected an error naming {key}, got {errs:?}"
        );
    }
}

#[test]
fn all_errors_are_collected_not_just_the_first() {
    let errs = errors("[server]\nthreads = 0\n[log]\nformat = \"xml\"\n[cache]\nmax_entries = 0");
    assert!(errs.len() >= 3, "{errs:?}");
}

#[test]
fn a_keys_file_error_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"id":"a","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","kind":"api_key","subject":"s"}"#;
    std::fs::write(
        dir.path().join("keys.jsonl"),
        format!("{good}\n{{\"id\": 1}}\n"),
    )
    .unwrap();
    let text = format!("{BASE}\n[store]\nkeys_file = \"keys.jsonl\"");
    let errs = validate(parse(&text, "t").unwrap(), dir.path(), None).unwrap_err();
    assert!(
        errs.0.iter().any(|e| e.path == "store.keys_file:2"),
        "{errs}"
    );
    std::fs::write(dir.path().join("keys.jsonl"), format!("{good}\n")).unwrap();
    let rt = validate(parse(&text, "t").unwrap(), dir.path(), None).unwrap();
    assert_eq!(rt.watched_files.len(), 1);

    // Read line by line: blank lines are skipped but counted, a line without
    // a final newline is read, duplicates are caught across lines.
    let other = good.replace(r#""a""#, r#""b""#).replace("0000\"", "0001\"");
    let dup = good.replace("0000\"", "0002\"");
    std::fs::write(
        dir.path().join("keys.jsonl"),
        format!("{good}\n\n \n{other}\nnot json\n{dup}"),
    )
    .unwrap();
    let errs = validate(parse(&text, "t").unwrap(), dir.path(), None).unwrap_err();
    let paths: Vec<&str> = errs.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["store.keys_file:5", "store.keys_file:6.id"],
        "{errs}"
    );
    std::fs::write(dir.path().join("keys.jsonl"), format!("{good}\n\n{other}")).unwrap();
    let rt = validate(parse(&text, "t").unwrap(), dir.path(), None).unwrap();
    assert_eq!(rt.key_count, 2);
}
