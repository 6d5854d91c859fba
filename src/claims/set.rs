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
    value: Slot,
}

impl Member {
    fn built(name: Name, value: Value) -> Self {
        Self {
            name,
            value: Slot::Built(value),
        }
    }

    fn plain(name: Name, raw: Span) -> Self {
        Self {
            name,
            value: Slot::Plain {
                raw,
                cell: OnceLock::new(),
            },
        }
    }
}

/// A member's value: built when read, or (a plain string) when first asked for.
enum Slot {
    Built(Value),
    /// A string without escapes: where its JSON text (quotes included) lies in the
    /// claims' text, and its value once asked for (boxed: most are only ever read
    /// borrowed, and a `Member` of 48 bytes keeps a token's index in one small
    /// allocation, which glibc serves without consolidating its free lists).
    Plain {
        raw: Span,
        cell: OnceLock<Box<Value>>,
    },
    /// An array of plain strings (groups, audiences): where its JSON text lies, and its
    /// value once asked for.
    Strings {
        raw: Span,
        cell: OnceLock<Box<Value>>,
    },
}

/// Where a part of the claims' text lies: start and end offsets (the text is at most
/// `u32::MAX` bytes; a token, at most 16 KiB).
type Span = (u32, u32);

/// A member's name: where it lies in the text, or unescaped (a name with escapes, or
/// claims built from a map).
enum Name {
    Span(Span),
    Owned(Box<str>),
}

/// The part of `text` at `(start, end)`; empty if it is not one (never, for the spans
/// the readers record).
fn part(text: &str, (start, end): Span) -> &str {
    text.get(start as usize..end as usize).unwrap_or_default()
}

/// How many members a token's index is allocated for at first: most tokens have fewer,
/// and 16 of 48 bytes stay below glibc's 1 KiB large-request threshold.
const MEMBERS: usize = 16;

impl Claims {
    /// Reads a JSON object's members; anything else, or JSON a `serde_json::Map` would
    /// refuse, is an error.
    pub fn parse(text: String) -> Result<Self, serde_json::Error> {
        if u32::try_from(text.len()).is_err() {
            return Err(de::Error::custom("claims longer than 4 GiB"));
        }
        if let Some(members) = Flat::read(&text) {
            return Ok(Self { text, members });
        }
        let base = text.as_ptr() as usize;
        let mut deserializer = serde_json::Deserializer::from_str(&text);
        let members = deserializer.deserialize_map(MembersVisitor { base })?;
        deserializer.end()?;
        Ok(Self { text, members })
    }

    /// Whether `member` is called `name` (a length compare settles most).
    fn is_named(&self, member: &Member, name: &str) -> bool {
        match &member.name {
            Name::Span(span @ (start, end)) => {
                // Lengths first, then the first byte: most names differ there, and
                // a whole compare is a call.
                (end - start) as usize == name.len()
                    && name.as_bytes().first().is_none_or(|first| {
                        self.text.as_bytes().get(*start as usize) == Some(first)
                    })
                    && part(&self.text, *span) == name
            }
            Name::Owned(own) => **own == *name,
        }
    }

    fn name<'a>(&'a self, member: &'a Member) -> &'a str {
        match &member.name {
            Name::Span(span) => part(&self.text, *span),
            Name::Owned(name) => name,
        }
    }

    /// The member that counts for `name` (of a repeated name, the last).
    fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().rev().find(|m| self.is_named(m, name))
    }

    /// The value of the claim `name`, if the token has it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.member(name).map(|m| self.value(m))
    }

    /// The claim `name` when it is a string: borrowed from the token's text when it has
    /// no escapes (nothing built), else the built value's text.
    pub fn str(&self, name: &str) -> Option<&str> {
        match &self.member(name)?.value {
            Slot::Built(value) => value.as_str(),
            Slot::Plain { raw, .. } => Some(self.plain(*raw)),
            Slot::Strings { .. } => None,
        }
    }

    /// A plain string's text, quotes excluded.
    fn plain(&self, (start, end): Span) -> &str {
        part(&self.text, (start + 1, end.saturating_sub(1)))
    }

    fn value<'a>(&'a self, member: &'a Member) -> &'a Value {
        match &member.value {
            Slot::Built(value) => value,
            Slot::Plain { raw, cell } => {
                cell.get_or_init(|| Box::new(Value::String(self.plain(*raw).to_owned())))
            }
            Slot::Strings { raw, cell } => cell.get_or_init(|| {
                let mut items = Vec::new();
                self.items(*raw, |item| items.push(Value::String(item.to_owned())));
                Box::new(Value::Array(items))
            }),
        }
    }

    /// Calls `each` with every item of an array of plain strings at `raw` (read once by
    /// [`Flat`] already, so read the same again).
    fn items(&self, (start, _): Span, mut each: impl FnMut(&str)) {
        let mut flat = Flat {
            bytes: self.text.as_bytes(),
            at: start as usize,
        };
        let text = &self.text;
        flat.strings(|start, end| each(text.get(start..end).unwrap_or_default()));
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
            .map(|m| match &m.value {
                Slot::Built(value) => value_bytes(value),
                Slot::Plain { raw, cell } => match cell.get() {
                    Some(value) => BOXED + value_bytes(value),
                    None => {
                        BOXED
                            + crate::token_cache::heap_string(raw.1.saturating_sub(raw.0) as usize)
                    }
                },
                Slot::Strings { raw, cell } => match cell.get() {
                    Some(value) => BOXED + value_bytes(value),
                    None => {
                        let mut items = BOXED + 16;
                        self.items(*raw, |item| {
                            items += std::mem::size_of::<Value>()
                                + crate::token_cache::heap_string(item.len());
                        });
                        items
                    }
                },
            })
            .sum();
        self.text.capacity()
            + 16
            + self.members.len() * std::mem::size_of::<Member>()
            + names
            + values
    }
}

/// The heap a value built when first asked for takes for its box.
const BOXED: usize = std::mem::size_of::<Value>();

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
            .map(|(name, value)| Member::built(Name::Owned(name.into()), value))
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
        let at = |part: &str| {
            let start = part.as_ptr() as usize - self.base;
            span((start, start + part.len())).ok_or_else(|| de::Error::custom("too long"))
        };
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(MEMBERS));
        while let Some(name) = map.next_key_seed(NameSeed)? {
            let name = match name {
                Cow::Borrowed(name) => Name::Span(at(name)?),
                Cow::Owned(name) => Name::Owned(name.into()),
            };
            let json = map.next_value::<&'de RawValue>()?.get();
            let member = if json.starts_with('"') && !json.contains('\\') {
                Member::plain(name, at(json)?)
            } else {
                let value = match small_integer(json) {
                    Some(n) => Value::from(n),
                    None => serde_json::from_str::<Value>(json).map_err(de::Error::custom)?,
                };
                Member::built(name, value)
            };
            members.push(member);
        }
        Ok(members)
    }
}

/// The common payload read in one pass without serde: an object whose names have no
/// escapes and whose values are plain strings, small integers, `true`, `false`, `null`
/// or arrays of plain strings (groups, audiences). Anything else (an escape, a control
/// character, another number, another array, an object, a syntax error) returns `None`
/// at once and the text goes to serde, so what this accepts is a subset of JSON that
/// serde reads the same way.
struct Flat<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Flat<'a> {
    fn read(text: &'a str) -> Option<Vec<Member>> {
        let mut flat = Flat {
            bytes: text.as_bytes(),
            at: 0,
        };
        let mut members = Vec::with_capacity(MEMBERS);
        flat.expect(b'{')?;
        if flat.peek() == Some(b'}') {
            flat.at += 1;
        } else {
            loop {
                let name = flat.string()?;
                flat.expect(b':')?;
                members.push(flat.member(name)?);
                match flat.next()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        flat.whitespace();
        (flat.at == flat.bytes.len()).then_some(members)
    }

    fn whitespace(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.whitespace();
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// A string without escapes or control characters: where its text lies, quotes
    /// excluded.
    #[inline]
    fn string(&mut self) -> Option<(usize, usize)> {
        self.expect(b'"')?;
        let start = self.at;
        let end = start + string_stop(self.bytes.get(start..)?)?;
        if self.bytes.get(end) != Some(&b'"') {
            return None;
        }
        self.at = end + 1;
        Some((start, end))
    }

    /// An array of plain strings: calls `each` with every item's place (quotes
    /// excluded), in order.
    fn strings(&mut self, mut each: impl FnMut(usize, usize)) -> Option<()> {
        self.expect(b'[')?;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            let (start, end) = self.string()?;
            each(start, end);
            match self.next()? {
                b',' => continue,
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    fn member(&mut self, name: (usize, usize)) -> Option<Member> {
        let name = Name::Span(span(name)?);
        if self.peek()? == b'"' {
            let (start, end) = self.string()?;
            return Some(Member::plain(name, span((start - 1, end + 1))?));
        }
        if self.peek()? == b'[' {
            let start = self.at;
            self.strings(|_, _| {})?;
            return Some(Member {
                name,
                value: Slot::Strings {
                    raw: span((start, self.at))?,
                    cell: OnceLock::new(),
                },
            });
        }
        let from = self.at;
        while matches!(self.bytes.get(self.at), Some(b'0'..=b'9' | b'a'..=b'z')) {
            self.at += 1;
        }
        let word = std::str::from_utf8(self.bytes.get(from..self.at)?).ok()?;
        let value = match word {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            digits => Value::from(small_integer(digits)?),
        };
        Some(Member::built(name, value))
    }
}

/// Offsets as a [`Span`] (`None` past 4 GiB, which `Claims::parse` refuses first).
fn span((start, end): (usize, usize)) -> Option<Span> {
    Some((u32::try_from(start).ok()?, u32::try_from(end).ok()?))
}

/// Where a JSON string's text stops being plain: the offset of the first `"`, `\\` or
/// control character in `bytes`, eight bytes at a time (a claim is mostly short strings,
/// where a SIMD search costs more to set up than it saves).
#[inline]
fn string_stop(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = ONES << 7;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        // A byte's high bit marks a zero byte of `x` (exact for the lowest one, which
        // is all that is read); `!word` keeps bytes of 0x80 and above out.
        let zero = |x: u64| x.wrapping_sub(ONES) & !x;
        let found = (zero(word ^ (ONES * u64::from(b'"')))
            | zero(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word))
            & HIGHS;
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let rest = chunks.remainder();
    let stop = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(at + stop)
}

/// A value's JSON text that is a plain non-negative integer of up to 18 digits (`exp`,
/// `iat`, `nbf`, `auth_time`: what most non-string claims are), read without a second
/// JSON parse; the same number `serde_json` reads. A leading zero is left to it (JSON
/// refuses `01`).
fn small_integer(json: &str) -> Option<u64> {
    let digits = json.as_bytes();
    let plain =
        (1..=18).contains(&digits.len()) && (digits.len() == 1 || digits.first() != Some(&b'0'));
    if !plain {
        return None;
    }
    // Eighteen digits stay below 10^18, far from u64::MAX.
    digits.iter().try_fold(0u64, |n, &digit| {
        digit
            .is_ascii_digit()
            .then(|| n * 10 + u64::from(digit - b'0'))
    })
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
    fn string_stop_finds_the_first_quote_backslash_or_control_character() {
        let naive = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        };
        let alphabet = [
            b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xa2, 0xdc, 0xff, b'!', b'#', b']',
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    let pick = (state >> (i % 8 * 8)) as usize + i;
                    if pick % 5 == 0 {
                        alphabet[pick % alphabet.len()]
                    } else {
                        b'a' + (pick % 26) as u8
                    }
                })
                .collect();
            assert_eq!(string_stop(&bytes), naive(&bytes), "{bytes:?}");
        }
    }

    #[test]
    fn an_empty_name_is_a_name_like_any_other() {
        // Found by the `template` fuzz target: a first-byte check skipped every empty name.
        let claims = Claims::parse(r#"{"":"x","b":7}"#.to_owned()).unwrap();
        assert_eq!(claims.get(""), Some(&Value::String("x".into())));
        assert_eq!(claims.str(""), Some("x"));
        assert_eq!(claims.get("b"), Some(&Value::from(7)));
        let built = Claims::parse(r#"{"":"\u0078"}"#.to_owned()).unwrap();
        assert_eq!(built.str(""), Some("x"));
    }

    #[test]
    fn a_tokens_index_is_one_small_allocation() {
        // glibc sorts a request of 1 KiB or more as large, and consolidates its free
        // lists for it: on every decision, if the index were that big.
        assert!(MEMBERS * std::mem::size_of::<Member>() < 1000);
        assert_eq!(std::mem::size_of::<Member>(), 48);
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

    /// The one-pass reader takes the common payload and leaves everything else to serde;
    /// either way the result is a `Map` parse's.
    #[test]
    fn the_flat_reader_takes_the_common_payload_only() {
        for text in [
            r#"{"iss":"https://i","sub":"s","exp":1800003600,"b":true,"f":false,"z":null,"e":""}"#,
            " { \"a\" : 12 ,\n\t\"b\":\"y\" } \r\n",
            r#"{}"#,
            r#"{"a":0,"a":"again"}"#,
            r#"{"g":["ops","dev"],"h":[],"i":[ "x" ,"y" ]}"#,
            "{\"del\":\"\u{7f}\",\"é\":\"ü\"}",
        ] {
            assert!(Flat::read(text).is_some(), "{text}");
            same_as_map(text);
        }
        for text in [
            r#"{"a":"\u0041"}"#,
            r#"{"a\n":1}"#,
            r#"{"a":1.5}"#,
            r#"{"a":-1}"#,
            r#"{"a":1e3}"#,
            r#"{"a":[1]}"#,
            r#"{"a":["x",1]}"#,
            r#"{"a":["x",]}"#,
            r#"{"a":[,"x"]}"#,
            r#"{"a":["x""y"]}"#,
            r#"{"a":["x"}"#,
            r#"{"a":[["x"]]}"#,
            r#"{"a":["\u0041"]}"#,
            r#"{"a":{}}"#,
            r#"{"a":01}"#,
            r#"{"a":18446744073709551615}"#,
            r#"{"a":truex}"#,
            r#"{"a":tru}"#,
            r#"{"a":"x" "b":1}"#,
            r#"{"a":1,}"#,
            r#"{"a":1}}"#,
            r#"{"a":1"#,
            r#"{"a" 1}"#,
            "{\"a\":\"x\u{1}\"}",
            r#"[]"#,
            r#""#,
        ] {
            assert!(Flat::read(text).is_none(), "{text}");
            same_as_map(text);
        }
    }

    /// Random texts over the characters that matter to both readers, each judged by both.
    #[test]
    fn random_texts_are_read_as_a_map_reads_them() {
        let pieces = [
            "{",
            "}",
            "\"",
            ":",
            ",",
            " ",
            "\n",
            "a",
            "b",
            "0",
            "1",
            "7",
            "-",
            ".",
            "e",
            "true",
            "false",
            "null",
            "\\",
            "u",
            "[",
            "]",
            "[\"g\"",
            "\"h\"]",
            "\u{1}",
            "é",
            "\"a\":",
            "\"b\":\"x\"",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..50_000 {
            let len = 1 + next() % 14;
            let mut text = String::from("{");
            for _ in 0..len {
                text.push_str(pieces[(next() % pieces.len() as u64) as usize]);
            }
            same_as_map(&text);
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
