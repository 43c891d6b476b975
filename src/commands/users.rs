//! `latchkey users ...`: creating users with their profile, groups and
//! claims, changing passwords, (de)activating, deleting, listing, showing.

use std::io::{BufRead, IsTerminal};

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::connect;
use crate::audit::{self, AuditEvent, Kind};
use crate::db::users::{self, NewUser};
use crate::passwords::{Password, UserAttributes};
use crate::settings::Settings;

/// A user as `users create` describes them (its arguments, for clap).
#[derive(clap::Args)]
pub struct UserToCreate {
    pub name: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Create the user inactive (unable to log in).
    #[arg(long)]
    pub inactive: bool,
    #[arg(long, default_value = "")]
    pub email: String,
    #[arg(long, default_value = "")]
    pub first_name: String,
    #[arg(long, default_value = "")]
    pub last_name: String,
    /// Mark the user as staff (is_staff).
    #[arg(long)]
    pub staff: bool,
    /// Mark the user as a superuser (is_superuser).
    #[arg(long)]
    pub superuser: bool,
    /// A group the user belongs to (it must exist); repeat for more.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// A member of the user's claims object, as key=value (a value that
    /// reads as JSON is taken as such: 3, true, ["a"]); repeat for more.
    #[arg(long = "claim")]
    pub claims: Vec<String>,
}

pub fn create_user(settings: &Settings, user: UserToCreate) -> anyhow::Result<()> {
    let name = crate::users::checked_username(user.name.clone())
        .map_err(|problems| anyhow::anyhow!("username: {}", problems.join(" ")))?;
    let name = name.as_str();
    if let Err(message) = crate::users::check_email(&user.email) {
        anyhow::bail!("--email: {message}");
    }
    for (flag, name) in [
        ("--first-name", &user.first_name),
        ("--last-name", &user.last_name),
    ] {
        if let Err(message) = crate::users::check_name(name) {
            anyhow::bail!("{flag}: {message}");
        }
    }
    let claims = claims_from(&user.claims, settings)?;
    let mut conn = connect(settings)?;
    // Before the password is asked for: a taken name needs none.
    anyhow::ensure!(
        users::find_by_username(&mut conn, name)?.is_none(),
        "user {name:?} already exists"
    );
    let password = read_password(user.password_stdin, true)?;
    check_password(
        settings,
        &password,
        &UserAttributes {
            username: name,
            email: &user.email,
            first_name: &user.first_name,
            last_name: &user.last_name,
        },
    )?;
    let hash = settings.passwords.hasher().hash(&password);
    let claims_text = Value::Object(claims).to_string();
    let new_user = NewUser {
        email: &user.email,
        first_name: &user.first_name,
        last_name: &user.last_name,
        is_staff: user.staff,
        is_superuser: user.superuser,
        claims: &claims_text,
        ..NewUser::named(name, &hash, !user.inactive, Utc::now().naive_utc())
    };
    match users::insert_with_groups(&mut conn, &new_user, &user.groups) {
        Ok(Ok((created, _))) => {
            audit::record_from_command(
                settings,
                &mut conn,
                AuditEvent::new(Kind::UserCreated)
                    .user(created.id)
                    .detail("cli"),
            )?;
            println!("created user {:?} (id {})", created.username, created.id);
            Ok(())
        }
        Ok(Err(group)) => anyhow::bail!(
            "no group named {group:?}; create it first with `latchkey groups create {group}`"
        ),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {
            anyhow::bail!("user {name:?} already exists")
        }
        Err(e) => Err(e.into()),
    }
}

/// Refuses a password the rules (`passwords.*`) refuse, with every reason,
/// one per line, as Django words them.
fn check_password(
    settings: &Settings,
    password: &Password,
    user: &UserAttributes,
) -> anyhow::Result<()> {
    let problems = settings.passwords.rules().problems(password.expose(), user);
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}

/// The claims object `key=value` pairs make, checked as any stored one is.
fn claims_from(pairs: &[String], settings: &Settings) -> anyhow::Result<Map<String, Value>> {
    let mut claims = Map::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--claim {pair:?}: write it as key=value"))?;
        anyhow::ensure!(!key.is_empty(), "--claim {pair:?}: the key is empty");
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
        claims.insert(key.to_owned(), value);
    }
    let configured = settings.jwt.configured_claim_names();
    let configured: Vec<&str> = configured.iter().map(String::as_str).collect();
    let claims = Value::Object(claims);
    crate::users::check_claims(&claims, &configured)
        .map_err(|e| anyhow::anyhow!("--claim: {e}"))?;
    Ok(match claims {
        Value::Object(members) => members,
        _ => Map::new(),
    })
}

/// Makes `groups` (all of which must exist) the user's groups; their next
/// access tokens carry them.
pub fn set_groups(settings: &Settings, name: &str, groups: &[String]) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    match crate::db::groups::set_for_user(&mut conn, name, groups, Utc::now().naive_utc())? {
        Ok(existed) => require_user(existed, name, settings)?,
        Err(group) => anyhow::bail!(
            "no group named {group:?}; create it first with `latchkey groups create {group}`"
        ),
    }
    println!("groups of {name:?}: {}", groups.join(", "));
    Ok(())
}

/// Replaces the user's claims object with the `key=value` pairs; their next
/// access tokens carry it.
pub fn set_claims(settings: &Settings, name: &str, pairs: &[String]) -> anyhow::Result<()> {
    let claims = Value::Object(claims_from(pairs, settings)?).to_string();
    let mut conn = connect(settings)?;
    require_user(users::set_claims(&mut conn, name, &claims)?, name, settings)?;
    println!("claims of {name:?}: {claims}");
    Ok(())
}

/// Prints the user and their profile as JSON (never the password hash).
pub fn show_user(settings: &Settings, name: &str) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    let id = users::find_by_username(&mut conn, name)?
        .ok_or_else(|| anyhow::anyhow!("no user named {name:?}"))?
        .id;
    let (user, groups) = users::find_with_groups(&mut conn, id)?
        .ok_or_else(|| anyhow::anyhow!("no user named {name:?}"))?;
    let shown = json!({
        "id": user.id,
        "username": user.username,
        "is_active": user.is_active,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": groups,
        "claims": crate::users::parse_claims(&user.claims),
        "date_joined": user.date_joined.and_utc().to_rfc3339(),
        "last_login": user.last_login.map(|at| at.and_utc().to_rfc3339()),
    });
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

pub fn set_password(settings: &Settings, name: &str, password_stdin: bool) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    let user = users::find_by_username(&mut conn, name)?
        .ok_or_else(|| anyhow::anyhow!("no user named {name:?}"))?;
    let password = read_password(password_stdin, true)?;
    check_password(
        settings,
        &password,
        &UserAttributes {
            username: &user.username,
            email: &user.email,
            first_name: &user.first_name,
            last_name: &user.last_name,
        },
    )?;
    let hash = settings.passwords.hasher().hash(&password);
    require_user(users::set_password(&mut conn, name, &hash)?, name, settings)?;
    audit::record_from_command(
        settings,
        &mut conn,
        AuditEvent::new(Kind::PasswordChanged)
            .user(user.id)
            .detail("cli"),
    )?;
    println!("password of {name:?} changed");
    Ok(())
}

pub fn set_active(settings: &Settings, name: &str, active: bool) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    let user = users::find_by_username(&mut conn, name)?;
    require_user(users::set_active(&mut conn, name, active)?, name, settings)?;
    if let (Some(user), false) = (user, active) {
        audit::record_from_command(
            settings,
            &mut conn,
            AuditEvent::new(Kind::UserDeactivated)
                .user(user.id)
                .detail("cli"),
        )?;
    }
    println!(
        "user {name:?} {}",
        if active { "activated" } else { "deactivated" }
    );
    Ok(())
}

pub fn delete_user(settings: &Settings, name: &str) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    let deleted = users::delete(&mut conn, users::UserKey::Name(name))?;
    require_user(deleted.is_some(), name, settings)?;
    if let Some(change) = deleted {
        audit::record_from_command(
            settings,
            &mut conn,
            AuditEvent::new(Kind::UserDeleted)
                .user(change.user_id)
                .detail("cli"),
        )?;
    }
    println!("user {name:?} deleted");
    Ok(())
}

/// Prints the user's DRF token key, after rotating it if asked.
pub fn drf_key(settings: &Settings, name: &str, rotate: bool) -> anyhow::Result<()> {
    if !settings.drf_token.enabled {
        eprintln!("note: drf_token.enabled is false: the key works once it is on");
    }
    let mint = crate::sessions::drf_keys::KeyMint::new(
        &settings
            .drf_token
            .secret_bytes(&settings.data_dir, settings.is_production())?,
    );
    let mut conn = connect(settings)?;
    let key = users::with_user_locked(&mut conn, users::UserKey::Name(name), |conn, id| {
        mint.key_for(conn, id, rotate)
    })?;
    let found = key.is_some();
    // A rotation is enforced everywhere before this returns.
    if found && rotate {
        require_user(true, name, settings)?;
    }
    anyhow::ensure!(found, "no user named {name:?}");
    if let Some(key) = key {
        println!("{key}");
    }
    Ok(())
}

pub fn list_users(settings: &Settings) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    println!(
        "{:>6}  {:<32}  {:<8}  {:<20}  last login",
        "id", "username", "active", "joined"
    );
    for user in users::list(&mut conn)? {
        println!(
            "{:>6}  {:<32}  {:<8}  {:<20}  {}",
            user.id,
            user.username,
            if user.is_active { "yes" } else { "no" },
            user.date_joined.format("%Y-%m-%d %H:%M:%S"),
            user.last_login
                .map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "never".to_owned()),
        );
    }
    Ok(())
}

/// Checks the user existed, then waits until every running instance has read
/// the change from the feed, so that when the command returns it is in force.
pub(super) fn require_user(existed: bool, name: &str, settings: &Settings) -> anyhow::Result<()> {
    anyhow::ensure!(existed, "no user named {name:?}");
    std::thread::sleep(settings.cache.sync_interval() * 2);
    Ok(())
}

/// A group name: not empty, no surrounding whitespace, no control characters.
pub(super) fn require_group_name(name: &str) -> anyhow::Result<&str> {
    anyhow::ensure!(
        !name.trim().is_empty() && name.trim() == name && !name.chars().any(char::is_control),
        "a group name must be non-empty, without surrounding whitespace or control characters"
    );
    Ok(name)
}

/// Reads a password from one line of stdin, or prompts twice on a terminal.
fn read_password(from_stdin: bool, confirm: bool) -> anyhow::Result<Password> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        anyhow::ensure!(
            std::io::stdin().is_terminal(),
            "no terminal to prompt on: pipe the password in with --password-stdin"
        );
        let first = rpassword::prompt_password("Password: ")?;
        if confirm {
            let second = rpassword::prompt_password("Password (again): ")?;
            anyhow::ensure!(first == second, "the passwords do not match");
        }
        first
    };
    anyhow::ensure!(!password.is_empty(), "the password is empty");
    // Logins strip surrounding whitespace, as Simple JWT does.
    anyhow::ensure!(
        password.trim() == password,
        "the password has leading or trailing whitespace, which logins strip; choose another"
    );
    anyhow::ensure!(
        !password.contains('\0'),
        "the password contains a NUL character"
    );
    Ok(Password::new(password))
}
