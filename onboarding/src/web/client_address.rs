//! Who a request comes from, for limits per client: the connection's peer, or, behind our own
//! proxies (`FORWARDED_FOR_HOPS`), the `X-Forwarded-For` entry the outermost of them wrote.
//! Entries left of it are whatever the client sent, so they are never believed.

use std::{convert::Infallible, net::SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};

use crate::AppState;

/// A client's address as text (an IP address, or `unknown` where none is known).
pub(crate) struct ClientAddress(pub(crate) String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip().to_string());
        let hops = state.accounts.forwarded_for_hops;
        let address = match hops {
            0 => peer,
            hops => forwarded_for(&parts.headers, hops).or(peer),
        };
        Ok(Self(address.unwrap_or_else(|| "unknown".to_owned())))
    }
}

/// The entry `hops` places from the right of every `X-Forwarded-For` line read as one list;
/// `None` when there are fewer (then the nearest proxy is all we know, and the peer is it).
fn forwarded_for(headers: &HeaderMap, hops: usize) -> Option<String> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let entry = entries.len().checked_sub(hops).map(|at| entries[at])?;
    // A proxy of ours writes an address; anything else is not one.
    entry
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", line.parse().unwrap());
        }
        headers
    }

    #[test]
    fn only_the_entry_our_outermost_proxy_wrote_is_believed() {
        // The client claims 10.0.0.1; our one proxy appended the address it saw.
        let sent = headers(&["10.0.0.1, 203.0.113.7"]);
        assert_eq!(forwarded_for(&sent, 1).as_deref(), Some("203.0.113.7"));
        assert_eq!(forwarded_for(&sent, 2).as_deref(), Some("10.0.0.1"));
        // Several lines read as one list, in order.
        let split = headers(&["10.0.0.1", "198.51.100.2", "203.0.113.7"]);
        assert_eq!(forwarded_for(&split, 1).as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn fewer_entries_than_proxies_or_a_non_address_name_nobody() {
        assert_eq!(forwarded_for(&headers(&["203.0.113.7"]), 2), None);
        assert_eq!(forwarded_for(&HeaderMap::new(), 1), None);
        assert_eq!(forwarded_for(&headers(&["evil, not-an-ip"]), 1), None);
    }
}
