//! A refusal after the credential was verified (scope, workspace) names the
//! credential's id in the access log; one before verification cannot.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test]
async fn refusals_after_verification_name_the_credential() {
    let up = Upstream::start();
    let (token, stanza) = key(
        "mantyx_at_",
        "access_token",
        "tok_reader",
        "acme",
        &["runs:read"],
        "",
    );
    let routes = format!(
        "[[routes]]\npath = \"/api/v1/workspaces/{{workspace}}/runs\"\nupstream = \"echo\"\n\
         auth = {{ accept = [\"access_token\"], scopes = [\"runs:write\"] }}\n{stanza}"
    );
    let gate = Gate::start_logged(&up, &routes);
    let c = client();
    let send =
        |path: &'static str, cred: &str| c.get(gate.url(path)).bearer_auth(cred.to_string()).send();
    assert_eq!(
        send("/api/v1/workspaces/acme/runs", &token)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        send("/api/v1/workspaces/other/runs", &token)
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        send("/api/v1/workspaces/acme/runs", "mantyx_at_nope")
            .await
            .unwrap()
            .status(),
        401
    );
    let logged = eventually(Duration::from_secs(5), || async {
        gate.log()
            .lines()
            .filter(|l| l.contains("\"target\":\"access\""))
            .count()
            == 3
    })
    .await;
    assert!(logged, "{}", gate.log());
    let lines: Vec<serde_json::Value> = gate
        .log()
        .lines()
        .filter(|l| l.contains("\"target\":\"access\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_status = |s: u64| lines.iter().find(|l| l["status"] == s).unwrap();
    assert_eq!(by_status(403)["credential_id"], "tok_reader");
    assert_eq!(by_status(403)["auth"], "insufficient_scope");
    assert_eq!(by_status(404)["credential_id"], "tok_reader");
    assert_eq!(by_status(401)["credential_id"], "-");
    assert!(
        !gate.log().contains(&token),
        "the credential is never logged"
    );
}
