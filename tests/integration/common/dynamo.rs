//! DynamoDB for tests: the real AWS SDK against moto_server on 127.0.0.1 (started by the
//! test), a keys table created like the SAM template's, raw item reads, and a "dead"
//! endpoint that accepts connections and never answers.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_dynamodb::Client;

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use jwt_authorizer::keys::KeyTable;
use jwt_authorizer::{Authorizer, ManualClock};

/// SDK settings for `endpoint` with dummy credentials (no environment involved).
pub async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// moto_server (started here, stopped when the `Moto` is dropped) holding the keys table
/// `table`, and SDK settings to reach it.
pub async fn moto_with_table(table: &str) -> (super::moto::Moto, aws_config::SdkConfig) {
    let moto = super::moto::Moto::start();
    let sdk = sdk(&moto.endpoint).await;
    create_table(&sdk, table).await;
    (moto, sdk)
}

/// A fresh container (a cold start) at `now`: the JWKS at `jwks_url`, the table `table`
/// reached through `sdk`, plus `vars`; warmed up as Lambda init does.
pub async fn container(
    sdk: &aws_config::SdkConfig,
    table: &str,
    jwks_url: &str,
    now: u64,
    vars: &[(&str, &str)],
) -> (Authorizer, Arc<ManualClock>) {
    let mut all = vec![("KEYS_TABLE_NAME", table)];
    all.extend_from_slice(vars);
    let config = super::config(jwks_url, &all);
    let clock = Arc::new(ManualClock::new(now));
    let authorizer =
        Authorizer::new(&config, clock.clone(), Some(KeyTable::new(sdk, table))).unwrap();
    authorizer.warm_up().await;
    (authorizer, clock)
}

/// Creates the keys table: `PK` (S) partition key, on-demand, TTL on `expires_at`.
pub async fn create_table(sdk: &aws_config::SdkConfig, name: &str) {
    let client = Client::new(sdk);
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("PK")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("PK")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("enable TTL");
}

/// The item of `jwks_url` exactly as stored, if any.
pub async fn raw_item(
    sdk: &aws_config::SdkConfig,
    table: &str,
    jwks_url: &str,
) -> Option<HashMap<String, AttributeValue>> {
    Client::new(sdk)
        .get_item()
        .table_name(table)
        .key("PK", AttributeValue::S(format!("JWKS#{jwks_url}")))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
}

/// A string attribute of an item.
pub fn s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item[name].as_s().unwrap()
}

/// A number attribute of an item.
pub fn n(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item[name].as_n().unwrap().parse().unwrap()
}

/// An endpoint that accepts TCP connections and never answers; stops when dropped.
pub struct DeadEndpoint {
    pub url: String,
    stop: Arc<AtomicBool>,
}

impl DeadEndpoint {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                held.push(stream);
            }
        });
        Self { url, stop }
    }
}

impl Drop for DeadEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// Writes `attributes` as an item, unconditionally (another writer, or an attacker).
pub async fn put_raw(
    sdk: &aws_config::SdkConfig,
    table: &str,
    attributes: &[(&str, AttributeValue)],
) {
    Client::new(sdk)
        .put_item()
        .table_name(table)
        .set_item(Some(
            attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        ))
        .send()
        .await
        .expect("put item");
}

/// The item with partition key `pk` exactly as stored, if any.
pub async fn raw_item_pk(
    sdk: &aws_config::SdkConfig,
    table: &str,
    pk: &str,
) -> Option<HashMap<String, AttributeValue>> {
    Client::new(sdk)
        .get_item()
        .table_name(table)
        .key("PK", AttributeValue::S(pk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
}

/// An HTTP proxy to `target` that holds every request back for `delay` before
/// forwarding it: a table that works but answers slowly (as a cold start on a small CPU
/// share sees it). The delay is per request, whatever connection it comes on. Stops when
/// dropped.
pub struct SlowEndpoint {
    pub url: String,
    _server: super::http::Server,
}

impl SlowEndpoint {
    pub fn start(target: &str, delay: std::time::Duration) -> Self {
        let target = target.trim_start_matches("http://").to_owned();
        let server = super::http::Server::start(move |request| {
            std::thread::sleep(delay);
            forward(&target, &request)
        });
        Self {
            url: server.url(""),
            _server: server,
        }
    }
}

/// Sends `request` to `target` on a connection of its own and returns the answer (the
/// body framed by the proxy's own `content-length`); `None` drops the client connection.
fn forward(target: &str, request: &super::http::Request) -> Option<super::http::Response> {
    use std::io::{Read, Write};
    let mut upstream = std::net::TcpStream::connect(target).ok()?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nconnection: close\r\n",
        request.method, request.path
    );
    for (name, value) in &request.headers {
        if !name.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("\r\n");
    upstream.write_all(head.as_bytes()).ok()?;
    upstream.write_all(&request.body).ok()?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).ok()?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let (head, body) = (
        String::from_utf8_lossy(&answer[..split]),
        &answer[split + 4..],
    );
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut response = super::http::Response::new(status, body.to_vec());
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        let framing = ["content-length", "connection", "transfer-encoding"];
        if !framing.iter().any(|f| name.trim().eq_ignore_ascii_case(f)) {
            response = response.header(name.trim(), value.trim());
        }
    }
    Some(response)
}
