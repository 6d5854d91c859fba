//! The `htu` comparison of RFC 9449 §4.3 (item 9): a URL without query and fragment,
//! reduced by RFC 3986 §6.2.2 syntax-based normalization (case of scheme and host,
//! percent-encoding, dot segments) and §6.2.3 scheme-based normalization (default port,
//! empty path), so two spellings of one URL compare equal and nothing else does.

/// A normalized `http(s)` URL without query or fragment, split into origin and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `scheme://host[:port]`, lower case, without a default port.
    pub origin: String,
    /// The path, never empty, percent-encoding normalized, dot segments removed.
    pub path: String,
}

/// Parses and normalizes `url`; `None` when it is not an absolute `http`/`https` URL
/// with a host (userinfo is refused: it has no place in a request's URL).
pub fn parse(url: &str) -> Option<Target> {
    let url = url.split('#').next().unwrap_or_default();
    let url = url.split('?').next().unwrap_or_default();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if authority.contains('@') || authority.contains('%') {
        return None;
    }
    let (host, port) = split_port(authority)?;
    if !host_is_valid(host) {
        return None;
    }
    let host = host.to_ascii_lowercase();
    let origin = match port {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    };
    Some(Target {
        origin,
        path: normalize_path(path)?,
    })
}

/// An origin as `DPOP_ORIGINS` holds it (`https://api.example.com`), normalized; `None`
/// when `url` is not an origin (a path other than `/`, a query, a fragment, userinfo).
pub fn origin(url: &str) -> Option<String> {
    if url.contains(['?', '#']) {
        return None;
    }
    let target = parse(url)?;
    (target.path == "/").then_some(target.origin)
}

/// The target of a request: `https://{host}{path}` (API Gateway endpoints are HTTPS only).
pub fn request_target(host: &str, path: &str) -> Option<Target> {
    if !path.starts_with('/') {
        return None;
    }
    parse(&format!("https://{host}{path}"))
}

/// A registered name (or IPv4 address), or an IPv6 literal in brackets: `:` and brackets
/// appear only in the latter (found by the `dpop_proof` fuzz target: `a:443xample.com:`
/// read as the host `a:443xample.com` with an empty port, whose origin did not parse
/// back).
fn host_is_valid(host: &str) -> bool {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(literal) => {
            !literal.is_empty()
                && literal
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        }
        None => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b))
        }
    }
}

/// `host[:port]`, an IPv6 literal in brackets included; an empty port is no port.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let colon = if authority.starts_with('[') {
        let end = authority.find(']')?;
        match authority.get(end + 1..)? {
            "" => None,
            rest if rest.starts_with(':') => Some(end + 1),
            _ => return None,
        }
    } else {
        authority.rfind(':')
    };
    let Some(colon) = colon else {
        return Some((authority, None));
    };
    let host = authority.get(..colon)?;
    let port = authority.get(colon + 1..)?;
    if port.is_empty() {
        return Some((host, None));
    }
    if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((host, Some(port.parse().ok()?)))
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// Percent-encoding normalized (unreserved characters decoded, hex digits upper case;
/// a `%` not followed by two hex digits fails), dot segments removed, `/` when empty.
fn normalize_path(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = path.get(i + 1..i + 3)?;
            let value = u8::from_str_radix(hex, 16).ok()?;
            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return None;
            }
            if unreserved(value) {
                out.push(char::from(value));
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
        } else {
            let ch = path.get(i..)?.chars().next()?;
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    let path = remove_dot_segments(&out);
    Some(if path.is_empty() {
        "/".to_owned()
    } else {
        path
    })
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if index == last {
                    output.push("");
                }
            }
            ".." => {
                if output.len() > 1 {
                    output.pop();
                }
                if index == last {
                    output.push("");
                }
            }
            other => output.push(other),
        }
    }
    output.join("/")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        parse(a).is_some() && parse(a) == parse(b)
    }

    #[test]
    fn scheme_and_host_case_do_not_matter() {
        assert!(same(
            "HTTPS://API.Example.COM/v1/hello",
            "https://api.example.com/v1/hello"
        ));
    }

    #[test]
    fn the_path_case_does() {
        assert!(!same(
            "https://api.example.com/V1/hello",
            "https://api.example.com/v1/hello"
        ));
    }

    #[test]
    fn a_default_port_is_no_port_and_another_port_is_another_origin() {
        assert!(same("https://a.example:443/x", "https://a.example/x"));
        assert!(same("http://a.example:80/x", "http://a.example/x"));
        assert!(same("https://a.example:/x", "https://a.example/x"));
        assert!(!same("https://a.example:8443/x", "https://a.example/x"));
        assert!(!same("http://a.example/x", "https://a.example/x"));
        assert!(!same("https://a.example:80/x", "https://a.example/x"));
    }

    #[test]
    fn query_and_fragment_are_ignored() {
        assert!(same("https://a.example/x?y=1#z", "https://a.example/x"));
        assert!(same("https://a.example/x#z?q", "https://a.example/x"));
        assert!(same("https://a.example?x", "https://a.example/"));
    }

    #[test]
    fn another_host_or_path_differs() {
        assert!(!same("https://b.example/x", "https://a.example/x"));
        assert!(!same("https://a.example/x/", "https://a.example/x"));
        assert!(!same("https://a.example/y", "https://a.example/x"));
        assert!(!same("https://a.example.evil/x", "https://a.example/x"));
    }

    #[test]
    fn percent_encoding_and_dot_segments_are_normalized() {
        assert!(same(
            "https://a.example/%7euser/%2a",
            "https://a.example/~user/%2A"
        ));
        assert!(same(
            "https://a.example/a/./b/../c",
            "https://a.example/a/c"
        ));
        assert!(same("https://a.example", "https://a.example/"));
        assert!(!same("https://a.example/a%2Fb", "https://a.example/a/b"));
        assert_eq!(parse("https://a.example/%zz"), None);
        assert_eq!(parse("https://a.example/%4"), None);
    }

    #[test]
    fn non_http_userinfo_and_empty_hosts_are_refused() {
        for bad in [
            "ftp://a.example/x",
            "https://user@a.example/x",
            "https:///x",
            "a.example/x",
            "https://a.example:99999/x",
            "https://a exa/x",
            "https://a.%65xample/x",
            "https://a:443xample.com:/x",
            "https://a:b:443/x",
            "https://[::1/x",
            "https://[zz]/x",
            "https://[]/x",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_origin_parses_back_to_itself() {
        for url in [
            "HTTPS://A.example:443/x/../y?q",
            "http://[::1]:8080",
            "https://a.example:/",
        ] {
            let t = parse(url).unwrap();
            assert_eq!(parse(&format!("{}{}", t.origin, t.path)), Some(t), "{url}");
        }
    }

    #[test]
    fn ipv6_literals_keep_their_brackets() {
        let t = parse("https://[::1]:8443/x").unwrap();
        assert_eq!(t.origin, "https://[::1]:8443");
        assert!(same("https://[::1]:443/x", "https://[::1]/x"));
    }

    #[test]
    fn origins_are_urls_without_a_path() {
        assert_eq!(
            origin("HTTPS://Api.Example.com:443").as_deref(),
            Some("https://api.example.com")
        );
        assert_eq!(
            origin("https://api.example.com/").as_deref(),
            Some("https://api.example.com")
        );
        for bad in [
            "https://api.example.com/v1",
            "https://a.example?x",
            "api.example.com",
        ] {
            assert_eq!(origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_request_target_is_https_on_its_host() {
        let t = request_target("API.example.com", "/prod/hello").unwrap();
        assert_eq!(t.origin, "https://api.example.com");
        assert_eq!(t.path, "/prod/hello");
        assert_eq!(request_target("a.example", "hello"), None);
    }
}
