//! How `authorizer-admin` writes times (epoch seconds, with the UTC date beside them) and
//! items (DynamoDB JSON, what `aws dynamodb put-item --item` takes).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};

/// An item as DynamoDB JSON: `{"PK": {"S": "…"}, "n": {"N": "1"}, "l": {"L": […]}}`
/// (the types items of this table hold; others are left out).
pub fn dynamodb_json(item: HashMap<String, AttributeValue>) -> Value {
    fn value(v: AttributeValue) -> Option<Value> {
        match v {
            AttributeValue::S(s) => Some(json!({ "S": s })),
            AttributeValue::N(n) => Some(json!({ "N": n })),
            AttributeValue::L(items) => Some(json!({
                "L": items.into_iter().filter_map(value).collect::<Vec<_>>()
            })),
            _ => None,
        }
    }
    let fields: Map<String, Value> = item
        .into_iter()
        .filter_map(|(name, v)| value(v).map(|v| (name, v)))
        .collect();
    Value::Object(fields)
}

/// `1800000000 (2027-01-15T08:00:00Z)`.
pub fn epoch(seconds: u64) -> String {
    format!("{seconds} ({})", utc(seconds))
}

/// The UTC date and time of `seconds` since the epoch, RFC 3339 (`2027-01-15T08:00:00Z`).
pub fn utc(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, month, day) = civil(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`, for non-negative counts).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_written_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(utc(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(utc(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(epoch(86_400), "86400 (1970-01-02T00:00:00Z)");
    }
}
