//! Structural diff of two twin documents: what was added, removed or changed, by JSON Pointer.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One difference between two documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// JSON Pointer of the changed node, e.g. `/services/cart/replicas`.
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub op: String,
    /// The value before (absent when added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after (absent when removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// The differences from `a` to `b`, in document order: objects are compared key by key,
/// arrays element by element (extra elements are added or removed), anything else by value.
pub fn diff(a: &Value, b: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(a, b, &mut String::new(), &mut out);
    out
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk(a: &Value, b: &Value, path: &mut String, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let len = path.len();
                path.push('/');
                path.push_str(&escape(k));
                match y.get(k) {
                    Some(vb) => walk(va, vb, path, out),
                    None => out.push(Change {
                        path: path.clone(),
                        op: "removed".into(),
                        before: Some(va.clone()),
                        after: None,
                    }),
                }
                path.truncate(len);
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(Change {
                        path: format!("{path}/{}", escape(k)),
                        op: "added".into(),
                        before: None,
                        after: Some(vb.clone()),
                    });
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => walk(va, vb, path, out),
                    (Some(va), None) => out.push(Change {
                        path: path.clone(),
                        op: "removed".into(),
                        before: Some(va.clone()),
                        after: None,
                    }),
                    (None, Some(vb)) => out.push(Change {
                        path: path.clone(),
                        op: "added".into(),
                        before: None,
                        after: Some(vb.clone()),
                    }),
                    (None, None) => {}
                }
                path.truncate(len);
            }
        }
        _ if a == b => {}
        _ => out.push(Change {
            path: path.clone(),
            op: "changed".into(),
            before: Some(a.clone()),
            after: Some(b.clone()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_added_removed_and_changed_by_pointer() {
        let a = json!({"services": {"cart": {"replicas": 2}, "a/b": 1}, "list": [1, 2]});
        let b = json!({"services": {"cart": {"replicas": 3}, "new": true}, "list": [1]});
        let d = diff(&a, &b);
        let summary: Vec<(String, String)> =
            d.iter().map(|c| (c.op.clone(), c.path.clone())).collect();
        assert_eq!(
            summary,
            vec![
                ("changed".into(), "/services/cart/replicas".into()),
                ("removed".into(), "/services/a~1b".into()),
                ("added".into(), "/services/new".into()),
                ("removed".into(), "/list/1".into()),
            ]
        );
        assert_eq!(d[0].before, Some(json!(2)));
        assert_eq!(d[0].after, Some(json!(3)));
        assert!(diff(&a, &a).is_empty());
    }
}
