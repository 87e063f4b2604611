//! The wallet-token walk-through of `authgate signin-client --dialect
//! wallet-tokens` (`docs/signin.md`): a throwaway wallet asks for a nonce,
//! signs the nonce string (`personal_sign`), gets an access JWT and a
//! refresh token, calls a proxied route with the JWT, refreshes (a new
//! pair), presents the spent refresh token again (reuse: refused, and its
//! whole family revoked), and finds the fresh token revoked with it.

use crate::wallet::Address;
use serde_json::{json, Value};

/// The wallet-token section and routes the demo serves (and the
/// walk-through calls): namespace `acme`, the demo's workspace.
pub const DEMO_WALLET_TOKENS: &str = r#"[signin.wallet_tokens]
namespaces = [{ name = "acme", scopes = ["runs:read"] }]

[[credentials.prefixes]]
prefix = "ak_"
kind = "api_key"
checksum = false

[[routes]]
name = "wallet challenge"
path = "/v1/auth/challenge"
methods = ["POST"]
handler = "wallet_challenge"
auth = { public = true }

[[routes]]
name = "wallet verify"
path = "/v1/auth/verify"
methods = ["POST"]
handler = "wallet_verify"
auth = { public = true }

[[routes]]
name = "wallet api key"
path = "/v1/auth/api-key"
methods = ["POST"]
handler = "wallet_api_key"
auth = { public = true }

[[routes]]
name = "api key to token"
path = "/v1/auth/token"
methods = ["POST"]
handler = "wallet_key_token"
auth = { accept = ["api_key"] }

[[routes]]
name = "token refresh"
path = "/v1/auth/refresh"
methods = ["POST"]
handler = "wallet_refresh"
auth = { public = true }

[[routes]]
name = "wallet whoami"
path = "/v1/auth/whoami"
methods = ["GET"]
handler = "wallet_whoami"
auth = { accept = ["api_key", "jwt"] }

[[routes]]
name = "wallet logout"
path = "/v1/auth/logout"
methods = ["POST"]
handler = "wallet_logout"
auth = { public = true }
"#;

async fn call(
    http: &reqwest::Client,
    url: String,
    body: Option<Value>,
    bearer: Option<&str>,
) -> Result<(u16, Value), String> {
    let mut req = match &body {
        Some(b) => http
            .post(url)
            .header("content-type", "application/json")
            .body(b.to_string()),
        None => http.get(url),
    };
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let text = r.text().await.map_err(|e| e.to_string())?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

fn text<'v>(v: &'v Value, field: &str) -> Result<&'v str, String> {
    v[field]
        .as_str()
        .ok_or_else(|| format!("no {field} in the answer"))
}

/// Play the walk against `base` (routes under `prefix`, `route` a proxied
/// route accepting the access token).
pub async fn walk(base: &str, prefix: &str, route: &str) -> Result<(), String> {
    use crate::signin_client::Walk;
    let http = reqwest::Client::new();
    let wallet = k256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let address = Address::from_public_key(wallet.verifying_key()).checksummed();
    let at = |p: &str| format!("{base}{prefix}{p}");
    println!("throwaway wallet {address}");
    let (s, ch) = call(
        &http,
        at("/challenge"),
        Some(json!({"wallet": address, "purpose": "login", "namespace": "acme"})),
        None,
    )
    .await?;
    Walk::step(1, "challenge", (s, &ch), 200)?;
    let nonce = text(&ch, "nonce")?;
    let signature = crate::signin_client::personal_sign(&wallet, nonce)?;
    println!("2. personal_sign of the nonce → {}…", &signature[..18]);
    let proof =
        json!({"wallet": address, "nonce": nonce, "signature": signature, "namespace": "acme"});
    let (s, t) = call(&http, at("/verify"), Some(proof), None).await?;
    let shown = json!({"token_type": t["token_type"], "expires_in": t["expires_in"], "subject": t["subject"]});
    Walk::step(3, "verify (access JWT + refresh token)", (s, &shown), 200)?;
    let access = text(&t, "access_token")?;
    let refresh = text(&t, "refresh_token")?;
    let (s, v) = call(&http, format!("{base}{route}"), None, Some(access)).await?;
    let seen = json!({"x-auth-method": v["headers"]["x-auth-method"], "x-auth-subject": v["headers"]["x-auth-subject"]});
    Walk::step(
        4,
        "the access token on a proxied route (the upstream saw)",
        (s, &seen),
        200,
    )?;
    let body = |r: &str| Some(json!({"refresh_token": r, "namespace": "acme"}));
    let (s, t2) = call(&http, at("/refresh"), body(refresh), None).await?;
    Walk::step(
        5,
        "refresh (a new pair)",
        (s, &json!({"expires_in": t2["expires_in"]})),
        200,
    )?;
    let fresh = text(&t2, "refresh_token")?;
    let (s, v) = call(&http, at("/refresh"), body(refresh), None).await?;
    Walk::step(6, "the spent refresh token again (reuse)", (s, &v), 401)?;
    let (s, v) = call(&http, at("/refresh"), body(fresh), None).await?;
    Walk::step(7, "the fresh token, revoked with its family", (s, &v), 401)?;
    println!("sign-in walk-through: every step answered as expected");
    Ok(())
}
