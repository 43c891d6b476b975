//! What production refuses and development only warns about: settings that
//! work but weaken the service.

use super::Settings;

/// Production's floor for Argon2id's memory, in KiB (OWASP's 19 MiB).
const MIN_PRODUCTION_ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// Production's floor for PBKDF2-HMAC-SHA256 iterations (OWASP, 2023).
pub const MIN_PRODUCTION_ITERATIONS: u32 = 600_000;
/// Production's ceiling for `jwt.leeway_seconds`.
pub const MAX_PRODUCTION_LEEWAY_SECONDS: u64 = 300;
/// Production's ceiling for the access-token lifetime: a day.
pub const MAX_PRODUCTION_ACCESS_LIFETIME_SECONDS: i64 = 86_400;
/// A secret with fewer distinct bytes than this was typed, not generated: 64
/// random hex digits have all 16, random base64 dozens.
const MIN_SECRET_DISTINCT_BYTES: usize = 10;

fn distinct_bytes(secret: &str) -> usize {
    let mut seen = [false; 256];
    secret.bytes().for_each(|b| seen[usize::from(b)] = true);
    seen.iter().filter(|&&s| s).count()
}

impl Settings {
    /// What production must name explicitly, each with the fix.
    pub(super) fn production_requirements(&self) -> Result<(), String> {
        if self.database.url.is_none() {
            return Err(
                "production needs an explicit database; set LATCHKEY_DATABASE__URL".to_owned(),
            );
        }
        if self.jwt.signing_key.is_empty() && self.jwt.keys.is_empty() {
            return Err(
                "production needs an explicit signing key; list keys in jwt.keys (see `latchkey keys generate`) or set LATCHKEY_JWT__SIGNING_KEY to a random secret of at least 32 bytes"
                    .to_owned(),
            );
        }
        if let Some(first) = self.weaknesses().into_iter().next() {
            return Err(format!(
                "{first} (production refuses this; development only warns)"
            ));
        }
        if self.drf_token.enabled && self.drf_token.secret.is_empty() {
            return Err(
                "production needs drf_token.secret when drf_token.enabled: a random secret of at least 32 bytes, the same on every instance (e.g. LATCHKEY_DRF_TOKEN__SECRET=$(openssl rand -hex 32))"
                    .to_owned(),
            );
        }
        if self.server.public_url.trim().is_empty() {
            return Err(
                "production needs server.public_url, the service's external base URL (e.g. LATCHKEY_SERVER__PUBLIC_URL=https://auth.example.com): discovery documents must not be built from request headers"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// Settings that work but weaken the service: production refuses them,
    /// development logs them at start. Each names the setting and the fix.
    pub fn weaknesses(&self) -> Vec<String> {
        let mut found = Vec::new();
        if self.cookies.enabled && !self.cookies.secure {
            found.push(
                "cookies.secure is false; token cookies would travel over plain HTTP, set it to true"
                    .to_owned(),
            );
        }
        if self.passwords.hasher == "argon2"
            && (self.passwords.argon2_memory_kib < MIN_PRODUCTION_ARGON2_MEMORY_KIB
                || self.passwords.argon2_time_cost < 2)
        {
            found.push(format!(
                "passwords.argon2_memory_kib is {} and argon2_time_cost {}; Argon2id needs at least {MIN_PRODUCTION_ARGON2_MEMORY_KIB} KiB and 2 passes (OWASP), Django's defaults are 102400 and 2",
                self.passwords.argon2_memory_kib, self.passwords.argon2_time_cost
            ));
        }
        if self.passwords.hasher == "pbkdf2_sha256"
            && self.passwords.iterations < MIN_PRODUCTION_ITERATIONS
        {
            found.push(format!(
                "passwords.iterations is {}; PBKDF2-SHA256 needs at least {MIN_PRODUCTION_ITERATIONS} (OWASP 2023), latchkey's default is 1000000",
                self.passwords.iterations
            ));
        }
        if self.jwt.leeway_seconds > MAX_PRODUCTION_LEEWAY_SECONDS {
            found.push(format!(
                "jwt.leeway_seconds is {}; clock skew beyond {MAX_PRODUCTION_LEEWAY_SECONDS} seconds keeps expired tokens alive, set it to at most {MAX_PRODUCTION_LEEWAY_SECONDS}",
                self.jwt.leeway_seconds
            ));
        }
        if self.jwt.access_token_lifetime_seconds > MAX_PRODUCTION_ACCESS_LIFETIME_SECONDS {
            found.push(format!(
                "jwt.access_token_lifetime_seconds is {}; access tokens live at most {MAX_PRODUCTION_ACCESS_LIFETIME_SECONDS} seconds (24 h), use refresh tokens for longer sessions",
                self.jwt.access_token_lifetime_seconds
            ));
        }
        // Whether or not the mode is on: ended sessions are remembered for
        // this long either way.
        if self.sliding.lifetime_seconds > MAX_PRODUCTION_ACCESS_LIFETIME_SECONDS {
            found.push(format!(
                "sliding.lifetime_seconds is {}; a sliding token is a Bearer credential, which lives at most {MAX_PRODUCTION_ACCESS_LIFETIME_SECONDS} seconds (24 h); it slides for longer",
                self.sliding.lifetime_seconds
            ));
        }
        for network in &self.throttle.trusted_proxies {
            if network.prefix_len() == 0 {
                found.push(format!(
                    "throttle.trusted_proxies lists \"{network}\", which trusts every address: any client could name its own address and escape the per-address limits; list only your proxies' networks"
                ));
            }
        }
        let secrets = std::iter::once(("jwt.signing_key".to_owned(), &self.jwt.signing_key))
            .chain(
                self.jwt
                    .keys
                    .iter()
                    .map(|key| (format!("jwt.keys[{}].secret", key.kid), &key.secret)),
            )
            .chain(self.introspection.clients.iter().map(|client| {
                (
                    format!("introspection.clients[{}].secret", client.id),
                    &client.secret,
                )
            }))
            .chain(self.admin.clients.iter().map(|client| {
                (
                    format!("admin.clients[{}].secret", client.id),
                    &client.secret,
                )
            }))
            .chain(
                self.drf_token
                    .enabled
                    .then(|| ("drf_token.secret".to_owned(), &self.drf_token.secret)),
            );
        for (name, secret) in secrets {
            if !secret.is_empty() && distinct_bytes(secret) < MIN_SECRET_DISTINCT_BYTES {
                found.push(format!(
                    "{name} has only {} distinct characters; use a random secret (`openssl rand -base64 48`)",
                    distinct_bytes(secret)
                ));
            }
        }
        found
    }
}
