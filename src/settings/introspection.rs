//! `[introspection]`: the clients allowed to ask, with HTTP Basic.

use serde::Deserialize;

use super::values::list_or_json;
use crate::tokens::algorithms::MIN_HMAC_SECRET_BYTES;

#[derive(Clone, Debug, Deserialize)]
pub struct IntrospectionSettings {
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
        let mut seen = std::collections::HashSet::new();
        for client in &self.clients {
            if client.id.is_empty()
                || client.id.contains(':')
                || client.id.chars().any(char::is_control)
            {
                return Err(format!(
                    "introspection.clients: {:?} is not a usable client id (non-empty, no ':')",
                    client.id
                ));
            }
            if !seen.insert(client.id.as_str()) {
                return Err(format!(
                    "introspection.clients: the id {:?} is listed twice",
                    client.id
                ));
            }
            if client.secret.len() < MIN_HMAC_SECRET_BYTES {
                return Err(format!(
                    "introspection.clients[{}]: the secret must be at least {MIN_HMAC_SECRET_BYTES} characters (`openssl rand -base64 48`)",
                    client.id
                ));
            }
        }
        Ok(())
    }
}
