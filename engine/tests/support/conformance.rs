//! The conformance runner shared by the engine's in-process test and the
//! binary's over-HTTP tests: loads the cases, runs each one against an
//! [`Api`], and compares responses with the rules of the suite's `run.py`
//! (numbers by value, object key order ignored, `$$type`/`$$exists`
//! matchers, and the partial forms `documents_unordered` and `count`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// Something that answers Data API requests: `(status, JSON body)`.
pub trait Api {
    fn send(&mut self, action: &str, body: &[u8], ejson: bool) -> (u16, Value);
}

/// Where the cases are: `$LAURA_CONFORMANCE_CASES`, the shared suite next
/// to the repository, or the copy vendored in `tests/conformance/cases`.
pub fn cases_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if let Ok(dir) = std::env::var("LAURA_CONFORMANCE_CASES") {
        return PathBuf::from(dir);
    }
    let shared = root.join("../shared/conformance/cases");
    if shared.is_dir() {
        shared
    } else {
        root.join("tests/conformance/cases")
    }
}

/// Every case of the topics `include` accepts, as `(topic:id, case)`, minus
/// the skipped ones (counted) and those not matching `$CONFORMANCE_FILTER`.
pub fn load_cases(include: impl Fn(&str) -> bool) -> (Vec<(String, Value)>, usize) {
    let dir = cases_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("conformance cases not found in {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            p.extension().is_some_and(|x| x == "json") && include(name)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files in {}", dir.display());
    let filter = std::env::var("CONFORMANCE_FILTER").unwrap_or_default();
    let (mut cases, mut skipped) = (Vec::new(), 0);
    for file in &files {
        let topic = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        let in_file: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(file).expect("read case file"))
                .expect("case JSON");
        for case in in_file {
            let id = format!("{topic}:{}", case["id"].as_str().expect("id"));
            if !id.contains(&filter) {
                continue;
            }
            if case.get("skip").is_some() {
                skipped += 1;
                continue;
            }
            cases.push((id, case));
        }
    }
    (cases, skipped)
}

/// Runs every case with a fresh collection name per case, prints failures
/// and a summary, and asserts that all passed (and that enough ran).
pub fn run_all(api: &mut dyn Api, include: impl Fn(&str) -> bool, label: &str) {
    let (cases, skipped) = load_cases(include);
    let (mut passed, mut failures) = (0, Vec::new());
    for (n, (id, case)) in cases.iter().enumerate() {
        let main = format!("c{n}_{}", sanitize(case["id"].as_str().unwrap_or("case")));
        match run_case(api, case, &main) {
            Ok(()) => passed += 1,
            Err(msg) => failures.push(format!("FAIL {id}: {msg}")),
        }
    }
    for f in &failures {
        eprintln!("{f}");
    }
    eprintln!(
        "conformance ({label}): {passed} passed, {} failed, {skipped} skipped",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} conformance case(s) failed against {label} (see above)",
        failures.len()
    );
    assert!(passed > 100, "only {passed} cases ran");
}

fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

// ── the runner's comparison rules ──────────────────────────────────────────

fn is_num(v: &Value) -> bool {
    v.is_number()
}

fn type_matches(name: &str, v: &Value) -> bool {
    let hex24 = |s: &str| s.len() == 24 && s.chars().all(|c| c.is_ascii_hexdigit());
    match name {
        "objectId" => match v {
            Value::String(s) => hex24(s),
            Value::Object(m) => {
                m.len() == 1 && m.get("$oid").and_then(Value::as_str).is_some_and(hex24)
            }
            _ => false,
        },
        "date" => match v {
            Value::String(s) => s.len() >= 10 && s.as_bytes()[4] == b'-',
            Value::Object(m) => m.len() == 1 && m.contains_key("$date"),
            _ => false,
        },
        "number" => {
            is_num(v)
                || matches!(v, Value::Object(m) if m.len() == 1 && m.keys().next().is_some_and(|k| ["$numberInt", "$numberLong", "$numberDouble", "$numberDecimal"].contains(&k.as_str())))
        }
        "string" => v.is_string(),
        "bool" => v.is_boolean(),
        "null" => v.is_null(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        other => panic!("unknown $$type {other}"),
    }
}

fn canon_num(v: &Value) -> Option<(String, f64)> {
    let m = v.as_object()?;
    if m.len() != 1 {
        return None;
    }
    let (k, v) = m.iter().next()?;
    let s = v.as_str()?;
    match k.as_str() {
        "$numberInt" | "$numberLong" | "$numberDouble" => Some((k.clone(), s.parse().ok()?)),
        _ => None,
    }
}

fn diff(exp: &Value, got: &Value, path: &str) -> Option<String> {
    if let Value::Object(m) = exp
        && m.len() == 1
    {
        if m.contains_key("$$exists") {
            return None;
        }
        if let Some(t) = m.get("$$type").and_then(Value::as_str) {
            return (!type_matches(t, got))
                .then(|| format!("{path}: expected a value of type {t}, got {got}"));
        }
    }
    if is_num(exp) && is_num(got) {
        return (exp.as_f64() != got.as_f64())
            .then(|| format!("{path}: expected {exp}, got {got}"));
    }
    match (exp, got) {
        (Value::Object(e), Value::Object(g)) => {
            if let (Some(ce), Some(cg)) = (canon_num(exp), canon_num(got)) {
                return (ce != cg).then(|| format!("{path}: expected {exp}, got {got}"));
            }
            for (k, ev) in e {
                let Some(gv) = g.get(k) else {
                    return Some(format!("{path}.{k}: missing (expected {ev})"));
                };
                if let Some(d) = diff(ev, gv, &format!("{path}.{k}")) {
                    return Some(d);
                }
            }
            g.keys()
                .find(|k| !e.contains_key(*k))
                .map(|k| format!("{path}.{k}: unexpected field"))
        }
        (Value::Array(e), Value::Array(g)) => {
            for (i, (ev, gv)) in e.iter().zip(g).enumerate() {
                if let Some(d) = diff(ev, gv, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (e.len() != g.len()).then(|| {
                format!(
                    "{path}: expected {} elements, got {}: {got}",
                    e.len(),
                    g.len()
                )
            })
        }
        _ => (exp != got).then(|| format!("{path}: expected {exp}, got {got}")),
    }
}

fn multiset_diff(exp: &[Value], got: &[Value]) -> Option<String> {
    let mut remaining: Vec<&Value> = got.iter().collect();
    let mut missing = Vec::new();
    for e in exp {
        match remaining.iter().position(|g| diff(e, g, "").is_none()) {
            Some(i) => {
                remaining.remove(i);
            }
            None => missing.push(e),
        }
    }
    (!missing.is_empty() || !remaining.is_empty())
        .then(|| format!("documents (unordered): missing {missing:?}; unexpected {remaining:?}"))
}

fn strip_id(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| *k != "_id")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn compare_response(
    expect: &Map<String, Value>,
    body: &Value,
    ignore_id: bool,
    unordered: bool,
) -> Option<String> {
    let Value::Object(body) = body else {
        return Some(format!("body is not an object: {body}"));
    };
    let mut body = body.clone();
    if ignore_id {
        if let Some(Value::Array(docs)) = body.get_mut("documents") {
            *docs = docs.iter().map(strip_id).collect();
        }
        if let Some(doc @ Value::Object(_)) = body.get_mut("document") {
            *doc = strip_id(doc);
        }
    }
    let mut wanted = vec![];
    for (k, e) in expect {
        if k == "documents_unordered" || k == "count" {
            wanted.push("documents".to_string());
            let Some(Value::Array(docs)) = body.get("documents") else {
                return Some("documents missing".into());
            };
            if k == "count" {
                if Some(docs.len() as u64) != e.as_u64() {
                    return Some(format!("expected {e} documents, got {}", docs.len()));
                }
            } else if let Some(d) =
                multiset_diff(e.as_array().expect("documents_unordered is a list"), docs)
            {
                return Some(d);
            }
            continue;
        }
        wanted.push(k.clone());
        let Some(g) = body.get(k) else {
            return Some(format!(
                "{k}: missing from response {}",
                Value::Object(body.clone())
            ));
        };
        let d = match (k.as_str(), unordered, e, g) {
            ("documents", true, Value::Array(e), Value::Array(g)) => multiset_diff(e, g),
            _ => diff(e, g, k),
        };
        if d.is_some() {
            return d;
        }
    }
    body.keys().find(|k| !wanted.contains(k)).map(|k| {
        format!(
            "unexpected response field {k}: {}",
            Value::Object(body.clone())
        )
    })
}

pub fn check_op(op: &Value, case: &Value, status: u16, resp: &Value) -> Option<String> {
    if op.get("expect_error").and_then(Value::as_bool) == Some(true) {
        if let Some(want) = op.get("expect_status").and_then(Value::as_u64)
            && u64::from(status) != want
        {
            return Some(format!("expected HTTP {want}, got {status}: {resp}"));
        }
        if !(400..500).contains(&status) {
            return Some(format!("expected a 4xx error, got HTTP {status}: {resp}"));
        }
        return resp
            .get("error")
            .is_none()
            .then(|| format!("error response lacks \"error\": {resp}"));
    }
    if !(200..300).contains(&status) {
        return Some(format!("HTTP {status}: {resp}"));
    }
    let expect = op.get("expect")?.as_object().expect("expect is an object");
    let flag = |name: &str| {
        op.get(name)
            .or_else(|| case.get(name))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    compare_response(expect, resp, flag("ignore_id"), flag("unordered"))
}

/// Runs one case against `api` in collection `main` (and `main_<alias>`
/// for its auxiliary collections); `Err` describes the first failing op.
pub fn run_case(api: &mut dyn Api, case: &Value, main: &str) -> Result<(), String> {
    let main = main.to_string();
    let mut names = vec![("main".to_string(), main.clone())];
    if let Some(Value::Object(colls)) = case.get("collections") {
        for alias in colls.keys() {
            names.push((alias.clone(), format!("{main}_{alias}")));
        }
    }
    let name_of = |alias: &str| {
        names
            .iter()
            .find(|(a, _)| a == alias)
            .map(|(_, n)| n.clone())
            .expect("known alias")
    };
    let body_for = |coll: &str, args: &Value| {
        let mut body =
            json!({"dataSource": "mongodb-atlas", "database": "conformance", "collection": coll});
        if let Value::Object(args) = args {
            for (k, v) in args {
                body[k] = substitute(v, &names);
            }
        }
        body
    };
    let mut setups = vec![(main.clone(), case.get("docs").cloned().unwrap_or(json!([])))];
    if let Some(Value::Object(colls)) = case.get("collections") {
        for (alias, docs) in colls {
            setups.push((name_of(alias), docs.clone()));
        }
    }
    for (coll, docs) in setups {
        if docs.as_array().is_some_and(|d| !d.is_empty()) {
            let body = body_for(&coll, &json!({"documents": docs}));
            let (status, resp) = api.send("insertMany", body.to_string().as_bytes(), false);
            if status != 200 {
                return Err(format!("setup insertMany failed: {status} {resp}"));
            }
        }
    }
    for (i, op) in case["ops"].as_array().expect("ops").iter().enumerate() {
        let action = op["action"].as_str().expect("action");
        let coll = name_of(
            op.get("collection")
                .and_then(Value::as_str)
                .unwrap_or("main"),
        );
        let mut body = body_for(&coll, op.get("args").unwrap_or(&Value::Null));
        for field in op
            .get("omit")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            body.as_object_mut()
                .expect("object")
                .remove(field.as_str().expect("field name"));
        }
        let raw = match op.get("raw_body").and_then(Value::as_str) {
            Some(raw) => raw.to_string(),
            None => body.to_string(),
        };
        let ejson = op.get("accept").and_then(Value::as_str) == Some("ejson");
        let (status, resp) = api.send(action, raw.as_bytes(), ejson);
        if let Some(msg) = check_op(op, case, status, &resp) {
            return Err(format!("op#{i} {action}: {msg}\n    request: {raw}"));
        }
    }
    Ok(())
}

fn substitute(v: &Value, names: &[(String, String)]) -> Value {
    match v {
        Value::String(s) if s.starts_with("{{") && s.ends_with("}}") => {
            let alias = &s[2..s.len() - 2];
            names
                .iter()
                .find(|(a, _)| a == alias)
                .map_or_else(|| v.clone(), |(_, n)| Value::String(n.clone()))
        }
        Value::Array(items) => Value::Array(items.iter().map(|x| substitute(x, names)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute(x, names)))
                .collect(),
        ),
        other => other.clone(),
    }
}
