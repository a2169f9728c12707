//! The JSON shapes the API answers with.

use chengguo_domain::materials;
use chengguo_domain::org::User;
use chengguo_domain::project::Project;
use chengguo_domain::record::{Attachment, Event, Objection, Registration};
use chengguo_domain::{Role, workflow};
use serde_json::{Value, json};

/// A user as shown to themselves and to administrators (never the password hash).
pub fn user(u: &User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role,
        "role_label": u.role.label(),
        "email": u.email,
        "unit_id": u.unit_id,
        "department_id": u.department_id,
        "authority_id": u.authority_id,
        "supervised_unit_ids": u.supervised_unit_ids,
        "active": u.active,
    })
}

/// An attachment as listed on its record.
pub fn attachment(a: &Attachment, kind: Option<chengguo_domain::Kind>) -> Value {
    json!({
        "id": a.id,
        "category": a.category,
        "category_label": materials::label(kind, &a.category),
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "status": a.status,
        "sha256": a.sha256,
        "created_at": rfc3339(a.created_at),
    })
}

/// An objection; the objector's contact details only for those who resolve or oversee them.
pub fn objection(o: &Objection, viewer: &User) -> Value {
    let mut v = json!({
        "id": o.id,
        "registration_id": o.registration_id,
        "content": o.content,
        "filed_at": rfc3339(o.filed_at),
        "resolved": o.resolution.is_some(),
        "resolution": o.resolution,
        "resolved_at": o.resolved_at.map(rfc3339),
    });
    if matches!(viewer.role, Role::Point | Role::Office | Role::Admin) {
        v["name"] = json!(o.name);
        v["unit"] = json!(o.unit);
        v["phone"] = json!(o.phone);
        v["email"] = json!(o.email);
        v["resolved_by"] = json!(o.resolved_by);
    }
    v
}

/// A record as listed (without attachments and objections).
pub fn summary(r: &Registration) -> Value {
    json!({
        "id": r.id,
        "kind": r.kind,
        "kind_label": r.kind.map(|k| k.label()),
        "source": r.source,
        "source_label": r.source.label(),
        "state": r.state,
        "state_label": r.state.label(),
        "waiting_for": r.state.waiting_for(),
        "version": r.version,
        "title": r.fields.title,
        "first_unit": r.fields.first_unit().and_then(|u| u.name.clone()),
        "registration_number": r.registration_number,
        "decision": r.decision.as_ref().map(|d| json!({
            "result": d.result, "result_label": d.result.label(), "opinion": d.opinion,
            "by": d.by, "at": rfc3339(d.at),
        })),
        "notice": r.notice,
        "unit_id": r.unit_id,
        "department_id": r.department_id,
        "authority_id": r.authority_id,
        "owner_id": r.owner_id,
        "project_id": r.project_id,
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
    })
}

/// The full record for `viewer`, with `allowed_actions`.
pub fn registration(
    r: &Registration,
    viewer: &User,
    attachments: &[Attachment],
    objections: &[Objection],
    project: Option<&Project>,
) -> Value {
    let mut v = summary(r);
    v["consent"] = json!(r.consent);
    v["fields"] = serde_json::to_value(&r.fields).unwrap_or_default();
    v["attachments"] = attachments.iter().map(|a| attachment(a, r.kind)).collect();
    v["objections"] = objections.iter().map(|o| objection(o, viewer)).collect();
    v["allowed_actions"] = json!(workflow::allowed_actions(viewer, r));
    v["editable"] = json!(workflow::can_edit(viewer, r));
    v["return_opinion"] = json!(r.return_opinion);
    v["submitted_at"] = json!(r.submitted_at.map(rfc3339));
    v["materials"] = r
        .kind
        .map(|k| {
            materials::checklist(k)
                .iter()
                .map(|m| {
                    json!({
                        "category": m.category, "label": m.label, "hint": m.hint,
                        "required": !(r.fields.contract_has_lists && m.category == materials::UNIT_PEOPLE_LIST),
                    })
                })
                .collect()
        })
        .unwrap_or_else(|| json!([]));
    v["project"] = project.map(self::project).unwrap_or(Value::Null);
    v
}

/// A history event.
pub fn event(e: &Event) -> Value {
    json!({
        "seq": e.seq,
        "action": e.action,
        "action_label": e.action.label(),
        "from": e.from,
        "to": e.to,
        "to_label": e.to.label(),
        "actor": e.actor,
        "role": e.role,
        "opinion": e.opinion,
        "at": rfc3339(e.at),
    })
}

/// An in-system project.
pub fn project(p: &Project) -> Value {
    json!({
        "id": p.id,
        "number": p.number,
        "name": p.name,
        "plan": p.plan,
        "leader_username": p.leader_username,
        "unit_id": p.unit_id,
        "acceptance": p.acceptance,
        "acceptance_label": p.acceptance.label(),
        "acceptance_opinion": p.acceptance_opinion,
        "registration_id": p.registration_id,
        "version": p.version,
    })
}

/// RFC 3339 text of an instant.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
