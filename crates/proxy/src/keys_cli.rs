//! `authgate keys create`: mint a credential, print it once, and print the
//! config stanza that holds only its digest.

use crate::config::model::KeySection;
use crate::credential::digest::Digester;
use crate::credential::mint::mint;
use crate::credential::sniff::PrefixAction;
use crate::credential::CredentialKind;
use crate::keys_remote::{self, Op, Target};
use crate::secret::Secret;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `authgate keys …`
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Mint a new opaque credential: print its config stanza, or (with
    /// `--admin` / `--store`) issue it into a live key store.
    Create(Box<CreateArgs>),
    /// List the keys of a live key store.
    List {
        /// Only this workspace.
        #[arg(long)]
        workspace: Option<String>,
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
        /// Only this subject.
        #[arg(long)]
        subject: Option<String>,
        /// Ids after this one (paging).
        #[arg(long)]
        cursor: Option<String>,
        /// At most this many (1-1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        target: Target,
    },
    /// Revoke a key of a live key store (for good).
    Revoke {
        /// Key id.
        id: String,
        #[command(flatten)]
        target: Target,
    },
    /// Rotate a key of a live key store: a new secret; the old one works
    /// until the overlap ends.
    Rotate {
        /// Key id.
        id: String,
        /// How long the old secret keeps working (e.g. `1h`).
        #[arg(long, default_value = "1h")]
        overlap: String,
        #[command(flatten)]
        target: Target,
    },
    /// Register a stamp public key: print the `[[keys]]` stanza for it.
    RegisterStampKey {
        /// `p256`, `secp256k1` or `ed25519`.
        #[arg(long)]
        scheme: String,
        /// The public key, hex (compressed or uncompressed SEC1; 32 bytes for ed25519).
        #[arg(long)]
        public_key: String,
        /// Record id (safe to log).
        #[arg(long)]
        id: String,
        /// Subject the key speaks for.
        #[arg(long, default_value = "wallet")]
        subject: String,
        /// Workspace slug.
        #[arg(long)]
        workspace: Option<String>,
        /// Comma-separated scopes.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// Mint an admin API token: print it once, and the `[[admin.tokens]]`
    /// stanza that holds only its digest.
    AdminToken {
        /// Token name (for logs).
        #[arg(long)]
        id: String,
        /// Comma-separated: keys:read, keys:write.
        #[arg(long, value_delimiter = ',', default_value = "keys:read,keys:write")]
        scopes: Vec<String>,
    },
    /// Write a new Ed25519 key for `[identity.assertion]` (PKCS#8 PEM).
    AssertionKey {
        /// Where to write the private key.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Options of `keys create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// `api_key`, `server_key` or `access_token`.
    #[arg(long)]
    pub kind: String,
    /// Prefix to mint with; defaults to the config's checksummed prefix for the kind.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Config whose prefix table and digest settings apply.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Credential id (safe to log); generated when absent.
    #[arg(long)]
    pub id: Option<String>,
    /// Subject the key speaks for.
    #[arg(long, default_value = "service")]
    pub subject: String,
    /// Workspace slug.
    #[arg(long)]
    pub workspace: Option<String>,
    /// Comma-separated scopes.
    #[arg(long, value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Comma-separated allow-list of sub-resources.
    #[arg(long, value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Usage tag.
    #[arg(long)]
    pub usage: Option<String>,
    /// RFC 3339 expiry.
    #[arg(long)]
    pub expires_at: Option<String>,
    /// Issue into a live store over the admin API at this URL (token from
    /// `AUTHGATE_ADMIN_TOKEN`) instead of printing a stanza.
    #[arg(long)]
    pub admin: Option<String>,
    /// Issue straight into `--config`'s `store.url` instead of printing a stanza.
    #[arg(long)]
    pub store: bool,
}

impl CreateArgs {
    /// Arguments for a key of `kind` bound to `workspace` (no allow-list, usage or expiry).
    pub fn new(
        kind: CredentialKind,
        id: &str,
        subject: &str,
        workspace: &str,
        scopes: &[&str],
    ) -> Self {
        Self {
            kind: kind.as_str().to_string(),
            prefix: None,
            config: None,
            id: Some(id.to_string()),
            subject: subject.to_string(),
            workspace: Some(workspace.to_string()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            allow: Vec::new(),
            usage: None,
            expires_at: None,
            admin: None,
            store: false,
        }
    }
}

/// A freshly minted credential and its stanza.
pub struct Minted {
    /// The plaintext credential, to show exactly once.
    pub credential: Secret,
    /// The `[[keys]]` record (digest only).
    pub record: KeySection,
}

/// Mint a credential with `prefix` and describe it as a `[[keys]]` record.
pub fn mint_record(
    prefix: &str,
    kind: CredentialKind,
    digester: &Digester,
    args: &CreateArgs,
) -> Minted {
    let credential = mint(prefix);
    let digest = digester.digest(&credential);
    let id = args.id.clone().unwrap_or_else(|| {
        format!(
            "key_{}",
            &hex::encode(crate::credential::digest::sha256(credential.as_bytes()))[..12]
        )
    });
    Minted {
        record: KeySection {
            id,
            digest: Some(digester.render(&digest)),
            kind: kind.as_str().to_string(),
            public_key: None,
            scheme: None,
            subject: args.subject.clone(),
            workspace: args.workspace.clone(),
            scopes: args.scopes.clone(),
            allow: args.allow.clone(),
            usage: args.usage.clone(),
            expires_at: args.expires_at.clone(),
            disabled: false,
            rate_limit: None,
        },
        credential: Secret::new(credential),
    }
}

/// Render records as `[[keys]]` TOML.
pub fn stanza(records: &[KeySection]) -> String {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        keys: &'a [KeySection],
    }
    toml::to_string(&Doc { keys: records }).unwrap_or_default()
}

/// Run a `keys` command.
pub fn run(cmd: KeysCommand) -> ExitCode {
    let args = match cmd {
        KeysCommand::Create(args) if args.admin.is_some() || args.store => {
            return create_remote(&args);
        }
        KeysCommand::Create(args) => *args,
        KeysCommand::List {
            workspace,
            kind,
            subject,
            cursor,
            limit,
            target,
        } => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in [
                ("workspace", workspace),
                ("kind", kind),
                ("subject", subject),
                ("cursor", cursor),
            ] {
                if let Some(v) = v {
                    q.append_pair(k, &v);
                }
            }
            q.append_pair("limit", &limit.to_string());
            return keys_remote::run(&target, Op::List(q.finish()));
        }
        KeysCommand::Revoke { id, target } => return keys_remote::run(&target, Op::Revoke(id)),
        KeysCommand::Rotate {
            id,
            overlap,
            target,
        } => {
            let body = serde_json::json!({ "overlap": overlap });
            return keys_remote::run(&target, Op::Rotate(id, body));
        }
        KeysCommand::RegisterStampKey {
            scheme,
            public_key,
            id,
            subject,
            workspace,
            scopes,
        } => {
            use crate::verify::stamp::{normalise_key, scheme_from_name};
            let Some(s) = scheme_from_name(&scheme) else {
                eprintln!("--scheme must be p256, secp256k1 or ed25519");
                return ExitCode::from(2);
            };
            let key = match normalise_key(s, &public_key) {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("not a valid {} public key: {}", s.label(), e.reason());
                    return ExitCode::from(2);
                }
            };
            let record = KeySection {
                id,
                digest: None,
                kind: "stamp".into(),
                public_key: Some(key.to_hex()),
                scheme: Some(scheme),
                subject,
                workspace,
                scopes,
                allow: Vec::new(),
                usage: None,
                expires_at: None,
                disabled: false,
                rate_limit: None,
            };
            println!("# Add to the config file:");
            print!("{}", stanza(&[record]));
            return ExitCode::SUCCESS;
        }
        KeysCommand::AdminToken { id, scopes } => {
            let token = mint("agadm_");
            let digest = crate::credential::digest::sha256(token.as_bytes());
            println!("# The admin token (shown once; keep it secret):");
            println!("{token}");
            println!("# Add to the config file:");
            println!("[[admin.tokens]]");
            println!("id = {}", toml_str(&id));
            println!("digest = \"sha256:{}\"", hex::encode(digest));
            let quoted: Vec<String> = scopes.iter().map(|s| toml_str(s)).collect();
            println!("scopes = [{}]", quoted.join(", "));
            return ExitCode::SUCCESS;
        }
        KeysCommand::AssertionKey { out } => {
            return match crate::assertion::generate_key(&out) {
                Ok(()) => {
                    println!(
                        "wrote {}; reference it as [identity.assertion] key_file",
                        out.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cannot write {}: {e}", out.display());
                    ExitCode::from(1)
                }
            };
        }
    };
    let Some(kind) = CredentialKind::parse(&args.kind).filter(|k| k.is_opaque()) else {
        eprintln!("--kind must be api_key, server_key or access_token");
        return ExitCode::from(2);
    };
    let (digester, table_prefix) = match &args.config {
        Some(path) => match crate::config::load(path) {
            Ok(rt) => {
                let p = rt
                    .auth
                    .prefixes
                    .rules()
                    .iter()
                    .find(|r| r.action == PrefixAction::Verify(kind) && r.checksum)
                    .map(|r| r.prefix.clone());
                (rt.auth.digester.clone(), p)
            }
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => (Digester::Sha256, None),
    };
    let Some(prefix) = args.prefix.clone().or(table_prefix) else {
        eprintln!("--prefix is required (or --config with a checksummed prefix for {kind})");
        return ExitCode::from(2);
    };
    let minted = mint_record(&prefix, kind, &digester, &args);
    println!("# The credential, shown once. Store it now; authgate keeps only its digest.");
    println!("{}", minted.credential.expose());
    println!();
    println!("# Add to the config file:");
    print!("{}", stanza(&[minted.record]));
    ExitCode::SUCCESS
}

/// `s` as a TOML basic string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// `keys create --admin URL | --store`: issue into a live key store.
fn create_remote(args: &CreateArgs) -> ExitCode {
    if args.prefix.is_some() {
        eprintln!("--prefix applies to stanza output; a live store mints with the config's family for the kind");
        return ExitCode::from(2);
    }
    let expires_at = match &args.expires_at {
        None => None,
        Some(t) => match humantime::parse_rfc3339(t) {
            Ok(at) => at
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs() as i64),
            Err(e) => {
                eprintln!("--expires-at: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut body = serde_json::json!({
        "kind": args.kind,
        "subject": args.subject,
        "scopes": args.scopes,
        "allow": args.allow,
    });
    for (k, v) in [
        ("workspace", &args.workspace),
        ("usage", &args.usage),
        ("id", &args.id),
    ] {
        if let Some(v) = v {
            body[k] = serde_json::json!(v);
        }
    }
    if let Some(e) = expires_at {
        body["expires_at"] = serde_json::json!(e);
    }
    let target = Target {
        admin: args.admin.clone(),
        store: args.store,
        config: args.config.clone(),
    };
    keys_remote::run(&target, Op::Create(body))
}
