//! The execute-api ARN a request calls (`methodArn`, `routeArn`): its
//! `arn:…:{apiId}/{stage}/` prefix, which every granted resource is expanded against, and
//! IAM-style matching of a resource pattern against it.

/// The `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/` prefix of a
/// `methodArn` or `routeArn`; `None` when the ARN does not have that shape.
pub fn api_prefix(arn: &str) -> Option<&str> {
    // Byte searches, not `split(char)`: this runs on every decision.
    let mut colons = memchr::memchr_iter(b':', arn.as_bytes());
    let (scheme_end, partition_end, service_end) = (colons.next()?, colons.next()?, colons.next()?);
    let (_region_end, account_end) = (colons.next()?, colons.next()?);
    if arn.get(..scheme_end)? != "arn" || arn.get(partition_end + 1..service_end)? != "execute-api"
    {
        return None;
    }
    let path = account_end + 1;
    let mut slashes = memchr::memchr_iter(b'/', arn.as_bytes().get(path..)?);
    let (api_end, stage_end) = (slashes.next()?, slashes.next()?);
    if api_end == 0 || stage_end == api_end + 1 {
        return None;
    }
    arn.get(..path + stage_end + 1)
}

/// IAM-style match where `*` in `pattern` stands for any run of characters.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = rest.get(at + piece.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_prefix_of_method_and_route_arns() {
        assert_eq!(
            api_prefix("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/hello/x"),
            Some("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/")
        );
        assert_eq!(
            api_prefix("arn:aws-cn:execute-api:cn-north-1:1:api/$default/$connect"),
            Some("arn:aws-cn:execute-api:cn-north-1:1:api/$default/")
        );
        for bad in [
            "",
            "arn:aws:lambda:us-east-1:1:abc/prod/GET/x",
            "arn:aws:execute-api:us-east-1:1:abc",
            "arn:aws:execute-api:us-east-1:1:abc/prod",
            "arn:aws:execute-api:us-east-1:1:/prod/GET",
        ] {
            assert_eq!(api_prefix(bad), None, "{bad}");
        }
    }

    #[test]
    fn wildcard_matching() {
        assert!(wildcard_match("a/*", "a/b/c"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a/GET/hello/x", "a/GET/hello/x"));
        assert!(!wildcard_match("a/GET/hello/x", "a/GET/hello/xy"));
        assert!(wildcard_match("a/*/hello/*", "a/GET/hello/x"));
        assert!(!wildcard_match("a/*/hello/*", "a/GET/bye/x"));
        assert!(wildcard_match("*x*x", "xx"));
        assert!(!wildcard_match("*x*x", "x"));
    }
}
