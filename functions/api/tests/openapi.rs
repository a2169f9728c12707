//! The OpenAPI document (`functions/api/openapi.json`, served at `GET /api/openapi.json`) against
//! the code: it is OpenAPI 3.1 whose references all resolve; it documents exactly the routes the
//! routers register (read from their source text); every operation has a unique `operationId`
//! named after its handler; and the request bodies match the Rust structs that parse them.

use std::collections::{BTreeMap, BTreeSet};

use chengguo_domain::codes::{
    Action, AppliedAttribute, AppliedStage, BasicForm, DecisionResult, EvaluationMethod, Gender,
    Kind, Level, Role, SoftForm, Source, State,
};
use chengguo_domain::project::AcceptanceStatus;
use serde_json::Value;

const DOC: &str = include_str!("../openapi.json");
const API_ROUTES: &str = include_str!("../src/routes/mod.rs");
const FILES_ROUTES: &str = include_str!("../../files-local/src/lib.rs");
const ERRORS: &str = include_str!("../src/error.rs");

/// Sources holding the structs that request bodies are parsed into.
const BODY_SOURCES: &[(&str, &str)] = &[
    (
        "routes/session.rs",
        include_str!("../src/routes/session.rs"),
    ),
    (
        "routes/registrations.rs",
        include_str!("../src/routes/registrations.rs"),
    ),
    (
        "routes/attachments.rs",
        include_str!("../src/routes/attachments.rs"),
    ),
    (
        "routes/projects.rs",
        include_str!("../src/routes/projects.rs"),
    ),
    ("routes/admin.rs", include_str!("../src/routes/admin.rs")),
    (
        "routes/exports.rs",
        include_str!("../src/routes/exports.rs"),
    ),
    (
        "routes/objections.rs",
        include_str!("../src/routes/objections.rs"),
    ),
    ("service.rs", include_str!("../src/service.rs")),
    (
        "domain fields.rs",
        include_str!("../../domain/src/fields.rs"),
    ),
];

/// The methods axum's `MethodRouter` can be built with, which are also OpenAPI operations.
const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn doc() -> Value {
    serde_json::from_str(DOC).expect("openapi.json is valid JSON")
}

/// Follows a local `$ref` (`#/...`, a JSON pointer into the document).
fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            return v;
        };
        v = doc
            .pointer(r.strip_prefix('#').expect("local reference"))
            .unwrap_or_else(|| panic!("unresolved reference {r}"));
    }
    panic!("reference cycle");
}

/// Every operation of the document: (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    let paths = doc["paths"].as_object().expect("paths is an object");
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item is an object") {
            if HTTP_METHODS.contains(&method.as_str()) {
                out.push((path.clone(), method.clone(), op));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading routes from source text

/// The index just past the `)` closing the `(` before `start`, skipping string literals.
fn closing_paren(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 1;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    panic!("unbalanced parentheses after byte {start}");
}

/// The calls of a method-router expression such as `post(a::b).get(c)` or
/// `axum::routing::delete(d)`: (function name without its path, argument text).
fn calls(expr: &str) -> Vec<(String, String)> {
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || bytes[i] == b'_'
                    || bytes[i..].starts_with(b"::"))
            {
                i += if bytes[i..].starts_with(b"::") { 2 } else { 1 };
            }
            let path = &expr[start..i];
            let rest = expr[i..].trim_start();
            if rest.starts_with('(') {
                let open = expr.len() - rest.len() + 1;
                let close = closing_paren(expr, open);
                let name = path.rsplit("::").next().unwrap_or(path).to_owned();
                out.push((name, expr[open..close - 1].trim().to_owned()));
                i = close;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Every `.route("PATH", METHOD_ROUTER)` of a source file: (path, method, handler name).
fn routes_in(src: &str) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    let mut from = 0;
    while let Some(at) = src[from..].find(".route(") {
        let open = from + at + ".route(".len();
        let close = closing_paren(src, open);
        let args = src[open..close - 1].trim_start();
        let args = args
            .strip_prefix('"')
            .expect(".route( starts with a string literal");
        let (path, rest) = args.split_once('"').expect("closed path literal");
        let expr = rest
            .trim_start()
            .strip_prefix(',')
            .expect("a method router follows");
        let mut found = false;
        for (name, arg) in calls(expr) {
            if HTTP_METHODS.contains(&name.as_str()) {
                let handler = arg.rsplit("::").next().unwrap_or(&arg).trim().to_owned();
                assert!(
                    out.insert((path.to_owned(), name, handler)),
                    "{path} registered twice"
                );
                found = true;
            }
        }
        assert!(found, "no method found in the route of {path}: {expr}");
        from = close;
    }
    out
}

fn method_set(routes: &BTreeSet<(String, String, String)>) -> BTreeSet<(String, String)> {
    routes
        .iter()
        .map(|(p, m, _)| (p.clone(), m.clone()))
        .collect()
}

#[test]
fn route_parser_reads_chained_and_qualified_methods() {
    let src = r#"
        Router::new()
            .route("/a/{id}", post(x::make_a).get(x::list_a))
            .route("/b", axum::routing::delete(y::drop_b))
            .route(
                "/c",
                get(download).put(upload).fallback(method_not_allowed),
            )
    "#;
    let got: Vec<_> = routes_in(src).into_iter().collect();
    let want = [
        ("/a/{id}", "get", "list_a"),
        ("/a/{id}", "post", "make_a"),
        ("/b", "delete", "drop_b"),
        ("/c", "get", "download"),
        ("/c", "put", "upload"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(p, m, h)| (p.to_string(), m.to_string(), h.to_string()))
        .collect();
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------------------------
// The document itself

#[test]
fn is_openapi_3_1_and_every_reference_resolves() {
    let doc = doc();
    let version = doc["openapi"].as_str().expect("openapi is a string");
    assert!(version.starts_with("3.1"), "openapi is {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    fn walk(doc: &Value, v: &Value, at: &str, count: &mut usize) {
        match v {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref") {
                    let r = r
                        .as_str()
                        .unwrap_or_else(|| panic!("$ref at {at} is no string"));
                    let pointer = r
                        .strip_prefix('#')
                        .unwrap_or_else(|| panic!("$ref {r} at {at} is not local"));
                    assert!(
                        doc.pointer(pointer).is_some(),
                        "$ref {r} at {at} does not resolve"
                    );
                    *count += 1;
                }
                for (k, child) in map {
                    walk(doc, child, &format!("{at}/{k}"), count);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(doc, child, &format!("{at}/{i}"), count);
                }
            }
            _ => {}
        }
    }
    let mut count = 0;
    walk(&doc, &doc, "#", &mut count);
    assert!(
        count > 50,
        "only {count} references: is the document the real one?"
    );
}

#[test]
fn documents_exactly_the_registered_routes() {
    assert!(
        !API_ROUTES.contains(".nest(") && !API_ROUTES.contains(".route_service("),
        "routes/mod.rs nests routers or services: teach this test to read them"
    );
    let api = routes_in(API_ROUTES);
    let files = routes_in(FILES_ROUTES);
    assert!(
        api.len() >= 30,
        "only {} API routes read from routes/mod.rs",
        api.len()
    );
    assert!(!files.is_empty(), "no route read from files-local");
    assert!(
        files.iter().all(|(p, _, _)| p.starts_with("/files/")),
        "files-local serves {files:?}"
    );

    let code: BTreeSet<_> = method_set(&api)
        .union(&method_set(&files))
        .cloned()
        .collect();
    let doc = doc();
    let documented: BTreeSet<_> = operations(&doc)
        .into_iter()
        .map(|(p, m, _)| (p, m))
        .collect();
    let undocumented: Vec<_> = code.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&code).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.json: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );

    // The API's operations are named after their handlers.
    for (path, method, handler) in &api {
        let op = &doc["paths"][path][method];
        assert_eq!(
            op["operationId"].as_str(),
            Some(handler.as_str()),
            "{method} {path} is handled by {handler}"
        );
    }
}

#[test]
fn every_operation_has_a_unique_operation_id_and_summary() {
    let doc = doc();
    let mut seen = BTreeMap::new();
    for (path, method, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(
            id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "operationId {id} is not verb_noun"
        );
        if let Some(other) = seen.insert(id.to_owned(), format!("{method} {path}")) {
            panic!("operationId {id} used by {other} and {method} {path}");
        }
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path} has no summary"
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses
                .keys()
                .any(|s| s.starts_with('2') || s.starts_with('3')),
            "{method} {path} documents no success"
        );
    }
}

#[test]
fn path_parameters_match_the_templates() {
    let doc = doc();
    for (path, method, op) in operations(&doc) {
        let in_template: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        let mut declared = BTreeSet::new();
        let item_params = doc["paths"][&path]["parameters"].as_array().cloned();
        let op_params = op["parameters"].as_array().cloned();
        for p in item_params.into_iter().chain(op_params).flatten() {
            let p = resolve(&doc, &p);
            if p["in"] == "path" {
                assert_eq!(
                    p["required"], true,
                    "{method} {path}: path parameters are required"
                );
                declared.insert(p["name"].as_str().expect("parameter name").to_owned());
            }
        }
        assert_eq!(declared, in_template, "path parameters of {method} {path}");
    }
}

#[test]
fn state_changing_operations_need_the_csrf_header_with_the_session() {
    let doc = doc();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "chengguo_session");
    assert_eq!(schemes["csrf"]["in"], "header");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");
    for (path, method, op) in operations(&doc) {
        let security = op.get("security").unwrap_or(&doc["security"]);
        let requirements = security.as_array().expect("security is an array");
        let with_session = requirements.iter().any(|r| r.get("session").is_some());
        if with_session {
            assert!(
                op["responses"].get("401").is_some(),
                "{method} {path} needs a session but documents no 401"
            );
        }
        if with_session && !matches!(method.as_str(), "get" | "head" | "options") {
            assert!(
                requirements.iter().all(|r| r.get("csrf").is_some()),
                "{method} {path} changes state with the session but does not need X-CSRF-Token"
            );
            let forbidden = op["responses"].get("403").expect("403 documented");
            assert!(
                forbidden.to_string().contains("csrf"),
                "{method} {path}: 403 does not list `csrf`"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The status of each error code the code answers with, read from `StatusCode::X, "code"`.
fn error_table() -> BTreeMap<String, u16> {
    let status = |name: &str| -> u16 {
        match name {
            "BAD_REQUEST" => 400,
            "UNAUTHORIZED" => 401,
            "FORBIDDEN" => 403,
            "NOT_FOUND" => 404,
            "METHOD_NOT_ALLOWED" => 405,
            "CONFLICT" => 409,
            "PRECONDITION_FAILED" => 412,
            "PAYLOAD_TOO_LARGE" => 413,
            "UNPROCESSABLE_ENTITY" => 422,
            "TOO_MANY_REQUESTS" => 429,
            "INTERNAL_SERVER_ERROR" => 500,
            other => panic!("unknown status {other}: add it to this test"),
        }
    };
    let mut table = BTreeMap::new();
    for src in [ERRORS, FILES_ROUTES] {
        for piece in src.split("StatusCode::").skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            let rest = piece[name.len()..].trim_start();
            let Some(rest) = rest.strip_prefix(',') else {
                continue;
            };
            let Some(rest) = rest.trim_start().strip_prefix('"') else {
                continue;
            };
            let code = rest.split('"').next().unwrap_or_default();
            if name == "OK" || code.is_empty() {
                continue;
            }
            let s = status(&name);
            if let Some(old) = table.insert(code.to_owned(), s) {
                assert_eq!(old, s, "code {code} has two statuses");
            }
        }
    }
    table
}

#[test]
fn error_codes_match_the_code() {
    let doc = doc();
    let table = error_table();
    for code in [
        "validation",
        "csrf",
        "stale_version",
        "size_mismatch",
        "rate_limited",
    ] {
        assert!(table.contains_key(code), "{code} not read from the sources");
    }
    let all: BTreeSet<String> =
        doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .expect("Error.code is an enum")
            .iter()
            .map(|v| v.as_str().expect("codes are strings").to_owned())
            .collect();
    for code in table.keys() {
        assert!(all.contains(code), "Error.code lacks {code}");
    }
    for code in &all {
        let quoted = format!("\"{code}\"");
        assert!(
            ERRORS.contains(&quoted) || FILES_ROUTES.contains(&quoted),
            "Error.code lists {code}, which no source answers"
        );
    }

    for (path, method, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().expect("responses") {
            let Ok(n) = status.parse::<u16>() else {
                continue;
            };
            if n < 400 {
                continue;
            }
            let response = resolve(&doc, response);
            let schema = &response["content"]["application/json"]["schema"];
            let parts = schema["allOf"]
                .as_array()
                .expect("errors are allOf [Error, codes]");
            assert_eq!(
                parts[0]["$ref"], "#/components/schemas/Error",
                "{method} {path} {n}"
            );
            let codes = parts[1]["properties"]["error"]["properties"]["code"]["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} {n} lists no codes"));
            for code in codes {
                let code = code.as_str().expect("code");
                assert!(
                    all.contains(code),
                    "{method} {path} {n}: unknown code {code}"
                );
                if let Some(s) = table.get(code) {
                    assert_eq!(
                        *s, n,
                        "{method} {path}: {code} is answered with {s}, not {n}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request bodies against the Rust structs

#[derive(Debug)]
struct RustField {
    name: String,
    ty: String,
    default: bool,
}

#[derive(Debug)]
struct RustStruct {
    name: String,
    source: &'static str,
    all_default: bool,
    fields: Vec<RustField>,
}

/// The structs marked `#[serde(deny_unknown_fields)]` of a source file.
fn strict_structs(source: &'static str, src: &str) -> Vec<RustStruct> {
    let mut out = Vec::new();
    let mut attrs = String::new();
    let mut lines = src.lines();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t.starts_with("#[") {
            attrs.push_str(t);
            continue;
        }
        if t.starts_with("//") {
            continue;
        }
        let header = t.strip_prefix("pub ").unwrap_or(t);
        let is_struct = header.starts_with("struct ") && header.ends_with('{');
        if is_struct && attrs.contains("deny_unknown_fields") {
            let name = header["struct ".len()..header.len() - 1].trim().to_owned();
            let all_default = attrs.contains("serde(default");
            let mut fields = Vec::new();
            let mut default = false;
            for line in lines.by_ref() {
                let t = line.trim();
                if t == "}" {
                    break;
                }
                if t.is_empty() || t.starts_with("//") {
                    continue;
                }
                if t.starts_with("#[") {
                    default |= t.starts_with("#[serde(default");
                    assert!(!t.contains("rename"), "{name}: renamed fields are not read");
                    continue;
                }
                let t = t.strip_prefix("pub ").unwrap_or(t);
                let (field, ty) = t.split_once(':').expect("a field line");
                fields.push(RustField {
                    name: field.trim().to_owned(),
                    ty: ty.trim().trim_end_matches(',').trim().to_owned(),
                    default,
                });
                default = false;
            }
            out.push(RustStruct {
                name,
                source,
                all_default,
                fields,
            });
        }
        attrs.clear();
    }
    out
}

/// The JSON types a Rust field type accepts.
fn rust_json_types(ty: &str) -> BTreeSet<&'static str> {
    let ty = ty.replace(' ', "");
    if let Some(inner) = ty.strip_prefix("Option<").and_then(|t| t.strip_suffix('>')) {
        let mut set = rust_json_types(inner);
        set.insert("null");
        return set;
    }
    let one = match ty.as_str() {
        "String" => "string",
        "bool" => "boolean",
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            "integer"
        }
        "f32" | "f64" => "number",
        t if t.starts_with("Vec<") => "array",
        t if t.starts_with("Map<") || t.starts_with("BTreeMap<") || t.starts_with("HashMap<") => {
            "object"
        }
        // Any other named type is a struct of the form.
        _ => "object",
    };
    BTreeSet::from([one])
}

/// The JSON types a schema allows (through `$ref`, `type`, `anyOf`/`oneOf`, `enum`, `const`).
fn schema_json_types(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(doc, schema);
    let name = |v: &Value| -> String {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "number",
            Value::Number(_) => "integer",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
        .to_owned()
    };
    match &schema["type"] {
        Value::String(t) => return BTreeSet::from([t.clone()]),
        Value::Array(ts) => {
            return ts
                .iter()
                .map(|t| t.as_str().expect("type names").to_owned())
                .collect();
        }
        _ => {}
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema[key].as_array() {
            return options
                .iter()
                .flat_map(|o| schema_json_types(doc, o))
                .collect();
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        return values.iter().map(name).collect();
    }
    if let Some(v) = schema.get("const") {
        return BTreeSet::from([name(v)]);
    }
    panic!("cannot tell the types of {schema}")
}

fn compare_struct(doc: &Value, s: &RustStruct, schema: &Value) {
    let what = format!("{} ({})", s.name, s.source);
    assert_eq!(schema["type"], "object", "{what} is an object");
    assert_eq!(
        schema["additionalProperties"], false,
        "{what} denies unknown fields: additionalProperties must be false"
    );
    let props = schema["properties"].as_object().expect("properties");
    let rust: BTreeSet<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
    let documented: BTreeSet<&str> = props.keys().map(String::as_str).collect();
    assert_eq!(documented, rust, "properties of {what}");

    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().map(|v| v.as_str().expect("names")).collect())
        .unwrap_or_default();
    let rust_required: BTreeSet<&str> = s
        .fields
        .iter()
        .filter(|f| !s.all_default && !f.default && !f.ty.starts_with("Option<"))
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(required, rust_required, "required fields of {what}");

    for f in &s.fields {
        let want: BTreeSet<String> = rust_json_types(&f.ty)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let got = schema_json_types(doc, &props[&f.name]);
        assert_eq!(got, want, "type of {what}.{} ({})", f.name, f.ty);
    }
}

#[test]
fn request_bodies_match_the_rust_structs() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    let structs: Vec<RustStruct> = BODY_SOURCES
        .iter()
        .flat_map(|(name, src)| strict_structs(name, src))
        .collect();
    let names: BTreeSet<&str> = structs.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "Credentials",
        "CreateRequest",
        "KindRequest",
        "PatchRequest",
        "ActionBody",
        "ListQuery",
        "CreateAttachment",
        "AcceptanceBody",
        "NewUser",
        "UserChange",
        "Fields",
        "AppliedFields",
        "Paper",
        "NoticesRequest",
        "NewObjection",
        "Resolution",
    ] {
        assert!(
            names.contains(expected),
            "struct {expected} not read from the sources"
        );
    }

    for s in &structs {
        if s.name == "ListQuery" {
            // Not a body: the query of `GET /api/registrations`.
            let params = doc["paths"]["/api/registrations"]["get"]["parameters"]
                .as_array()
                .expect("list parameters");
            let query: BTreeSet<&str> = params
                .iter()
                .map(|p| resolve(&doc, p))
                .filter(|p| p["in"] == "query")
                .map(|p| {
                    assert_ne!(p["required"], true, "list parameters are optional");
                    p["name"].as_str().expect("name")
                })
                .collect();
            let rust: BTreeSet<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(query, rust, "query parameters of GET /api/registrations");
            continue;
        }
        let schema = schemas
            .get(&s.name)
            .unwrap_or_else(|| panic!("no schema {} for the struct of {}", s.name, s.source));
        compare_struct(&doc, s, schema);
    }

    // The partial form of PATCH has the form's keys, each also accepting null (clears it).
    let fields = structs.iter().find(|s| s.name == "Fields").expect("Fields");
    let patch = &schemas["FieldsPatch"];
    assert_eq!(patch["additionalProperties"], false);
    let keys: BTreeSet<&str> = patch["properties"]
        .as_object()
        .expect("FieldsPatch properties")
        .keys()
        .map(String::as_str)
        .collect();
    let rust: BTreeSet<&str> = fields.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(keys, rust, "FieldsPatch keys");
    for key in keys {
        let types = schema_json_types(&doc, &patch["properties"][key]);
        assert!(
            types.contains("null"),
            "FieldsPatch.{key} does not accept null"
        );
    }

    // Every JSON request body is one of those structs.
    for (path, method, op) in operations(&doc) {
        let Some(body) = op.get("requestBody") else {
            continue;
        };
        let Some(json) = body["content"].get("application/json") else {
            continue;
        };
        let r = json["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: the JSON body is not a named schema"));
        let name = r.rsplit('/').next().unwrap_or(r);
        assert!(
            names.contains(name),
            "{method} {path}: {name} is not a request struct"
        );
        assert_eq!(body["required"], true, "{method} {path}: body is required");
    }
}

fn code_set<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|c| code(*c).to_owned()).collect()
}

/// The non-empty string values of an enum schema.
fn enum_values(doc: &Value, schema: &Value) -> BTreeSet<String> {
    resolve(doc, schema)["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{schema} has no enum"))
        .iter()
        .filter_map(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn enums_match_the_domain_codes() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    let prop = |schema: &str, key: &str| enum_values(&doc, &schemas[schema]["properties"][key]);

    // The form's codes (strings, `""` while not chosen).
    assert_eq!(prop("Fields", "level"), code_set(Level::ALL, Level::code));
    assert_eq!(
        prop("Completer", "gender"),
        code_set(Gender::ALL, Gender::code)
    );
    assert_eq!(
        prop("Evaluation", "method"),
        code_set(EvaluationMethod::ALL, EvaluationMethod::code)
    );
    assert_eq!(
        prop("AppliedFields", "attribute"),
        code_set(AppliedAttribute::ALL, AppliedAttribute::code)
    );
    assert_eq!(
        prop("AppliedFields", "stage"),
        code_set(AppliedStage::ALL, AppliedStage::code)
    );
    assert_eq!(
        prop("BasicFields", "form"),
        code_set(BasicForm::ALL, BasicForm::code)
    );
    assert_eq!(
        prop("SoftFields", "form"),
        code_set(SoftForm::ALL, SoftForm::code)
    );
    assert_eq!(
        prop("Fields", "secrecy"),
        BTreeSet::from(["none".to_owned()])
    );

    // The record and its history.
    let summary = "RegistrationSummary";
    assert_eq!(prop(summary, "kind"), code_set(Kind::ALL, Kind::code));
    assert_eq!(prop(summary, "source"), code_set(Source::ALL, Source::code));
    assert_eq!(prop(summary, "state"), code_set(State::ALL, State::code));
    assert_eq!(prop("Event", "action"), code_set(Action::ALL, Action::code));
    assert_eq!(prop("Event", "from"), code_set(State::ALL, State::code));
    assert_eq!(prop("Event", "role"), code_set(Role::ALL, Role::code));
    assert_eq!(prop("User", "role"), code_set(Role::ALL, Role::code));
    assert_eq!(
        prop("Decision", "result"),
        code_set(DecisionResult::ALL, DecisionResult::code)
    );
    assert_eq!(
        prop("Project", "acceptance"),
        code_set(AcceptanceStatus::ALL, AcceptanceStatus::code)
    );
    let waiting: BTreeSet<String> = State::ALL
        .iter()
        .map(|s| s.waiting_for().to_owned())
        .collect();
    assert_eq!(prop(summary, "waiting_for"), waiting);

    // What may be requested.
    let requestable = code_set(Action::REQUESTABLE, Action::code);
    let allowed = &schemas["Registration"]["allOf"][1]["properties"]["allowed_actions"]["items"];
    assert_eq!(enum_values(&doc, allowed), requestable);
    let action = doc["paths"]["/api/registrations/{id}/actions/{action}"]["post"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| resolve(&doc, p))
        .find(|p| p["name"] == "action")
        .expect("the action parameter");
    assert_eq!(enum_values(&doc, &action["schema"]), requestable);
    assert_eq!(
        prop("CreateRequest", "kind"),
        code_set(Kind::ALL, Kind::code)
    );
    assert_eq!(prop("KindRequest", "kind"), code_set(Kind::ALL, Kind::code));
    assert_eq!(prop("NewUser", "role"), code_set(Role::ALL, Role::code));
    assert_eq!(
        prop("ActionBody", "result"),
        code_set(DecisionResult::ALL, DecisionResult::code)
    );
}
