//! Transport, apart from the domain: the process's one TLS client configuration
//! ([`tls`], over the trust anchors of [`roots`]) and the one HTTP client stack
//! ([`http`]) that the DynamoDB calls and the JWKS fetch share.

pub mod http;
pub mod roots;
pub mod tls;
