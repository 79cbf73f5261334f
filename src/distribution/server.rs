//! One server of a list: host, port and weight, and the `host:port[:weight]` text that names
//! it in a configuration file.

use std::fmt;
use std::str::FromStr;

use super::ServerParseError;

/// One server of a list: the host and port exactly as the other client was given them (ketama
/// hashes them as text), and its weight.
///
/// libmemcached stores a weight of 0 as 1; so does [`Ketama`](super::Ketama). The host is used
/// as written: `10.0.0.1`, `cache-1` and `cache-1.example.com` are three different servers to
/// the continuum even if they resolve alike. (libmemcached's `memcached_server_add_with_weight`
/// turns port 0 into 11211 and an empty host into `localhost` before hashing: pass those.)
///
/// ```
/// use memcache_sync::distribution::Server;
///
/// let a = Server::new("10.0.0.1", 11211);
/// assert_eq!(a.weight, 1);
/// let b = Server::new("10.0.0.2", 11212).with_weight(3);
/// assert_eq!((b.host.as_str(), b.port, b.weight), ("10.0.0.2", 11212, 3));
/// ```
///
/// # From text
/// A server parses from `host:port` or `host:port:weight`, the form server lists take in
/// configuration files; an IPv6 address goes in brackets, `[::1]:11211:2`, and its host is
/// the address without them, as libmemcached is given it. The port is required (1 to 65535)
/// and the weight, when written, is a whole number. [`Display`](fmt::Display) writes the same
/// form back, leaving out a weight of 1.
///
/// ```
/// use memcache_sync::distribution::{Server, ServerParseError};
///
/// let server: Server = "cache-1:11211:2".parse()?;
/// assert_eq!(server, Server::new("cache-1", 11211).with_weight(2));
/// let v6: Server = "[::1]:11211".parse()?;
/// assert_eq!((v6.host.as_str(), v6.addr()), ("::1", "[::1]:11211".to_owned()));
/// assert_eq!(server.to_string(), "cache-1:11211:2");
///
/// assert!(matches!("cache-1".parse::<Server>(), Err(ServerParseError::MissingPort { .. })));
/// # Ok::<(), ServerParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Server {
    /// Host name or address, as text; an IPv6 address without brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Relative weight; 1 unless set.
    pub weight: u32,
}

impl Server {
    /// A server of weight 1.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            weight: 1,
        }
    }

    /// The same server with weight `weight`.
    #[must_use]
    pub fn with_weight(self, weight: u32) -> Self {
        Self { weight, ..self }
    }

    /// The address to connect to: `host:port`, with an IPv6 host in brackets.
    #[must_use]
    pub fn addr(&self) -> String {
        HostPort(self).to_string()
    }

    /// libmemcached keeps a weight of 0 as 1 (`__instance_create_with`).
    pub(super) fn effective_weight(&self) -> u32 {
        self.weight.max(1)
    }
}

/// A server's `host:port`, the host bracketed if it is an IPv6 address (it holds a colon), so
/// that the port stays readable.
struct HostPort<'a>(&'a Server);

impl fmt::Display for HostPort<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Server { host, port, .. } = self.0;
        if host.contains(':') {
            write!(f, "[{host}]:{port}")
        } else {
            write!(f, "{host}:{port}")
        }
    }
}

/// `host:port`, or `host:port:weight` when the weight is not 1: the text [`FromStr`] reads.
impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        HostPort(self).fmt(f)?;
        if self.weight != 1 {
            write!(f, ":{}", self.weight)?;
        }
        Ok(())
    }
}

impl FromStr for Server {
    type Err = ServerParseError;

    /// Reads `host:port` or `host:port:weight`, an IPv6 host in brackets.
    fn from_str(input: &str) -> Result<Self, ServerParseError> {
        let owned = || input.to_owned();
        if input.trim().is_empty() {
            return Err(ServerParseError::Empty);
        }
        let (host, rest) = match input.strip_prefix('[') {
            Some(bracketed) => {
                let (host, rest) = bracketed
                    .split_once(']')
                    .filter(|(host, rest)| {
                        !host.is_empty() && (rest.is_empty() || rest.starts_with(':'))
                    })
                    .ok_or_else(|| ServerParseError::Brackets { input: owned() })?;
                (host, rest)
            }
            // Unbracketed, a colon beyond the weight's can only be an IPv6 address's.
            None if input.matches(':').count() > 2 => {
                return Err(ServerParseError::TooManyParts { input: owned() })
            }
            None => input.split_at(input.find(':').unwrap_or(input.len())),
        };
        if host.is_empty() {
            return Err(ServerParseError::MissingHost { input: owned() });
        }
        if host.contains(|c: char| c.is_whitespace() || "[],".contains(c)) {
            return Err(ServerParseError::InvalidHost { input: owned() });
        }
        let mut fields = rest.strip_prefix(':').unwrap_or(rest).split(':');
        let port = fields.next().filter(|port| !port.is_empty());
        let weight = fields.next();
        if fields.next().is_some() {
            return Err(ServerParseError::TooManyParts { input: owned() });
        }
        let port = port
            .ok_or_else(|| ServerParseError::MissingPort { input: owned() })?
            .parse()
            .ok()
            .filter(|&port| port != 0)
            .ok_or_else(|| ServerParseError::InvalidPort { input: owned() })?;
        let weight = match weight {
            None => 1,
            Some(weight) => weight
                .parse()
                .map_err(|_| ServerParseError::InvalidWeight { input: owned() })?,
        };
        Ok(Self::new(host, port).with_weight(weight))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> Result<Server, ServerParseError> {
        input.parse()
    }

    #[test]
    fn host_port_and_weight_parse_and_print_back() {
        let cases = [
            (
                "cache-1:11211",
                Server::new("cache-1", 11211),
                "cache-1:11211",
            ),
            (
                "10.0.0.1:11212:3",
                Server::new("10.0.0.1", 11212).with_weight(3),
                "10.0.0.1:11212:3",
            ),
            ("h:1:1", Server::new("h", 1), "h:1"),
            (
                "h:65535:0",
                Server::new("h", 65535).with_weight(0),
                "h:65535:0",
            ),
            ("[::1]:11211", Server::new("::1", 11211), "[::1]:11211"),
            (
                "[fe80::1]:11211:2",
                Server::new("fe80::1", 11211).with_weight(2),
                "[fe80::1]:11211:2",
            ),
        ];
        for (input, server, printed) in cases {
            assert_eq!(parsed(input).as_ref(), Ok(&server), "{input}");
            assert_eq!(server.to_string(), printed);
            assert_eq!(parsed(printed).as_ref(), Ok(&server), "{printed}");
        }
    }

    #[test]
    fn the_address_to_connect_to_leaves_the_weight_out_and_brackets_ipv6() {
        assert_eq!(Server::new("h", 1).with_weight(5).addr(), "h:1");
        assert_eq!(
            Server::new("::1", 11211).with_weight(5).addr(),
            "[::1]:11211"
        );
    }

    #[test]
    fn each_malformed_server_is_its_own_error() {
        let owned = |s: &str| s.to_owned();
        let cases = [
            ("", ServerParseError::Empty),
            ("  ", ServerParseError::Empty),
            (
                "cache",
                ServerParseError::MissingPort {
                    input: owned("cache"),
                },
            ),
            (
                "cache:",
                ServerParseError::MissingPort {
                    input: owned("cache:"),
                },
            ),
            (
                "[::1]",
                ServerParseError::MissingPort {
                    input: owned("[::1]"),
                },
            ),
            (
                ":11211",
                ServerParseError::MissingHost {
                    input: owned(":11211"),
                },
            ),
            (
                "h:port",
                ServerParseError::InvalidPort {
                    input: owned("h:port"),
                },
            ),
            (
                "h:0",
                ServerParseError::InvalidPort {
                    input: owned("h:0"),
                },
            ),
            (
                "h:65536",
                ServerParseError::InvalidPort {
                    input: owned("h:65536"),
                },
            ),
            (
                "h:1:",
                ServerParseError::InvalidWeight {
                    input: owned("h:1:"),
                },
            ),
            (
                "h:1:-2",
                ServerParseError::InvalidWeight {
                    input: owned("h:1:-2"),
                },
            ),
            (
                "h:1:2.5",
                ServerParseError::InvalidWeight {
                    input: owned("h:1:2.5"),
                },
            ),
            (
                "::1:11211",
                ServerParseError::TooManyParts {
                    input: owned("::1:11211"),
                },
            ),
            (
                "[::1]:1:2:3",
                ServerParseError::TooManyParts {
                    input: owned("[::1]:1:2:3"),
                },
            ),
            (
                "[::1",
                ServerParseError::Brackets {
                    input: owned("[::1"),
                },
            ),
            (
                "[]:1",
                ServerParseError::Brackets {
                    input: owned("[]:1"),
                },
            ),
            (
                "[::1]11211",
                ServerParseError::Brackets {
                    input: owned("[::1]11211"),
                },
            ),
            (
                "a b:1",
                ServerParseError::InvalidHost {
                    input: owned("a b:1"),
                },
            ),
            (
                " a:1",
                ServerParseError::InvalidHost {
                    input: owned(" a:1"),
                },
            ),
            (
                "a,b:1",
                ServerParseError::InvalidHost {
                    input: owned("a,b:1"),
                },
            ),
        ];
        for (input, error) in cases {
            assert_eq!(parsed(input), Err(error), "{input:?}");
        }
    }
}
