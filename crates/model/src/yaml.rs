//! YAML text to a JSON value plus the source position of every node.
//!
//! The twin format is YAML, but validation (JSON Schema) and decoding (serde) work on JSON
//! values. This module walks the YAML event stream once, without recursion, and builds both the
//! value and a [`SpanIndex`] from JSON Pointer to line and column, so that every later error can
//! name the place it is about. It guards against hostile input: alias bombs, deep nesting,
//! duplicate keys and non-finite numbers are reported as errors, never panics.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr::{Scalar, ScalarStyle};
use saphyr_parser::{Event, Parser, Span};
use serde_json::{Map, Value};

/// A position in a source file, 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Loc {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
}

impl Loc {
    fn of(span: &Span) -> Self {
        Loc {
            line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
            col: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
        }
    }
}

/// Where each node of a document starts: its value and, for map entries, its key.
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    values: HashMap<String, Loc>,
    keys: HashMap<String, Loc>,
}

impl SpanIndex {
    /// The position of the value at `pointer`, or of its nearest ancestor that has one.
    pub fn value(&self, pointer: &str) -> Loc {
        self.find(&self.values, pointer)
    }

    /// The position of the key of the map entry at `pointer` (falling back to its value).
    pub fn key(&self, pointer: &str) -> Loc {
        match self.keys.get(pointer) {
            Some(loc) => *loc,
            None => self.value(pointer),
        }
    }

    fn find(&self, map: &HashMap<String, Loc>, pointer: &str) -> Loc {
        let mut p = pointer;
        loop {
            if let Some(loc) = map.get(p) {
                return *loc;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Loc { line: 1, col: 1 },
            }
        }
    }
}

/// A YAML problem at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// Where.
    pub loc: Loc,
    /// JSON Pointer of the node concerned ("" for the document).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// Nodes an alias may expand the document to before we refuse it (a "billion laughs" guard),
/// or the document's length in bytes if larger: without aliases every node takes at least a
/// byte of text, so only aliases can pass that bound, and a large estate's twin (a 5,000-host
/// estate is 5 MB of JSON and more than 2 million nodes) still loads.
const MAX_NODES: usize = 2_000_000;
/// Deepest nesting accepted; real twins stay below 15.
const MAX_DEPTH: usize = 200;

/// Escapes one JSON Pointer reference token (RFC 6901).
pub fn escape_token(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

enum Frame {
    Seq {
        items: Vec<Value>,
        pointer: String,
        anchor: usize,
        size: usize,
    },
    Map {
        obj: Map<String, Value>,
        pointer: String,
        anchor: usize,
        size: usize,
        key: Option<(String, Loc)>,
        merges: Vec<Value>,
    },
}

impl Frame {
    /// JSON Pointer of the next child of this frame.
    fn child_pointer(&self) -> String {
        match self {
            Frame::Seq { items, pointer, .. } => format!("{pointer}/{}", items.len()),
            Frame::Map {
                pointer,
                key: Some((k, _)),
                ..
            } => format!("{pointer}/{}", escape_token(k)),
            Frame::Map { pointer, .. } => pointer.clone(),
        }
    }
}

/// Parses one YAML document into a JSON value and the index of its positions.
///
/// A parsed document: the value, where its nodes are, and the problems the parser could
/// continue past (duplicate keys keep their first value; bad scalars become null).
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The document as a JSON value.
    pub value: Value,
    /// Positions of its nodes.
    pub index: SpanIndex,
    /// Problems found along the way.
    pub errors: Vec<YamlError>,
}

/// Parses one YAML document into a JSON value and the index of its positions.
///
/// An empty document is an empty mapping. A syntax error, an alias bomb or excessive nesting
/// stops the parse (`Err`); duplicate keys and bad scalars are reported in [`Parsed::errors`].
pub fn parse(text: &str) -> Result<Parsed, Vec<YamlError>> {
    let mut index = SpanIndex::default();
    let mut errors = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut root: Option<Value> = None;
    let mut documents = 0usize;
    let mut nodes = 0usize;
    let max_nodes = MAX_NODES.max(text.len());

    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(ev) => ev,
            Err(e) => {
                let m = e.marker();
                let loc = Loc {
                    line: u32::try_from(m.line()).unwrap_or(u32::MAX),
                    col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
                };
                errors.push(YamlError {
                    loc,
                    pointer: String::new(),
                    message: format!("YAML syntax: {}", e.info()),
                });
                return Err(errors);
            }
        };
        let loc = Loc::of(&span);
        // A completed node: (value, anchor id, expanded size).
        let done: Option<(Value, usize, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    errors.push(YamlError {
                        loc,
                        pointer: String::new(),
                        message: "a twin file holds one YAML document; put more in another file and list it under `include`".into(),
                    });
                    return Err(errors);
                }
                None
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    errors.push(YamlError {
                        loc,
                        pointer: String::new(),
                        message: format!("nesting deeper than {MAX_DEPTH} levels"),
                    });
                    return Err(errors);
                }
                let pointer = stack.last().map_or_else(String::new, Frame::child_pointer);
                if let Some(Frame::Map { key: None, .. }) = stack.last() {
                    errors.push(YamlError {
                        loc,
                        pointer: pointer.clone(),
                        message: "a mapping key must be a plain value, not a list or mapping"
                            .into(),
                    });
                    return Err(errors);
                }
                index.values.insert(pointer.clone(), loc);
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        items: Vec::new(),
                        pointer,
                        anchor,
                        size: 1,
                    }
                } else {
                    Frame::Map {
                        obj: Map::new(),
                        pointer,
                        anchor,
                        size: 1,
                        key: None,
                        merges: Vec::new(),
                    }
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    items,
                    anchor,
                    size,
                    ..
                }) => Some((Value::Array(items), anchor, size)),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    mut obj,
                    anchor,
                    size,
                    merges,
                    ..
                }) => {
                    // YAML merge keys (`<<: *base`): explicit keys win over merged ones.
                    for merged in merges {
                        if let Value::Object(m) = merged {
                            for (k, v) in m {
                                obj.entry(k).or_insert(v);
                            }
                        }
                    }
                    Some((Value::Object(obj), anchor, size))
                }
                _ => None,
            },
            Event::Alias(id) => match anchors.get(&id) {
                Some((v, size)) => Some((v.clone(), 0, *size)),
                None => {
                    errors.push(YamlError {
                        loc,
                        pointer: String::new(),
                        message: "alias to an unknown anchor".into(),
                    });
                    return Err(errors);
                }
            },
            Event::Scalar(text, style, anchor, tag) => {
                let pointer = stack.last().map_or_else(String::new, Frame::child_pointer);
                // Keys are always strings, whatever they look like.
                if let Some(Frame::Map { key: None, .. }) = stack.last() {
                    let key = text.into_owned();
                    Some((Value::String(key), usize::MAX, 1))
                } else {
                    let value = resolve_scalar(text, style, tag.as_ref()).unwrap_or_else(|msg| {
                        errors.push(YamlError {
                            loc,
                            pointer,
                            message: msg,
                        });
                        Value::Null
                    });
                    Some((value, anchor, 1))
                }
            }
        };
        let Some((value, anchor, size)) = done else {
            continue;
        };
        nodes = nodes.saturating_add(size);
        if nodes > max_nodes {
            errors.push(YamlError {
                loc,
                pointer: String::new(),
                message: format!("document expands to more than {max_nodes} nodes (alias bomb?)"),
            });
            return Err(errors);
        }
        if anchor != 0 && anchor != usize::MAX {
            anchors.insert(anchor, (value.clone(), size));
        }
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Seq {
                items,
                pointer,
                size: s,
                ..
            }) => {
                *s = s.saturating_add(size);
                index
                    .values
                    .entry(format!("{pointer}/{}", items.len()))
                    .or_insert(loc);
                items.push(value);
            }
            Some(Frame::Map {
                obj,
                pointer,
                key,
                size: s,
                merges,
                ..
            }) => {
                *s = s.saturating_add(size);
                match key.take() {
                    None if anchor == usize::MAX => {
                        let Value::String(k) = value else { continue };
                        let child = format!("{pointer}/{}", escape_token(&k));
                        if obj.contains_key(&k) {
                            let first = index.keys.get(&child).copied().unwrap_or_default();
                            errors.push(YamlError {
                                loc,
                                pointer: child.clone(),
                                message: format!(
                                    "duplicate key `{k}` (first defined at line {})",
                                    first.line
                                ),
                            });
                            // Keep the first; the duplicate's value is parsed and discarded.
                            *key = Some((format!("\u{0}dup{}", obj.len()), loc));
                            continue;
                        }
                        index.keys.insert(child.clone(), loc);
                        *key = Some((k, loc));
                    }
                    None => {
                        errors.push(YamlError {
                            loc,
                            pointer: pointer.clone(),
                            message: "a mapping key must be a plain value".into(),
                        });
                        return Err(errors);
                    }
                    Some((k, _)) if k.starts_with('\u{0}') => {}
                    Some((k, _)) if k == "<<" => merges.push(value),
                    Some((k, _)) => {
                        let child = format!("{pointer}/{}", escape_token(&k));
                        index.values.entry(child).or_insert(loc);
                        obj.insert(k, value);
                    }
                }
            }
        }
    }
    let value = match root {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v) => v,
    };
    Ok(Parsed {
        value,
        index,
        errors,
    })
}

/// Resolves a scalar by the YAML 1.2 core schema: plain `true`, `12`, `1.5`, `null` become
/// typed values; quoted scalars stay strings.
fn resolve_scalar(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Cow<'_, saphyr_parser::Tag>>,
) -> Result<Value, String> {
    if style != ScalarStyle::Plain && tag.is_none() {
        return Ok(Value::String(text.into_owned()));
    }
    let shown = text.to_string();
    match Scalar::parse_from_cow_and_metadata(text, style, tag) {
        None => Err(format!("`{shown}` does not match its tag")),
        Some(Scalar::Null) => Ok(Value::Null),
        Some(Scalar::Boolean(b)) => Ok(Value::Bool(b)),
        Some(Scalar::Integer(i)) => Ok(Value::from(i)),
        Some(Scalar::FloatingPoint(f)) => serde_json::Number::from_f64(f.into_inner())
            .map(Value::Number)
            .ok_or_else(|| format!("`{shown}` is not a finite number")),
        Some(Scalar::String(s)) => Ok(Value::String(s.into_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_and_positions() {
        let text = "a: 1\nb:\n  - x\n  - 'true'\n  - true\nc: {d: 1.5, e: ~}\n";
        let Parsed {
            value: v,
            index: idx,
            ..
        } = parse(text).unwrap();
        assert_eq!(
            v,
            json!({"a": 1, "b": ["x", "true", true], "c": {"d": 1.5, "e": null}})
        );
        assert_eq!(idx.value("/b/1"), Loc { line: 4, col: 5 });
        assert_eq!(idx.key("/c"), Loc { line: 6, col: 1 });
        assert_eq!(idx.value("/c/d"), Loc { line: 6, col: 8 });
        // Unknown pointers fall back to the nearest ancestor.
        assert_eq!(idx.value("/b/1/zz"), Loc { line: 4, col: 5 });
    }

    #[test]
    fn duplicate_keys_name_both_lines() {
        let parsed = parse("a: 1\nb: 2\na: 3\nc: 4\n").unwrap();
        assert_eq!(parsed.value, json!({"a": 1, "b": 2, "c": 4}));
        let errs = parsed.errors;
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].loc, Loc { line: 3, col: 1 });
        assert_eq!(
            errs[0].message,
            "duplicate key `a` (first defined at line 1)"
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let v = parse("base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  y: 3\nlist: [*b]\n")
            .unwrap()
            .value;
        assert_eq!(v["thing"], json!({"x": 1, "y": 3}));
        assert_eq!(v["list"], json!([{"x": 1, "y": 2}]));
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let errs = parse(&bomb).unwrap_err();
        assert!(errs[0].message.contains("alias bomb"), "{errs:?}");
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_err());
        // A large document without aliases is not a bomb, however many nodes it has.
        let big = format!("[{}]", vec!["1"; 2_100_000].join(","));
        assert_eq!(
            parse(&big).unwrap().value.as_array().map(Vec::len),
            Some(2_100_000)
        );
    }

    #[test]
    fn syntax_errors_have_positions_and_empty_is_empty() {
        let errs = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(errs[0].message.starts_with("YAML syntax"), "{errs:?}");
        assert_eq!(parse("").unwrap().value, json!({}));
        assert!(
            parse("a: 1\n---\nb: 2\n").unwrap_err()[0]
                .message
                .contains("one YAML document")
        );
    }
}
