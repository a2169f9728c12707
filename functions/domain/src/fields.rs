//! The registration form (登记表) as stored and exchanged in JSON.
//!
//! Every value may be missing while a draft is being filled, so every field is optional; codes are
//! kept as strings and validated by [`crate::check`], so that a wrong code gets a Chinese message on
//! its field rather than a parse error. Unknown keys are refused at every level.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The whole form. `PATCH` replaces top-level keys one by one (see [`Fields::patched`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fields {
    pub title: Option<String>,
    /// 计划外 project information; in-system projects are linked instead.
    pub project: Option<ProjectInfo>,
    pub authority_id: Option<String>,
    /// Completing units in order; the first is 第一完成单位.
    pub units: Vec<UnitEntry>,
    pub completers: Vec<Completer>,
    /// "YYYY-MM".
    pub research_start: Option<String>,
    /// "YYYY-MM".
    pub research_end: Option<String>,
    pub recommender: Option<String>,
    /// Must be "none" (非密).
    pub secrecy: Option<String>,
    pub keywords: Vec<String>,
    pub discipline: Option<Discipline>,
    pub summary: Option<String>,
    pub level: Option<String>,
    pub evaluation: Option<Evaluation>,
    pub contact: Option<Contact>,
    /// The project contract already lists units and people: waives `unit_people_list`.
    pub contract_has_lists: bool,
    pub applied: Option<AppliedFields>,
    pub basic: Option<BasicFields>,
    pub soft: Option<SoftFields>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectInfo {
    pub name: Option<String>,
    pub number: Option<String>,
    pub funding: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnitEntry {
    pub name: Option<String>,
    pub uscc: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Completer {
    pub name: Option<String>,
    pub gender: Option<String>,
    pub title: Option<String>,
    pub degree: Option<String>,
    pub work_unit: Option<String>,
    pub contribution: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Discipline {
    pub code: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Evaluation {
    pub method: Option<String>,
    pub body: Option<String>,
    /// "YYYY-MM-DD".
    pub date: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Contact {
    pub name: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppliedFields {
    pub attribute: Option<String>,
    pub stage: Option<String>,
    pub industry_code: Option<String>,
    pub ip: Option<IntellectualProperty>,
    pub benefits: Option<Benefits>,
    pub application: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntellectualProperty {
    pub invention_patents: Option<u32>,
    pub utility_patents: Option<u32>,
    pub software_copyrights: Option<u32>,
    pub numbers: Vec<String>,
}

/// 经济效益 in 万元.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Benefits {
    pub output: Option<f64>,
    pub profit: Option<f64>,
    pub tax: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasicFields {
    pub form: Option<String>,
    pub form_other: Option<String>,
    pub papers: Vec<Paper>,
    /// 他引次数.
    pub citations: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Paper {
    pub title: Option<String>,
    pub journal: Option<String>,
    pub year: Option<i32>,
    pub indexed_in: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SoftFields {
    pub form: Option<String>,
    pub form_other: Option<String>,
    pub adopted_by: Option<String>,
    pub social_benefit: Option<String>,
}

/// Why a patch could not be applied: the JSON does not have the form's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeError {
    /// The top-level key at fault, when known.
    pub field: Option<String>,
    /// The parser's own words (English), kept for developers.
    pub detail: String,
}

impl Fields {
    /// The top-level keys of the form, in order.
    pub const KEYS: &'static [&'static str] = &[
        "title",
        "project",
        "authority_id",
        "units",
        "completers",
        "research_start",
        "research_end",
        "recommender",
        "secrecy",
        "keywords",
        "discipline",
        "summary",
        "level",
        "evaluation",
        "contact",
        "contract_has_lists",
        "applied",
        "basic",
        "soft",
    ];

    /// Returns the form with each top-level key of `patch` replacing that key's whole value.
    /// `null` clears a key. Unknown keys and values of the wrong shape are refused.
    pub fn patched(&self, patch: &Map<String, Value>) -> Result<Fields, ShapeError> {
        let mut doc = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for (key, value) in patch {
            if !Self::KEYS.contains(&key.as_str()) {
                return Err(ShapeError {
                    field: Some(key.clone()),
                    detail: format!("unknown field `{key}`"),
                });
            }
            if value.is_null() {
                doc.remove(key);
                continue;
            }
            // Each key alone first, so the error names the key at fault.
            let mut single = Map::new();
            single.insert(key.clone(), value.clone());
            if let Err(e) = serde_json::from_value::<Fields>(Value::Object(single)) {
                return Err(ShapeError {
                    field: Some(key.clone()),
                    detail: e.to_string(),
                });
            }
            doc.insert(key.clone(), value.clone());
        }
        serde_json::from_value(Value::Object(doc)).map_err(|e| ShapeError {
            field: None,
            detail: e.to_string(),
        })
    }

    /// The first completing unit, if any.
    pub fn first_unit(&self) -> Option<&UnitEntry> {
        self.units.first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_replaces_whole_top_level_values() {
        let mut f = Fields {
            title: Some("旧".into()),
            keywords: vec!["a".into(), "b".into()],
            ..Fields::default()
        };
        f.contact = Some(Contact {
            name: Some("张三".into()),
            mobile: Some("13800138000".into()),
            email: None,
        });
        let patch = json!({"keywords": ["c"], "contact": {"name": "李四"}});
        let g = f.patched(patch.as_object().unwrap()).unwrap();
        assert_eq!(g.title.as_deref(), Some("旧"));
        assert_eq!(g.keywords, vec!["c".to_string()]);
        assert_eq!(
            g.contact,
            Some(Contact {
                name: Some("李四".into()),
                mobile: None,
                email: None
            })
        );
    }

    #[test]
    fn patch_refuses_unknown_keys_and_wrong_types_naming_the_key() {
        let f = Fields::default();
        let err = f
            .patched(json!({"nonsense": 1}).as_object().unwrap())
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("nonsense"));
        let err = f
            .patched(json!({"title": 5}).as_object().unwrap())
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("title"));
        let err = f
            .patched(json!({"contact": {"phone": "1"}}).as_object().unwrap())
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("contact"));
    }

    #[test]
    fn null_clears_a_key() {
        let f = Fields {
            title: Some("x".into()),
            ..Fields::default()
        };
        let g = f
            .patched(json!({"title": null}).as_object().unwrap())
            .unwrap();
        assert_eq!(g.title, None);
    }
}
