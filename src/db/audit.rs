//! The audit table (`audit_events`): rows written in batches by the audit
//! recorder (`crate::audit`), read newest first with filters, and deleted
//! once older than the retention.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::DbConnection;
use super::schema::audit_events;

/// One audit event as stored.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub event: String,
    pub user_id: Option<i64>,
    pub session_id: Option<String>,
    pub client_ip: Option<String>,
    pub detail: Option<String>,
}

/// An audit event to store.
#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditRow {
    pub at: NaiveDateTime,
    pub event: String,
    pub user_id: Option<i64>,
    pub session_id: Option<String>,
    pub client_ip: Option<String>,
    pub detail: Option<String>,
}

/// Which events to read; `None` matches any.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub user_id: Option<i64>,
    pub event: Option<String>,
    pub since: Option<NaiveDateTime>,
}

/// Stores `rows`, all or none: one statement on PostgreSQL, one
/// transaction on SQLite (whose multi-row insert diesel does not offer
/// across backends).
pub fn insert(conn: &mut DbConnection, rows: &[NewAuditRow]) -> QueryResult<usize> {
    match conn {
        DbConnection::Postgres(pg) => diesel::insert_into(audit_events::table)
            .values(rows)
            .execute(pg),
        DbConnection::Sqlite(_) => super::write_transaction(conn, |conn| {
            for row in rows {
                diesel::insert_into(audit_events::table)
                    .values(row)
                    .execute(conn)?;
            }
            Ok(rows.len())
        }),
    }
}

type Dialect = <DbConnection as diesel::Connection>::Backend;

fn filtered(filter: &AuditFilter) -> audit_events::BoxedQuery<'static, Dialect> {
    let mut query = audit_events::table.into_boxed::<Dialect>();
    if let Some(user_id) = filter.user_id {
        query = query.filter(audit_events::user_id.eq(user_id));
    }
    if let Some(event) = &filter.event {
        query = query.filter(audit_events::event.eq(event.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_events::at.ge(since));
    }
    query
}

/// The events matching `filter`, newest first, `offset` skipped, at most
/// `limit`; and how many match in all.
pub fn page(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<AuditRow>, i64)> {
    let count = filtered(filter).count().get_result(conn)?;
    let rows = filtered(filter)
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .limit(limit)
        .offset(offset)
        .load(conn)?;
    Ok((rows, count))
}

/// Deletes the events older than `cutoff`, `batch` rows per transaction
/// (the first run after a long pause may have many); returns how many.
pub fn delete_older_than(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    batch: i64,
) -> QueryResult<usize> {
    super::cleanup::delete_in_batches(batch, |batch| {
        super::write_transaction(conn, |conn| {
            let oldest: Vec<i64> = audit_events::table
                .filter(audit_events::at.lt(cutoff))
                .select(audit_events::id)
                .limit(batch)
                .load(conn)?;
            diesel::delete(audit_events::table.filter(audit_events::id.eq_any(&oldest)))
                .execute(conn)
        })
    })
}
