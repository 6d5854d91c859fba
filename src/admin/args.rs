//! The command line of `authorizer-admin`, parsed by one pure function: every mistake
//! is one [`UsageError`] line naming the option at fault.

use std::path::PathBuf;

/// What `--help` prints.
pub const USAGE: &str = "\
usage: authorizer-admin COMMAND [OPTIONS]

Runs with the authorizer's environment (COGNITO_USER_POOL_ID or JWT_ISSUER or JWT_ISSUERS,
JWT_AUDIENCE, KEYS_TABLE_NAME, AWS_REGION, credentials, AWS_ENDPOINT_URL...).

  revoke --subject SUB [--issuer ISS] [--before EPOCH] [--ttl SECONDS] [--dry-run]
      refuse SUB's tokens issued before EPOCH (default: now + 1 + CLOCK_SKEW_SECONDS, so
      a token issued this second, or by an issuer whose clock runs ahead, is covered;
      at most a day ahead), until EPOCH + SECONDS (default 86400)
  revoke --jti JTI --until EPOCH [--issuer ISS] [--dry-run]
      refuse the token whose jti (or Cognito origin_jti: its whole sign-in) is JTI, until
      EPOCH: the token's exp; for an origin_jti, the refresh token's expiry (every token
      refreshed from that sign-in shares it, up to the refresh token's lifetime)
  keys
      list the key-tier items of KEYS_TABLE_NAME: kids, fetched_at, expires_at, live or
      stale, unusable or poisoned
  explain [--event FILE | --token TOKEN --route 'METHOD /path']
      run one decision (an event file, a token and a route, or an event on stdin) and
      print every step
  issuers add --issuer ISS --audience A[,B] [--tenant T] [--cognito-user-pool-id P]
              [--jwks-url U] [--token-use access|id] [--algorithms RS256,...] [--dry-run]
      register a tenant's issuer (TENANT_REGISTRY=on): checks TENANT_ISSUER_PATTERN and
      that its JWKS holds a usable key before writing ISSUER#ISS
  issuers disable --issuer ISS | issuers enable --issuer ISS
      refuse (or accept again) a registered issuer's tokens; containers follow within
      TENANT_CACHE_SECONDS
  issuers list
      every ISSUER# item: status, tenant, audiences, or why the authorizer ignores it

--issuer defaults to the only configured issuer, or to every iss of the only configured
Cognito pool (formats and replica Regions). A revoke never narrows a revocation
already stored. --dry-run prints the item and writes nothing. EPOCH is whole seconds
(10^11 or more is refused: milliseconds by mistake). Exit status: 0 done, 1 the table or the command failed, 2 bad arguments
or configuration.
";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `--help`, `-h` or `help`.
    Help,
    /// `revoke …`.
    Revoke(RevokeArgs),
    /// `keys`.
    Keys,
    /// `explain …`.
    Explain(ExplainInput),
    /// `issuers …`.
    Issuers(IssuersArgs),
}

/// `issuers …`: the tenant registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuersArgs {
    /// `issuers add …`.
    Add {
        /// The item's fields.
        register: RegisterArgs,
        /// `--dry-run`: check and print, write nothing.
        dry_run: bool,
    },
    /// `issuers disable --issuer ISS` or `issuers enable --issuer ISS`.
    SetStatus {
        /// The registered issuer.
        issuer: String,
        /// The new status.
        status: crate::issuers::Status,
    },
    /// `issuers list`.
    List,
}

/// The fields of an `issuers add`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterArgs {
    /// `--issuer`: the exact `iss`.
    pub issuer: String,
    /// `--audience A[,B]`.
    pub audience: Vec<String>,
    /// `--tenant`.
    pub tenant: Option<String>,
    /// `--cognito-user-pool-id`.
    pub cognito_user_pool_id: Option<String>,
    /// `--jwks-url`.
    pub jwks_url: Option<String>,
    /// `--token-use`.
    pub token_use: Option<String>,
    /// `--algorithms RS256,…`.
    pub algorithms: Option<Vec<String>>,
}

/// `revoke`: what, and for which issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeArgs {
    /// The subject, or the token.
    pub target: Target,
    /// `--issuer` (default: the only configured one).
    pub issuer: Option<String>,
    /// `--dry-run`: print the item, write nothing.
    pub dry_run: bool,
}

/// The first epoch that is surely milliseconds (or worse): 10^11 seconds is the year
/// 5138, while epoch milliseconds have had 12 digits since 1973.
pub const MAX_EPOCH: u64 = 100_000_000_000;

/// What a revoke names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `--subject SUB [--before EPOCH] [--ttl SECONDS]`.
    Subject {
        /// The `sub` claim.
        subject: String,
        /// `revoked_before` (default: now + 1 + `CLOCK_SKEW_SECONDS`).
        before: Option<u64>,
        /// Lifetime of the item past `revoked_before` (default 86400).
        ttl: Option<u64>,
    },
    /// `--jti JTI --until EPOCH`.
    Token {
        /// The `jti` (or `origin_jti`).
        jti: String,
        /// `expires_at`: the token's `exp`.
        until: u64,
    },
}

/// What `explain` decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainInput {
    /// No option: an API Gateway event (JSON) on standard input.
    Stdin,
    /// `--event FILE`: an API Gateway event (JSON) in a file.
    Event(PathBuf),
    /// `--token TOKEN --route 'METHOD /path'` (or a WebSocket route such as `$connect`).
    Token {
        /// The bearer token.
        token: String,
        /// The HTTP method, upper case (empty for a WebSocket route).
        method: String,
        /// The path (`/hello/x`), or the WebSocket route key (`$connect`).
        path: String,
    },
}

/// A command line that can't be run, as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} (see --help)")]
pub struct UsageError(pub String);

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let Some((command, rest)) = args.split_first() else {
        return Err(usage("missing command: revoke, keys, explain or issuers"));
    };
    match command.as_str() {
        "--help" | "-h" | "help" => Ok(Command::Help),
        _ if rest.iter().any(|a| a == "--help" || a == "-h") => Ok(Command::Help),
        "revoke" => revoke(&options(
            rest,
            &["subject", "jti", "issuer", "before", "ttl", "until"],
            &["dry-run"],
        )?),
        "keys" => {
            options(rest, &[], &[])?;
            Ok(Command::Keys)
        }
        "explain" => explain(&options(rest, &["event", "token", "route"], &[])?),
        "issuers" => issuers(rest),
        other => Err(usage(format!(
            "unknown command {other:?}: expected revoke, keys, explain or issuers"
        ))),
    }
}

/// `--name value` or `--name=value` pairs, each name at most once and among `known`,
/// and the `flags` (`--name` alone, read as the value `true`). A value with white space
/// around it is refused: `--subject ' alice'` would revoke nobody.
fn options(
    args: &[String],
    known: &[&str],
    flags: &[&str],
) -> Result<Vec<(String, String)>, UsageError> {
    let mut parsed: Vec<(String, String)> = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(option) = arg.strip_prefix("--") else {
            return Err(usage(format!("unexpected argument {arg:?}")));
        };
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (option, None),
        };
        let flag = flags.contains(&name);
        if !flag && !known.contains(&name) {
            return Err(usage(format!("unknown option --{name}")));
        }
        if parsed.iter().any(|(n, _)| n == name) {
            return Err(usage(format!("--{name} is given twice")));
        }
        let value = match (flag, value) {
            (true, None) => "true".to_owned(),
            (true, Some(_)) => return Err(usage(format!("--{name} takes no value"))),
            (false, Some(value)) => value,
            (false, None) => match rest.next() {
                Some(value) if !value.starts_with("--") => value.clone(),
                _ => return Err(usage(format!("--{name} needs a value"))),
            },
        };
        if value.trim().is_empty() {
            return Err(usage(format!("--{name} needs a non-empty value")));
        }
        if value.trim() != value {
            return Err(usage(format!(
                "--{name} {value:?} has white space around it"
            )));
        }
        parsed.push((name.to_owned(), value));
    }
    Ok(parsed)
}

fn get<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A whole number of seconds (a `--ttl`).
fn seconds(options: &[(String, String)], name: &str) -> Result<Option<u64>, UsageError> {
    get(options, name)
        .map(|raw| {
            raw.parse::<u64>()
                .map_err(|_| usage(format!("--{name} expects whole seconds, got {raw:?}")))
        })
        .transpose()
}

/// Whole epoch seconds, below [`MAX_EPOCH`].
fn epoch(options: &[(String, String)], name: &str) -> Result<Option<u64>, UsageError> {
    let value = seconds(options, name)
        .map_err(|_| usage(format!("--{name} expects whole epoch seconds")))?;
    match value {
        Some(epoch) if epoch >= MAX_EPOCH => Err(usage(format!(
            "--{name} {epoch} is 10^11 or more: epoch milliseconds? it expects seconds"
        ))),
        _ => Ok(value),
    }
}

fn revoke(options: &[(String, String)]) -> Result<Command, UsageError> {
    let issuer = get(options, "issuer").map(str::to_owned);
    let dry_run = get(options, "dry-run").is_some();
    let only = |allowed: &[&str], what: &str| {
        options
            .iter()
            .find(|(n, _)| !allowed.contains(&n.as_str()))
            .map_or(Ok(()), |(n, _)| {
                Err(usage(format!("--{n} does not go with {what}")))
            })
    };
    let target = match (get(options, "subject"), get(options, "jti")) {
        (Some(_), Some(_)) => {
            return Err(usage("revoke takes --subject or --jti, not both"));
        }
        (None, None) => return Err(usage("revoke needs --subject SUB or --jti JTI")),
        (Some(subject), None) => {
            only(
                &["subject", "issuer", "before", "ttl", "dry-run"],
                "--subject",
            )?;
            let ttl = seconds(options, "ttl")?;
            if ttl == Some(0) {
                return Err(usage("--ttl must be at least 1 second"));
            }
            Target::Subject {
                subject: subject.to_owned(),
                before: epoch(options, "before")?,
                ttl,
            }
        }
        (None, Some(jti)) => {
            only(&["jti", "issuer", "until", "dry-run"], "--jti")?;
            let until = epoch(options, "until")?
                .ok_or_else(|| usage("revoke --jti needs --until EPOCH (the token's exp)"))?;
            Target::Token {
                jti: jti.to_owned(),
                until,
            }
        }
    };
    Ok(Command::Revoke(RevokeArgs {
        target,
        issuer,
        dry_run,
    }))
}

fn issuers(args: &[String]) -> Result<Command, UsageError> {
    let Some((action, rest)) = args.split_first() else {
        return Err(usage("issuers needs add, disable, enable or list"));
    };
    let list = |raw: &str| -> Vec<String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let command = match action.as_str() {
        "add" => {
            let options = options(
                rest,
                &[
                    "issuer",
                    "audience",
                    "tenant",
                    "cognito-user-pool-id",
                    "jwks-url",
                    "token-use",
                    "algorithms",
                ],
                &["dry-run"],
            )?;
            let owned = |name: &str| get(&options, name).map(str::to_owned);
            let issuer = owned("issuer").ok_or_else(|| usage("issuers add needs --issuer ISS"))?;
            let audience = get(&options, "audience")
                .map(list)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| usage("issuers add needs --audience A[,B]"))?;
            IssuersArgs::Add {
                register: RegisterArgs {
                    issuer,
                    audience,
                    tenant: owned("tenant"),
                    cognito_user_pool_id: owned("cognito-user-pool-id"),
                    jwks_url: owned("jwks-url"),
                    token_use: owned("token-use"),
                    algorithms: get(&options, "algorithms").map(list),
                },
                dry_run: get(&options, "dry-run").is_some(),
            }
        }
        "disable" | "enable" => {
            let options = options(rest, &["issuer"], &[])?;
            let issuer = get(&options, "issuer")
                .ok_or_else(|| usage(format!("issuers {action} needs --issuer ISS")))?;
            IssuersArgs::SetStatus {
                issuer: issuer.to_owned(),
                status: if action == "disable" {
                    crate::issuers::Status::Disabled
                } else {
                    crate::issuers::Status::Active
                },
            }
        }
        "list" => {
            options(rest, &[], &[])?;
            IssuersArgs::List
        }
        other => {
            return Err(usage(format!(
                "unknown issuers action {other:?}: expected add, disable, enable or list"
            )));
        }
    };
    Ok(Command::Issuers(command))
}

fn explain(options: &[(String, String)]) -> Result<Command, UsageError> {
    let input = match (
        get(options, "event"),
        get(options, "token"),
        get(options, "route"),
    ) {
        (None, None, None) => ExplainInput::Stdin,
        (Some(file), None, None) => ExplainInput::Event(PathBuf::from(file)),
        (None, Some(token), Some(route)) => {
            let (method, path) = route_parts(route)?;
            ExplainInput::Token {
                token: token.to_owned(),
                method,
                path,
            }
        }
        (Some(_), _, _) => {
            return Err(usage(
                "explain takes --event FILE or --token and --route, not both",
            ));
        }
        (None, Some(_), None) => return Err(usage("explain --token needs --route 'METHOD /path'")),
        (None, None, Some(_)) => return Err(usage("explain --route needs --token TOKEN")),
    };
    Ok(Command::Explain(input))
}

/// `METHOD /path` (method upper-cased), or a WebSocket route key such as `$connect`.
fn route_parts(route: &str) -> Result<(String, String), UsageError> {
    let route = route.trim();
    if route.starts_with('$') && !route.contains(char::is_whitespace) {
        return Ok((String::new(), route.to_owned()));
    }
    match route.split_once(char::is_whitespace) {
        Some((method, path))
            if !method.is_empty()
                && method.chars().all(|c| c.is_ascii_alphabetic())
                && path.trim().starts_with('/') =>
        {
            Ok((method.to_ascii_uppercase(), path.trim().to_owned()))
        }
        _ => Err(usage(format!(
            "--route expects 'METHOD /path' (or a WebSocket route such as '$connect'), got {route:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn run(line: &str) -> Result<Command, UsageError> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse(&args)
    }

    fn err(line: &str) -> String {
        run(line).expect_err(line).0
    }

    #[test]
    fn revoke_a_subject_with_its_defaults_and_options() {
        assert_eq!(
            run("revoke --subject alice").unwrap(),
            Command::Revoke(RevokeArgs {
                target: Target::Subject {
                    subject: "alice".into(),
                    before: None,
                    ttl: None
                },
                issuer: None,
                dry_run: false
            })
        );
        assert_eq!(
            run("revoke --ttl=60 --subject alice --issuer https://i --before 1800000000").unwrap(),
            Command::Revoke(RevokeArgs {
                target: Target::Subject {
                    subject: "alice".into(),
                    before: Some(1_800_000_000),
                    ttl: Some(60)
                },
                issuer: Some("https://i".into()),
                dry_run: false
            })
        );
    }

    #[test]
    fn revoke_a_token_needs_until() {
        assert_eq!(
            run("revoke --jti j-1 --until 1800003600").unwrap(),
            Command::Revoke(RevokeArgs {
                target: Target::Token {
                    jti: "j-1".into(),
                    until: 1_800_003_600
                },
                issuer: None,
                dry_run: false
            })
        );
        assert!(err("revoke --jti j-1").contains("--until"));
    }

    #[test]
    fn dry_run_is_a_flag_of_both_revokes() {
        for line in [
            "revoke --subject alice --dry-run",
            "revoke --dry-run --jti j --until 1800003600",
        ] {
            let Command::Revoke(args) = run(line).unwrap() else {
                panic!("{line}");
            };
            assert!(args.dry_run, "{line}");
        }
        assert!(err("revoke --subject a --dry-run=yes").contains("--dry-run takes no value"));
        assert!(err("revoke --subject a --dry-run --dry-run").contains("given twice"));
        assert!(err("keys --dry-run").contains("unknown option --dry-run"));
    }

    #[test]
    fn milliseconds_by_mistake_are_refused() {
        for line in [
            "revoke --subject a --before 1800000000000",
            "revoke --jti a --until 1800000000000",
            "revoke --jti a --until 100000000000",
        ] {
            assert!(err(line).contains("milliseconds"), "{line}");
        }
        assert!(run("revoke --jti a --until 99999999999").is_ok());
    }

    #[test]
    fn values_with_white_space_around_them_are_refused() {
        for args in [
            ["revoke", "--subject", " alice"],
            ["revoke", "--subject", "alice "],
            ["revoke", "--subject", "alice\t"],
            ["revoke", "--subject=\nalice", "--dry-run"],
        ] {
            let args: Vec<String> = args.map(str::to_owned).to_vec();
            let message = parse(&args).unwrap_err().0;
            assert!(message.contains("white space"), "{args:?}: {message}");
        }
    }

    #[test]
    fn revoke_mistakes_name_the_option() {
        for (line, says) in [
            ("revoke", "--subject SUB or --jti JTI"),
            ("revoke --subject a --jti b", "not both"),
            (
                "revoke --subject a --until 5",
                "--until does not go with --subject",
            ),
            (
                "revoke --jti a --until 5 --before 1",
                "--before does not go with --jti",
            ),
            (
                "revoke --jti a --until 5 --ttl 1",
                "--ttl does not go with --jti",
            ),
            (
                "revoke --subject a --before yesterday",
                "--before expects whole epoch seconds",
            ),
            ("revoke --subject a --before -5", "--before expects"),
            ("revoke --subject a --ttl 0", "--ttl must be at least 1"),
            (
                "revoke --subject a --ttl 1.5",
                "--ttl expects whole seconds",
            ),
            ("revoke --jti a --until 1e9", "--until expects"),
            ("revoke --subject", "--subject needs a value"),
            ("revoke --subject --jti x", "--subject needs a value"),
            ("revoke --subject a --subject b", "--subject is given twice"),
            ("revoke --user a", "unknown option --user"),
            ("revoke alice", "unexpected argument \"alice\""),
        ] {
            let message = err(line);
            assert!(message.contains(says), "{line}: {message}");
            assert!(!message.contains('\n'));
        }
        assert!(
            UsageError("x".into()).to_string().ends_with("(see --help)"),
            "every usage line points at --help"
        );
    }

    #[test]
    fn an_empty_value_is_refused() {
        let args: Vec<String> = ["revoke", "--subject", " "].map(str::to_owned).to_vec();
        assert!(parse(&args).unwrap_err().0.contains("non-empty"));
        let args: Vec<String> = ["revoke", "--subject="].map(str::to_owned).to_vec();
        assert!(parse(&args).is_err());
    }

    #[test]
    fn keys_takes_no_option() {
        assert_eq!(run("keys").unwrap(), Command::Keys);
        assert!(err("keys --all x").contains("unknown option --all"));
        assert!(err("keys extra").contains("unexpected argument"));
    }

    #[test]
    fn explain_takes_an_event_or_a_token_and_a_route() {
        assert_eq!(
            run("explain").unwrap(),
            Command::Explain(ExplainInput::Stdin)
        );
        assert_eq!(
            run("explain --event events/rest-token.json").unwrap(),
            Command::Explain(ExplainInput::Event("events/rest-token.json".into()))
        );
        let args: Vec<String> = ["explain", "--token", "a.b.c", "--route", "get /hello/x"]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(
            parse(&args).unwrap(),
            Command::Explain(ExplainInput::Token {
                token: "a.b.c".into(),
                method: "GET".into(),
                path: "/hello/x".into()
            })
        );
        assert_eq!(
            run("explain --token a.b.c --route $connect").unwrap(),
            Command::Explain(ExplainInput::Token {
                token: "a.b.c".into(),
                method: String::new(),
                path: "$connect".into()
            })
        );
        assert!(err("explain --token a.b.c").contains("needs --route"));
        assert!(err("explain --route x").contains("needs --token"));
        assert!(err("explain --event f --token t --route x").contains("not both"));
        assert!(err("explain --token t --route hello").contains("'METHOD /path'"));
    }

    #[test]
    fn help_anywhere_prints_usage_and_no_command_is_a_mistake() {
        for line in ["--help", "-h", "help", "revoke --help", "keys -h"] {
            assert_eq!(run(line).unwrap(), Command::Help, "{line}");
        }
        assert!(err("").contains("missing command"));
        assert!(err("revokee").contains("unknown command"));
        assert!(USAGE.contains(
            "revoke --subject SUB [--issuer ISS] [--before EPOCH] [--ttl SECONDS] [--dry-run]"
        ));
        assert!(USAGE.contains("revoke --jti JTI --until EPOCH [--issuer ISS] [--dry-run]"));
        assert!(
            USAGE.contains("for an origin_jti, the refresh token's expiry"),
            "the help says what --until means for a Cognito sign-in"
        );
        assert!(USAGE.contains("explain [--event FILE | --token TOKEN --route 'METHOD /path']"));
    }
}
