//! A token's claims as read: the payload's JSON text kept whole, its top-level members
//! indexed by name, and a plain string value (no escapes: most claims) built into a
//! [`Value`] only when first asked for. A decision reads a handful of a token's claims
//! (the checks, the templates, the context), so the others cost a scan and no
//! allocation. Every other value (numbers, escaped strings, arrays, objects) is built
//! when the claims are read, so what is refused is exactly what a whole
//! `serde_json::Map` parse refuses; a repeated name keeps its last value, as that map
//! does.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The claims of a token.
pub struct Claims {
    /// The payload's JSON text.
    text: String,
    /// The top-level members, in the text's order (a repeated name: the last counts).
    /// A token has a dozen or two, and a name compare mostly stops at its length, so a
    /// scan beats sorting them.
    members: Vec<Member>,
}

struct Member {
    name: Name,
    /// Where a plain string's JSON text (quotes included) lies in `text`; unused once
    /// the value is built.
    raw: (usize, usize),
    value: OnceLock<Value>,
}

/// A member's name: where it lies in the text, or unescaped (a name with escapes, or
/// claims built from a map).
enum Name {
    Span(usize, usize),
    Owned(Box<str>),
}

impl Claims {
    /// Reads a JSON object's members; anything else, or JSON a `serde_json::Map` would
    /// refuse, is an error.
    pub fn parse(text: String) -> Result<Self, serde_json::Error> {
        let base = text.as_ptr() as usize;
        let mut deserializer = serde_json::Deserializer::from_str(&text);
        let members = deserializer.deserialize_map(MembersVisitor { base })?;
        deserializer.end()?;
        Ok(Self { text, members })
    }

    /// Whether `member` is called `name` (a length compare settles most).
    fn is_named(&self, member: &Member, name: &str) -> bool {
        match &member.name {
            Name::Span(start, end) => {
                end - start == name.len()
                    && self.text.as_bytes().get(*start..*end) == Some(name.as_bytes())
            }
            Name::Owned(own) => **own == *name,
        }
    }

    fn name<'a>(&'a self, member: &'a Member) -> &'a str {
        match &member.name {
            Name::Span(start, end) => self.text.get(*start..*end).unwrap_or_default(),
            Name::Owned(name) => name,
        }
    }

    /// The value of the claim `name`, if the token has it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.members
            .iter()
            .rev()
            .find(|m| self.is_named(m, name))
            .map(|m| self.value(m))
    }

    /// The claim `name` when it is a string: borrowed from the token's text when it has
    /// no escapes (nothing built), else the built value's text.
    pub fn str(&self, name: &str) -> Option<&str> {
        let member = self.members.iter().rev().find(|m| self.is_named(m, name))?;
        match member.value.get() {
            Some(value) => value.as_str(),
            None => {
                let (start, end) = member.raw;
                self.text.get(start + 1..end.saturating_sub(1))
            }
        }
    }

    fn value<'a>(&'a self, member: &'a Member) -> &'a Value {
        member.value.get_or_init(|| {
            let (start, end) = member.raw;
            let inner = self.text.get(start + 1..end.saturating_sub(1));
            Value::String(inner.unwrap_or_default().to_owned())
        })
    }

    /// Whether the token has the claim `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every claim, sorted by name (of a repeated name, the last).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.unique()
            .into_iter()
            .map(|m| (self.name(m), self.value(m)))
    }

    /// The members that count, sorted by name.
    fn unique(&self) -> Vec<&Member> {
        let mut members: Vec<&Member> = self.members.iter().rev().collect();
        members.sort_by(|a, b| self.name(a).cmp(self.name(b)));
        members.dedup_by(|later, kept| self.name(later) == self.name(kept));
        members
    }

    /// How many claims (distinct names).
    pub fn len(&self) -> usize {
        self.unique().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Every claim, as a JSON object.
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(name, value)| (name.to_owned(), value.clone()))
            .collect()
    }

    /// An estimate of the heap the claims hold (allocator rounding included), counting a
    /// value not built yet as it will be once built; builds nothing.
    pub fn heap_bytes(&self) -> usize {
        let names: usize = self
            .members
            .iter()
            .map(|m| match &m.name {
                Name::Owned(name) => name.len() + 16,
                Name::Span(..) => 0,
            })
            .sum();
        let values: usize = self
            .members
            .iter()
            .map(|m| match m.value.get() {
                Some(value) => value_bytes(value),
                None => crate::token_cache::heap_string(m.raw.1.saturating_sub(m.raw.0)),
            })
            .sum();
        self.text.capacity()
            + 16
            + self.members.len() * std::mem::size_of::<Member>()
            + names
            + values
    }
}

/// An estimate of the heap a JSON value holds beyond itself.
fn value_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => crate::token_cache::heap_string(s.len()),
        Value::Array(items) => {
            16 + items
                .iter()
                .map(|item| std::mem::size_of::<Value>() + value_bytes(item))
                .sum::<usize>()
        }
        Value::Object(object) => {
            16 + object
                .iter()
                .map(|(key, item)| {
                    64 + crate::token_cache::heap_string(key.len())
                        + std::mem::size_of::<Value>()
                        + value_bytes(item)
                })
                .sum::<usize>()
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

impl From<Map<String, Value>> for Claims {
    fn from(map: Map<String, Value>) -> Self {
        let members = map
            .into_iter()
            .map(|(name, value)| Member {
                name: Name::Owned(name.into()),
                raw: (0, 0),
                value: OnceLock::from(value),
            })
            .collect();
        Self {
            text: String::new(),
            members,
        }
    }
}

impl Claims {
    /// The members of a JSON object (none for any other value): claims written as
    /// `json!` in tests.
    #[cfg(any(test, feature = "testkit"))]
    pub fn from_json(value: Value) -> Self {
        match value {
            Value::Object(map) => Self::from(map),
            _ => Self::from(Map::new()),
        }
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Reads a JSON object's members in order: a name without escapes and a plain string
/// value are kept as where they lie in the text (`base` is the text's address), every
/// other value is built.
struct MembersVisitor {
    base: usize,
}

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Vec<Member>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let span = |part: &str| {
            let start = part.as_ptr() as usize - self.base;
            (start, start + part.len())
        };
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(name) = map.next_key_seed(NameSeed)? {
            let name = match name {
                Cow::Borrowed(name) => {
                    let (start, end) = span(name);
                    Name::Span(start, end)
                }
                Cow::Owned(name) => Name::Owned(name.into()),
            };
            let json = map.next_value::<&'de RawValue>()?.get();
            let member = if json.starts_with('"') && !json.contains('\\') {
                Member {
                    name,
                    raw: span(json),
                    value: OnceLock::new(),
                }
            } else {
                let value = match small_integer(json) {
                    Some(n) => Value::from(n),
                    None => serde_json::from_str::<Value>(json).map_err(de::Error::custom)?,
                };
                Member {
                    name,
                    raw: (0, 0),
                    value: OnceLock::from(value),
                }
            };
            members.push(member);
        }
        Ok(members)
    }
}

/// A value's JSON text that is a plain non-negative integer of up to 18 digits (`exp`,
/// `iat`, `nbf`, `auth_time`: what most non-string claims are), read without a second
/// JSON parse; the same number `serde_json` reads. A leading zero is left to it (JSON
/// refuses `01`).
fn small_integer(json: &str) -> Option<u64> {
    let digits = json.as_bytes();
    let plain = (1..=18).contains(&digits.len())
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits.first() != Some(&b'0'));
    plain.then(|| json.parse().ok()).flatten()
}

/// A member name, borrowed from the text when it has no escapes.
struct NameSeed;

impl<'de> de::DeserializeSeed<'de> for NameSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameSeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(name))
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(name.to_owned()))
    }

    fn visit_string<E: de::Error>(self, name: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(name))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Claims, serde_json::Error> {
        Claims::parse(text.to_owned())
    }

    /// Whatever a `serde_json::Map` parse makes of `text`, the claims make too.
    fn same_as_map(text: &str) {
        let map = serde_json::from_str::<Map<String, Value>>(text);
        let claims = parse(text);
        match (map, claims) {
            (Ok(map), Ok(claims)) => {
                assert_eq!(claims.to_map(), map, "{text}");
                assert_eq!(claims.len(), map.len(), "{text}");
                for (name, value) in &map {
                    assert_eq!(claims.get(name), Some(value), "{text}: {name}");
                }
            }
            (Err(_), Err(_)) => {}
            (map, claims) => panic!("{text}: map {map:?}, claims {claims:?}"),
        }
    }

    #[test]
    fn values_read_as_a_map_reads_them() {
        for text in [
            r#"{"iss":"https://issuer.example","sub":"s","exp":1.5e9,"n":-0,"big":18446744073709551615}"#,
            r#"{"aud":["a","b"],"cnf":{"jkt":"x"},"b":true,"z":null,"e":""}"#,
            r#"{"esc":"a\"b\\c\u00e9\ud83d\ude00","tab\tname":1,"\u0073ub":"escaped name"}"#,
            r#"{"dup":1,"dup":"second","a":1,"dup":[3]}"#,
            r#"{ "spaced" : "v" , "x" : { "nested" : [ 1 , "two" ] } }"#,
            r#"{}"#,
            r#"{"é":"unicode name","日本":"語"}"#,
            r#"{"i":0,"j":7,"k":1800000000,"l":999999999999999999,"m":1000000000000000000,"n":-5,"o":1.0,"p":1e3}"#,
        ] {
            same_as_map(text);
        }
    }

    #[test]
    fn what_a_map_refuses_is_refused() {
        for text in [
            r#"{"s":"\ud800"}"#,
            r#"{"unused":"\ud800"}"#,
            r#"{"n":1e400}"#,
            r#"{"n":[1e400]}"#,
            "{\"ctl\":\"a\u{1}b\"}",
            "{\"ctl\u{1}\":1}",
            r#"{"a":1,}"#,
            r#"{"a":01}"#,
            r#"{"a":00}"#,
            r#"{"a":"x"} "#,
            r#"{"a":"x"}x"#,
            r#"["a"]"#,
            r#""a""#,
            r#"{"a":"\x"}"#,
            r#"{"a":tru}"#,
        ] {
            same_as_map(text);
            if serde_json::from_str::<Map<String, Value>>(text).is_err() {
                assert!(parse(text).is_err(), "{text}");
            }
        }
    }

    #[test]
    fn a_plain_string_is_built_once_when_first_read() {
        let claims = parse(r#"{"sub":"alice","n":1}"#).unwrap();
        let first: *const Value = claims.get("sub").unwrap();
        let again: *const Value = claims.get("sub").unwrap();
        assert_eq!(first, again);
        assert_eq!(claims.get("sub"), Some(&json!("alice")));
        assert_eq!(claims.get("missing"), None);
        assert!(claims.contains_key("n"));
    }

    #[test]
    fn claims_from_a_map_are_that_map() {
        let map = json!({"b": 1, "a": "x"}).as_object().cloned().unwrap();
        let claims = Claims::from(map.clone());
        assert_eq!(claims.to_map(), map);
        assert_eq!(
            claims.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(claims, parse(r#"{"a":"x","b":1}"#).unwrap());
    }

    #[test]
    fn the_estimate_counts_the_text_and_the_values() {
        let small = parse(r#"{"a":"x"}"#).unwrap().heap_bytes();
        let groups: Vec<String> = (0..100).map(|i| format!("\"g{i}\"")).collect();
        let big = parse(&format!(r#"{{"a":"x","groups":[{}]}}"#, groups.join(",")))
            .unwrap()
            .heap_bytes();
        assert!(big > small + 100 * 32, "{small} {big}");
    }
}
