//! The execute-api ARN a request calls (`methodArn`, `routeArn`): its
//! `arn:…:{apiId}/{stage}/` prefix, which every granted resource is expanded against, and
//! IAM-style matching of a resource pattern against it.

/// The `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/` prefix of a
/// `methodArn` or `routeArn`; `None` when the ARN does not have that shape.
pub fn api_prefix(arn: &str) -> Option<&str> {
    let mut fields = arn.splitn(6, ':');
    let (scheme, _partition, service) = (fields.next()?, fields.next()?, fields.next()?);
    let (_region, _account, path) = (fields.next()?, fields.next()?, fields.next()?);
    if scheme != "arn" || service != "execute-api" {
        return None;
    }
    let mut segments = path.splitn(3, '/');
    let (api, stage) = (segments.next()?, segments.next()?);
    segments.next()?;
    if api.is_empty() || stage.is_empty() {
        return None;
    }
    arn.get(..arn.len() - path.len() + api.len() + stage.len() + 2)
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
