//! Services that call latchkey as themselves, with HTTP Basic:
//! `[introspection]` (who may introspect tokens) and `[admin]` (the
//! application backends that manage users). Each section lists its own
//! clients; a client of one is nobody to the other.

use serde::Deserialize;

use super::values::list_or_json;
use crate::tokens::algorithms::MIN_HMAC_SECRET_BYTES;

#[derive(Clone, Debug, Deserialize)]
pub struct IntrospectionSettings {
    #[serde(deserialize_with = "list_or_json")]
    pub clients: Vec<ClientSettings>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AdminSettings {
    #[serde(deserialize_with = "list_or_json")]
    pub clients: Vec<ClientSettings>,
}

#[derive(Clone, Deserialize)]
pub struct ClientSettings {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl IntrospectionSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        validate_clients("introspection.clients", &self.clients)
    }
}

impl AdminSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        validate_clients("admin.clients", &self.clients)
    }
}

/// Usable ids (non-empty, no `:`, each listed once) and long secrets.
fn validate_clients(setting: &str, clients: &[ClientSettings]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for client in clients {
        if client.id.is_empty()
            || client.id.contains(':')
            || client.id.chars().any(char::is_control)
        {
            return Err(format!(
                "{setting}: {:?} is not a usable client id (non-empty, no ':')",
                client.id
            ));
        }
        if !seen.insert(client.id.as_str()) {
            return Err(format!("{setting}: the id {:?} is listed twice", client.id));
        }
        if client.secret.len() < MIN_HMAC_SECRET_BYTES {
            return Err(format!(
                "{setting}[{}]: the secret must be at least {MIN_HMAC_SECRET_BYTES} characters (`openssl rand -base64 48`)",
                client.id
            ));
        }
    }
    Ok(())
}
