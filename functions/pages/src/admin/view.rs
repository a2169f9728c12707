//! What staff pages and the print view show of a record: the form as labelled sections in
//! Chinese, the history, the notice windows, dates in China's time. Everything is turned into
//! plain text here, so templates only lay it out (and tera escapes it).

use chengguo_domain::codes::{
    AppliedAttribute, AppliedStage, BasicForm, EvaluationMethod, Gender, Kind, Level, SoftForm,
    State,
};
use chengguo_domain::materials;
use chengguo_domain::ports::CHINA;
use chengguo_domain::project::Project;
use chengguo_domain::record::{Attachment, AttachmentStatus, Event, Notice, Registration};
use serde_json::{Value, json};
use time::{Date, OffsetDateTime};

/// Shown for a value nobody filled in.
pub const EMPTY: &str = "—";

/// `2026-11-28 10:00` in China.
pub fn time_text(t: OffsetDateTime) -> String {
    let l = t.to_offset(CHINA);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        l.year(),
        u8::from(l.month()),
        l.day(),
        l.hour(),
        l.minute()
    )
}

/// `2026-11-28`.
pub fn date_text(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    let mut it = s.trim().splitn(3, '-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()
}

fn text(v: Option<&str>) -> String {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or_else(|| EMPTY.to_owned(), str::to_owned)
}

fn labelled<F: Fn(&str) -> Option<&'static str>>(v: Option<&str>, label: F) -> String {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => EMPTY.to_owned(),
        Some(code) => label(code).map_or_else(|| code.to_owned(), str::to_owned),
    }
}

fn number<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| EMPTY.to_owned(), |n| n.to_string())
}

fn row(label: &str, value: impl Into<String>) -> Value {
    json!({"label": label, "value": value.into()})
}

/// A section of definition rows.
fn rows(title: &str, rows: Vec<Value>) -> Value {
    json!({"type": "rows", "title": title, "rows": rows})
}

/// A section holding a table.
fn table(title: &str, headers: &[&str], body: Vec<Vec<String>>, empty: &str) -> Value {
    json!({"type": "table", "title": title, "table": {"headers": headers, "rows": body, "empty": empty}})
}

/// The human size of a byte count.
pub fn size_text(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 1024 {
        format!("{:.0} KB", n as f64 / 1024.0)
    } else {
        format!("{n} 字节")
    }
}

/// The registration form as labelled sections, in the order of the 登记表.
pub fn form_sections(
    reg: &Registration,
    authority_name: Option<&str>,
    project: Option<&Project>,
) -> Vec<Value> {
    let f = &reg.fields;
    let mut out = Vec::new();
    let period = match (f.research_start.as_deref(), f.research_end.as_deref()) {
        (None, None) => EMPTY.to_owned(),
        (s, e) => format!("{} 至 {}", text(s), text(e)),
    };
    let discipline = f
        .discipline
        .as_ref()
        .map(|d| {
            let parts: Vec<&str> = [d.code.as_deref(), d.name.as_deref()]
                .into_iter()
                .flatten()
                .filter(|s| !s.trim().is_empty())
                .collect();
            if parts.is_empty() {
                EMPTY.to_owned()
            } else {
                parts.join(" ")
            }
        })
        .unwrap_or_else(|| EMPTY.to_owned());
    let keywords = if f.keywords.is_empty() {
        EMPTY.to_owned()
    } else {
        f.keywords.join("；")
    };
    out.push(rows(
        "基本信息",
        vec![
            row("成果名称", text(f.title.as_deref())),
            row(
                "成果类型",
                reg.kind.map_or("未选择", Kind::label).to_owned(),
            ),
            row("登记对象", reg.source.label()),
            row(
                "批准登记单位",
                authority_name.map_or_else(|| EMPTY.to_owned(), str::to_owned),
            ),
            row("成果登记号", text(reg.registration_number.as_deref())),
            row("研究起止日期", period),
            row("推荐单位", text(f.recommender.as_deref())),
            row(
                "成果密级",
                labelled(f.secrecy.as_deref(), |c| (c == "none").then_some("非密")),
            ),
            row("关键词", keywords),
            row("学科分类", discipline),
            row(
                "成果水平",
                labelled(f.level.as_deref(), |c| Level::parse(c).map(Level::label)),
            ),
        ],
    ));
    out.push(json!({"type": "text", "title": "成果简介", "text": text(f.summary.as_deref())}));

    let project_rows = match project {
        Some(p) => vec![
            row("项目类型", "系统中项目（省科技计划）"),
            row("项目编号", p.number.clone()),
            row("项目名称", p.name.clone()),
            row("计划类别", p.plan.clone()),
            row("验收状态", p.acceptance.label()),
        ],
        None => {
            let info = f.project.clone().unwrap_or_default();
            vec![
                row("项目类型", "计划外项目"),
                row("项目名称", text(info.name.as_deref())),
                row("项目编号", text(info.number.as_deref())),
                row("经费来源", text(info.funding.as_deref())),
            ]
        }
    };
    out.push(rows("项目信息", project_rows));

    let units: Vec<Vec<String>> = f
        .units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            vec![
                if i == 0 {
                    "第一完成单位".to_owned()
                } else {
                    format!("第{}完成单位", i + 1)
                },
                text(u.name.as_deref()),
                text(u.uscc.as_deref()),
            ]
        })
        .collect();
    out.push(table(
        "完成单位",
        &["排序", "单位名称", "统一社会信用代码"],
        units,
        "未填写完成单位。",
    ));

    let people: Vec<Vec<String>> = f
        .completers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            vec![
                (i + 1).to_string(),
                text(c.name.as_deref()),
                labelled(c.gender.as_deref(), |g| Gender::parse(g).map(Gender::label)),
                text(c.title.as_deref()),
                text(c.degree.as_deref()),
                text(c.work_unit.as_deref()),
                text(c.contribution.as_deref()),
            ]
        })
        .collect();
    out.push(table(
        "完成人员",
        &[
            "排名",
            "姓名",
            "性别",
            "技术职称",
            "学历",
            "工作单位",
            "对成果的创造性贡献",
        ],
        people,
        "未填写完成人员。",
    ));

    let ev = f.evaluation.clone().unwrap_or_default();
    out.push(rows(
        "评价情况",
        vec![
            row(
                "评价方式",
                labelled(ev.method.as_deref(), |m| {
                    EvaluationMethod::parse(m).map(EvaluationMethod::label)
                }),
            ),
            row("评价机构", text(ev.body.as_deref())),
            row("评价日期", text(ev.date.as_deref())),
        ],
    ));

    match reg.kind {
        Some(Kind::Applied) => {
            let a = f.applied.clone().unwrap_or_default();
            let ip = a.ip.clone().unwrap_or_default();
            let b = a.benefits.clone().unwrap_or_default();
            let ip_numbers = if ip.numbers.is_empty() {
                EMPTY.to_owned()
            } else {
                ip.numbers.join("；")
            };
            out.push(rows(
                "应用技术成果信息",
                vec![
                    row(
                        "成果属性",
                        labelled(a.attribute.as_deref(), |c| {
                            AppliedAttribute::parse(c).map(AppliedAttribute::label)
                        }),
                    ),
                    row(
                        "成果所处阶段",
                        labelled(a.stage.as_deref(), |c| {
                            AppliedStage::parse(c).map(AppliedStage::label)
                        }),
                    ),
                    row(
                        "应用行业（国民经济行业代码）",
                        text(a.industry_code.as_deref()),
                    ),
                    row("授权发明专利（项）", number(ip.invention_patents)),
                    row("授权实用新型专利（项）", number(ip.utility_patents)),
                    row("软件著作权（项）", number(ip.software_copyrights)),
                    row("知识产权编号", ip_numbers),
                    row("新增产值（万元）", number(b.output)),
                    row("新增利润（万元）", number(b.profit)),
                    row("新增税收（万元）", number(b.tax)),
                    row("推广应用情况", text(a.application.as_deref())),
                ],
            ));
        }
        Some(Kind::Basic) => {
            let b = f.basic.clone().unwrap_or_default();
            let form = labelled(b.form.as_deref(), |c| {
                BasicForm::parse(c).map(BasicForm::label)
            });
            out.push(rows(
                "基础理论成果信息",
                vec![
                    row("成果体现形式", form),
                    row("其他形式说明", text(b.form_other.as_deref())),
                    row("他引次数", number(b.citations)),
                ],
            ));
            let papers = b
                .papers
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    vec![
                        (i + 1).to_string(),
                        text(p.title.as_deref()),
                        text(p.journal.as_deref()),
                        number(p.year),
                        text(p.indexed_in.as_deref()),
                    ]
                })
                .collect();
            out.push(table(
                "已发表论文",
                &["序号", "论文题目", "刊物名称", "发表年份", "收录情况"],
                papers,
                "未填写论文。",
            ));
        }
        Some(Kind::Soft) => {
            let s = f.soft.clone().unwrap_or_default();
            let form = labelled(s.form.as_deref(), |c| {
                SoftForm::parse(c).map(SoftForm::label)
            });
            out.push(rows(
                "软科学研究成果信息",
                vec![
                    row("成果体现形式", form),
                    row("其他形式说明", text(s.form_other.as_deref())),
                    row("采纳情况", text(s.adopted_by.as_deref())),
                    row("社会效益", text(s.social_benefit.as_deref())),
                ],
            ));
        }
        None => {}
    }

    let c = f.contact.clone().unwrap_or_default();
    out.push(rows(
        "联系人",
        vec![
            row("姓名", text(c.name.as_deref())),
            row("手机", text(c.mobile.as_deref())),
            row("电子邮箱", text(c.email.as_deref())),
            row(
                "项目合同已包含完成单位及人员名单",
                if f.contract_has_lists { "是" } else { "否" },
            ),
        ],
    ));
    out
}

/// The materials checklist of the record's kind with what was uploaded for each category,
/// plus the reopen evidence if any.
pub fn materials_view(reg: &Registration, attachments: &[Attachment]) -> Vec<Value> {
    let ready: Vec<&Attachment> = attachments
        .iter()
        .filter(|a| a.status == AttachmentStatus::Ready)
        .collect();
    let files_of = |category: &str| -> Vec<Value> {
        ready
            .iter()
            .filter(|a| a.category == category)
            .map(|a| attachment_view(reg, a))
            .collect()
    };
    let mut out: Vec<Value> = reg
        .kind
        .map(materials::checklist)
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let required =
                !(reg.fields.contract_has_lists && m.category == materials::UNIT_PEOPLE_LIST);
            json!({
                "category": m.category,
                "label": m.label,
                "hint": m.hint,
                "required": required,
                "files": files_of(m.category),
            })
        })
        .collect();
    let evidence = files_of(materials::REOPEN_EVIDENCE);
    if !evidence.is_empty() {
        out.push(json!({
            "category": materials::REOPEN_EVIDENCE,
            "label": "退回到未批复佐证材料",
            "hint": "",
            "required": false,
            "files": evidence,
        }));
    }
    out
}

/// One confirmed attachment with its download link.
pub fn attachment_view(reg: &Registration, a: &Attachment) -> Value {
    json!({
        "id": a.id,
        "filename": a.filename,
        "size": size_text(a.size),
        "type": match a.content_type.as_str() {
            "application/pdf" => "PDF",
            "image/jpeg" => "JPG",
            "image/png" => "PNG",
            other => other,
        },
        "uploaded_by": a.uploaded_by,
        "at": time_text(a.created_at),
        "download": format!("/api/registrations/{}/attachments/{}/download", reg.id, a.id),
    })
}

/// The history as a timeline.
pub fn history_view(events: &[Event]) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            json!({
                "seq": e.seq,
                "action": e.action.label(),
                "from": e.from.map(State::label),
                "to": e.to.label(),
                "actor": if e.actor == "system" { "系统".to_owned() } else { e.actor.clone() },
                "role": e.role.map(|r| r.label()),
                "opinion": e.opinion,
                "at": time_text(e.at),
            })
        })
        .collect()
}

/// The notice windows with whether each is open today.
pub fn notice_view(notice: &Notice, today: Date) -> Value {
    let status = |from: Date, to: Date| {
        if today < from {
            "未开始"
        } else if today <= to {
            "公示中"
        } else {
            "已结束"
        }
    };
    json!({
        "paper_received_on": date_text(notice.paper_received_on),
        "unit_from": date_text(notice.unit_from),
        "unit_to": date_text(notice.unit_to),
        "unit_status": status(notice.unit_from, notice.unit_to),
        "website_from": date_text(notice.website_from),
        "website_to": date_text(notice.website_to),
        "website_status": status(notice.website_from, notice.website_to),
        "website_ended": notice.website_ended_by(today),
    })
}

/// The state as shown in lists: `待批复（公示中）` or `待批复（公示期满）` while deciding.
pub fn state_text(reg: &Registration, today: Date) -> String {
    match (&reg.state, &reg.notice) {
        (State::DecisionPending, Some(n)) if n.website_ended_by(today) => {
            format!("{}（公示期满）", reg.state.label())
        }
        (State::DecisionPending, Some(_)) => format!("{}（公示中）", reg.state.label()),
        (s, _) => s.label().to_owned(),
    }
}

/// A record as a row of a list.
pub fn list_row(reg: &Registration, today: Date, unit_name: Option<&str>) -> Value {
    json!({
        "id": reg.id,
        "title": reg.fields.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| "（未填写成果名称）".to_owned()),
        "kind": reg.kind.map_or("未选择", Kind::label),
        "state": reg.state.code(),
        "state_text": state_text(reg, today),
        "waiting_for": reg.state.waiting_for(),
        "unit": unit_name.map(str::to_owned).or_else(|| reg.fields.first_unit().and_then(|u| u.name.clone())).unwrap_or_else(|| EMPTY.to_owned()),
        "number": reg.registration_number,
        "created": time_text(reg.created_at),
        "updated": time_text(reg.updated_at),
        "paper_received": reg.notice.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_parsed_and_written_in_iso_form() {
        let d = parse_date("2026-02-03").unwrap();
        assert_eq!(date_text(d), "2026-02-03");
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("bad").is_none());
        assert_eq!(
            time_text(time::macros::datetime!(2026-11-28 02:05 UTC)),
            "2026-11-28 10:05"
        );
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(size_text(10), "10 字节");
        assert_eq!(size_text(2048), "2 KB");
        assert_eq!(size_text(3 * 1024 * 1024), "3.0 MB");
    }
}
