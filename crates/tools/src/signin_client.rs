//! `authgate signin-client`: plays a wallet client against a running
//! authgate with session-key sign-in (`docs/signin.md`), with a throwaway
//! wallet and session key made on the spot: challenge → `personal_sign` of
//! the EIP-4361 message → verify → a session-signed request → refresh →
//! revoke → the same request refused; or, with `--dialect wallet-tokens`,
//! the wallet-token dialect ([`crate::signin_tokens`]). Prints each step;
//! exits non-zero when a step does not answer as a client expects.

use crate::wallet::Address;
use clap::Args;
use serde_json::{json, Value};
use std::process::ExitCode;

/// The sign-in section and routes the demo serves (and this client calls).
pub const DEMO_SIGNIN: &str = r#"[signin.session_keys]
domain = "demo.authgate.local"
uri = "https://demo.authgate.local/login"
statement = "Sign in to the authgate demo."
session_ttl = "1h"
max_lifetime = "1d"
clients = [{ id = "web", workspace = "acme", chain_ids = [1, 8453] }]

[[routes]]
name = "sign-in challenge"
path = "/api/v1/auth/challenge"
methods = ["POST"]
handler = "session_challenge"
auth = { public = true }

[[routes]]
name = "sign-in verify"
path = "/api/v1/auth/verify"
methods = ["POST"]
handler = "session_verify"
auth = { public = true }

[[routes]]
name = "session refresh"
path = "/api/v1/auth/refresh"
methods = ["POST"]
handler = "session_refresh"
auth = { accept = ["session"] }

[[routes]]
name = "session revoke"
path = "/api/v1/auth/revoke"
methods = ["POST"]
handler = "session_revoke"
auth = { accept = ["session"] }
"#;

/// Options of `authgate signin-client`.
#[derive(Args, Debug, Clone)]
pub struct SigninClientArgs {
    /// The proxy's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Which dialect to play.
    #[arg(long, value_enum, default_value = "session-keys")]
    pub dialect: Dialect,
    /// Where the sign-in routes are mounted (default: `/api/v1/auth` for
    /// session keys, `/v1/auth` for wallet tokens).
    #[arg(long)]
    pub prefix: Option<String>,
    /// The sign-in client id.
    #[arg(long, default_value = "web")]
    pub client_id: String,
    /// The EIP-155 chain id.
    #[arg(long, default_value_t = 1)]
    pub chain_id: u64,
    /// A proxied route for the signed request (default: the demo's
    /// `/api/v1/workspaces/acme/activities` for sessions,
    /// `/api/v1/workspaces/acme/agent-runs` for access tokens).
    #[arg(long)]
    pub route: Option<String>,
}

/// The sign-in dialects the client plays.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Wallet → ed25519 session key (`[signin.session_keys]`).
    SessionKeys,
    /// Wallet → access and refresh tokens (`[signin.wallet_tokens]`).
    WalletTokens,
}

/// The session-key walk (its `step` printer is shared).
pub(crate) struct Walk {
    http: reqwest::Client,
    args: SigninClientArgs,
    session: ed25519_dalek::SigningKey,
}

impl Walk {
    async fn post(&self, path: &str, body: String, stamp: bool) -> Result<(u16, Value), String> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.args.url))
            .header("content-type", "application/json");
        if stamp {
            req = req.header("x-stamp", crate::demo::ed25519_stamp(&self.session, &body));
        }
        let r = req.body(body).send().await.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let text = r.text().await.map_err(|e| e.to_string())?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// A fresh JSON body (the stamp's replay guard refuses a repeat).
    fn fresh(&self) -> String {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!(
            r#"{{"timestampMs":"{ms}","nonce":{}}}"#,
            rand::random::<u32>()
        )
    }

    fn route(&self) -> &str {
        self.args
            .route
            .as_deref()
            .unwrap_or("/api/v1/workspaces/acme/activities")
    }

    /// Print step `n` and check its status.
    pub(crate) fn step(n: u8, what: &str, got: (u16, &Value), want: u16) -> Result<(), String> {
        println!("{n}. {what} → {} {}", got.0, got.1);
        if got.0 == want {
            Ok(())
        } else {
            Err(format!("step {n} ({what}): expected {want}, got {}", got.0))
        }
    }

    async fn run(&self) -> Result<(), String> {
        let wallet = k256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let address = Address::from_public_key(wallet.verifying_key()).checksummed();
        let p = self.args.prefix.as_deref().unwrap_or("/api/v1/auth");
        println!(
            "throwaway wallet {address}, session key {}",
            hex::encode(self.session.verifying_key().to_bytes())
        );
        let claim = json!({
            "address": address,
            "client_id": self.args.client_id,
            "chain_id": self.args.chain_id,
            "session_public_key": hex::encode(self.session.verifying_key().to_bytes()),
        });
        let (s, ch) = self
            .post(&format!("{p}/challenge"), claim.to_string(), false)
            .await?;
        Self::step(1, "challenge", (s, &json!({"nonce": ch["nonce"]})), 200)?;
        let message = ch["message"]
            .as_str()
            .ok_or("no message in the challenge")?;
        println!("--- message to sign ---\n{message}\n-----------------------");
        let signature = personal_sign(&wallet, message)?;
        println!("2. personal_sign → {}…", &signature[..18]);
        let mut answer = claim.clone();
        answer["signature"] = json!(signature);
        answer["nonce"] = ch["nonce"].clone();
        let (s, v) = self
            .post(&format!("{p}/verify"), answer.to_string(), false)
            .await?;
        Self::step(3, "verify", (s, &v), 200)?;
        let (s, v) = self.post(self.route(), self.fresh(), true).await?;
        let seen = json!({"x-auth-method": v["headers"]["x-auth-method"], "x-auth-subject": v["headers"]["x-auth-subject"]});
        Self::step(
            4,
            "session-signed request (the upstream saw)",
            (s, &seen),
            200,
        )?;
        let (s, v) = self
            .post(&format!("{p}/refresh"), self.fresh(), true)
            .await?;
        Self::step(5, "refresh", (s, &v), 200)?;
        let (s, v) = self
            .post(&format!("{p}/revoke"), self.fresh(), true)
            .await?;
        Self::step(6, "revoke", (s, &v), 200)?;
        let (s, v) = self.post(self.route(), self.fresh(), true).await?;
        Self::step(7, "the same request after revoke", (s, &v), 401)?;
        println!("sign-in walk-through: every step answered as expected");
        Ok(())
    }
}

/// EIP-191 `personal_sign` of `message`: r ‖ s ‖ (27 + recovery id), hex.
pub(crate) fn personal_sign(
    wallet: &k256::ecdsa::SigningKey,
    message: &str,
) -> Result<String, String> {
    let digest = crate::verify::stamp::eip191_digest(message.as_bytes());
    let (sig, id) = wallet
        .sign_prehash_recoverable(&digest)
        .map_err(|e| e.to_string())?;
    let mut raw = sig.to_bytes().to_vec();
    raw.push(27 + id.to_byte());
    Ok(format!("0x{}", hex::encode(raw)))
}

/// Run the walk-through.
pub fn run(args: SigninClientArgs) -> ExitCode {
    let rt = match crate::command_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result = match args.dialect {
        Dialect::SessionKeys => {
            let walk = Walk {
                http: reqwest::Client::new(),
                args,
                session: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
            };
            rt.block_on(walk.run())
        }
        Dialect::WalletTokens => rt.block_on(crate::signin_tokens::walk(
            &args.url,
            args.prefix.as_deref().unwrap_or("/v1/auth"),
            args.route
                .as_deref()
                .unwrap_or("/api/v1/workspaces/acme/agent-runs"),
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
