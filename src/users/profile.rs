//! What a user is to the applications around latchkey: a profile as
//! Django's `auth_user` has it, named groups, and a claims object the
//! application owns; which of them access tokens carry (`jwt.user_claims`),
//! and the rules a claims object, an email address and a name follow.

use serde_json::{Map, Value};

/// A claims object's largest serialized size, in bytes.
pub const MAX_CLAIMS_BYTES: usize = 2048;

/// Claim names a token or an introspection answer gives its own meaning; a
/// user's claims never use them.
pub const RESERVED_CLAIMS: [&str; 14] = [
    "exp",
    "iat",
    "jti",
    "token_type",
    "user_id",
    "sid",
    "iss",
    "aud",
    "nbf",
    "sub",
    "scope",
    "client_id",
    "active",
    // A sliding token's refresh deadline.
    "refresh_exp",
];

/// A user's profile: everything but the name, the password and the flags
/// that decide whether they may log in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// Group names, sorted.
    pub groups: Vec<String>,
    /// The application's own claims (`{"tenant": "acme", "plan": "pro"}`).
    pub claims: Map<String, Value>,
}

impl Profile {
    /// The profile of a stored user who belongs to `groups`.
    pub fn of(user: &crate::db::users::User, groups: Vec<String>) -> Self {
        Self {
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            is_staff: user.is_staff,
            is_superuser: user.is_superuser,
            groups,
            claims: parse_claims(&user.claims),
        }
    }
}

/// A profile field an access token can carry, by its claim name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProfileClaim {
    Username,
    Email,
    FirstName,
    LastName,
    IsStaff,
    IsSuperuser,
    Groups,
    /// The members of the user's claims object, merged at the top level.
    Claims,
}

impl ProfileClaim {
    pub const ALL: [Self; 8] = [
        Self::Username,
        Self::Email,
        Self::FirstName,
        Self::LastName,
        Self::IsStaff,
        Self::IsSuperuser,
        Self::Groups,
        Self::Claims,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::Email => "email",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::IsStaff => "is_staff",
            Self::IsSuperuser => "is_superuser",
            Self::Groups => "groups",
            Self::Claims => "claims",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|claim| claim.name() == name)
    }
}

/// What access tokens carry of their user, beyond Simple JWT's claims.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenClaims {
    listed: Vec<ProfileClaim>,
    /// The configured names of the user, type and id claims, reserved too.
    configured: Vec<String>,
}

impl TokenClaims {
    /// `listed`, never writing a member of a claims object named as one of
    /// the token's own claims (`configured`: the user, type and id claim
    /// names in use).
    pub fn new(listed: Vec<ProfileClaim>, configured: Vec<String>) -> Self {
        Self { listed, configured }
    }

    /// No extra claims: tokens are exactly Simple JWT's.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// The claims for a user named `username` with `profile`, as of now.
    pub fn of(&self, username: &str, profile: &Profile) -> Map<String, Value> {
        let mut claims = Map::new();
        for claim in &self.listed {
            let value = match claim {
                ProfileClaim::Username => Value::from(username),
                ProfileClaim::Email => Value::from(profile.email.as_str()),
                ProfileClaim::FirstName => Value::from(profile.first_name.as_str()),
                ProfileClaim::LastName => Value::from(profile.last_name.as_str()),
                ProfileClaim::IsStaff => Value::from(profile.is_staff),
                ProfileClaim::IsSuperuser => Value::from(profile.is_superuser),
                ProfileClaim::Groups => Value::from(profile.groups.clone()),
                ProfileClaim::Claims => {
                    // Checked when stored; checked again here, for rows
                    // written around latchkey and names configured since.
                    let configured: Vec<&str> =
                        self.configured.iter().map(String::as_str).collect();
                    for (name, value) in &profile.claims {
                        if !is_reserved(name, &configured) && !claims.contains_key(name) {
                            claims.insert(name.clone(), value.clone());
                        }
                    }
                    continue;
                }
            };
            claims.insert(claim.name().to_owned(), value);
        }
        claims
    }
}

/// Why a claims object cannot be stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("claims must be a JSON object")]
    NotAnObject,
    #[error("claims may be at most {MAX_CLAIMS_BYTES} bytes as JSON")]
    TooLarge,
    #[error("{0:?} is a reserved claim name")]
    Reserved(String),
}

/// Checks a claims object before it is stored: an object, at most
/// [`MAX_CLAIMS_BYTES`], and no member named as a token's own claims
/// ([`RESERVED_CLAIMS`], the profile claims, and `also_reserved`: the
/// configured names of the user, type and id claims).
pub fn check_claims(claims: &Value, also_reserved: &[&str]) -> Result<(), ClaimsError> {
    let Value::Object(members) = claims else {
        return Err(ClaimsError::NotAnObject);
    };
    if claims.to_string().len() > MAX_CLAIMS_BYTES {
        return Err(ClaimsError::TooLarge);
    }
    match members.keys().find(|name| is_reserved(name, also_reserved)) {
        Some(name) => Err(ClaimsError::Reserved(name.clone())),
        None => Ok(()),
    }
}

/// Whether a claims object may not have a member `name`.
fn is_reserved(name: &str, also_reserved: &[&str]) -> bool {
    RESERVED_CLAIMS.contains(&name)
        || ProfileClaim::parse(name).is_some()
        || also_reserved.contains(&name)
}

/// An email address as Django's `EmailField` would take it, or none (empty):
/// one `@`, a local part, and a domain with a dot; no spaces.
pub fn check_email(email: &str) -> Result<(), &'static str> {
    const INVALID: &str = "Enter a valid email address.";
    if email.is_empty() {
        return Ok(());
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(INVALID);
    };
    let valid = !local.is_empty()
        && !local.contains('@')
        && !local.contains("..")
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains(['<', '>', '(', ')', '[', ']', ',', ';', ':', '\\', '"'])
        && (domain == "localhost"
            || (domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")))
        && email.chars().count() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid { Ok(()) } else { Err(INVALID) }
}

/// A first or last name: at most 150 characters (Django's), no control
/// characters.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.chars().count() > 150 {
        return Err("Ensure this field has no more than 150 characters.");
    }
    if name.chars().any(char::is_control) {
        return Err("Enter a name without control characters.");
    }
    Ok(())
}

/// The claims object stored as `text`; an unreadable one counts as empty
/// (latchkey writes only objects it checked).
pub fn parse_claims(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(members)) => members,
        _ => {
            tracing::warn!("a user's stored claims are not a JSON object; read as empty");
            Map::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn claims_are_objects_of_limited_size_without_reserved_names() {
        assert_eq!(check_claims(&json!({"tenant": "acme"}), &[]), Ok(()));
        assert_eq!(
            check_claims(&json!([1]), &[]),
            Err(ClaimsError::NotAnObject)
        );
        let big = json!({ "blob": "x".repeat(MAX_CLAIMS_BYTES) });
        assert_eq!(check_claims(&big, &[]), Err(ClaimsError::TooLarge));
        for name in ["exp", "sid", "nbf", "groups", "username", "uid"] {
            assert_eq!(
                check_claims(&json!({ name: 1 }), &["uid"]),
                Err(ClaimsError::Reserved(name.to_owned())),
                "{name}"
            );
        }
    }

    #[test]
    fn email_addresses_as_django_takes_them() {
        for good in [
            "",
            "a@example.com",
            "first.last+tag@mail.example.org",
            "root@localhost",
        ] {
            assert_eq!(check_email(good), Ok(()), "{good}");
        }
        for bad in [
            "a",
            "a@b",
            "@example.com",
            "a b@example.com",
            "a@.com",
            "a@example.",
            "a..b@x.y",
            "<x>@a.b",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_claims_follow_the_configured_order_and_merge_the_claims_object() {
        let profile = Profile {
            email: "a@example.com".to_owned(),
            is_staff: true,
            groups: vec!["admins".to_owned(), "ops".to_owned()],
            claims: json!({"tenant": "acme"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..Profile::default()
        };
        let claims = TokenClaims::new(
            vec![
                ProfileClaim::Username,
                ProfileClaim::Groups,
                ProfileClaim::Claims,
                ProfileClaim::IsStaff,
            ],
            vec!["uid".to_owned()],
        );
        assert_eq!(
            Value::Object(claims.of("alice", &profile)).to_string(),
            r#"{"username":"alice","groups":["admins","ops"],"tenant":"acme","is_staff":true}"#
        );
        assert!(TokenClaims::default().of("alice", &profile).is_empty());
        // A stored object that breaks the rules (written around latchkey, or
        // before a claim was renamed) never reaches a token's own claims.
        let forged = Profile {
            claims: json!({"exp": 9_999_999_999u64, "sid": null, "uid": 1, "is_staff": true, "plan": "pro"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..Profile::default()
        };
        assert_eq!(
            Value::Object(claims.of("bob", &forged)).to_string(),
            r#"{"username":"bob","groups":[],"plan":"pro","is_staff":false}"#
        );
    }
}
