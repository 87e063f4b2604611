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

/// Every error of `BASE` + `extra`, as `(key path, message)`.
fn errors(extra: &str) -> Vec<(String, String)> {
    let text = format!("{BASE}\n{extra}");
    let pairs = |e: authgate::config::ConfigErrors| {
        e.0.into_iter()
            .map(|e| (e.path, e.message))
            .collect::<Vec<_>>()
    };
    let file = match parse(&text, "test.toml") {
        Ok(f) => f,
        Err(e) => return pairs(e),
    };
    match validate(file, Path::new("."), None) {
        Ok(_) => vec![],
        Err(e) => pairs(e),
    }
}

#[test]
fn the_base_config_is_valid() {
    assert_eq!(errors(""), Vec::<(String, String)>::new());
}

#[test]
fn each_bad_config_names_its_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("[server]\nlisten = [\"not-an-address\"]", "server.listen[0]", "not an ip:port address"),
        ("[server]\nthreads = 0", "server.threads", "between 1 and 256"),
        ("[server]\nlisten = []", "server.listen", "at least one listener"),
        ("[server]\nbogus = 1", "test.toml", "bogus = 1\n   | ^^^^^\nunknown field `bogus`, expected one of `listen`"),
        ("[server]\ngrace_period = \"soon\"", "test.toml", "grace_period = \"soon\"\n   |                ^^^^^^\ninvalid value: string \"soon\", expected a duration"),
        ("[server.tls]\nlisten = \"127.0.0.1:8443\"\ncert = \"missing.pem\"\nkey = \"missing.key\"", "server.tls.cert", "'missing.pem' not found"),
        ("[admin]\nlisten = \"nowhere\"", "admin.listen", "'nowhere' is not an ip:port"),
        ("[log]\nformat = \"xml\"", "log.format", "unknown format 'xml'"),
        ("[upstreams.empty]\nbackends = []", "upstreams.empty.backends", "at least one backend"),
        ("[upstreams.\"a b\"]\nbackends = []", "upstreams.\"a b\".backends", "at least one backend"),
        ("[upstreams.bad]\nbackends = [\"no-port\"]", "upstreams.bad.backends[0]", "'no-port' is not a resolvable host:port"),
        ("[upstreams.hc]\nbackends = [\"127.0.0.1:1\"]\nhealth_check = { kind = \"icmp\" }", "upstreams.hc.health_check.kind", "unknown kind 'icmp'"),
        ("[upstreams.t]\nbackends = [\"127.0.0.1:1\"]\nconnect_timeout = \"0s\"", "upstreams.t.connect_timeout", "greater than zero"),
        ("[[routes]]\npath = \"x\"\nupstream = \"api\"\nauth = { public = true }", "routes[1].path", "must start with '/'"),
        ("[[routes]]\npath = \"/y\"\nupstream = \"nope\"\nauth = { public = true }", "routes[1].upstream", "no upstream named 'nope'"),
        ("[[routes]]\npath = \"/y\"\nupstream = \"api\"", "routes[1].auth.accept", "at least one credential kind"),
        ("[[routes]]\npath = \"/y\"\nupstream = \"api\"\nauth = { accept = [\"magic\"] }", "routes[1].auth.accept[0]", "unknown kind 'magic'"),
        ("[[routes]]\npath = \"/y\"\nupstream = \"api\"\nauth = { public = true, accept = [\"api_key\"] }", "routes[1].auth.public", "cannot also list accept"),
        ("[[routes]]\npath = \"/y\"\nmethods = [\"G T\"]\nupstream = \"api\"\nauth = { public = true }", "routes[1].methods[0]", "'G T' is not an HTTP method"),
        ("[[routes]]\npath = \"/y\"\nupstream = \"api\"\nauth = { accept = [\"api_key\"], scopes = [\"has space\"] }", "routes[1].auth.scopes[0]", "without spaces"),
        ("[[routes]]\npath = \"/ok\"\nupstream = \"api\"\nauth = { public = true }", "routes[1].path", "overlaps routes[0]"),
        ("[[routes]]\npath = \"/a/{x}\"\nupstream = \"api\"\nauth = { public = true }\n[[routes]]\npath = \"/a/{y}\"\nupstream = \"api\"\nauth = { public = true }", "routes[2].path", "conflict with previously registered route: /a/{x}"),
        ("[credentials]\ndigest = \"md5\"", "credentials.digest", "unknown digest 'md5'"),
        ("[credentials]\ndigest = \"hmac-sha256\"", "credentials.pepper_env", "required when digest = \"hmac-sha256\""),
        ("[credentials]\ndigest = \"hmac-sha256\"\npepper_env = \"AUTHGATE_TEST_NEVER_SET\"", "credentials.pepper_env", "environment variable AUTHGATE_TEST_NEVER_SET is unset or empty"),
        ("[credentials]\nmax_bytes = 0", "credentials.max_bytes", "between 1 and 65536"),
        ("[[credentials.prefixes]]\nprefix = \"x_\"\nkind = \"password\"", "credentials.prefixes[0].kind", "unknown kind 'password'"),
        ("[[credentials.prefixes]]\nprefix = \"\"\nkind = \"api_key\"", "credentials.prefixes[0].prefix", "non-empty"),
        ("[[credentials.prefixes]]\nprefix = \"a_\"\nkind = \"api_key\"\n[[credentials.prefixes]]\nprefix = \"a_\"\nkind = \"reject\"", "credentials.prefixes[1].prefix", "duplicate prefix 'a_'"),
        ("[[keys]]\nid = \"k\"\ndigest = \"sha256:zz\"\nkind = \"api_key\"\nsubject = \"s\"", "keys[0].digest", "64 hex digits"),
        ("[[keys]]\nid = \"k\"\ndigest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\nkind = \"jwt\"\nsubject = \"s\"", "keys[0].kind", "unknown kind 'jwt'"),
        ("[[keys]]\nid = \"k\"\ndigest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\nkind = \"api_key\"\nsubject = \"s\"\nexpires_at = \"tomorrow\"", "keys[0].expires_at", "RFC 3339"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\naudiences = [\"a\"]\nalgorithms = [\"HS257\"]\nsecret_env = \"X\"", "jwt.issuers[0].algorithms[0]", "unknown algorithm 'HS257'"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\naudiences = [\"a\"]\nalgorithms = [\"HS256\", \"RS256\"]\nsecret_env = \"X\"", "jwt.issuers[0].algorithms", "algorithm confusion"),
        // cargo sets CARGO_PKG_NAME for the test process: an 8-byte secret.
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\naudiences = [\"a\"]\nalgorithms = [\"HS256\"]\nsecret_env = \"CARGO_PKG_NAME\"", "jwt.issuers[0].secret_env", "at least 32 bytes"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\naudiences = [\"a\"]\nalgorithms = [\"RS256\"]", "jwt.issuers[0]", "set exactly one of secret_file, secret_env, public_key_file, jwks_file, jwks_url"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\naudiences = [\"a\"]\nalgorithms = [\"RS256\"]\npublic_key_file = \"missing.pem\"", "jwt.issuers[0].public_key_file", "cannot read 'missing.pem'"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\naudiences = [\"a\"]\nalgorithms = [\"RS256\"]\njwks_url = \"ftp://x\"", "jwt.issuers[0].jwks_url", "http or https"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\nalgorithms = [\"RS256\"]\njwks_url = \"https://i/jwks\"", "jwt.issuers[0].audiences", "insecure_no_audience"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\naudiences = [\"a\"]\nalgorithms = [\"RS256\"]\njwks_url = \"http://i/jwks\"", "jwt.issuers[0].jwks_url", "insecure_http_jwks"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\naudiences = [\"a\"]\nalgorithms = [\"ES256\"]\npublic_key_file = \"tests/fixtures/jwt/keys/ec384.pub.pem\"", "jwt.issuers[0].algorithms", "cannot verify ES256"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\naudiences = [\"a\"]\nalgorithms = [\"RS256\"]\npublic_key_file = \"tests/fixtures/jwt/keys/rsa1024.pub.pem\"", "jwt.issuers[0].public_key_file", "shorter than 2048 bits"),
        ("[identity]\nheader_prefix = \"X-Auth-\"", "identity.header_prefix", "lower-case header-name prefix"),
        ("[cache]\nmax_entries = 0", "cache.max_entries", "at least 1"),
        ("[store]\nkeys_file = \"missing.jsonl\"", "store.keys_file", "cannot read 'missing.jsonl'"),
        ("[stamps]\nmax_body = 0", "stamps.max_body", "between 1 and"),
        ("[[keys]]\nid = \"s\"\nkind = \"stamp\"\nsubject = \"w\"\nscheme = \"p256\"\npublic_key = \"02ff\"", "keys[0].public_key", "not a valid SIGNATURE_SCHEME_TK_API_P256 key"),
        ("[[keys]]\nid = \"s\"\nkind = \"stamp\"\nsubject = \"w\"\npublic_key = \"02ff\"", "keys[0].scheme", "need scheme = p256, secp256k1 or ed25519"),
        ("[[keys]]\nid = \"k\"\nkind = \"api_key\"\nsubject = \"s\"", "keys[0].digest", "required for this kind"),
        ("[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\naudiences = [\"a\"]\nalgorithms = [\"RS256\"]\npublic_key_file = \"tests/fixtures/jwt/keys/rsa.pub.pem\"\n[[jwt.issuers]]\nname = \"j\"\nissuer = \"https://i\"\naudiences = [\"a\"]\nalgorithms = [\"RS256\"]\npublic_key_file = \"tests/fixtures/jwt/keys/rsa.pub.pem\"", "jwt.issuers[1].issuer", "duplicate issuer 'https://i'"),
        ("[identity]\nworkspace_param = \"\"", "identity.workspace_param", "must not be empty"),
        ("[identity]\ntrusted_proxies = [\"10.0.0.0/8\", \"not-an-ip\"]", "identity.trusted_proxies[1]", "'not-an-ip' is not an IP or CIDR"),
        ("[stamps]\nwindow = \"0s\"", "stamps.window", "greater than zero"),
        ("[stamps]\nreplay_capacity = 0", "stamps.replay_capacity", "at least 1"),
        ("[stamps]\nshared_replay = true", "stamps.shared_replay", "needs a database store"),
        ("[store]\nhmac_secrets_dir = \"secrets\"", "store.hmac_secrets_dir", "needs a database store"),
        ("[store]\npoll_interval = \"5ms\"", "store.poll_interval", "at least 10ms"),
        ("[store]\ntimeout = \"0s\"", "store.timeout", "greater than zero"),
        ("[store]\nurl_env = \"AUTHGATE_TEST_NEVER_SET\"", "store.url_env", "environment variable AUTHGATE_TEST_NEVER_SET is unset or empty"),
        ("[store]\nurl = \"sqlite://keys.db\"\nurl_env = \"CARGO_PKG_NAME\"", "store.url_env", "set store.url or store.url_env, not both"),
        ("[redis]\nprefix = \"p:\"", "redis.url", "required (or redis.url_env)"),
        ("[redis]\nurl_env = \"AUTHGATE_TEST_NEVER_SET\"", "redis.url_env", "environment variable AUTHGATE_TEST_NEVER_SET is unset or empty"),
        ("[redis]\nurl = \"redis://127.0.0.1:6379\"\nurl_env = \"CARGO_PKG_NAME\"", "redis.url_env", "set redis.url or redis.url_env, not both"),
        // The variable's value is what is opened: CARGO_PKG_NAME ("authgate") is no store URL.
        ("[store]\nurl_env = \"CARGO_PKG_NAME\"", "store.url", "must start with sqlite:// or postgres://"),
    ];
    for (extra, key, needle) in cases {
        let errs = errors(extra);
        // The first error is at exactly this key path and says what is wrong
        // (syntax errors carry the file name and the offending line instead).
        let (path, message) = errs
            .first()
            .unwrap_or_else(|| panic!("config:\n{extra}\naccepted"));
        assert!(
            path == key && message.contains(needle),
            "config:\n{extra}\nexpected {key}: …{needle}…, got {errs:?}"
        );
    }
}

#[test]
fn no_error_has_an_empty_key_path() {
    // Found by the `config` fuzz target: `[""]` was refused with an error
    // whose key path was empty (how such sections are named: parse.rs).
    for text in [
        "[\"\"]",
        "[\"a b\"]",
        "[upstreams.\"\"]\nbackends = 1",
        "[log]\nbogus = 1\n[\"\"]",
    ] {
        let errs = errors(text);
        assert!(!errs.is_empty(), "{text}: accepted");
        assert!(
            errs.iter().all(|(p, m)| !p.is_empty() && !m.is_empty()),
            "{text}: {errs:?}"
        );
    }
}

#[test]
fn all_errors_are_collected_not_just_the_first() {
    let errs = errors("[server]\nthreads = 0\n[log]\nformat = \"xml\"\n[cache]\nmax_entries = 0");
    let mut paths: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        ["cache.max_entries", "log.format", "server.threads"],
        "{errs:?}"
    );
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
    assert_eq!(rt.auth.key_count, 2);
}

#[test]
fn unknown_keys_are_refused_in_every_table() {
    // The misspelt key comes first, so it is the error whatever else the
    // table would need. Each case names the table.
    let cases = [
        ("top level", "zzz_typo = 1\n".to_string() + BASE),
        ("server", format!("{BASE}\n[server]\nzzz_typo = 1")),
        ("server.tls", format!("{BASE}\n[server.tls]\nzzz_typo = 1")),
        ("admin", format!("{BASE}\n[admin]\nzzz_typo = 1")),
        ("log", format!("{BASE}\n[log]\nzzz_typo = 1")),
        ("upstreams.NAME", format!("{BASE}\n[upstreams.x]\nzzz_typo = 1")),
        (
            "upstreams.NAME.health_check",
            format!("{BASE}\n[upstreams.x]\nbackends = [\"127.0.0.1:1\"]\nhealth_check = {{ zzz_typo = 1 }}"),
        ),
        ("routes", format!("{BASE}\n[[routes]]\nzzz_typo = 1")),
        (
            "routes.auth",
            format!("{BASE}\n[[routes]]\npath = \"/z\"\nupstream = \"api\"\nauth = {{ zzz_typo = 1 }}"),
        ),
        ("credentials", format!("{BASE}\n[credentials]\nzzz_typo = 1")),
        (
            "credentials.prefixes",
            format!("{BASE}\n[[credentials.prefixes]]\nzzz_typo = 1"),
        ),
        ("keys", format!("{BASE}\n[[keys]]\nzzz_typo = 1")),
        ("jwt", format!("{BASE}\n[jwt]\nzzz_typo = 1")),
        ("jwt.issuers", format!("{BASE}\n[[jwt.issuers]]\nzzz_typo = 1")),
        ("identity", format!("{BASE}\n[identity]\nzzz_typo = 1")),
        ("identity.headers", format!("{BASE}\n[identity.headers]\nzzz_typo = 1")),
        (
            "identity.assertion",
            format!("{BASE}\n[identity.assertion]\nzzz_typo = 1"),
        ),
        ("cache", format!("{BASE}\n[cache]\nzzz_typo = 1")),
        ("store", format!("{BASE}\n[store]\nzzz_typo = 1")),
        ("stamps", format!("{BASE}\n[stamps]\nzzz_typo = 1")),
    ];
    for (table, text) in &cases {
        let errs = parse(text, "test.toml")
            .err()
            .unwrap_or_else(|| panic!("{table}: accepted"));
        let all = errs.to_string();
        assert!(all.contains("unknown field `zzz_typo`"), "{table}: {all}");
    }

    // And in a keys file's records.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keys.jsonl"),
        r#"{"zzz_typo":1,"id":"a","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","kind":"api_key","subject":"s"}"#,
    )
    .unwrap();
    let text = format!("{BASE}\n[store]\nkeys_file = \"keys.jsonl\"");
    let errs = validate(parse(&text, "t").unwrap(), dir.path(), None).unwrap_err();
    assert!(
        errs.0.iter().any(
            |e| e.path == "store.keys_file:1" && e.message.contains("unknown field `zzz_typo`")
        ),
        "{errs}"
    );
}

#[test]
fn every_parse_error_is_reported_in_one_run_with_route_names() {
    let text = format!(
        "{BASE}\n[server]\nbogus = 1\n\n[cache]\nttl = \"soon\"\n\n[[routes]]\nname = \"runs\"\npath = \"/r\"\nupstream = \"api\"\nmethod = \"GET\"\n\n[[keys]]\nid = \"k1\"\nkind = \"api_key\"\nsubject = 7\n"
    );
    let errs = parse(&text, "test.toml").unwrap_err().0;
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    // The parser's own first error, quoted from the file, then the others.
    assert_eq!(paths[0], "test.toml", "{errs:?}");
    assert!(errs[0].message.contains(" | "), "quoted: {errs:?}");
    let named = |needle: &str| errs.iter().any(|e| e.message.contains(needle));
    assert!(named("bogus") && named("expected a duration"), "{errs:?}");
    let route = errs
        .iter()
        .find(|e| e.path.ends_with("(runs)"))
        .expect("the route, by name");
    assert!(route.path.starts_with("routes["), "{route:?}");
    assert!(
        route.message.contains("unknown field `method`"),
        "{route:?}"
    );
    let key = errs
        .iter()
        .find(|e| e.path.ends_with("(k1)"))
        .expect("the key, by id");
    assert!(key.message.contains("invalid type"), "{key:?}");
    for needle in ["bogus", "expected a duration"] {
        assert_eq!(
            errs.iter().filter(|e| e.message.contains(needle)).count(),
            1,
            "no error is reported twice: {errs:?}"
        );
    }
    assert_eq!(errs.len(), 4, "{errs:?}");
}
