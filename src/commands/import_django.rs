//! `latchkey users import-django`: a Django project's users, groups and
//! password hashes, as they are, from its database or from the JSON of
//! `manage.py dumpdata auth.user auth.group`. Ids are kept (Simple JWT
//! tokens in the wild carry `user_id`); a second run updates what changed
//! and creates what is new (see `crate::db::import`).

use std::collections::HashMap;

use serde_json::Value;

use super::connect;
use crate::db::import::{self, DjangoKey, DjangoTables, DjangoUser, parse_django_time};
use crate::passwords::HashRefusal;
use crate::settings::Settings;

/// Where the Django users come from.
pub enum DjangoSource {
    /// `postgres://...`, or the path of a Django SQLite file.
    Database { url: String, tables: DjangoTables },
    /// The JSON `manage.py dumpdata auth.user auth.group` writes.
    Dump(std::path::PathBuf),
}

pub fn import_django(
    settings: &Settings,
    source: DjangoSource,
    dry_run: bool,
) -> anyhow::Result<()> {
    let (users, groups) = match &source {
        DjangoSource::Database { url, tables } => {
            import::read_database(url, tables).map_err(|e| anyhow::anyhow!(e))?
        }
        DjangoSource::Dump(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            read_dump(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
    };
    let hasher = settings.passwords.hasher();
    let refuse = |hash: &str| match hasher.accepts(hash) {
        Ok(()) => None,
        // Imported as it is: a custom hasher's users keep their id and
        // profile, and log in once their password is set here.
        Err(HashRefusal::Unknown) => None,
        Err(refusal) => Some(refusal.to_string()),
    };
    let mut conn = connect(settings)?;
    let report = import::apply(&mut conn, &users, &groups, dry_run, refuse)?;
    let unknown: Vec<&DjangoUser> = users
        .iter()
        .filter(|user| matches!(hasher.accepts(&user.password), Err(HashRefusal::Unknown)))
        .collect();
    println!(
        "{}users: {} created, {} updated, {} unchanged, {} skipped; groups: {} created; DRF keys: {} brought, {} ended",
        if dry_run {
            "dry run, nothing written: "
        } else {
            ""
        },
        report.created,
        report.updated,
        report.unchanged,
        report.skipped.len(),
        report.groups_created,
        report.drf_keys,
        report.drf_keys_ended
    );
    for (username, reason) in &report.skipped {
        println!("skipped {username:?}: {reason}");
    }
    if report.gone_from_django > 0 {
        println!(
            "note: {} user(s) an earlier import brought are no longer in Django; they are left as they are (deactivate or delete them here if they should go)",
            report.gone_from_django
        );
    }
    for user in unknown {
        println!(
            "note: {:?} has a password hash latchkey cannot check; they log in once their password is set here",
            user.username
        );
    }
    if !dry_run && report.created + report.updated + report.drf_keys + report.drf_keys_ended > 0 {
        // Running instances drop what they cached within the sync interval.
        std::thread::sleep(settings.cache.sync_interval() * 2);
    }
    Ok(())
}

/// Users and groups from `dumpdata` JSON: `auth.user` objects (or a custom
/// user model with Django's fields) and `auth.group` objects; a user's
/// groups by id or, with `--natural-foreign`, by name.
fn read_dump(text: &str) -> Result<(Vec<DjangoUser>, Vec<String>), String> {
    let objects: Vec<Value> =
        serde_json::from_str(text).map_err(|e| format!("not dumpdata JSON: {e}"))?;
    let mut group_names = HashMap::<i64, String>::new();
    for object in &objects {
        if object["model"] == "auth.group"
            && let (Some(pk), Some(name)) =
                (object["pk"].as_i64(), object["fields"]["name"].as_str())
        {
            group_names.insert(pk, name.to_owned());
        }
    }
    // DRF's keys (`authtoken.token`: the key is the pk), by user id or,
    // with natural keys, by username.
    let mut keys_by_id = HashMap::<i64, String>::new();
    let mut keys_by_name = HashMap::<String, String>::new();
    // A dump without DRF's keys says nothing of them.
    let holds_keys = objects
        .iter()
        .any(|object| object["model"] == "authtoken.token");
    for object in &objects {
        if object["model"] != "authtoken.token" {
            continue;
        }
        let Some(key) = object["pk"].as_str() else {
            return Err("an authtoken.token without a key".to_owned());
        };
        match &object["fields"]["user"] {
            Value::Number(id) if id.as_i64().is_some() => {
                keys_by_id.insert(id.as_i64().unwrap_or_default(), key.to_owned());
            }
            Value::Array(natural) if natural.first().and_then(Value::as_str).is_some() => {
                let name = natural.first().and_then(Value::as_str).unwrap_or_default();
                keys_by_name.insert(name.to_owned(), key.to_owned());
            }
            other => return Err(format!("an authtoken.token of user {other}, not a user id")),
        }
    }
    let mut users = Vec::new();
    for object in &objects {
        let fields = &object["fields"];
        let is_user = object["model"]
            .as_str()
            .is_some_and(|model| model.ends_with(".user"))
            && fields.get("username").is_some()
            && fields.get("password").is_some();
        if !is_user {
            continue;
        }
        let id = object["pk"]
            .as_i64()
            .ok_or_else(|| format!("a user without a numeric pk: {object}"))?;
        let text = |name: &str| fields[name].as_str().unwrap_or_default().to_owned();
        let username = fields["username"]
            .as_str()
            .filter(|name| !name.is_empty())
            .ok_or_else(|| format!("user {id} has no username"))?
            .to_owned();
        let flag = |name: &str| fields[name].as_bool().unwrap_or(false);
        let time = |name: &str| -> Result<Option<chrono::NaiveDateTime>, String> {
            match &fields[name] {
                Value::Null => Ok(None),
                Value::String(at) => parse_django_time(at)
                    .map(Some)
                    .ok_or_else(|| format!("user {id}: {name} {at:?} is not a time")),
                other => Err(format!("user {id}: {name} {other} is not a time")),
            }
        };
        let mut groups = Vec::new();
        for group in fields["groups"].as_array().into_iter().flatten() {
            let name = match group {
                Value::Number(pk) => pk.as_i64().and_then(|pk| group_names.get(&pk).cloned()),
                // A natural key: ["name"].
                Value::Array(key) => key.first().and_then(Value::as_str).map(str::to_owned),
                _ => None,
            };
            // A group the dump does not hold (dumped without auth.group):
            // importing without it would take the user out of it.
            groups.push(name.ok_or_else(|| {
                format!(
                    "user {id} belongs to group {group}, which the dump does not hold: dump auth.group too, or use --natural-foreign"
                )
            })?);
        }
        groups.sort();
        groups.dedup();
        users.push(DjangoUser {
            id,
            password: text("password"),
            email: text("email"),
            first_name: text("first_name"),
            last_name: text("last_name"),
            is_active: fields["is_active"].as_bool().unwrap_or(true),
            is_staff: flag("is_staff"),
            is_superuser: flag("is_superuser"),
            date_joined: time("date_joined")?
                .ok_or_else(|| format!("user {id}: no date_joined"))?,
            last_login: time("last_login")?,
            groups,
            drf_key: holds_keys.then(|| {
                keys_by_id
                    .remove(&id)
                    .or_else(|| keys_by_name.remove(&username))
                    .map(DjangoKey)
            }),
            username,
        });
    }
    if users.is_empty() {
        return Err(
            "no users in the dump: dump them with manage.py dumpdata auth.user auth.group (or your user model)"
                .to_owned(),
        );
    }
    // Groups named only by the users (natural keys) exist too.
    let mut names: Vec<String> = group_names.into_values().collect();
    names.extend(users.iter().flat_map(|user| user.groups.iter().cloned()));
    names.sort();
    names.dedup();
    users.sort_by_key(|user| user.id);
    Ok((users, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumpdata_users_and_groups_are_read_by_id_and_by_natural_key() {
        let dump = r#"[
            {"model": "auth.group", "pk": 3, "fields": {"name": "editors", "permissions": []}},
            {"model": "auth.user", "pk": 7, "fields": {"password": "pbkdf2_sha256$1$s$h",
             "last_login": null, "is_superuser": false, "username": "zoe", "first_name": "Zoë",
             "last_name": "", "email": "z@example.com", "is_staff": true, "is_active": true,
             "date_joined": "2024-01-02T03:04:05.678Z", "groups": [3], "user_permissions": []}},
            {"model": "auth.user", "pk": 2, "fields": {"password": "!", "last_login":
             "2025-06-01T00:00:00Z", "is_superuser": false, "username": "yan", "first_name": "",
             "last_name": "", "email": "", "is_staff": false, "is_active": false,
             "date_joined": "2024-01-01T00:00:00Z", "groups": [["ops"]], "user_permissions": []}},
            {"model": "sessions.session", "pk": "x", "fields": {}}
        ]"#;
        let (users, groups) = read_dump(dump).expect("reads");
        assert_eq!(groups, ["editors", "ops"]);
        assert_eq!(users.iter().map(|u| u.id).collect::<Vec<_>>(), [2, 7]);
        assert_eq!(users[1].groups, ["editors"]);
        assert_eq!(users[0].groups, ["ops"]);
        assert!(!users[0].is_active && users[1].is_staff);
        assert_eq!(users[1].date_joined.to_string(), "2024-01-02 03:04:05.678");
        assert!(read_dump("{}").is_err());
        assert!(read_dump("[]").unwrap_err().contains("no users"));
        let orphan = dump.replace(r#""groups": [3]"#, r#""groups": [9]"#);
        assert!(read_dump(&orphan).unwrap_err().contains("group 9"));
    }
}
