//! Which address a request comes from. The socket peer, unless the peer is a
//! configured trusted proxy: then the right-most address in the forwarding
//! header that is not itself a trusted proxy. Every address to the left of
//! that one was written by the client and could be anything, which is why
//! actix's `realip_remote_addr()` (the left-most entry, from anyone) is not
//! used. With no trusted proxies, forwarding headers are ignored.

use std::net::{IpAddr, Ipv6Addr};

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The forwarding header the trusted proxies write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardingHeader {
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=...`.
    Forwarded,
}

/// The client's address, resolved once per request by the outermost
/// middleware and kept in the request's extensions, where the request span,
/// the routes and the limits read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvedClient(pub IpAddr);

impl ResolvedClient {
    /// The address kept for `request`, or resolved now (a request the
    /// middleware did not see: tests, another app).
    pub fn of(request: &actix_web::HttpRequest, proxies: &TrustedProxies) -> IpAddr {
        if let Some(resolved) = actix_web::HttpMessage::extensions(request).get::<ResolvedClient>()
        {
            return resolved.0;
        }
        let peer = request
            .peer_addr()
            .map_or(IpAddr::from([0, 0, 0, 0]), |peer| peer.ip());
        proxies.client_ip(peer, request.headers())
    }
}

#[derive(Clone, Debug)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardingHeader,
}

impl TrustedProxies {
    /// The proxies in `networks`, which write `header`.
    pub fn new(networks: Vec<IpNet>, header: ForwardingHeader) -> Self {
        Self { networks, header }
    }

    pub fn none() -> Self {
        Self {
            networks: Vec::new(),
            header: ForwardingHeader::XForwardedFor,
        }
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|network| network.contains(&ip))
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let chain = match self.header {
            ForwardingHeader::XForwardedFor => x_forwarded_for(headers),
            ForwardingHeader::Forwarded => forwarded_for(headers),
        };
        // Walk from the nearest hop outwards; each trusted hop vouches for
        // the entry to its left.
        let mut nearest_trusted = peer;
        for entry in chain.iter().rev() {
            match entry {
                Some(ip) if self.trusts(*ip) => nearest_trusted = *ip,
                Some(ip) => return *ip,
                // A hop a trusted proxy could not name: the proxy is the best we know.
                None => return nearest_trusted,
            }
        }
        nearest_trusted
    }
}

/// The scheme and host a request was addressed to, for URLs written back
/// to the caller: what a trusted proxy says it received (`X-Forwarded-Proto`
/// and `X-Forwarded-Host`, or `Forwarded`'s `proto=` and `host=`, its own
/// right-most entry), else the request's `Host`. A host that is not a plain
/// `name[:port]` is not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: Option<String>,
}

impl TrustedProxies {
    /// Forwarding headers count only from a trusted proxy, as for the client
    /// address: anyone else's say nothing.
    pub fn origin(&self, peer: IpAddr, headers: &HeaderMap) -> Origin {
        let direct = Origin {
            scheme: "http".to_owned(),
            host: header_text(headers, "host").and_then(plain_host),
        };
        if !self.trusts(peer.to_canonical()) {
            return direct;
        }
        let (scheme, host) = match self.header {
            ForwardingHeader::XForwardedFor => (
                last_entry(headers, "x-forwarded-proto"),
                last_entry(headers, "x-forwarded-host"),
            ),
            ForwardingHeader::Forwarded => {
                let last = header_text(headers, "forwarded")
                    .and_then(|value| value.rsplit(',').next().map(str::to_owned));
                let parameter = |name: &str| {
                    last.as_deref().and_then(|element| {
                        element
                            .split(';')
                            .filter_map(|pair| pair.split_once('='))
                            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
                            .map(|(_, value)| value.trim().trim_matches('"').to_owned())
                    })
                };
                (parameter("proto"), parameter("host"))
            }
        };
        Origin {
            scheme: scheme
                .map(|s| s.to_ascii_lowercase())
                .filter(|s| s == "http" || s == "https")
                .unwrap_or(direct.scheme),
            host: host.and_then(plain_host).or(direct.host),
        }
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .filter_map(|value| value.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

fn last_entry(headers: &HeaderMap, name: &str) -> Option<String> {
    header_text(headers, name).and_then(|value| {
        value
            .rsplit(',')
            .next()
            .map(|entry| entry.trim().to_owned())
    })
}

/// `name[:port]` or `[v6][:port]`: letters, digits, dots, hyphens, colons
/// and brackets, nothing that could end a URL's authority or start its path.
fn plain_host(host: String) -> Option<String> {
    let host = host.trim();
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    plain.then(|| host.to_owned())
}

/// `X-Forwarded-For` entries, left to right, over every header line.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|entry| parse_node(entry.trim()))
        .collect()
}

/// RFC 7239 `Forwarded` `for=` parameters, left to right.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("forwarded")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, node)| parse_node(node.trim().trim_matches('"')))
        })
        .collect()
}

/// An address as proxies write one: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`
/// or `[2001:db8::1]:5678`. `unknown` and obfuscated names are `None`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (address, _) = rest.split_once(']')?;
        return address
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| IpAddr::V6(ip).to_canonical());
    }
    let (address, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// The key rate limits count under: an IPv4 address, or an IPv6 address's
/// /64 (one subscriber's allocation; per-address keys would give an IPv6
/// client 2^64 fresh budgets).
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn net(text: &str) -> IpNet {
        text.parse().expect("a network")
    }

    #[test]
    fn without_trusted_proxies_headers_are_ignored() {
        let proxies = TrustedProxies::none();
        let forged = headers(&[("x-forwarded-for", "1.1.1.1"), ("forwarded", "for=2.2.2.2")]);
        assert_eq!(proxies.client_ip(ip("9.9.9.9"), &forged), ip("9.9.9.9"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::new(
            vec![net("10.0.0.0/8"), net("192.168.1.1/32")],
            ForwardingHeader::XForwardedFor,
        );
        let cases = [
            // The client forged "6.6.6.6"; our proxy appended the real peer.
            ("6.6.6.6, 203.0.113.7", "203.0.113.7"),
            ("6.6.6.6, 203.0.113.7, 10.1.2.3", "203.0.113.7"),
            ("203.0.113.7:4711", "203.0.113.7"),
            ("[2001:db8::7]:443, 10.0.0.2", "2001:db8::7"),
            ("::ffff:203.0.113.9", "203.0.113.9"),
            ("10.0.0.9, 192.168.1.1", "10.0.0.9"),
            ("garbage, 10.0.0.9", "10.0.0.9"),
            ("", "10.0.0.1"),
        ];
        for (header, expected) in cases {
            let got = proxies.client_ip(ip("10.0.0.1"), &headers(&[("x-forwarded-for", header)]));
            assert_eq!(got, ip(expected), "{header}");
        }
        // A peer that is not a trusted proxy is the client, whatever it says.
        let got = proxies.client_ip(
            ip("203.0.113.50"),
            &headers(&[("x-forwarded-for", "1.1.1.1")]),
        );
        assert_eq!(got, ip("203.0.113.50"));
        // Several header lines are one list.
        let got = proxies.client_ip(
            ip("10.0.0.1"),
            &headers(&[
                ("x-forwarded-for", "6.6.6.6"),
                ("x-forwarded-for", "198.51.100.1"),
            ]),
        );
        assert_eq!(got, ip("198.51.100.1"));
    }

    #[test]
    fn rfc_7239_forwarded() {
        let proxies = TrustedProxies::new(vec![net("10.0.0.0/8")], ForwardingHeader::Forwarded);
        let got = proxies.client_ip(
            ip("10.0.0.1"),
            &headers(&[(
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.5"#,
            )]),
        );
        assert_eq!(got, ip("2001:db8:cafe::17"));
        let ignored = proxies.client_ip(
            ip("10.0.0.1"),
            &headers(&[("x-forwarded-for", "198.51.100.1")]),
        );
        assert_eq!(ignored, ip("10.0.0.1"), "only the configured header counts");
    }

    #[test]
    fn finding_3_forwarded_hosts_count_only_from_trusted_proxies() {
        let forged = headers(&[
            ("host", "auth.internal:8000"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
            ("forwarded", "host=evil.example;proto=https"),
        ]);
        let direct = Origin {
            scheme: "http".to_owned(),
            host: Some("auth.internal:8000".to_owned()),
        };
        assert_eq!(
            TrustedProxies::none().origin(ip("9.9.9.9"), &forged),
            direct
        );
        let proxies = TrustedProxies::new(vec![net("10.0.0.0/8")], ForwardingHeader::XForwardedFor);
        assert_eq!(
            proxies.origin(ip("9.9.9.9"), &forged),
            direct,
            "untrusted peer"
        );
        let proxied = headers(&[
            ("host", "10.0.0.7:8000"),
            ("x-forwarded-host", "evil.example, auth.example.com"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(
            proxies.origin(ip("10.0.0.1"), &proxied),
            Origin {
                scheme: "https".to_owned(),
                host: Some("auth.example.com".to_owned())
            }
        );
        let rfc = TrustedProxies::new(vec![net("10.0.0.0/8")], ForwardingHeader::Forwarded);
        let proxied = headers(&[(
            "forwarded",
            r#"host=evil.example, for=1.2.3.4;host="auth.example.com";proto=https"#,
        )]);
        assert_eq!(
            rfc.origin(ip("10.0.0.1"), &proxied).host.as_deref(),
            Some("auth.example.com")
        );
        // Nothing that could end the authority or start a path is used.
        for host in ["evil.example/x", "a@b", "a b", "evil.example?x", ""] {
            let weird = headers(&[("host", host)]);
            assert_eq!(
                TrustedProxies::none().origin(ip("9.9.9.9"), &weird).host,
                None,
                "{host}"
            );
        }
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(
            rate_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            rate_key(ip("2001:db8:1:2::1")),
            rate_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            rate_key(ip("2001:db8:1:2::1")),
            rate_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(rate_key(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(rate_key(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
    }
}
