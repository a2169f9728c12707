//! The registration form as the API reads it: the JSON bodies of create (`POST
//! /api/registrations`) and patch (`PATCH /api/registrations/{id}`, whose `fields` are merged
//! with `Fields::patched`), then every check of 「填写检查」 for each kind and source. The same
//! bytes also replace one value of a complete form, so that the checks behind a well-formed
//! body see arbitrary values. None may panic, whatever the bytes.

#![no_main]

use chengguo_api::service::CreateRequest;
use chengguo_domain::check::{self, CheckContext};
use chengguo_domain::fields::Fields;
use chengguo_domain::org::Authority;
use chengguo_domain::{Kind, Registration, Source, State};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use time::macros::{date, datetime};

fn record(kind: Kind, source: Source, fields: Fields) -> Registration {
    let at = datetime!(2026-11-28 02:00 UTC);
    Registration {
        id: "fuzz".into(),
        kind: Some(kind),
        consent: true,
        source,
        state: State::Draft,
        version: 1,
        owner_id: "user-leader".into(),
        unit_id: "unit".into(),
        department_id: None,
        authority_id: "zs-kjj".into(),
        project_id: None,
        fields,
        registration_number: None,
        decision: None,
        notice: None,
        return_opinion: None,
        submitted_at: None,
        event_count: 1,
        created_at: at,
        updated_at: at,
    }
}

/// The complete forms of the three kinds, as the tests fill them.
const FORMS: [(Kind, &str); 3] = [
    (
        Kind::Applied,
        include_str!("../../fixtures/form_applied.json"),
    ),
    (Kind::Basic, include_str!("../../fixtures/form_basic.json")),
    (Kind::Soft, include_str!("../../fixtures/form_soft.json")),
];
const KINDS: [Kind; 3] = [Kind::Applied, Kind::Basic, Kind::Soft];

/// Every leaf of a JSON value, as a pointer (`/units/0/uscc`).
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| leaves(v, format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| leaves(v, format!("{at}/{i}"), out)),
        _ => out.push(at),
    }
}

/// A complete form with one value replaced by what the bytes say: the checks behind a
/// well-formed body see arbitrary text, numbers and shapes where they expect values.
fn mutated_form(data: &[u8]) -> Option<(Kind, Map<String, Value>)> {
    let (&[which, leaf, shape], rest) = data.split_first_chunk::<3>()?;
    let (kind, text) = FORMS[usize::from(which) % FORMS.len()];
    let mut form: Value = serde_json::from_str(text).ok()?;
    let mut paths = Vec::new();
    leaves(&form, String::new(), &mut paths);
    let path = &paths[usize::from(leaf) % paths.len()];
    let text = String::from_utf8_lossy(rest).into_owned();
    let value = match shape % 5 {
        0 => Value::String(text),
        1 => serde_json::from_slice(rest).unwrap_or(Value::Null),
        2 => text
            .trim()
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or(Value::Null),
        3 => Value::Array(
            text.split(',')
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
        _ => Value::Null,
    };
    *form.pointer_mut(path)? = value;
    match form {
        Value::Object(m) => Some((kind, m)),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<CreateRequest>(data);
    if let Ok(patch) = serde_json::from_slice::<Map<String, Value>>(data) {
        check_patch(&patch, &KINDS);
    }
    if let Some((kind, patch)) = mutated_form(data) {
        check_patch(&patch, &[kind]);
    }
});

/// Merges a patch into an empty form as `PATCH` does, then runs every check on it for each
/// of `kinds` and every source.
fn check_patch(patch: &Map<String, Value>, kinds: &[Kind]) {
    let Ok(fields) = Fields::default().patched(patch) else {
        return;
    };
    let authorities = [Authority {
        id: "zs-kjj".into(),
        name: "中山市科学技术局".into(),
        code: "442".into(),
    }];
    let ctx = CheckContext {
        today: date!(2026 - 11 - 28),
        authorities: &authorities,
    };
    let keys: Vec<&str> = patch.keys().map(String::as_str).collect();
    for &kind in kinds {
        for source in [
            Source::ProvincialPlan,
            Source::OtherFiscal,
            Source::NonFiscal,
        ] {
            let reg = record(kind, source, fields.clone());
            let problems = check::check_form(&reg, &ctx);
            let _ = check::invalid_in(&problems, &keys);
            let all = check::check(&reg, &[], &ctx);
            // Submitting runs the same form checks, plus the materials.
            assert!(all.len() >= problems.len());
            for p in &all {
                assert!(!p.message.is_empty(), "a problem without a message: {p:?}");
            }
        }
    }
}
