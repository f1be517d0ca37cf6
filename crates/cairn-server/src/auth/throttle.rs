//! Throttling of failed password logins, per user name and per client address: each has a
//! leaky bucket of [`LOGIN_FAILURE_BURST`] failures that drains one every
//! [`LOGIN_FAILURE_REFILL`]. While either bucket of a request is full, its password is not
//! even checked: the answer is 429 with the wait in `Retry-After`, so guessing runs at ten
//! attempts a minute at most, whatever the number of connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::limits::{LOGIN_FAILURE_BURST, LOGIN_FAILURE_REFILL, MAX_LOGIN_THROTTLE_ENTRIES};

/// Whose failures a bucket counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    User(String),
    Client(IpAddr),
}

/// Failures not yet drained, as of `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn level(&self, now: Instant) -> f64 {
        let drained = now.saturating_duration_since(self.at).as_secs_f64()
            / LOGIN_FAILURE_REFILL.as_secs_f64();
        (self.level - drained).max(0.0)
    }
}

/// The failure buckets of user names and client addresses.
#[derive(Default)]
pub struct LoginThrottle {
    buckets: Mutex<HashMap<Subject, Bucket>>,
}

fn subjects(user: &str, client: Option<IpAddr>) -> impl Iterator<Item = Subject> {
    std::iter::once(Subject::User(user.to_string()))
        .chain(client.map(|address| Subject::Client(network_of(address))))
}

/// The address a client is counted under: an IPv4 address itself (IPv4-mapped IPv6 ones
/// included), an IPv6 address by its /64, since one host commonly holds a whole /64 and could
/// otherwise change address for every guess.
fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

impl LoginThrottle {
    /// `Err(wait)` while the user name or the client address has no attempt left.
    pub fn check(&self, user: &str, client: Option<IpAddr>) -> Result<(), Duration> {
        self.check_at(user, client, Instant::now())
    }

    fn check_at(&self, user: &str, client: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let buckets = self.buckets.lock();
        let burst = f64::from(LOGIN_FAILURE_BURST);
        let mut wait = Duration::ZERO;
        for subject in subjects(user, client) {
            if let Some(bucket) = buckets.get(&subject) {
                let over = bucket.level(now) + 1.0 - burst;
                if over > 0.0 {
                    wait = wait.max(LOGIN_FAILURE_REFILL.mul_f64(over));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait)
        }
    }

    /// Counts a wrong password against the user name and the client address.
    pub fn record_failure(&self, user: &str, client: Option<IpAddr>) {
        self.record_failure_at(user, client, Instant::now());
    }

    fn record_failure_at(&self, user: &str, client: Option<IpAddr>, now: Instant) {
        let mut buckets = self.buckets.lock();
        for subject in subjects(user, client) {
            if let Some(bucket) = buckets.get_mut(&subject) {
                *bucket = Bucket {
                    level: bucket.level(now) + 1.0,
                    at: now,
                };
                continue;
            }
            if buckets.len() >= MAX_LOGIN_THROTTLE_ENTRIES {
                buckets.retain(|_, bucket| bucket.level(now) > 0.0);
            }
            // Still full: every entry is a live flood; the other subject of the request (its
            // user name, or its address) still counts.
            if buckets.len() < MAX_LOGIN_THROTTLE_ENTRIES {
                buckets.insert(
                    subject,
                    Bucket {
                        level: 1.0,
                        at: now,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_failures_throttles_the_user_and_the_address_until_they_drain() {
        let throttle = LoginThrottle::default();
        let here: IpAddr = [127, 0, 0, 1].into();
        let elsewhere: IpAddr = [10, 0, 0, 1].into();
        let start = Instant::now();
        for _ in 0..LOGIN_FAILURE_BURST {
            assert!(throttle.check_at("alice", Some(here), start).is_ok());
            throttle.record_failure_at("alice", Some(here), start);
        }
        let wait = throttle.check_at("alice", Some(here), start).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= LOGIN_FAILURE_REFILL);
        // The user name is throttled from any address, the address for any user name.
        assert!(throttle.check_at("alice", Some(elsewhere), start).is_err());
        assert!(throttle.check_at("bob", Some(here), start).is_err());
        assert!(throttle.check_at("bob", Some(elsewhere), start).is_ok());
        // One refill later, one more attempt.
        let later = start + LOGIN_FAILURE_REFILL;
        assert!(throttle.check_at("alice", Some(here), later).is_ok());
        throttle.record_failure_at("alice", Some(here), later);
        assert!(throttle.check_at("alice", None, later).is_err());
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network_of(a), network_of(b));
        assert_ne!(network_of(a), network_of(other));
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(network_of(mapped), IpAddr::from([127, 0, 0, 1]));
    }
}
