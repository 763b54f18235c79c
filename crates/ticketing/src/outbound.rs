//! Requests to addresses that users chose: organizers' webhook endpoints and
//! buyers' push subscriptions.
//!
//! Whoever picks the address could otherwise make the server call into its
//! own network (a database's HTTP port, a cloud metadata service, an admin
//! page on localhost) and, for webhooks, read the answer back in the
//! delivery log. So, unless the operator allows private targets (a closed
//! network, tests), such requests go only to public addresses: an address
//! written in the URL is checked when it is saved and again when it is
//! used, and a name is checked after it is resolved, on every connection,
//! so a name that changes its answer later gains nothing. Redirects are
//! never followed by these clients.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether user-chosen addresses may be private.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutboundPolicy {
    /// Only public addresses: the default.
    #[default]
    PublicOnly,
    /// Any address, loopback and private networks included.
    AllowPrivate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a public address; this server sends such requests only to the public internet")]
pub struct NotPublic(pub String);

/// Whether `ip` is reachable on the public internet: not loopback, private,
/// link-local, shared (carrier-grade NAT), unspecified, multicast,
/// broadcast, documentation or otherwise reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // 100.64.0.0/10, shared address space (carrier-grade NAT)
        || (a == 100 && (b & 0xc0) == 64)
        // 192.0.0.0/24, protocol assignments
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15, benchmarking
        || (a == 198 && (b & 0xfe) == 18)
        // 240.0.0.0/4, reserved
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    let first = seg[0];
    // Addresses that carry an IPv4 address reach it: they are as public
    // as the address they carry. 64:ff9b::/96 is NAT64's well-known
    // prefix (`[64:ff9b::a9fe:a9fe]` is 169.254.169.254), 2002::/16 is 6to4.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if first == 0x0064 && seg[1] == 0xff9b && seg[2..6] == [0; 4] {
        return is_public_v4(embedded(seg[6], seg[7]));
    }
    if first == 0x2002 {
        return is_public_v4(embedded(seg[1], seg[2]));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // fc00::/7, unique local
        || (first & 0xfe00) == 0xfc00
        // fe80::/10, link-local; fec0::/10, site-local (deprecated, still routed inside some networks)
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // 2001::/32, Teredo: the IPv4 address inside is obfuscated, so it cannot be judged
        || (first == 0x2001 && seg[1] == 0)
        // 100::/64, discard-only
        || (first == 0x0100 && seg[1..4] == [0; 3])
        // 2001:db8::/32, documentation
        || (first == 0x2001 && seg[1] == 0x0db8)
        // 64:ff9b:1::/48, local-use NAT64; ::/96 IPv4-compatible (deprecated)
        || (first == 0x0064 && seg[1] == 0xff9b && seg[2] == 1)
        || seg[..6] == [0; 6])
}

/// Checks the host written in `url` under `policy`: an address must be
/// public, and `localhost` is refused outright. Names are checked later,
/// when they are resolved ([`PublicResolver`]).
pub fn check_url(url: &reqwest::Url, policy: OutboundPolicy) -> Result<(), NotPublic> {
    if policy == OutboundPolicy::AllowPrivate {
        return Ok(());
    }
    let Some(host) = url.host_str() else { return Ok(()) };
    // The URL parser has already normalised addresses (`0x7f000001` is
    // `127.0.0.1` here); IPv6 ones come in brackets.
    let refused = match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) => !is_public(ip),
        Err(_) => is_localhost(host),
    };
    if refused { Err(NotPublic(host.to_owned())) } else { Ok(()) }
}

fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Resolves names with the system resolver and keeps only public addresses;
/// a name with none left fails to resolve.
#[derive(Clone, Copy, Debug, Default)]
pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(NotPublic(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A client builder for user-chosen addresses under `policy`: no redirects,
/// and under [`OutboundPolicy::PublicOnly`] names resolve to public
/// addresses only.
pub(crate) fn client_builder(policy: OutboundPolicy) -> reqwest::ClientBuilder {
    crate::install_crypto_provider();
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    match policy {
        OutboundPolicy::PublicOnly => builder.dns_resolver(PublicResolver),
        OutboundPolicy::AllowPrivate => builder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn private_and_reserved_addresses_are_not_public() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            // IPv4 inside IPv6: NAT64 and 6to4 carrying private addresses, Teredo, site-local.
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "fec0::1",
            "100::1",
        ] {
            assert!(!public(s), "{s} must not count as public");
        }
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(public(s), "{s} is public");
        }
    }

    #[test]
    fn urls_naming_a_private_address_or_localhost_are_refused_unless_allowed() {
        for raw in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "https://169.254.169.254/latest/meta-data",
            "http://localhost:9000/",
            "http://LOCALHOST./",
            "http://admin.localhost/",
            "http://0x7f000001/",
        ] {
            let url = reqwest::Url::parse(raw).unwrap();
            assert!(check_url(&url, OutboundPolicy::PublicOnly).is_err(), "{raw} must be refused");
            assert!(check_url(&url, OutboundPolicy::AllowPrivate).is_ok());
        }
        let url = reqwest::Url::parse("https://hooks.example.com/rt").unwrap();
        assert!(check_url(&url, OutboundPolicy::PublicOnly).is_ok());
    }

    #[tokio::test]
    async fn names_that_resolve_only_to_private_addresses_do_not_resolve() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(PublicResolver.resolve(name).await.is_err());
    }
}
