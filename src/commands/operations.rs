//! `latchkey healthcheck` (a container's health check, for images without
//! curl) and `latchkey audit` (the stored audit events).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};

use super::open;
use crate::audit::Kind;
use crate::db::audit::{self as stored, AuditFilter};
use crate::db::users;
use crate::settings::Settings;

/// Asks `/readyz` (`/healthz` when `live`) of the server at `address`, or
/// else at `bind` (`server.bind`, an unspecified host read as this host);
/// `Ok` when it answers 200.
pub fn healthcheck(address: Option<&str>, bind: &str, live: bool) -> anyhow::Result<()> {
    let target = match address {
        Some(address) => address.to_owned(),
        None => local_address(bind)?,
    };
    let path = if live { "/healthz" } else { "/readyz" };
    let socket: SocketAddr = target
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{target} names no address"))?;
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&socket, timeout)
        .map_err(|error| anyhow::anyhow!("cannot connect to {target}: {error}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\nAccept: application/json\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        println!("{}", if live { "alive" } else { "ready" });
        Ok(())
    } else {
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").trim();
        anyhow::bail!("not ready: HTTP {status} {body}")
    }
}

/// `server.bind` as an address to connect to: 0.0.0.0 and :: mean this host.
fn local_address(bind: &str) -> anyhow::Result<String> {
    let socket: SocketAddr = bind
        .parse()
        .map_err(|_| anyhow::anyhow!("server.bind {bind:?} is not an address and port"))?;
    let ip = match socket.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".parse()?,
        ip if ip.is_unspecified() => "::1".parse()?,
        ip => ip,
    };
    Ok(SocketAddr::new(ip, socket.port()).to_string())
}

/// What `latchkey audit` is asked for.
pub struct AuditQuery {
    pub user: Option<String>,
    /// A user id: also finds the events of a deleted user.
    pub user_id: Option<i64>,
    pub event: Option<String>,
    pub since: Option<String>,
    pub limit: i64,
}

/// Prints the stored audit events matching `query`, newest first, one
/// JSON object per line.
pub fn audit(settings: &Settings, query: AuditQuery) -> anyhow::Result<()> {
    if !settings.audit.store {
        eprintln!("note: audit.store is false: events are only logged, so none may be stored here");
    }
    if let Some(event) = &query.event
        && Kind::from_name(event).is_none()
    {
        let names: Vec<&str> = Kind::ALL.iter().map(|kind| kind.name()).collect();
        anyhow::bail!("--event {event:?} is not one of {}", names.join(", "));
    }
    let since = query.since.as_deref().map(parse_since).transpose()?;
    // Read as it is: a read-only database role can run this.
    let mut conn = open(settings)?.get()?;
    let user_id = match (&query.user, query.user_id) {
        (Some(name), _) => Some(
            users::find_by_username(&mut conn, name)?
                .ok_or_else(|| {
                    anyhow::anyhow!("no user named {name:?} (a deleted user's events: --user-id)")
                })?
                .id,
        ),
        (None, id) => id,
    };
    let filter = AuditFilter {
        user_id,
        event: query.event,
        since,
    };
    let (rows, _) = stored::page(&mut conn, &filter, query.limit, 0)?;
    for row in rows {
        println!("{}", serde_json::to_string(&row)?);
    }
    Ok(())
}

/// A time as RFC 3339 (`2026-12-01T09:00:00Z`), a date (`2026-12-01`, UTC
/// midnight) or an age (`90m`, `12h`, `7d`).
pub fn parse_since(text: &str) -> anyhow::Result<NaiveDateTime> {
    let text = text.trim();
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.naive_utc());
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default());
    }
    let unit = text.chars().last().unwrap_or(' ');
    let amount: i64 = text[..text.len() - unit.len_utf8().min(text.len())]
        .parse()
        .map_err(|_| anyhow::anyhow!("--since {text:?}: give a time (2026-12-01T09:00:00Z), a date (2026-12-01) or an age (90m, 12h, 7d)"))?;
    let age = match unit {
        's' => chrono::Duration::try_seconds(amount),
        'm' => chrono::Duration::try_minutes(amount),
        'h' => chrono::Duration::try_hours(amount),
        'd' => chrono::Duration::try_days(amount),
        _ => None,
    }
    .filter(|age| *age >= chrono::Duration::zero())
    .ok_or_else(|| anyhow::anyhow!("--since {text:?}: an age is a number and s, m, h or d"))?;
    Utc::now()
        .naive_utc()
        .checked_sub_signed(age)
        .ok_or_else(|| anyhow::anyhow!("--since {text:?} is too far back"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_a_date_or_an_age() {
        assert_eq!(
            parse_since("2026-12-01T09:00:00+01:00").expect("a time"),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
                .and_then(|d| d.and_hms_opt(8, 0, 0))
                .expect("valid")
        );
        assert_eq!(
            parse_since("2026-12-01").expect("a date"),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("valid")
        );
        let an_hour_ago = Utc::now().naive_utc() - chrono::Duration::hours(1);
        let parsed = parse_since("1h").expect("an age");
        assert!((parsed - an_hour_ago).num_seconds().abs() < 5);
        for bad in ["", "h", "-1h", "1y", "yesterday", "99999999999999d"] {
            assert!(parse_since(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_unspecified_bind_address_is_checked_on_this_host() {
        assert_eq!(local_address("0.0.0.0:8000").expect("ok"), "127.0.0.1:8000");
        assert_eq!(local_address("[::]:8000").expect("ok"), "[::1]:8000");
        assert_eq!(local_address("10.0.0.5:80").expect("ok"), "10.0.0.5:80");
        assert!(local_address("localhost").is_err());
    }
}
