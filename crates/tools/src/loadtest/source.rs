//! Where the requests of one credential kind come from: a fixed header
//! value per credential (API keys, tokens, JWTs; [`Pool`]) or a new signed
//! body per request (stamps and RFC 9421 signatures; [`StampPool`]).

use super::client::{post_json, request, Target};
use super::credentials::{pools, CredentialLine, Kind, Pool, Prepared};
use super::stamps::StampPool;
use bytes::Bytes;
use http::Request;
use rand::Rng;
use std::collections::BTreeMap;

/// Where the requests of one kind come from.
#[derive(Debug)]
pub enum Source {
    /// A fixed header value per credential, handed out round-robin.
    Fixed(Pool),
    /// A new body and its signature headers per request.
    Stamps(StampPool),
}

impl Source {
    /// One source per kind in `lines` (paths as in [`pools`]).
    pub fn load(
        lines: Vec<CredentialLine>,
        base_path: &str,
        path_override: Option<&str>,
    ) -> Result<BTreeMap<Kind, Source>, String> {
        let (stamp_lines, lines): (Vec<_>, Vec<_>) =
            lines.into_iter().partition(|l| l.kind.is_stamp());
        let mut sources: BTreeMap<Kind, Source> = pools(lines, base_path, path_override)?
            .into_iter()
            .map(|(kind, pool)| (kind, Source::Fixed(pool)))
            .collect();
        let mut by_kind: BTreeMap<Kind, Vec<CredentialLine>> = BTreeMap::new();
        for line in stamp_lines {
            by_kind.entry(line.kind).or_default().push(line);
        }
        for (kind, lines) in by_kind {
            let pool = StampPool::from_lines(kind, lines, base_path, path_override)?;
            sources.insert(kind, Source::Stamps(pool));
        }
        Ok(sources)
    }

    /// The next request, genuine or (`forge`) forged.
    pub fn request(&self, target: &Target, forge: bool, rng: &mut impl Rng) -> Request<Bytes> {
        match self {
            Source::Fixed(pool) => {
                let forged;
                let p: &Prepared = if forge {
                    forged = pool.invalid(rng);
                    &forged
                } else {
                    pool.next()
                };
                request(target, &p.path, Some((&p.header, &p.value)))
            }
            Source::Stamps(pool) => {
                // The Host header's text (what `@authority` covers).
                let authority = target.host.to_str().unwrap_or_default();
                let s = if forge {
                    pool.invalid(rng, authority)
                } else {
                    pool.next(authority)
                };
                post_json(target, s.path, s.headers, s.body)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_lines_become_signed_posts_and_the_rest_fixed_gets() {
        let mut rng = rand::thread_rng();
        let (_, stamp) =
            super::super::stamps::mint(Kind::StampEd25519, 0, "ws", "/runs".into(), &mut rng);
        let key = CredentialLine {
            kind: Kind::ApiKey,
            credential: "mantyx_x".into(),
            path: "/runs".into(),
            header: "authorization".into(),
        };
        let sources = Source::load(vec![key, stamp], "/b", None).unwrap();
        let target = Target::parse("http://127.0.0.1:1").unwrap();
        let get = sources[&Kind::ApiKey].request(&target, false, &mut rng);
        assert_eq!(
            (get.method(), get.uri().path()),
            (&http::Method::GET, "/b/runs")
        );
        assert_eq!(get.headers()["authorization"], "Bearer mantyx_x");
        for forge in [false, true] {
            let post = sources[&Kind::StampEd25519].request(&target, forge, &mut rng);
            assert_eq!(post.method(), http::Method::POST);
            assert_eq!(post.uri().path(), "/b/runs");
            assert_eq!(post.headers()["content-type"], "application/json");
            assert!(post.headers().contains_key("x-stamp"));
            assert!(!post.headers().contains_key("authorization"));
        }
    }
}
