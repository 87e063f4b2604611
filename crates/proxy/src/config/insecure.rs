//! Permissive settings, fenced in the spirit of jsonwebtoken's `dangerous`
//! module: each is off by default, can only be turned on by a key spelled
//! `insecure_…`, and is logged as a warning every time a config holding it
//! is loaded (start, reload, `authgate check`).
//!
//! | key | what it gives up |
//! |---|---|
//! | `jwt.issuers[].insecure_no_audience` | `aud` is not checked (no `audiences`) |
//! | `jwt.issuers[].insecure_http_jwks` | a `jwks_url` over plain `http` |
//! | `jwt.issuers[].insecure_platform_wide` | tokens reach every workspace |
//! | `upstreams.*.insecure_skip_verify` | the upstream's TLS certificate is not verified |
//! | `routes[].auth.insecure_no_timestamp` | stamp bodies without a timestamp |

use super::model::FileConfig;
use super::validate::Errors;

/// Check the permissive settings of `file`: refuse an unsafe setup that
/// lacks its opt-in (or contradicts it), and return each opt-in in force as
/// `(key path, what it gives up)`.
pub fn check(file: &FileConfig, errs: &mut Errors) -> Vec<(String, &'static str)> {
    let mut on = Vec::new();
    for (i, s) in file.jwt.issuers.iter().enumerate() {
        let key = format!("jwt.issuers[{i}]");
        match (s.audiences.is_empty(), s.insecure_no_audience) {
            (true, false) => errs.push(
                format!("{key}.audiences"),
                "list the accepted `aud` values (or set insecure_no_audience = true to \
                 accept tokens minted for any audience)",
            ),
            (false, true) => errs.push(
                format!("{key}.insecure_no_audience"),
                "contradicts audiences: remove one of them",
            ),
            (true, true) => on.push((
                format!("{key}.insecure_no_audience"),
                "tokens are accepted whatever their aud",
            )),
            (false, false) => {}
        }
        if let Some(url) = &s.jwks_url {
            let http = url
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("http://"));
            match (http, s.insecure_http_jwks) {
                (true, false) => errs.push(
                    format!("{key}.jwks_url"),
                    "plain http lets anyone on the path serve signing keys: use https \
                     (or set insecure_http_jwks = true)",
                ),
                (true, true) => on.push((
                    format!("{key}.insecure_http_jwks"),
                    "signing keys are fetched over plain http",
                )),
                _ => {}
            }
        }
        if s.insecure_platform_wide {
            on.push((
                format!("{key}.insecure_platform_wide"),
                "tokens of this issuer reach every workspace",
            ));
        }
    }
    for (name, u) in &file.upstreams {
        if u.insecure_skip_verify {
            on.push((
                format!(
                    "upstreams.{}.insecure_skip_verify",
                    super::parse::key_path(name)
                ),
                "the upstream's TLS certificate is not verified",
            ));
        }
    }
    for (i, r) in file.routes.iter().enumerate() {
        if r.auth.insecure_no_timestamp {
            on.push((
                format!("routes[{i}].auth.insecure_no_timestamp"),
                "stamps without a timestamp pass; replays are refused only while remembered",
            ));
        }
    }
    on
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn run(extra: &str) -> (Vec<String>, Vec<String>) {
        let text = format!(
            "[upstreams.api]\nbackends = [\"127.0.0.1:1\"]\n{extra}\n\
             [[routes]]\npath = \"/s\"\nupstream = \"api\"\n\
             auth = {{ accept = [\"stamp\"], insecure_no_timestamp = true }}\n"
        );
        let file = parse(&text, "t").unwrap();
        let mut errs = Errors::default();
        let on = check(&file, &mut errs);
        (
            errs.0.into_iter().map(|e| e.path).collect(),
            on.into_iter().map(|(k, _)| k).collect(),
        )
    }

    const ISSUER: &str = "[[jwt.issuers]]\nname = \"i\"\nissuer = \"https://i\"\n\
                          algorithms = [\"RS256\"]\n";

    #[test]
    fn each_unsafe_setting_needs_its_opt_in_and_is_reported() {
        let (errs, on) = run(&format!("{ISSUER}jwks_url = \"http://i/jwks\"\n"));
        assert_eq!(
            errs,
            ["jwt.issuers[0].audiences", "jwt.issuers[0].jwks_url"]
        );
        assert_eq!(on, ["routes[0].auth.insecure_no_timestamp"]);

        let (errs, on) = run(&format!(
            "{ISSUER}jwks_url = \"HTTP://i/jwks\"\ninsecure_http_jwks = true\n\
             insecure_no_audience = true\ninsecure_platform_wide = true\n"
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            on,
            [
                "jwt.issuers[0].insecure_no_audience",
                "jwt.issuers[0].insecure_http_jwks",
                "jwt.issuers[0].insecure_platform_wide",
                "routes[0].auth.insecure_no_timestamp"
            ]
        );

        let (errs, _) = run(&format!(
            "{ISSUER}audiences = [\"a\"]\ninsecure_no_audience = true\njwks_url = \"https://i/j\"\n"
        ));
        assert_eq!(errs, ["jwt.issuers[0].insecure_no_audience"]);
    }

    #[test]
    fn upstream_tls_verification_opt_out_is_reported() {
        let file = parse(
            "[upstreams.api]\nbackends = [\"127.0.0.1:1\"]\ntls = true\ninsecure_skip_verify = true\n",
            "t",
        )
        .unwrap();
        let mut errs = Errors::default();
        let on = check(&file, &mut errs);
        assert_eq!(on.len(), 1);
        assert_eq!(on[0].0, "upstreams.api.insecure_skip_verify");
    }
}
