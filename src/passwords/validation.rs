//! Password validation, as Django's `AUTH_PASSWORD_VALIDATORS` defaults
//! check it and with Django's messages: long enough, not entirely numeric,
//! not too similar to the username or other profile fields, and not common
//! (judged by zxcvbn's estimate of how guessable it is, rather than a list
//! shipped here). Applied wherever a password is set.

/// The rules, from `passwords.*`.
#[derive(Clone, Debug)]
pub struct PasswordRules {
    /// Fewer characters are refused; 0 turns the check off.
    pub min_length: usize,
    /// Refuse passwords made of digits only.
    pub refuse_numeric: bool,
    /// Refuse passwords this similar (0..1, Django's 0.7) to a user
    /// attribute; 0 turns the check off.
    pub max_similarity: f64,
    /// Refuse passwords zxcvbn scores below this (0..=4); 0 turns it off.
    pub min_strength: u8,
}

/// What the password is checked against: the user's own words.
#[derive(Clone, Copy, Debug, Default)]
pub struct UserAttributes<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

impl PasswordRules {
    /// Every rule the password breaks, each as Django words it, in
    /// Django's order (similarity, length, common, numeric).
    pub fn problems(&self, password: &str, user: &UserAttributes) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(attribute) = self.too_similar(password, user) {
            problems.push(format!("The password is too similar to the {attribute}."));
        }
        let length = password.chars().count();
        if self.min_length > 0 && length < self.min_length {
            problems.push(format!(
                "This password is too short. It must contain at least {} character{}.",
                self.min_length,
                if self.min_length == 1 { "" } else { "s" }
            ));
        }
        if self.min_strength > 0 && strength(password, user) < self.min_strength {
            problems.push("This password is too common.".to_owned());
        }
        // Python's str.isdigit, which Django uses, takes any Unicode digit.
        if self.refuse_numeric && !password.is_empty() && password.chars().all(char::is_numeric) {
            problems.push("This password is entirely numeric.".to_owned());
        }
        problems
    }

    /// Django's `UserAttributeSimilarityValidator`: the verbose name of the
    /// first attribute the lowercased password is as similar to (a
    /// `SequenceMatcher.quick_ratio` at least `max_similarity`) as a whole
    /// or by any of its word-separated parts.
    fn too_similar(&self, password: &str, user: &UserAttributes) -> Option<&'static str> {
        if self.max_similarity <= 0.0 {
            return None;
        }
        let password = password.to_lowercase();
        let attributes = [
            ("username", user.username),
            ("first name", user.first_name),
            ("last name", user.last_name),
            ("email address", user.email),
        ];
        for (name, value) in attributes {
            if value.is_empty() {
                continue;
            }
            let value = value.to_lowercase();
            let parts = std::iter::once(value.as_str()).chain(
                value
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|part| !part.is_empty()),
            );
            for part in parts {
                if exceeds_maximum_length_ratio(&password, self.max_similarity, part) {
                    continue;
                }
                if quick_ratio(&password, part) >= self.max_similarity {
                    return Some(name);
                }
            }
        }
        None
    }
}

/// Django's shortcut: a password ten times longer than a short attribute
/// cannot be too similar to it.
fn exceeds_maximum_length_ratio(password: &str, max_similarity: f64, value: &str) -> bool {
    let password_length = password.chars().count() as f64;
    let value_length = value.chars().count() as f64;
    let length_bound_similarity = max_similarity / 2.0 * password_length;
    password_length >= 10.0 * value_length && value_length < length_bound_similarity
}

/// Python's `difflib.SequenceMatcher(a, b).quick_ratio()`: twice the
/// characters the two share (as multisets), over their total length.
fn quick_ratio(a: &str, b: &str) -> f64 {
    let total = a.chars().count() + b.chars().count();
    if total == 0 {
        return 1.0;
    }
    let mut available: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for c in b.chars() {
        *available.entry(c).or_default() += 1;
    }
    let mut matches = 0;
    for c in a.chars() {
        if let Some(left) = available.get_mut(&c)
            && *left > 0
        {
            *left -= 1;
            matches += 1;
        }
    }
    2.0 * matches as f64 / total as f64
}

/// zxcvbn's score (0..=4) of how hard the password is to guess, knowing the
/// user's own words.
fn strength(password: &str, user: &UserAttributes) -> u8 {
    let inputs: Vec<&str> = [user.username, user.email, user.first_name, user.last_name]
        .into_iter()
        .filter(|input| !input.is_empty())
        .collect();
    u8::from(zxcvbn::zxcvbn(password, &inputs).score())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn django_defaults() -> PasswordRules {
        PasswordRules {
            min_length: 8,
            refuse_numeric: true,
            max_similarity: 0.7,
            min_strength: 2,
        }
    }

    #[test]
    fn digits_of_any_script_are_numeric_as_python_reads_them() {
        let rules = PasswordRules {
            min_strength: 0,
            ..django_defaults()
        };
        for numeric in ["93847261503847", "١٢٣٤٥٦٧٨٩٠", "²³⁴⁵⁶⁷⁸⁹"] {
            assert_eq!(
                rules.problems(numeric, &UserAttributes::default()),
                ["This password is entirely numeric."],
                "{numeric}"
            );
        }
    }

    #[test]
    fn quick_ratio_is_pythons() {
        // difflib.SequenceMatcher(a="margaret!", b="margaret").quick_ratio()
        assert!((quick_ratio("margaret!", "margaret") - 16.0 / 17.0).abs() < 1e-9);
        assert_eq!(quick_ratio("abc", "xyz"), 0.0);
        assert_eq!(quick_ratio("", ""), 1.0);
    }

    #[test]
    fn the_passwords_this_project_documents_pass_the_default_rules() {
        let bench = UserAttributes {
            username: "bench",
            ..UserAttributes::default()
        };
        for password in ["bench password", "correct horse battery", "s3cret pass"] {
            assert!(
                django_defaults().problems(password, &bench).is_empty(),
                "{password}"
            );
        }
    }

    #[test]
    fn similarity_is_to_the_whole_value_or_its_parts() {
        let user = UserAttributes {
            username: "al",
            email: "grace.hopper@navy.example",
            ..UserAttributes::default()
        };
        let rules = PasswordRules {
            min_strength: 0,
            ..django_defaults()
        };
        assert_eq!(
            rules.problems("ala", &user),
            [
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters."
            ]
        );
        // "hopper" is a part of the email address.
        assert_eq!(
            rules.problems("Hopper12", &user),
            ["The password is too similar to the email address."]
        );
        assert!(rules.problems("unrelated words here", &user).is_empty());
    }
}
