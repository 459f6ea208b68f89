//! Where students can reach a server: a listener on `0.0.0.0` is reachable at every address
//! of this machine's network interfaces, and those (not `0.0.0.0`) are what to tell a class.

use std::net::{IpAddr, SocketAddr};

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;

/// The addresses a server bound to `listen` can be reached at from other machines: the
/// address itself when it is a specific one, else every non-loopback address of an interface
/// that is up (IPv4 for `0.0.0.0`; IPv6 and IPv4 for `[::]`, which Linux serves dual-stack).
/// Link-local IPv6 addresses are left out: they need a zone a student would have to type.
pub fn reachable_at(listen: SocketAddr) -> Vec<SocketAddr> {
    if !listen.ip().is_unspecified() {
        return vec![listen];
    }
    // Without the list (a sandbox that hides interfaces), say nothing rather than guess.
    let Ok(interfaces) = getifaddrs() else {
        return Vec::new();
    };
    let mut found: Vec<SocketAddr> = interfaces
        .filter(|interface| interface.flags.contains(InterfaceFlags::IFF_UP))
        .filter_map(|interface| interface.address)
        .filter_map(|address| {
            let ip = match (address.as_sockaddr_in(), address.as_sockaddr_in6()) {
                (Some(v4), _) => IpAddr::V4(v4.ip()),
                (_, Some(v6)) => IpAddr::V6(v6.ip()),
                _ => return None,
            };
            Some(SocketAddr::new(ip, listen.port()))
        })
        .filter(|addr| {
            let ip = addr.ip();
            let family_served = listen.is_ipv6() || ip.is_ipv4();
            let link_local = matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local());
            family_served && !ip.is_loopback() && !link_local
        })
        .collect();
    // IPv4 first: it is what most classrooms type.
    found.sort_by_key(|addr| (addr.is_ipv6(), *addr));
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_address_is_where_it_is_reached() {
        let addr: SocketAddr = "192.0.2.10:12345".parse().unwrap();
        assert_eq!(reachable_at(addr), [addr]);
    }

    #[test]
    fn the_any_address_lists_real_interfaces_never_loopback_or_any() {
        for listen in ["0.0.0.0:7", "[::]:7"] {
            let listen: SocketAddr = listen.parse().unwrap();
            for addr in reachable_at(listen) {
                assert_eq!(addr.port(), 7);
                assert!(
                    !addr.ip().is_loopback() && !addr.ip().is_unspecified(),
                    "{addr}"
                );
                if listen.is_ipv4() {
                    assert!(addr.is_ipv4(), "{addr}");
                }
            }
        }
    }
}
