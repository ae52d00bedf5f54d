//! What the structured fuzz tests of every parser of untrusted input share (`fuzz_tests` modules
//! in core, the host and the provider crates, which include this file with `#[path]`): edits of
//! valid seed documents as bytes (tokens that push a parser into its rarer states, deletions,
//! duplications, truncation) and as JSON values (a node replaced by a wrong type, a huge number,
//! odd unicode, a bad date or deep nesting; a member removed).
//!
//! The fuzzing is proptest, not cargo-fuzz: cargo-fuzz needs a nightly toolchain with the
//! sanitizers (`-Zsanitizer`), and this project builds with stable rustc 1.95 (checked:
//! `cargo fuzz` is not installed, `rustc -V` is a stable release). Each property runs proptest's
//! default number of cases (256) in `cargo test`; `scripts/fuzz` runs only the fuzz tests with
//! many more (`PROPTEST_CASES`, 20000 by default).

#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

/// Fragments that make a parser take its rarer paths: markup of XML, iCalendar and JSON,
/// escapes, numbers at the edges, dates and zones that do not exist, odd unicode.
pub const TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "<a>",
    "</a>",
    "<?xml version=\"1.0\"?>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<!DOCTYPE x>",
    "&",
    ";",
    "&amp;",
    "&lt;",
    "&#0;",
    "&#x110000;",
    "&#233;",
    "&foo;",
    "=\"",
    "'",
    "\"",
    "xmlns:a=\"x\"",
    ":",
    "a:",
    "\r\n",
    "\n",
    "\r",
    " ",
    "\t",
    "\r\n ",
    "BEGIN:VCALENDAR",
    "END:VCALENDAR",
    "BEGIN:VFREEBUSY",
    "END:VFREEBUSY",
    "BEGIN:",
    "END:",
    "FREEBUSY:",
    ";FBTYPE=",
    ";TZID=",
    ",",
    "/",
    "P",
    "PT",
    "W",
    "D",
    "H",
    "M",
    "S",
    "T",
    "Z",
    "{",
    "}",
    "[",
    "]",
    "null",
    "true",
    "-",
    "+",
    "0",
    "-1",
    "99999999999999999999",
    "18446744073709551616",
    "1e308",
    "-9223372036854775808",
    "9223372036854775807",
    "4294967295",
    "2147483648",
    "2026-02-30T25:61:61",
    "9999-12-31T23:59:59",
    "+262143-12-31T23:59:59",
    "0000-01-01T00:00:00",
    "20260229T000000Z",
    "99991231T235959Z",
    "Mars/Olympus",
    "Pacific Standard Time",
    "Europe/Berlin",
    "\u{0}",
    "\u{7f}",
    "é",
    "🎉",
    "\u{202e}",
    "\u{feff}",
    "\u{fffd}",
    "\u{10ffff}",
    "\\",
    "\\u0000",
    "\\ud800",
    "=",
    "[[[[[[[[",
    "]]]]]]]]",
    "a = 1",
    "[x]",
    "[[x]]",
];

/// One edit of a document.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Insert a fragment at a position.
    Insert(Index, String),
    /// Delete up to this many bytes from a position.
    Delete(Index, usize),
    /// Replace up to this many bytes from a position by a fragment.
    Replace(Index, usize, String),
    /// Repeat a stretch of up to this many bytes from a position, a few times.
    Duplicate(Index, usize, usize),
    /// Keep only what comes before a position.
    Truncate(Index),
}

/// A fragment: one of [`TOKENS`], a few arbitrary characters, or a long run.
pub fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(TOKENS).prop_map(str::to_string),
        2 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
        1 => (proptest::sample::select(TOKENS), 1usize..400).prop_map(|(t, n)| t.repeat(n)),
    ]
}

/// One edit.
pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<Index>(), fragment()).prop_map(|(i, f)| Edit::Insert(i, f)),
        2 => (any::<Index>(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        3 => (any::<Index>(), 1usize..20, fragment()).prop_map(|(i, n, f)| Edit::Replace(i, n, f)),
        1 => (any::<Index>(), 1usize..200, 1usize..20).prop_map(|(i, n, k)| Edit::Duplicate(i, n, k)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

/// One to six edits.
pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec(edit(), 1..6)
}

/// `doc` with the edits applied in turn, as bytes (the result need not be UTF-8).
pub fn apply(doc: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = doc.to_vec();
    for e in edits {
        let at = |i: &Index| i.index(out.len() + 1);
        match e {
            Edit::Insert(i, f) => {
                let p = at(i);
                out.splice(p..p, f.bytes());
            }
            Edit::Delete(i, n) => {
                let p = at(i);
                out.drain(p..(p + n).min(out.len()));
            }
            Edit::Replace(i, n, f) => {
                let p = at(i);
                let end = (p + n).min(out.len());
                out.splice(p..end, f.bytes());
            }
            Edit::Duplicate(i, n, k) => {
                let p = at(i);
                let piece = out[p..(p + n).min(out.len())].to_vec();
                for _ in 0..*k {
                    out.splice(p..p, piece.iter().copied());
                }
            }
            Edit::Truncate(i) => {
                let p = at(i);
                out.truncate(p);
            }
        }
    }
    out
}

/// [`apply`] for parsers of text: invalid UTF-8 is replaced, as `String::from_utf8_lossy` does
/// with answers.
pub fn apply_str(doc: &str, edits: &[Edit]) -> String {
    String::from_utf8_lossy(&apply(doc.as_bytes(), edits)).into_owned()
}

/// Every strict prefix of `doc` (whitespace at its end left out first) that ends on a character
/// boundary: a document cut anywhere.
pub fn cuts(doc: &str) -> impl Iterator<Item = &str> {
    let doc = doc.trim_end();
    (0..doc.len()).filter(|&i| doc.is_char_boundary(i)).map(move |i| &doc[..i])
}

/// Arrays nested `depth` deep around `inner`.
pub fn nested(depth: usize, inner: Value) -> Value {
    (0..depth).fold(inner, |v, _| Value::Array(vec![v]))
}

/// A JSON value an upstream should not send where a field is expected: each wrong type, numbers
/// at and beyond the edges, bad dates and zones, odd unicode, long strings, deep nesting.
pub fn odd_value() -> impl Strategy<Value = Value> {
    use serde_json::json;
    let fixed = vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(1e308),
        json!(-1e308),
        json!(""),
        json!(" "),
        json!("\u{0}"),
        json!("é🎉\u{202e}\u{feff}"),
        json!("2026-02-30T25:61:61.0000000"),
        json!("+262143-12-31T23:59:59.9999999"),
        json!("-262144-01-01T00:00:00"),
        json!("0000-01-01T00:00:00"),
        json!("2026-03-23T09:00:00.00000000000000000001"),
        json!("2026-03-23"),
        json!("2026-03-23T09:00:00+14:00"),
        json!("Mars/Olympus"),
        json!("Pacific Standard Time"),
        json!("UTC"),
        json!("99:99:99"),
        json!("24:00:00.0000000"),
        json!("24:59:00.0000000"),
        json!("65535:00"),
        json!("-08:00"),
        json!([]),
        json!({}),
        json!([null, 1, "x"]),
        json!({"dateTime": "2026-03-23T09:00:00", "timeZone": "UTC"}),
        json!({"dateTime": 20260323, "timeZone": null}),
        nested(100, json!(1)),
        nested(200, json!(1)),
    ];
    prop_oneof![
        6 => proptest::sample::select(fixed),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => any::<String>().prop_map(Value::from),
        1 => (1usize..5000).prop_map(|n| Value::from("x".repeat(n))),
    ]
}

/// One edit of a JSON document.
#[derive(Debug, Clone)]
pub enum JsonEdit {
    /// Replace a node by another value.
    Set(Index, Value),
    /// Remove a node (an object member or an array element).
    Remove(Index),
    /// Repeat an array element or object many times (a huge answer).
    Repeat(Index, usize),
}

/// One to four JSON edits.
pub fn json_edits() -> impl Strategy<Value = Vec<JsonEdit>> {
    let edit = prop_oneof![
        5 => (any::<Index>(), odd_value()).prop_map(|(i, v)| JsonEdit::Set(i, v)),
        3 => any::<Index>().prop_map(JsonEdit::Remove),
        1 => (any::<Index>(), 2usize..300).prop_map(|(i, n)| JsonEdit::Repeat(i, n)),
    ];
    proptest::collection::vec(edit, 1..4)
}

/// JSON pointers of every node but the root, in document order.
fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{at}/{}", escape(k));
                out.push(p.clone());
                pointers(child, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, &p, out);
            }
        }
        _ => {}
    }
}

/// `doc` with the edits applied in turn.
pub fn apply_json(doc: &Value, edits: &[JsonEdit]) -> Value {
    let mut out = doc.clone();
    for e in edits {
        let mut all = Vec::new();
        pointers(&out, "", &mut all);
        if all.is_empty() {
            continue;
        }
        let pick = |i: &Index| all[i.index(all.len())].clone();
        match e {
            JsonEdit::Set(i, v) => {
                if let Some(node) = out.pointer_mut(&pick(i)) {
                    *node = v.clone();
                }
            }
            JsonEdit::Remove(i) | JsonEdit::Repeat(i, _) => {
                let p = pick(i);
                let (parent, last) = p.rsplit_once('/').expect("pointers start with /");
                let key = last.replace("~1", "/").replace("~0", "~");
                let Some(parent) = out.pointer_mut(parent) else { continue };
                match (parent, e) {
                    (Value::Object(map), JsonEdit::Remove(_)) => {
                        map.remove(&key);
                    }
                    (Value::Array(items), JsonEdit::Remove(_)) => {
                        if let Ok(k) = key.parse::<usize>() {
                            if k < items.len() {
                                items.remove(k);
                            }
                        }
                    }
                    (Value::Array(items), JsonEdit::Repeat(_, n)) => {
                        if let Some(item) = key.parse::<usize>().ok().and_then(|k| items.get(k).cloned()) {
                            items.extend(std::iter::repeat_n(item, *n));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}
