//! What `DPOP_REPLAY=table` adds to a decision: the replay store's one conditional PutItem
//! (`src/binding/dynamo.rs`), timed against the DynamoDB endpoint given (scripts/bench.sh
//! passes moto_server on 127.0.0.1: a Python server, so its latency is no DynamoDB's, but
//! the call and its count are the real ones). Creates the table when missing, writes
//! `writes` unique proofs' items one after the other, then one replay (the condition
//! fails: still one call), and prints one JSON line of latencies in ms.
//!
//! `cargo run --release --example replay_write_cost -- http://127.0.0.1:PORT [writes]`

use std::time::Instant;

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use jwt_authorizer::binding::{DynamoReplay, ReplayStore};
use jwt_authorizer::keys::KeyTable;
use serde_json::json;

const TABLE: &str = "jwt-keys-replay-cost";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args
        .next()
        .ok_or("usage: replay_write_cost ENDPOINT [WRITES]")?;
    let writes: usize = args.next().map_or(Ok(200), |n| n.parse())?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    if client
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .is_err()
    {
        client
            .create_table()
            .table_name(TABLE)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("PK")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("PK")
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await?;
    }
    let store = DynamoReplay::new(&KeyTable::new(&sdk, TABLE));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    // One unmeasured write opens the connection.
    store
        .remember(jkt, &format!("warm-{now}"), now, now + 70)
        .await?;
    let mut ms = Vec::with_capacity(writes);
    for n in 0..writes {
        let jti = format!("cost-{now}-{n}");
        let started = Instant::now();
        let fresh = store.remember(jkt, &jti, now, now + 70).await?;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        if !fresh {
            return Err(format!("{jti} was refused as a replay").into());
        }
    }
    let started = Instant::now();
    let replay = store
        .remember(jkt, &format!("cost-{now}-0"), now, now + 70)
        .await?;
    let replay_ms = started.elapsed().as_secs_f64() * 1e3;
    if replay {
        return Err("a replay was accepted".into());
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms.get(((ms.len() - 1) as f64 * q) as usize).copied();
    let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
    println!(
        "{}",
        json!({
            "endpoint": endpoint, "writes": writes, "calls_per_proof": 1,
            "mean_ms": mean, "p50_ms": at(0.5), "p99_ms": at(0.99), "replay_refused_ms": replay_ms,
        })
    );
    Ok(())
}
