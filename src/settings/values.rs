//! How values read from a file or the environment become typed settings,
//! once, at load: a list setting takes a TOML array from a file, a JSON
//! array from an environment variable, and plain strings also
//! comma-separated text; algorithms, networks, the forwarding header and the
//! database URL are parsed into their types here.

use ipnet::IpNet;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::db::DatabaseUrl;
use crate::throttle::client_ip::ForwardingHeader;
use crate::tokens::algorithms::{ALGORITHM_NAMES, is_hmac, parse_algorithm};
use crate::users::ProfileClaim;

/// A list of tables, from a config file as a TOML array, or from an
/// environment variable (which cannot hold one) as a JSON array string.
pub fn list_or_json<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrJson<T> {
        List(Vec<T>),
        Json(String),
    }
    match ListOrJson::<T>::deserialize(deserializer)? {
        ListOrJson::List(list) => Ok(list),
        ListOrJson::Json(text) if text.trim().is_empty() => Ok(Vec::new()),
        ListOrJson::Json(text) => serde_json::from_str(&text).map_err(|error| {
            serde::de::Error::custom(format!("expected a JSON array of tables: {error}"))
        }),
    }
}

/// A list of strings: a TOML array from a file, or from an environment
/// variable a JSON array (`["Bearer","JWT"]`) or comma-separated text
/// (`Bearer,JWT`).
pub fn strings_or_json<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StringsOrText {
        List(Vec<String>),
        Text(String),
        // The environment source reads `1` or `true` as a number or a flag.
        Number(f64),
        Flag(bool),
    }
    match StringsOrText::deserialize(deserializer)? {
        StringsOrText::List(list) => Ok(list),
        StringsOrText::Number(number) => Ok(vec![number.to_string()]),
        StringsOrText::Flag(flag) => Ok(vec![flag.to_string()]),
        StringsOrText::Text(text) if text.trim_start().starts_with('[') => {
            serde_json::from_str(&text).map_err(|error| {
                serde::de::Error::custom(format!("expected a JSON array of strings: {error}"))
            })
        }
        StringsOrText::Text(text) => Ok(text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()),
    }
}

/// An algorithm by its JOSE name, exactly.
pub fn algorithm<'de, D>(deserializer: D) -> Result<Algorithm, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let name = String::deserialize(deserializer)?;
    parse_algorithm(&name).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "algorithm {name:?} is not one of {}",
            ALGORITHM_NAMES.join(", ")
        ))
    })
}

/// `jwt.algorithm`: the algorithm of the shared secret, an HMAC one.
pub fn hmac_algorithm<'de, D>(deserializer: D) -> Result<Algorithm, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let name = String::deserialize(deserializer)?;
    parse_algorithm(&name)
        .filter(|algorithm| is_hmac(*algorithm))
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "jwt.algorithm is {name:?}; the shared secret in jwt.signing_key is for HS256, HS384 or HS512 (asymmetric keys go in jwt.keys)"
            ))
        })
}

/// `jwt.user_claims`: profile claim names, in a list as [`strings_or_json`]
/// reads one.
pub fn profile_claims<'de, D>(deserializer: D) -> Result<Vec<ProfileClaim>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    strings_or_json(deserializer)?
        .iter()
        .map(|name| {
            ProfileClaim::parse(name.trim()).ok_or_else(|| {
                let known: Vec<&str> = ProfileClaim::ALL.iter().map(|claim| claim.name()).collect();
                serde::de::Error::custom(format!(
                    "jwt.user_claims: {name:?} is not one of {}",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// Networks as CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses, in a
/// list as [`strings_or_json`] reads one.
pub fn networks<'de, D>(deserializer: D) -> Result<Vec<IpNet>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    strings_or_json(deserializer)?
        .iter()
        .map(|network| {
            let network = network.trim();
            network
                .parse::<IpNet>()
                .or_else(|_| network.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "throttle.trusted_proxies: {network:?} is not a CIDR network or an IP address"
                    ))
                })
        })
        .collect()
}

/// A database URL, its backend chosen by its scheme; empty for none.
pub fn database_url<'de, D>(deserializer: D) -> Result<Option<DatabaseUrl>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let url = String::deserialize(deserializer)?;
    if url.trim().is_empty() {
        return Ok(None);
    }
    DatabaseUrl::parse(&url)
        .map(Some)
        .map_err(|error| serde::de::Error::custom(format!("database.url: {error}")))
}

/// `X-Forwarded-For` or `Forwarded`, in any case.
pub fn forwarding_header<'de, D>(deserializer: D) -> Result<ForwardingHeader, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let name = String::deserialize(deserializer)?;
    match name.to_ascii_lowercase().as_str() {
        "x-forwarded-for" => Ok(ForwardingHeader::XForwardedFor),
        "forwarded" => Ok(ForwardingHeader::Forwarded),
        _ => Err(serde::de::Error::custom(format!(
            "throttle.forwarding_header: {name:?} is not a forwarding header latchkey reads; use \"X-Forwarded-For\" or \"Forwarded\""
        ))),
    }
}
