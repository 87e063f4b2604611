//! Parsing a config file into the file model, reporting every problem the
//! file has in one run, not just the first: when the whole-file parse
//! fails, each section (each route, key, upstream and issuer on its own)
//! is parsed again separately and its errors are added, named by their key
//! path (routes and keys also by their `name` / `id`).

use super::model::*;
use super::{ConfigError, ConfigErrors};
use serde::de::DeserializeOwned;

fn clean(e: impl std::fmt::Display) -> String {
    e.to_string().trim_end().to_string()
}

/// The section (`server`, `routes[2]`, `upstreams.api`, …) the text at
/// byte `offset` belongs to, from the last table header before it.
fn section_at(text: &str, offset: usize) -> Option<String> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut current = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if pos > offset {
            break;
        }
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            current = Some(format!("{name}[{n}]"));
            *n += 1;
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            current = Some(name.trim().to_string());
        }
        pos += line.len();
    }
    current
}

/// `key` as TOML writes it: bare when it can be, quoted otherwise (an empty
/// key is `""`), so that no error's path is empty.
pub(super) fn key_path(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

/// Deserialize `value` as `T`, recording a failure at `path`.
fn part<T: DeserializeOwned>(errs: &mut Vec<ConfigError>, path: String, value: toml::Value) {
    if let Err(e) = value.try_into::<T>() {
        errs.push(ConfigError {
            path,
            message: clean(e),
        });
    }
}

/// `routes[i]`, with ` (NAME)` when the element names itself by `field`.
fn element_path(table: &str, i: usize, v: &toml::Value, field: &str) -> String {
    match v.get(field).and_then(|n| n.as_str()) {
        Some(n) => format!("{table}[{i}] ({n})"),
        None => format!("{table}[{i}]"),
    }
}

/// Every section's own errors, each named by its path.
fn per_section(doc: toml::Table) -> Vec<ConfigError> {
    let mut errs = Vec::new();
    for (key, value) in doc {
        match key.as_str() {
            "server" => part::<ServerSection>(&mut errs, key, value),
            "admin" => part::<AdminSection>(&mut errs, key, value),
            "log" => part::<LogSection>(&mut errs, key, value),
            "credentials" => part::<CredentialsSection>(&mut errs, key, value),
            "cache" => part::<CacheSection>(&mut errs, key, value),
            "identity" => part::<IdentitySection>(&mut errs, key, value),
            "stamps" => part::<StampsSection>(&mut errs, key, value),
            "store" => part::<StoreSection>(&mut errs, key, value),
            "signin" => part::<crate::signin::settings::SigninSection>(&mut errs, key, value),
            "minting" => part::<crate::minting::settings::MintingSection>(&mut errs, key, value),
            "upstreams" => match value {
                toml::Value::Table(t) => {
                    for (name, v) in t {
                        let path = format!("upstreams.{}", key_path(&name));
                        part::<UpstreamSection>(&mut errs, path, v);
                    }
                }
                other => part::<std::collections::BTreeMap<String, UpstreamSection>>(
                    &mut errs, key, other,
                ),
            },
            "routes" | "keys" | "rate_limits" => match value {
                toml::Value::Array(items) => {
                    for (i, v) in items.into_iter().enumerate() {
                        if key == "routes" {
                            let path = element_path("routes", i, &v, "name");
                            part::<RouteSection>(&mut errs, path, v);
                        } else if key == "rate_limits" {
                            let path = element_path("rate_limits", i, &v, "name");
                            part::<super::limits::RateLimitSection>(&mut errs, path, v);
                        } else {
                            let path = element_path("keys", i, &v, "id");
                            part::<KeySection>(&mut errs, path, v);
                        }
                    }
                }
                other => errs.push(ConfigError {
                    path: key,
                    message: format!("expected an array of tables, found {}", other.type_str()),
                }),
            },
            "jwt" => match value {
                toml::Value::Table(mut t) => {
                    if let Some(toml::Value::Array(items)) = t.remove("issuers") {
                        for (i, v) in items.into_iter().enumerate() {
                            let path = element_path("jwt.issuers", i, &v, "name");
                            part::<IssuerSection>(&mut errs, path, v);
                        }
                    }
                    if !t.is_empty() {
                        part::<JwtSection>(&mut errs, key, toml::Value::Table(t));
                    }
                }
                other => part::<JwtSection>(&mut errs, key, other),
            },
            _ => errs.push(ConfigError {
                path: key_path(&key),
                message: "unknown section".into(),
            }),
        }
    }
    errs
}

/// Parse TOML text into the file model; on failure, every error found.
/// The first is the parser's own (with the offending line quoted), named by
/// `origin`; the others come from parsing the other sections one by one.
pub fn parse(text: &str, origin: &str) -> Result<FileConfig, ConfigErrors> {
    let first = match toml::from_str::<FileConfig>(text) {
        Ok(file) => return Ok(file),
        Err(e) => e,
    };
    let mut errs = vec![ConfigError {
        path: origin.to_string(),
        message: clean(&first),
    }];
    // A syntax error leaves no document to split.
    let Ok(doc) = toml::from_str::<toml::Table>(text) else {
        return Err(ConfigErrors(errs));
    };
    let reported = first
        .span()
        .and_then(|s| section_at(text, s.start))
        .unwrap_or_default();
    for e in per_section(doc) {
        // The parser's own error already names its section's problem.
        let same = !reported.is_empty()
            && (e.path == reported
                || e.path.starts_with(&format!("{reported} "))
                || reported.starts_with(&format!("{}.", e.path)));
        if !same {
            errs.push(e);
        }
    }
    Err(ConfigErrors(errs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_named_as_toml_writes_them() {
        let doc: toml::Table =
            toml::from_str("[\"\"]\n[\"a b\"]\n[bad-name_1]\n[upstreams.\"\"]\nbackends = 1\n")
                .unwrap();
        let mut paths: Vec<String> = per_section(doc).into_iter().map(|e| e.path).collect();
        paths.sort();
        assert_eq!(paths, ["\"\"", "\"a b\"", "bad-name_1", "upstreams.\"\""]);
    }
}
