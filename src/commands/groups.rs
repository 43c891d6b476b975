//! `latchkey groups ...`: the named groups users belong to.

use chrono::Utc;

use super::connect;
use super::users::require_group_name;
use crate::db::groups;
use crate::settings::Settings;

pub fn list(settings: &Settings) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    println!("{:<32}  members", "group");
    for (name, members) in groups::list(&mut conn)? {
        println!("{name:<32}  {members}");
    }
    Ok(())
}

pub fn create(settings: &Settings, name: &str) -> anyhow::Result<()> {
    let name = require_group_name(name)?;
    let mut conn = connect(settings)?;
    anyhow::ensure!(
        groups::create(&mut conn, name)?,
        "group {name:?} already exists"
    );
    println!("created group {name:?}");
    Ok(())
}

/// Deletes the group; its members' next access tokens no longer name it.
pub fn delete(settings: &Settings, name: &str) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    let existed = groups::delete(&mut conn, name, Utc::now().naive_utc())?;
    anyhow::ensure!(existed, "no group named {name:?}");
    // In force on every running instance when this returns.
    std::thread::sleep(settings.cache.sync_interval() * 2);
    println!("group {name:?} deleted");
    Ok(())
}
