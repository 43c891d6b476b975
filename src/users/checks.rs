//! Checks of what a user is given, each answering with Django's message
//! for the field it concerns, and [`Problems`], which collects them so a
//! caller hears every problem at once, in the serializer's field order.

use serde_json::{Map, Value};

use super::UserError;
use super::profile::{ClaimsError, MAX_CLAIMS_BYTES, check_claims, check_email, check_name};
use crate::error::FieldErrors;

/// Django's `AbstractUser.username` length.
const MAX_USERNAME_CHARS: usize = 150;

/// Problems found so far, by field.
#[derive(Debug, Default)]
pub(super) struct Problems(FieldErrors);

impl Problems {
    pub(super) fn add(&mut self, field: &'static str, message: impl Into<String>) {
        let message = message.into();
        match self.0.iter_mut().find(|(name, _)| *name == field) {
            Some((_, messages)) => messages.push(message),
            None => self.0.push((field, vec![message])),
        }
    }

    pub(super) fn add_all(&mut self, field: &'static str, messages: Vec<String>) {
        for message in messages {
            self.add(field, message);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every message, whatever its field.
    pub(super) fn messages(self) -> Vec<String> {
        self.0
            .into_iter()
            .flat_map(|(_, messages)| messages)
            .collect()
    }

    /// `Ok` when nothing was found; otherwise every problem, fields in
    /// `order` (fields it does not name last).
    pub(super) fn into_result(mut self, order: &[&str]) -> Result<(), UserError> {
        if self.0.is_empty() {
            return Ok(());
        }
        self.0.sort_by_key(|(field, _)| {
            order
                .iter()
                .position(|name| name == field)
                .unwrap_or(order.len())
        });
        Err(UserError::Invalid(self.0))
    }
}

/// A username as Django stores it (`AbstractBaseUser.normalize_username`):
/// NFKC-normalized, so names that look alike (`ａｄｍｉｎ`, `admin`) are one.
pub(super) fn normalized_username(name: String) -> String {
    use unicode_normalization::UnicodeNormalization;
    if unicode_normalization::is_nfkc_quick(name.chars())
        == unicode_normalization::IsNormalized::Yes
    {
        return name;
    }
    name.nfkc().collect()
}

/// Django's `UnicodeUsernameValidator` and the column's length: letters,
/// digits and `@.+-_`, at most 150 characters.
pub(super) fn username(name: &str, problems: &mut Problems) {
    if name.chars().count() > MAX_USERNAME_CHARS {
        problems.add(
            "username",
            format!("Ensure this field has no more than {MAX_USERNAME_CHARS} characters."),
        );
    }
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '+' | '-');
    if !name.chars().all(allowed) {
        problems.add(
            "username",
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        );
    }
}

pub(super) fn email(field: &'static str, address: &str, problems: &mut Problems) {
    if let Err(message) = check_email(address) {
        problems.add(field, message);
    }
}

pub(super) fn name(field: &'static str, value: &str, problems: &mut Problems) {
    if let Err(message) = check_name(value) {
        problems.add(field, message);
    }
}

/// A claims object as stored: checked, as JSON text.
pub(super) fn claims(
    claims: Map<String, Value>,
    configured: &[String],
    problems: &mut Problems,
) -> String {
    let configured: Vec<&str> = configured.iter().map(String::as_str).collect();
    let claims = Value::Object(claims);
    match check_claims(&claims, &configured) {
        Ok(()) => {}
        Err(ClaimsError::NotAnObject) => problems.add("claims", "Expected a dictionary of items."),
        Err(ClaimsError::TooLarge) => problems.add(
            "claims",
            format!("Ensure the claims take no more than {MAX_CLAIMS_BYTES} bytes as JSON."),
        ),
        Err(ClaimsError::Reserved(name)) => problems.add(
            "claims",
            format!("\"{name}\" is a reserved claim name; choose another."),
        ),
    }
    claims.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(check: impl FnOnce(&mut Problems)) -> FieldErrors {
        let mut problems = Problems::default();
        check(&mut problems);
        problems.0
    }

    #[test]
    fn usernames_as_django_validates_them() {
        for good in ["alice", "a.b@c+d-e_f", "zoë", "用户", "007"] {
            assert!(problems_of(|p| username(good, p)).is_empty(), "{good}");
        }
        let invalid = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
        for bad in ["a b", "a/b", "a:b", "<script>", "tab\t"] {
            assert_eq!(
                problems_of(|p| username(bad, p)),
                vec![("username", vec![invalid.to_owned()])],
                "{bad}"
            );
        }
        assert_eq!(
            problems_of(|p| username(&"a".repeat(151), p)),
            vec![(
                "username",
                vec!["Ensure this field has no more than 150 characters.".to_owned()]
            )]
        );
        assert!(problems_of(|p| username(&"a".repeat(150), p)).is_empty());
    }

    #[test]
    fn usernames_are_stored_nfkc_normalized() {
        assert_eq!(normalized_username("ａｄｍｉｎ".to_owned()), "admin");
        assert_eq!(normalized_username("ﬁle".to_owned()), "file");
        assert_eq!(normalized_username("zoë".to_owned()), "zoë");
        assert_eq!(normalized_username("alice".to_owned()), "alice");
    }

    #[test]
    fn problems_come_out_in_field_order() {
        let mut problems = Problems::default();
        problems.add("claims", "c");
        problems.add("username", "u1");
        problems.add("username", "u2");
        match problems.into_result(&["username", "claims"]) {
            Err(UserError::Invalid(fields)) => assert_eq!(
                fields,
                vec![
                    ("username", vec!["u1".to_owned(), "u2".to_owned()]),
                    ("claims", vec!["c".to_owned()])
                ]
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
}
