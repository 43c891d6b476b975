//! How many connections one client address may hold open at once. A client
//! that opens connections and trickles bytes into them holds a socket (and a
//! file descriptor) each; past `server.max_connections_per_address` its new
//! connections are answered 429 and closed, so one address cannot exhaust
//! what every other client needs. Trusted proxies are not capped: behind them
//! every client shares the proxy's address. The total is actix's
//! `max_connections`; slow bodies are cut off by the routes' body read
//! deadline (`server.body_timeout_ms`).

use std::any::Any;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;

use super::client_ip::{TrustedProxies, rate_key};

/// Open connections per client address (IPv6 by /64, as the rate limits).
pub struct ConnectionCounter {
    open: Mutex<HashMap<IpAddr, usize>>,
    per_address: usize,
    proxies: Arc<TrustedProxies>,
}

/// Held in a connection's data for as long as the connection is open.
pub struct ConnectionSlot {
    counter: Arc<ConnectionCounter>,
    key: IpAddr,
}

/// Marks a connection opened over its address's cap: its requests get 429.
#[derive(Clone, Copy, Debug)]
pub struct OverConnectionCap;

impl ConnectionCounter {
    /// `per_address = 0` turns the cap off.
    pub fn new(per_address: usize, proxies: Arc<TrustedProxies>) -> Arc<Self> {
        Arc::new(Self {
            open: Mutex::new(HashMap::new()),
            per_address,
            proxies,
        })
    }

    /// For `HttpServer::on_connect`: counts the new connection against its
    /// peer's address, or marks it as over the cap.
    pub fn on_connect(self: &Arc<Self>, connection: &dyn Any, data: &mut Extensions) {
        if self.per_address == 0 {
            return;
        }
        let Some(peer) = connection
            .downcast_ref::<TcpStream>()
            .and_then(|stream| stream.peer_addr().ok())
            .map(|peer| peer.ip().to_canonical())
        else {
            return;
        };
        if self.proxies.trusts(peer) {
            return;
        }
        match self.acquire(rate_key(peer)) {
            Some(slot) => {
                data.insert(slot);
            }
            None => {
                data.insert(OverConnectionCap);
            }
        }
    }

    fn acquire(self: &Arc<Self>, key: IpAddr) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_default();
        if *count >= self.per_address {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            counter: self.clone(),
            key,
        })
    }

    /// Open connections counted for `client`'s address.
    pub fn open_from(&self, client: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&rate_key(client)).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.counter.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_address_and_given_back_on_close() {
        let counter = ConnectionCounter::new(2, Arc::new(TrustedProxies::none()));
        let client = IpAddr::from([203, 0, 113, 7]);
        let first = counter.acquire(client).expect("one");
        let second = counter.acquire(client).expect("two");
        assert!(counter.acquire(client).is_none(), "the cap is two");
        assert!(counter.acquire(IpAddr::from([203, 0, 113, 8])).is_some());
        drop(first);
        let third = counter
            .acquire(client)
            .expect("a closed connection frees its slot");
        drop((second, third));
        assert_eq!(counter.open_from(client), 0);
        assert!(
            counter.open.lock().expect("lock").is_empty(),
            "no empty entries kept"
        );
    }
}
