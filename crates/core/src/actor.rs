//! Who holds a minted key: the end user of an ephemeral key (`ek_`) or the
//! agent of a restricted capability (`rk_`), and the server key that minted
//! it. Upstreams see all three as identity headers.

/// The kind of participant a minted key was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    /// An end user of the platform's app (ephemeral keys).
    User,
    /// An automated agent (restricted capabilities).
    Agent,
}

impl ActorKind {
    /// The header and store spelling: `user` or `agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Agent => "agent",
        }
    }

    /// Parse the store spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(ActorKind::User),
            "agent" => Some(ActorKind::Agent),
            _ => None,
        }
    }
}

/// What a minted key carries beyond an ordinary key record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    /// Who the key was minted for.
    pub actor_kind: ActorKind,
    /// The actor's id in the platform (`u_123`, `a_42`).
    pub actor_id: String,
    /// The id of the server key that minted it.
    pub parent_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_kinds_round_trip_and_unknown_is_none() {
        for k in [ActorKind::User, ActorKind::Agent] {
            assert_eq!(ActorKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ActorKind::parse("admin"), None);
        assert_eq!(ActorKind::parse("User"), None);
    }
}
