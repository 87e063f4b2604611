//! `Signature-Input` and `Signature` (RFC 9421 §4): dictionaries keyed by
//! label; each input is an inner list of covered components (strings with
//! parameters) with the signature parameters, each signature a byte
//! sequence. The `@signature-params` value is the input member serialized
//! again canonically.

use super::HttpSigError;
use sfv::{BareItem, Dictionary, InnerList, ListEntry, Parser};

/// One covered component: its name (lower-case; derived ones start with
/// `@`) and parameters (`sf`, `key`, `bs`, `name`, `req`, `tr`).
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// `@method`, `content-digest`, …
    pub name: String,
    /// The component's parameters, in order.
    pub params: sfv::Parameters,
    /// The component identifier as serialized (`"@query-param";name="Pet"`).
    pub id: String,
}

impl Component {
    /// A string parameter of the component.
    pub fn param_str(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .and_then(|(_, v)| v.as_string().map(|s| s.as_str()))
    }

    /// Whether a boolean flag parameter is set.
    pub fn flag(&self, key: &str) -> bool {
        self.params
            .iter()
            .any(|(k, v)| k.as_str() == key && v.as_boolean() == Some(true))
    }
}

/// One signature: its label, covered components, parameters and value.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureInput {
    /// The dictionary key (`sig1`).
    pub label: String,
    /// Covered components, in order.
    pub components: Vec<Component>,
    /// `created` (Unix seconds).
    pub created: Option<i64>,
    /// `expires` (Unix seconds).
    pub expires: Option<i64>,
    /// `keyid`.
    pub keyid: Option<String>,
    /// `alg`, when the signer sent it.
    pub alg: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `tag`.
    pub tag: Option<String>,
    /// The `@signature-params` value.
    pub params_value: String,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

fn malformed(e: impl std::fmt::Display) -> HttpSigError {
    HttpSigError::Malformed(e.to_string())
}

fn serialize_inner(list: &InnerList) -> Result<String, HttpSigError> {
    let l: sfv::List = vec![ListEntry::InnerList(list.clone())];
    let s: Option<String> = sfv::FieldType::serialize(&l);
    s.ok_or_else(|| malformed("an empty signature input"))
}

fn component(item: &sfv::Item) -> Result<Component, HttpSigError> {
    let name = item
        .bare_item
        .as_string()
        .ok_or_else(|| malformed("a covered component must be a string"))?
        .as_str()
        .to_string();
    if name.is_empty() || name != name.to_ascii_lowercase() {
        return Err(malformed(format!("component '{name}' must be lower-case")));
    }
    let id = sfv::FieldType::serialize(item);
    Ok(Component {
        name,
        params: item.params.clone(),
        id,
    })
}

/// Parse both fields; every label of `Signature-Input` must have a
/// signature and the reverse.
pub fn parse(signature_input: &str, signature: &str) -> Result<Vec<SignatureInput>, HttpSigError> {
    let inputs: Dictionary = Parser::new(signature_input).parse().map_err(malformed)?;
    let sigs: Dictionary = Parser::new(signature).parse().map_err(malformed)?;
    if inputs.len() != sigs.len() {
        return Err(malformed(
            "Signature-Input and Signature name different labels",
        ));
    }
    let mut out = Vec::with_capacity(inputs.len());
    for (label, entry) in &inputs {
        let ListEntry::InnerList(list) = entry else {
            return Err(malformed(format!("{}: not an inner list", label.as_str())));
        };
        let signature = match sigs.get(label) {
            Some(ListEntry::Item(i)) => i
                .bare_item
                .as_byte_sequence()
                .ok_or_else(|| malformed(format!("{}: not a byte sequence", label.as_str())))?
                .to_vec(),
            _ => return Err(malformed(format!("no signature for '{}'", label.as_str()))),
        };
        let components = list
            .items
            .iter()
            .map(component)
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = std::collections::HashSet::new();
        for c in &components {
            if !seen.insert(&c.id) {
                return Err(malformed(format!("component {} covered twice", c.id)));
            }
        }
        let mut s = SignatureInput {
            label: label.as_str().to_string(),
            components,
            created: None,
            expires: None,
            keyid: None,
            alg: None,
            nonce: None,
            tag: None,
            params_value: serialize_inner(list)?,
            signature,
        };
        for (k, v) in &list.params {
            let text = || {
                v.as_string()
                    .map(|s| s.as_str().to_string())
                    .ok_or_else(|| malformed(format!("{}: a string", k.as_str())))
            };
            let int = || match v {
                BareItem::Integer(i) => Ok(i64::from(*i)),
                _ => Err(malformed(format!("{}: an integer", k.as_str()))),
            };
            match k.as_str() {
                "created" => s.created = Some(int()?),
                "expires" => s.expires = Some(int()?),
                "keyid" => s.keyid = Some(text()?),
                "alg" => s.alg = Some(text()?),
                "nonce" => s.nonce = Some(text()?),
                "tag" => s.tag = Some(text()?),
                // Unknown parameters are covered by the signature (they are
                // in @signature-params) and otherwise ignored (§2.3).
                _ => {}
            }
        }
        out.push(s);
    }
    Ok(out)
}
