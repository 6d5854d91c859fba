//! JSON as the configuration reads it: serde_json's grammar, but an object that names a
//! key twice is an error. serde_json keeps the last of the two, so a rule written with
//! `scopes_any` twice would silently lose a condition.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `json`, refusing any object (at any depth) with a repeated key.
pub(crate) fn parse(json: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str::<Strict>(json).map(|strict| strict.0)
}

/// A JSON value deserialized by [`StrictVisitor`].
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(A::Error::custom(format!("key {key:?} is repeated")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_what_serde_json_parses() {
        let text = r#"{"a":[1,-2,3.5,"x",true,null,{"b":{}}],"c":"é"}"#;
        assert_eq!(
            parse(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert_eq!(parse("[]").unwrap(), json!([]));
        assert!(parse("[1,").is_err());
    }

    #[test]
    fn a_repeated_key_at_any_depth_is_an_error() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"[{"resources":["*"],"scopes_any":["x"],"scopes_any":["y"]}]"#,
            r#"[{"claims":{"tenant":["a"],"tenant":["b"]}}]"#,
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains("is repeated"), "{text}: {error}");
        }
        assert!(
            parse(r#"[{"a":1},{"a":2}]"#).is_ok(),
            "two objects, one key each"
        );
    }
}
