//! A list endpoint's query string, as Django REST framework's
//! LimitOffsetPagination reads it (`limit`, `offset`, filters), and its
//! page as DRF writes it (`count`, `next`, `previous`, `results`): for the
//! admin API's lists.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::error::FieldErrors;
use crate::state::AppState;

/// DRF's `PAGE_SIZE` here, and the most one page may hold (`max_limit`).
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub struct Listing {
    query: Vec<(String, String)>,
    pub limit: i64,
    pub offset: i64,
    /// What was wrong with the query, by parameter, in DRF's words.
    pub problems: FieldErrors,
}

impl Listing {
    pub fn read(req: &HttpRequest) -> Self {
        let query: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        let mut listing = Self {
            query,
            limit: DEFAULT_LIMIT,
            offset: 0,
            problems: Vec::new(),
        };
        // A limit above the maximum is the maximum, as DRF's
        // LimitOffsetPagination has it; what is not a number in range is an
        // error rather than silently the default.
        match listing.get("limit").map(|text| parse_count(&text)) {
            None => {}
            Some(Some(limit)) if limit >= 1 => listing.limit = limit.min(MAX_LIMIT),
            Some(Some(_)) => {
                listing.problem("limit", "Ensure this value is greater than or equal to 1.")
            }
            Some(None) => listing.problem("limit", "A valid integer is required."),
        }
        match listing.get("offset").map(|text| parse_count(&text)) {
            None => {}
            Some(Some(offset)) if offset >= 0 => listing.offset = offset,
            Some(Some(_)) => {
                listing.problem("offset", "Ensure this value is greater than or equal to 0.")
            }
            Some(None) => listing.problem("offset", "A valid integer is required."),
        }
        listing
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.query
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }

    /// A text filter: empty matches nothing in particular, as django-filter
    /// leaves it out; a NUL is refused (PostgreSQL refuses it in text, and
    /// no name has one).
    pub fn text(&mut self, name: &'static str) -> Option<String> {
        let value = self.get(name).filter(|value| !value.is_empty())?;
        if value.contains('\0') {
            self.problem(name, "Null characters are not allowed.");
            return None;
        }
        Some(value)
    }

    pub fn problem(&mut self, name: &'static str, message: &str) {
        self.problems.push((name, vec![message.to_owned()]));
    }

    /// The page: `count` in all, `results` from `offset`, and the URLs of
    /// the pages beside it, with the same filters, as DRF builds them.
    pub fn answer(
        &self,
        state: &AppState,
        req: &HttpRequest,
        count: i64,
        results: Vec<Value>,
    ) -> HttpResponse {
        let (limit, offset) = (self.limit, self.offset);
        let next = (offset.saturating_add(limit) < count)
            .then(|| self.url(state, req, limit, Some(offset + limit)));
        let previous = (offset > 0).then(|| {
            let back = offset - limit;
            self.url(state, req, limit, (back > 0).then_some(back))
        });
        HttpResponse::Ok().json(json!({
            "count": count,
            "next": next,
            "previous": previous,
            "results": results,
        }))
    }

    /// This listing at another page: `limit` and `offset` (left out when
    /// `None`) replace the request's.
    fn url(&self, state: &AppState, req: &HttpRequest, limit: i64, offset: Option<i64>) -> String {
        let base = format!("{}{}", super::base_url(state, req), req.path());
        let mut url = form_urlencoded::Serializer::new(String::new());
        for (key, value) in &self.query {
            if key != "limit" && key != "offset" {
                url.append_pair(key, value);
            }
        }
        url.append_pair("limit", &limit.to_string());
        if let Some(offset) = offset {
            url.append_pair("offset", &offset.to_string());
        }
        format!("{base}?{}", url.finish())
    }
}

/// An integer as a query parameter gives it; one beyond the 64-bit range
/// counts as the largest (or smallest) there is, since a page cannot tell
/// them apart.
fn parse_count(text: &str) -> Option<i64> {
    let text = text.trim();
    match text.parse::<i64>() {
        Ok(number) => Some(number),
        Err(error) => match error.kind() {
            std::num::IntErrorKind::PosOverflow => Some(i64::MAX),
            std::num::IntErrorKind::NegOverflow => Some(i64::MIN),
            _ => None,
        },
    }
}
