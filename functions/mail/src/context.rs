//! The variables of the notification templates, taken from a record and its latest event.

use chengguo_domain::codes::DecisionResult;
use chengguo_domain::{Action, Event, Registration, State};
use tera::Context;
use time::Date;

/// The notification an action sends, if any: its template name (see [`crate::Templates`]).
pub fn template_for(action: Action) -> Option<&'static str> {
    match action {
        Action::ReceivePaper => Some("receive_paper"),
        Action::Return => Some("return"),
        Action::Decide => Some("decide"),
        Action::Reopen => Some("reopen"),
        _ => None,
    }
}

/// A date as written in Chinese letters: `2026年5月9日`.
pub fn chinese_date(d: Date) -> String {
    format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day())
}

/// The review stage (环节) a record is at while in `state`, as named in a return notice.
pub fn stage_name(state: State) -> &'static str {
    match state {
        State::DeptReview => "二级部门审核",
        State::UnitReview => "单位审核",
        State::PointReview => "登记点审核",
        State::PaperPending => "接收纸质材料",
        State::DecisionPending => "批复",
        State::Draft | State::Returned => "填报",
        State::Decided => "已批复",
    }
}

/// The template variables known from the record after the change (`reg`) and the event that
/// recorded it (`event`):
///
/// - `title` — 成果名称 (`（未命名成果）` when empty)
/// - `state` — the Chinese label of the record's state after the change
/// - `stage` — the stage the record left ([`stage_name`] of `event.from`), when known
/// - `opinion` — the event's opinion, when given
/// - `registration_number` — when the record has one
/// - `result` — `registered` or `rejected`, when the record has a decision
/// - `paper_received_on`, `unit_from`, `unit_to`, `website_from`, `website_to` — the notice
///   windows as [`chinese_date`]s, when they are open
///
/// The caller may add `authority` (批准登记单位 name) and `base_url` (the system's address).
pub fn context_for(reg: &Registration, event: &Event) -> Context {
    let mut c = Context::new();
    let title = reg
        .fields
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("（未命名成果）");
    c.insert("title", title);
    c.insert("state", reg.state.label());
    if let Some(from) = event.from {
        c.insert("stage", stage_name(from));
    }
    if let Some(opinion) = event.opinion.as_deref() {
        c.insert("opinion", opinion);
    }
    if let Some(number) = reg.registration_number.as_deref() {
        c.insert("registration_number", number);
    }
    if let Some(decision) = &reg.decision {
        let result = match decision.result {
            DecisionResult::Registered => "registered",
            DecisionResult::Rejected => "rejected",
        };
        c.insert("result", result);
    }
    if let Some(n) = &reg.notice {
        c.insert("paper_received_on", &chinese_date(n.paper_received_on));
        c.insert("unit_from", &chinese_date(n.unit_from));
        c.insert("unit_to", &chinese_date(n.unit_to));
        c.insert("website_from", &chinese_date(n.website_from));
        c.insert("website_to", &chinese_date(n.website_to));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Templates;
    use chengguo_domain::codes::Source;
    use chengguo_domain::fields::Fields;
    use chengguo_domain::{Decision, Kind, Notice, Role};
    use time::macros::{date, datetime};

    fn record(state: State) -> Registration {
        Registration {
            id: "r1".into(),
            kind: Some(Kind::Applied),
            consent: true,
            source: Source::NonFiscal,
            state,
            version: 7,
            owner_id: "u1".into(),
            unit_id: "unit1".into(),
            department_id: None,
            authority_id: "a1".into(),
            project_id: None,
            fields: Fields {
                title: Some("新型智能灯具控制系统".into()),
                ..Fields::default()
            },
            registration_number: None,
            decision: None,
            notice: None,
            return_opinion: None,
            submitted_at: None,
            event_count: 6,
            created_at: datetime!(2026-05-01 08:00 UTC),
            updated_at: datetime!(2026-05-11 08:00 UTC),
        }
    }

    fn event(action: Action, from: State, to: State, opinion: Option<&str>) -> Event {
        Event {
            registration_id: "r1".into(),
            seq: 7,
            action,
            from: Some(from),
            to,
            actor: "point1".into(),
            role: Some(Role::Point),
            opinion: opinion.map(Into::into),
            at: datetime!(2026-05-11 08:00 UTC),
        }
    }

    #[test]
    fn dates_are_written_in_chinese() {
        assert_eq!(chinese_date(date!(2026 - 05 - 09)), "2026年5月9日");
        assert_eq!(chinese_date(date!(2026 - 12 - 31)), "2026年12月31日");
    }

    #[test]
    fn each_notifying_action_renders_from_the_record_and_event() {
        let t = Templates::new().unwrap();

        let mut reg = record(State::DecisionPending);
        reg.notice = Some(Notice::open(date!(2026 - 05 - 11), 7, 30));
        let ev = event(
            Action::ReceivePaper,
            State::PaperPending,
            State::DecisionPending,
            None,
        );
        let mut ctx = context_for(&reg, &ev);
        ctx.insert("authority", "中山市科学技术局");
        let (_, body) = t.render(template_for(ev.action).unwrap(), &ctx).unwrap();
        assert!(
            body.contains("单位内部公示期：2026年5月11日 至 2026年5月17日"),
            "{body}"
        );
        assert!(
            body.contains("网站公示期：2026年5月11日 至 2026年6月9日"),
            "{body}"
        );
        assert!(body.contains("当前状态为“待批复”"), "{body}");

        let reg = record(State::Returned);
        let ev = event(
            Action::Return,
            State::UnitReview,
            State::Returned,
            Some("请补充材料。"),
        );
        let (_, body) = t.render("return", &context_for(&reg, &ev)).unwrap();
        assert!(
            body.contains("在“单位审核”环节被退回修改，当前状态为“退回修改”"),
            "{body}"
        );
        assert!(body.contains("请补充材料。"), "{body}");

        let mut reg = record(State::Decided);
        reg.registration_number = Some("4422026Y0007".into());
        reg.decision = Some(Decision {
            result: DecisionResult::Registered,
            opinion: "同意登记。".into(),
            by: "point1".into(),
            at: datetime!(2026-06-20 08:00 UTC),
        });
        let ev = event(
            Action::Decide,
            State::DecisionPending,
            State::Decided,
            Some("同意登记。"),
        );
        let (subject, body) = t.render("decide", &context_for(&reg, &ev)).unwrap();
        assert!(subject.ends_with("已批复：予以登记"), "{subject}");
        assert!(body.contains("成果登记号：4422026Y0007"), "{body}");

        let mut reg = reg.clone();
        reg.state = State::DecisionPending;
        let ev = event(
            Action::Reopen,
            State::Decided,
            State::DecisionPending,
            Some("证据见附件。"),
        );
        let (_, body) = t.render("reopen", &context_for(&reg, &ev)).unwrap();
        assert!(body.contains("暂保留原成果登记号 4422026Y0007"), "{body}");
        assert!(body.contains("证据见附件。"), "{body}");

        assert_eq!(template_for(Action::Submit), None);
        assert_eq!(template_for(Action::Pass), None);
    }

    #[test]
    fn an_untitled_record_still_has_a_title() {
        let mut reg = record(State::Returned);
        reg.fields.title = Some("  ".into());
        let ev = event(
            Action::Return,
            State::DeptReview,
            State::Returned,
            Some("x"),
        );
        let c = context_for(&reg, &ev);
        assert_eq!(
            c.get("title").and_then(|v| v.as_str()),
            Some("（未命名成果）")
        );
        assert_eq!(
            c.get("stage").and_then(|v| v.as_str()),
            Some("二级部门审核")
        );
    }
}
