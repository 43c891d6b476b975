//! Named groups of users (Django's `auth_group` and `auth_user_groups`).
//! Changing who is in a group publishes a user change, so access tokens
//! issued afterwards carry the new groups. Every transaction that changes
//! memberships takes the change feed's lock first (see
//! `super::backend::order_feed_writes`): memberships then change one
//! transaction at a time, so a group deleted while someone joins it tells
//! every member, and no two such changes wait on each other's rows.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::events::{self, Event};
use super::schema::{user_group_members, user_groups, users};
use super::{DbConnection, write_transaction};

/// Creates a group; returns whether it is new.
pub fn create(conn: &mut DbConnection, name: &str) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        if find(conn, name)?.is_some() {
            return Ok(false);
        }
        diesel::insert_into(user_groups::table)
            .values(user_groups::name.eq(name))
            .execute(conn)?;
        Ok(true)
    })
}

/// Deletes a group; its members' next tokens no longer name it. Returns
/// whether it existed.
pub fn delete(conn: &mut DbConnection, name: &str, now: NaiveDateTime) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        super::backend::order_feed_writes(conn)?;
        let Some(id) = find(conn, name)? else {
            return Ok(false);
        };
        let members: Vec<i64> = user_group_members::table
            .filter(user_group_members::group_id.eq(id))
            .select(user_group_members::user_id)
            .load(conn)?;
        diesel::delete(user_groups::table.find(id)).execute(conn)?;
        for member in members {
            events::publish(conn, Event::UserChanged(member), now)?;
        }
        Ok(true)
    })
}

fn find(conn: &mut DbConnection, name: &str) -> QueryResult<Option<i64>> {
    user_groups::table
        .filter(user_groups::name.eq(name))
        .select(user_groups::id)
        .first(conn)
        .optional()
}

/// Every group with its number of members, by name.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    let groups: Vec<(i64, String)> = user_groups::table
        .order(user_groups::name)
        .select((user_groups::id, user_groups::name))
        .load(conn)?;
    let counts: std::collections::HashMap<i64, i64> = user_group_members::table
        .group_by(user_group_members::group_id)
        .select((user_group_members::group_id, diesel::dsl::count_star()))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(groups
        .into_iter()
        .map(|(id, name)| (name, counts.get(&id).copied().unwrap_or(0)))
        .collect())
}

/// The names of the user's groups, sorted.
pub fn of_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<String>> {
    user_group_members::table
        .inner_join(user_groups::table)
        .filter(user_group_members::user_id.eq(user_id))
        .order(user_groups::name)
        .select(user_groups::name)
        .load(conn)
}

/// The names of each user's groups, sorted; a user of no group is absent.
pub fn of_users(
    conn: &mut DbConnection,
    user_ids: &[i64],
) -> QueryResult<std::collections::HashMap<i64, Vec<String>>> {
    let rows: Vec<(i64, String)> = user_group_members::table
        .inner_join(user_groups::table)
        .filter(user_group_members::user_id.eq_any(user_ids))
        .order((user_group_members::user_id, user_groups::name))
        .select((user_group_members::user_id, user_groups::name))
        .load(conn)?;
    let mut groups = std::collections::HashMap::<i64, Vec<String>>::new();
    for (user_id, name) in rows {
        groups.entry(user_id).or_default().push(name);
    }
    Ok(groups)
}

/// Makes `names` (all of which must exist) the user's groups; call inside a
/// write transaction. `Err(name)` names a group that does not exist, and
/// then nothing was written.
pub(super) fn replace_memberships(
    conn: &mut DbConnection,
    user_id: i64,
    names: &[String],
) -> QueryResult<Result<(), String>> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        match find(conn, name)? {
            Some(id) => ids.push(id),
            None => return Ok(Err(name.clone())),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    diesel::delete(user_group_members::table.filter(user_group_members::user_id.eq(user_id)))
        .execute(conn)?;
    for group_id in ids {
        diesel::insert_into(user_group_members::table)
            .values((
                user_group_members::user_id.eq(user_id),
                user_group_members::group_id.eq(group_id),
            ))
            .execute(conn)?;
    }
    Ok(Ok(()))
}

/// Makes `names` the user's groups and publishes the change. `Ok(Err(name))`
/// names a group that does not exist (nothing changed); `Ok(Ok(false))`: no
/// such user.
pub fn set_for_user(
    conn: &mut DbConnection,
    username: &str,
    names: &[String],
    now: NaiveDateTime,
) -> QueryResult<Result<bool, String>> {
    write_transaction(conn, |conn| {
        super::backend::order_feed_writes(conn)?;
        let user: Option<i64> = users::table
            .filter(users::username.eq(username))
            .select(users::id)
            .first(conn)
            .optional()?;
        let Some(user_id) = user else {
            return Ok(Ok(false));
        };
        // Every name is checked before anything is written.
        if let Err(unknown) = replace_memberships(conn, user_id, names)? {
            return Ok(Err(unknown));
        }
        events::publish(conn, Event::UserChanged(user_id), now)?;
        Ok(Ok(true))
    })
}
