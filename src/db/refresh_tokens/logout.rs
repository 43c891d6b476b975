//! Logout: retiring a refresh token and ending its session.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::adoption::{Adoption, adopt_if_unknown};
use super::{Refusal, load};
use crate::db::schema::refresh_tokens;
use crate::db::sessions::{self, Reason};
use crate::db::{DbConnection, write_transaction};

/// What a logout did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logout {
    /// The session this logout ended, if it was still live.
    pub ended_session: Option<String>,
    /// Why the token itself was refused, as Simple JWT would refuse it.
    pub refusal: Option<Refusal>,
}

/// Logout: blacklists a usable token and ends its session. A token already
/// rotated out ends its session too (reuse, or a client logging out with a
/// stale token: either way the session ends) but is refused, as Simple JWT
/// refuses it.
pub fn blacklist(
    conn: &mut DbConnection,
    jti: &str,
    adopt: Option<&Adoption>,
    now: NaiveDateTime,
) -> QueryResult<Logout> {
    write_transaction(conn, |conn| {
        if let Some(adoption) = adopt
            && let Some(refusal) = adopt_if_unknown(conn, jti, adoption, false, now)?
        {
            return Ok(Logout {
                ended_session: None,
                refusal: Some(refusal),
            });
        }
        let updated = diesel::update(
            refresh_tokens::table
                .find(jti)
                .filter(refresh_tokens::rotated_at.is_null())
                .filter(refresh_tokens::blacklisted_at.is_null()),
        )
        .set(refresh_tokens::blacklisted_at.eq(now))
        .execute(conn)?;
        let Some((token, session_ended, _)) = load(conn, jti)? else {
            return Ok(Logout {
                ended_session: None,
                refusal: Some(Refusal::Unknown),
            });
        };
        let ended = sessions::end(conn, &token.session_id, Reason::Logout, now)?;
        let refusal = (updated != 1 || session_ended.is_some()).then_some(Refusal::Blacklisted);
        Ok(Logout {
            ended_session: ended.then_some(token.session_id),
            refusal,
        })
    })
}
