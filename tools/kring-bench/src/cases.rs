// SPDX-License-Identifier: GPL-2.0 OR MIT
//! The schema payloads, shared by the `schema` scenario and the micro-benchmarks
//! (`benches/micro.rs` includes this file).

use kring::schema::{Schema, SchemaError, Value};

/// A schema with one value of it, encoded.
pub struct Case {
    /// Short name (reports).
    pub name: &'static str,
    /// The schema.
    pub schema: Schema,
    /// The value (the micro-benchmarks encode it).
    #[allow(dead_code)]
    pub value: Value,
    /// Its canonical encoding.
    pub bytes: Vec<u8>,
}

/// Marks where a sender stamps its sequence into the string-heavy record (16 hex digits).
pub const STRING_STAMP: &str = "@@@@@@@@@@@@@@@@";

fn case(name: &'static str, wit: &str, ty: &str, value: Value) -> Result<Case, SchemaError> {
    let schema = Schema::from_wit(wit, ty)?;
    let bytes = schema.encode(&value)?;
    Ok(Case {
        name,
        schema,
        value,
        bytes,
    })
}

/// `record embedding { data: list<f32> }` with 768 floats (3080 bytes).
pub fn vec768() -> Result<Case, SchemaError> {
    let data = Value::List(
        (0..768)
            .map(|i| Value::F32((i as f32 * 0.37).sin()))
            .collect(),
    );
    case(
        "vec768",
        "package bench:v; interface v { record embedding { data: list<f32> } }",
        "embedding",
        Value::record([("data", data)]),
    )
}

/// A string-heavy record: four strings (multi-byte UTF-8 included) and a list of 24 strings,
/// about 3 KB.
pub fn strings() -> Result<Case, SchemaError> {
    let s = |x: String| Value::String(x);
    let body = format!(
        "{STRING_STAMP} {}",
        "Grüße aus der Warteschlange — kring ✓ validates UTF-8. ".repeat(36)
    );
    let tags = Value::List((0..24).map(|i| s(format!("tag-{i:02}-ünïcödé"))).collect());
    case(
        "strings",
        "package bench:s; interface s { record document { title: string, author: string, body: string, tags: list<string> } }",
        "document",
        Value::record([
            ("title", s("A string-heavy record for the schema benchmark ✓".into())),
            ("author", s("kring-bench <bench@example.invalid>".into())),
            ("body", s(body)),
            ("tags", tags),
        ]),
    )
}

/// `record items { all: list<item> }` of `n` small records `item { on: bool, c: char, n: u16 }`
/// (12 bytes each); item `i` has `n = 0xA500 + i`.
pub fn records(n: usize) -> Result<Case, SchemaError> {
    let items = (0..n).map(|i| {
        Value::record([
            ("on", Value::Bool(i % 2 == 0)),
            ("c", Value::Char(['a', 'λ', '✓', '🦀'][i % 4])),
            ("n", Value::U16(0xA500 + i as u16)),
        ])
    });
    case(
        "records",
        "package bench:r; interface r { record item { on: bool, c: char, n: u16 } record items { all: list<item> } }",
        "items",
        Value::record([("all", Value::List(items.collect()))]),
    )
}
