//! Every field rule of domain.md §2 and every material rule of §3, one mutation of a valid form
//! at a time: the valid fixture of each kind has no problem, and each mutation produces exactly
//! the problem of its rule, on its field, in Chinese, marked missing or invalid.

use super::*;
use crate::codes::State;
use crate::fields::{BasicFields, Benefits, Completer, Paper, ProjectInfo, SoftFields, UnitEntry};
use crate::uscc::UsccError;
use time::OffsetDateTime;
use time::macros::{date, datetime};

const APPLIED: &str = include_str!("../../../../tests/fixtures/form_applied.json");
const BASIC: &str = include_str!("../../../../tests/fixtures/form_basic.json");
const SOFT: &str = include_str!("../../../../tests/fixtures/form_soft.json");

/// The day the checks run: after every date of the fixtures.
const TODAY: Date = date!(2026 - 11 - 28);
const NOW: OffsetDateTime = datetime!(2026-11-28 10:00 +8);

/// A valid USCC registered outside Guangdong (Beijing, division code 110000).
const BEIJING_USCC: &str = "91110000MA4UJ8K304";

const KINDS: [Kind; 3] = [Kind::Applied, Kind::Basic, Kind::Soft];
const SOURCES: [Source; 3] = [
    Source::ProvincialPlan,
    Source::OtherFiscal,
    Source::NonFiscal,
];

fn fixture(kind: Kind) -> Fields {
    let text = match kind {
        Kind::Applied => APPLIED,
        Kind::Basic => BASIC,
        Kind::Soft => SOFT,
    };
    serde_json::from_str(text).expect("the fixture has the shape of `Fields`")
}

fn authorities() -> Vec<Authority> {
    vec![Authority {
        id: "zs-kjj".into(),
        name: "中山市科学技术局".into(),
        code: "442".into(),
    }]
}

/// A third-party evaluation the checklist of `kind` accepts (for `non_fiscal`).
fn third_party_method(kind: Kind) -> &'static str {
    match kind {
        Kind::Applied => "third_party",
        Kind::Basic => "appraisal",
        Kind::Soft => "third_party_review",
    }
}

/// A draft of `kind` from `source` with the valid fixture, the kind chosen with consent.
fn registration(kind: Kind, source: Source) -> Registration {
    let mut fields = fixture(kind);
    if source == Source::NonFiscal {
        fields.evaluation.as_mut().unwrap().method = Some(third_party_method(kind).into());
    }
    Registration {
        id: "reg-1".into(),
        kind: Some(kind),
        consent: true,
        source,
        state: State::Draft,
        version: 1,
        owner_id: "u-leader".into(),
        unit_id: "unit-a".into(),
        department_id: None,
        authority_id: "zs-kjj".into(),
        project_id: (source == Source::ProvincialPlan).then(|| "p-1".into()),
        fields,
        registration_number: None,
        decision: None,
        notice: None,
        return_opinion: None,
        submitted_at: None,
        event_count: 1,
        created_at: NOW,
        updated_at: NOW,
    }
}

/// The common case of the mutations: an applied achievement of other fiscal funding.
fn applied() -> Registration {
    registration(Kind::Applied, Source::OtherFiscal)
}

fn attachment(reg: &Registration, category: &str, status: AttachmentStatus) -> Attachment {
    let id = format!("att-{category}");
    Attachment {
        key: Attachment::key_for(&reg.id, &id),
        id,
        registration_id: reg.id.clone(),
        category: category.into(),
        filename: format!("{category}.pdf"),
        content_type: "application/pdf".into(),
        size: 1024,
        status,
        sha256: Some("0".repeat(64)),
        uploaded_by: "leader".into(),
        created_at: NOW,
        expires_at: NOW,
    }
}

/// A ready attachment for every category of the kind's checklist.
fn ready_materials(reg: &Registration) -> Vec<Attachment> {
    reg.kind
        .map_or(&[][..], materials::checklist)
        .iter()
        .map(|m| attachment(reg, m.category, AttachmentStatus::Ready))
        .collect()
}

fn all_problems(reg: &Registration) -> Vec<Problem> {
    let authorities = authorities();
    let ctx = CheckContext {
        today: TODAY,
        authorities: &authorities,
    };
    check(reg, &ready_materials(reg), &ctx)
}

fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// Asserts that `reg` has exactly one problem, on `field`, in Chinese, `missing` or not.
#[track_caller]
fn only_problem(reg: &Registration, field: &str, missing: bool) -> Problem {
    let problems = all_problems(reg);
    assert_eq!(
        problems.len(),
        1,
        "expected exactly one problem on {field}, got {problems:#?}"
    );
    let p = problems.into_iter().next().unwrap();
    assert_eq!(p.field, field, "{p:?}");
    assert_eq!(p.missing, missing, "missing flag of {p:?}");
    assert!(has_chinese(&p.message), "message not in Chinese: {p:?}");
    p
}

#[track_caller]
fn no_problem(reg: &Registration) {
    let problems = all_problems(reg);
    assert!(problems.is_empty(), "unexpected problems: {problems:#?}");
}

/// Applies `f` to the applied fixture and expects one problem.
#[track_caller]
fn mutation(f: impl FnOnce(&mut Fields), field: &str, missing: bool) -> Problem {
    let mut reg = applied();
    f(&mut reg.fields);
    only_problem(&reg, field, missing)
}

fn chars(n: usize) -> String {
    "研".repeat(n)
}

// ---------------------------------------------------------------------------------------------
// Valid forms

#[test]
fn the_fixtures_parse_and_carry_only_their_own_kind_section() {
    let a = fixture(Kind::Applied);
    assert!(a.applied.is_some() && a.basic.is_none() && a.soft.is_none());
    let b = fixture(Kind::Basic);
    assert!(b.basic.is_some() && b.applied.is_none() && b.soft.is_none());
    let s = fixture(Kind::Soft);
    assert!(s.soft.is_some() && s.applied.is_none() && s.basic.is_none());
    for kind in KINDS {
        let f = fixture(kind);
        assert_eq!(f.authority_id.as_deref(), Some("zs-kjj"));
        assert_eq!(f.keywords.len(), 2);
        assert_eq!(
            f.units[0].uscc.as_deref(),
            Some("91442000MA4UJ8K30D"),
            "{kind}"
        );
        assert!(uscc::is_guangdong(f.units[0].uscc.as_deref().unwrap()));
        assert_eq!(uscc::validate(f.units[1].uscc.as_deref().unwrap()), Ok(()));
        assert!(f.project.as_ref().unwrap().name.is_some());
        assert_eq!(
            f.evaluation.as_ref().unwrap().method.as_deref(),
            Some("acceptance")
        );
    }
}

#[test]
fn the_valid_fixture_of_each_kind_and_source_has_no_problem() {
    for kind in KINDS {
        for source in SOURCES {
            let reg = registration(kind, source);
            let problems = all_problems(&reg);
            assert!(problems.is_empty(), "{kind} {source}: {problems:#?}");
        }
    }
}

#[test]
fn acceptance_is_an_evaluation_every_kind_accepts() {
    for kind in KINDS {
        assert!(EvaluationMethod::allowed_for(kind).contains(&EvaluationMethod::Acceptance));
    }
}

#[test]
fn an_empty_form_reports_every_required_field_as_missing_and_nothing_invalid() {
    let mut reg = applied();
    reg.fields = Fields::default();
    let authorities = authorities();
    let ctx = CheckContext {
        today: TODAY,
        authorities: &authorities,
    };
    let problems = check(&reg, &[], &ctx);
    assert!(problems.iter().all(|p| p.missing), "{problems:#?}");
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    for f in [
        "title",
        "project",
        "authority_id",
        "units",
        "completers",
        "research_start",
        "research_end",
        "secrecy",
        "keywords",
        "discipline",
        "summary",
        "level",
        "evaluation",
        "contact",
        "applied",
        "materials.tech_report",
        "materials.unit_people_list",
    ] {
        assert!(fields.contains(&f), "{f} not reported in {fields:?}");
    }
    assert!(problems.iter().all(|p| has_chinese(&p.message)));
}

// ---------------------------------------------------------------------------------------------
// Kind and consent

#[test]
fn a_registration_without_kind_or_consent_cannot_be_submitted() {
    let mut reg = applied();
    reg.consent = false;
    only_problem(&reg, "kind", true);

    let mut reg = applied();
    reg.kind = None;
    // Without a kind there is no section or checklist to check: the kind is the only problem.
    reg.fields.applied = None;
    only_problem(&reg, "kind", true);
}

// ---------------------------------------------------------------------------------------------
// 成果名称

#[test]
fn a_missing_or_blank_title_is_missing() {
    mutation(|f| f.title = None, "title", true);
    mutation(|f| f.title = Some("   ".into()), "title", true);
}

#[test]
fn a_title_of_101_chinese_characters_is_too_long_but_100_are_fine() {
    let p = mutation(|f| f.title = Some(chars(101)), "title", false);
    assert!(p.message.contains("100"), "{p:?}");
    assert!(p.message.contains("101"), "{p:?}");

    let mut reg = applied();
    // 100 characters are 300 bytes: the limit is counted in characters.
    reg.fields.title = Some(chars(100));
    no_problem(&reg);
}

#[test]
fn a_title_with_control_characters_is_invalid() {
    mutation(|f| f.title = Some("成果\u{7}名称".into()), "title", false);
}

// ---------------------------------------------------------------------------------------------
// 项目信息

#[test]
fn an_off_plan_registration_needs_project_information() {
    for source in [Source::OtherFiscal, Source::NonFiscal] {
        let mut reg = registration(Kind::Applied, source);
        reg.fields.project = None;
        only_problem(&reg, "project", true);
    }
}

#[test]
fn an_off_plan_project_needs_its_name_and_funding_but_not_its_number() {
    mutation(
        |f| f.project.as_mut().unwrap().name = None,
        "project.name",
        true,
    );
    mutation(
        |f| f.project.as_mut().unwrap().funding = Some(" ".into()),
        "project.funding",
        true,
    );
    let mut reg = applied();
    reg.fields.project = Some(ProjectInfo {
        number: None,
        ..reg.fields.project.clone().unwrap()
    });
    no_problem(&reg);
    mutation(
        |f| f.project.as_mut().unwrap().number = Some("1".repeat(51)),
        "project.number",
        false,
    );
}

#[test]
fn a_provincial_plan_registration_must_be_linked_to_an_in_system_project() {
    let mut reg = registration(Kind::Applied, Source::ProvincialPlan);
    reg.project_id = None;
    let p = only_problem(&reg, "project", false);
    assert!(p.message.contains("系统中的项目"), "{p:?}");
}

#[test]
fn a_linked_provincial_plan_registration_needs_no_entered_project_information() {
    let mut reg = registration(Kind::Soft, Source::ProvincialPlan);
    reg.fields.project = None;
    no_problem(&reg);
}

// ---------------------------------------------------------------------------------------------
// 批准登记单位

#[test]
fn the_authority_must_be_one_of_the_configured_authorities() {
    let p = mutation(
        |f| f.authority_id = Some("gz-kjj".into()),
        "authority_id",
        false,
    );
    assert!(p.message.contains("批准登记单位"));
    mutation(|f| f.authority_id = None, "authority_id", true);
    mutation(
        |f| f.authority_id = Some(String::new()),
        "authority_id",
        true,
    );
}

// ---------------------------------------------------------------------------------------------
// 完成单位

#[test]
fn at_least_one_completing_unit_is_required() {
    mutation(|f| f.units.clear(), "units", true);
}

#[test]
fn a_unit_with_a_wrong_uscc_check_digit_is_invalid() {
    let p = mutation(
        |f| f.units[0].uscc = Some("91442000MA4UJ8K30E".into()),
        "units[0].uscc",
        false,
    );
    assert_eq!(p.message, UsccError::CheckDigit.message());
    let p = mutation(
        |f| f.units[1].uscc = Some("12442000MB2C07820G".into()),
        "units[1].uscc",
        false,
    );
    assert_eq!(p.message, UsccError::CheckDigit.message());
}

#[test]
fn a_unit_with_a_uscc_of_the_wrong_length_is_invalid() {
    let p = mutation(
        |f| f.units[0].uscc = Some("91442000MA4UJ8K30".into()),
        "units[0].uscc",
        false,
    );
    assert_eq!(p.message, UsccError::Length.message());
    let p = mutation(
        |f| f.units[1].uscc = Some("12442000MB2C07820FF".into()),
        "units[1].uscc",
        false,
    );
    assert_eq!(p.message, UsccError::Length.message());
}

#[test]
fn a_unit_with_invalid_uscc_characters_or_division_is_invalid() {
    let p = mutation(
        |f| f.units[0].uscc = Some("91442000MA4UJ8K30d".into()),
        "units[0].uscc",
        false,
    );
    assert_eq!(p.message, UsccError::Character.message());
    let p = mutation(
        |f| f.units[0].uscc = Some("91AB2000MA4UJ8K30D".into()),
        "units[0].uscc",
        false,
    );
    assert_eq!(p.message, UsccError::Region.message());
}

#[test]
fn a_unit_needs_its_name_and_uscc() {
    mutation(|f| f.units[1].name = None, "units[1].name", true);
    mutation(|f| f.units[0].uscc = None, "units[0].uscc", true);
}

#[test]
fn the_first_unit_of_other_fiscal_and_non_fiscal_achievements_must_be_in_guangdong() {
    assert_eq!(uscc::validate(BEIJING_USCC), Ok(()));
    for kind in KINDS {
        for source in [Source::OtherFiscal, Source::NonFiscal] {
            let mut reg = registration(kind, source);
            reg.fields.units[0].uscc = Some(BEIJING_USCC.into());
            let p = only_problem(&reg, "units[0].uscc", false);
            assert!(p.message.contains("广东"), "{p:?}");
        }
    }
}

#[test]
fn the_first_unit_of_a_provincial_plan_achievement_may_be_outside_guangdong() {
    let mut reg = registration(Kind::Applied, Source::ProvincialPlan);
    reg.fields.units[0].uscc = Some(BEIJING_USCC.into());
    no_problem(&reg);
}

#[test]
fn further_units_may_be_outside_guangdong_for_every_source() {
    for source in SOURCES {
        let mut reg = registration(Kind::Basic, source);
        reg.fields.units.push(UnitEntry {
            name: Some("北京某研究所".into()),
            uscc: Some(BEIJING_USCC.into()),
        });
        no_problem(&reg);
    }
}

#[test]
fn more_than_fifty_units_are_refused() {
    let mut reg = applied();
    let second = reg.fields.units[1].clone();
    reg.fields
        .units
        .extend(std::iter::repeat_n(second, LIST_MAX - 1));
    assert_eq!(reg.fields.units.len(), LIST_MAX + 1);
    only_problem(&reg, "units", false);
}

// ---------------------------------------------------------------------------------------------
// 完成人员

#[test]
fn at_least_one_completer_is_required() {
    mutation(|f| f.completers.clear(), "completers", true);
}

#[test]
fn a_completer_gender_must_be_male_or_female() {
    let p = mutation(
        |f| f.completers[0].gender = Some("男".into()),
        "completers[0].gender",
        false,
    );
    assert!(p.message.contains("男、女"), "{p:?}");
    mutation(
        |f| f.completers[1].gender = None,
        "completers[1].gender",
        true,
    );
}

#[test]
fn every_field_of_a_completer_is_required() {
    for (key, clear) in [
        (
            "name",
            (|c: &mut Completer| c.name = None) as fn(&mut Completer),
        ),
        ("title", |c| c.title = None),
        ("degree", |c| c.degree = None),
        ("work_unit", |c| c.work_unit = None),
        ("contribution", |c| c.contribution = None),
    ] {
        mutation(
            |f| clear(&mut f.completers[1]),
            &format!("completers[1].{key}"),
            true,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 研究起止日期

#[test]
fn research_dates_must_be_year_and_month() {
    for bad in [
        "2024/06",
        "2024-6",
        "24-06",
        "2024-13",
        "2024-00",
        "2024-06-01",
        "二〇二四-06",
        "2024-+6",
        "+024-06",
    ] {
        let p = mutation(
            |f| f.research_start = Some(bad.into()),
            "research_start",
            false,
        );
        assert!(p.message.contains("年-月"), "{bad}: {p:?}");
        mutation(|f| f.research_end = Some(bad.into()), "research_end", false);
    }
    mutation(|f| f.research_start = None, "research_start", true);
    mutation(
        |f| f.research_end = Some(String::new()),
        "research_end",
        true,
    );
}

#[test]
fn parse_year_month_and_parse_date_accept_only_digits() {
    assert_eq!(parse_year_month("2024-06"), Some((2024, 6)));
    assert_eq!(parse_year_month("2024-+6"), None);
    assert_eq!(parse_year_month("+024-06"), None);
    assert_eq!(parse_date("2024-06-30"), Some(date!(2024 - 06 - 30)));
    assert_eq!(parse_date("2024-+6-30"), None);
    assert_eq!(parse_date("2024-06-+1"), None);
    assert_eq!(parse_date("2024-02-30"), None);
    assert_eq!(parse_date("2024-6-30"), None);
}

#[test]
fn the_research_start_may_not_be_after_its_end() {
    let p = mutation(
        |f| {
            f.research_start = Some("2025-01".into());
            f.research_end = Some("2024-12".into());
        },
        "research_start",
        false,
    );
    assert!(p.message.contains("不能晚于"), "{p:?}");

    let mut reg = applied();
    reg.fields.research_start = Some("2024-12".into());
    reg.fields.research_end = Some("2024-12".into());
    no_problem(&reg);
}

#[test]
fn the_research_end_may_not_be_in_the_future() {
    let p = mutation(
        |f| f.research_end = Some("2026-12".into()),
        "research_end",
        false,
    );
    assert!(p.message.contains("当前月份"), "{p:?}");
    mutation(
        |f| f.research_end = Some("2027-01".into()),
        "research_end",
        false,
    );

    let mut reg = applied();
    reg.fields.research_end = Some("2026-11".into());
    no_problem(&reg);
}

// ---------------------------------------------------------------------------------------------
// 推荐单位

#[test]
fn the_recommender_is_optional_but_limited_in_length() {
    let mut reg = applied();
    reg.fields.recommender = None;
    no_problem(&reg);
    mutation(
        |f| f.recommender = Some(chars(TEXT_MAX + 1)),
        "recommender",
        false,
    );
}

// ---------------------------------------------------------------------------------------------
// 成果密级

#[test]
fn a_classified_achievement_is_refused_with_the_secrecy_message() {
    for level in ["secret", "confidential", "秘密"] {
        let p = mutation(|f| f.secrecy = Some(level.into()), "secrecy", false);
        assert!(p.message.contains("涉密"), "{p:?}");
        assert!(p.message.contains("非密"), "{p:?}");
    }
    mutation(|f| f.secrecy = None, "secrecy", true);
}

// ---------------------------------------------------------------------------------------------
// 关键词

#[test]
fn no_keyword_is_missing() {
    let p = mutation(|f| f.keywords.clear(), "keywords", true);
    assert!(p.message.contains("1至3"), "{p:?}");
}

#[test]
fn four_keywords_are_too_many_but_three_are_fine() {
    let p = mutation(
        |f| f.keywords = vec!["一".into(), "二".into(), "三".into(), "四".into()],
        "keywords",
        false,
    );
    assert!(p.message.contains('4'), "{p:?}");

    let mut reg = applied();
    reg.fields.keywords = vec!["一".into(), "二".into(), "三".into()];
    no_problem(&reg);
}

#[test]
fn a_blank_or_long_keyword_is_invalid_at_its_index() {
    mutation(|f| f.keywords[1] = "  ".into(), "keywords[1]", false);
    mutation(
        |f| f.keywords[0] = chars(KEYWORD_MAX + 1),
        "keywords[0]",
        false,
    );
}

// ---------------------------------------------------------------------------------------------
// 学科分类

#[test]
fn a_discipline_code_must_be_digits_of_three_five_or_seven() {
    for bad in ["52A", "５２０", "5201", "52", "52010201"] {
        let p = mutation(
            |f| f.discipline.as_mut().unwrap().code = Some(bad.into()),
            "discipline.code",
            false,
        );
        assert!(p.message.contains("GB/T 13745"), "{bad}: {p:?}");
    }
    for good in ["520", "52010", "5201020"] {
        let mut reg = applied();
        reg.fields.discipline.as_mut().unwrap().code = Some(good.into());
        no_problem(&reg);
    }
}

#[test]
fn a_discipline_needs_code_and_name() {
    mutation(|f| f.discipline = None, "discipline", true);
    mutation(
        |f| f.discipline.as_mut().unwrap().code = None,
        "discipline.code",
        true,
    );
    mutation(
        |f| f.discipline.as_mut().unwrap().name = None,
        "discipline.name",
        true,
    );
}

// ---------------------------------------------------------------------------------------------
// 成果简介

#[test]
fn a_summary_of_2001_characters_is_too_long_but_2000_are_fine() {
    let p = mutation(|f| f.summary = Some(chars(2001)), "summary", false);
    assert!(p.message.contains("2000"), "{p:?}");
    let mut reg = applied();
    reg.fields.summary = Some(chars(2000));
    no_problem(&reg);
    mutation(|f| f.summary = None, "summary", true);
}

// ---------------------------------------------------------------------------------------------
// 成果水平

#[test]
fn a_level_outside_the_five_values_is_invalid() {
    let p = mutation(|f| f.level = Some("excellent".into()), "level", false);
    assert!(p.message.contains("国际领先"), "{p:?}");
    mutation(|f| f.level = Some("国内领先".into()), "level", false);
    mutation(|f| f.level = None, "level", true);
    for level in Level::ALL {
        let mut reg = applied();
        reg.fields.level = Some(level.code().into());
        no_problem(&reg);
    }
}

// ---------------------------------------------------------------------------------------------
// 评价方式

#[test]
fn an_evaluation_method_outside_the_kinds_checklist_is_invalid() {
    for kind in KINDS {
        let allowed = EvaluationMethod::allowed_for(kind);
        for method in EvaluationMethod::ALL {
            let mut reg = registration(kind, Source::ProvincialPlan);
            reg.fields.evaluation.as_mut().unwrap().method = Some(method.code().into());
            if allowed.contains(method) {
                no_problem(&reg);
            } else {
                let p = only_problem(&reg, "evaluation.method", false);
                assert!(p.message.contains(kind.label()), "{kind} {method}: {p:?}");
            }
        }
    }
}

#[test]
fn the_checklists_evaluation_methods_follow_the_source_document() {
    use EvaluationMethod::*;
    assert_eq!(
        EvaluationMethod::allowed_for(Kind::Applied),
        &[Acceptance, Appraisal, ThirdParty, Assessment]
    );
    assert_eq!(
        EvaluationMethod::allowed_for(Kind::Basic),
        &[Acceptance, Appraisal, AcademicCommittee]
    );
    assert_eq!(
        EvaluationMethod::allowed_for(Kind::Soft),
        &[Acceptance, ThirdPartyReview]
    );
}

#[test]
fn an_unknown_evaluation_method_is_invalid() {
    mutation(
        |f| f.evaluation.as_mut().unwrap().method = Some("peer_review".into()),
        "evaluation.method",
        false,
    );
    mutation(
        |f| f.evaluation.as_mut().unwrap().method = None,
        "evaluation.method",
        true,
    );
}

#[test]
fn an_other_fiscal_achievement_needs_an_acceptance_evaluation() {
    for kind in KINDS {
        for method in EvaluationMethod::allowed_for(kind) {
            let mut reg = registration(kind, Source::OtherFiscal);
            reg.fields.evaluation.as_mut().unwrap().method = Some(method.code().into());
            if *method == EvaluationMethod::Acceptance {
                no_problem(&reg);
            } else {
                let p = only_problem(&reg, "evaluation.method", false);
                assert!(p.message.contains("验收"), "{kind} {method}: {p:?}");
            }
        }
    }
}

#[test]
fn a_non_fiscal_achievement_needs_a_third_party_evaluation() {
    for kind in KINDS {
        for method in EvaluationMethod::allowed_for(kind) {
            let mut reg = registration(kind, Source::NonFiscal);
            reg.fields.evaluation.as_mut().unwrap().method = Some(method.code().into());
            let third_party = matches!(
                method,
                EvaluationMethod::ThirdParty
                    | EvaluationMethod::Assessment
                    | EvaluationMethod::Appraisal
                    | EvaluationMethod::ThirdPartyReview
            );
            if third_party {
                no_problem(&reg);
            } else {
                let p = only_problem(&reg, "evaluation.method", false);
                assert!(p.message.contains("第三方"), "{kind} {method}: {p:?}");
            }
        }
    }
}

#[test]
fn an_evaluation_dated_in_the_future_is_invalid_but_today_is_fine() {
    let p = mutation(
        |f| f.evaluation.as_mut().unwrap().date = Some("2026-11-29".into()),
        "evaluation.date",
        false,
    );
    assert!(p.message.contains("今天"), "{p:?}");
    let mut reg = applied();
    reg.fields.evaluation.as_mut().unwrap().date = Some("2026-11-28".into());
    no_problem(&reg);
}

#[test]
fn an_evaluation_date_must_be_a_real_calendar_date() {
    for bad in [
        "2026/03/20",
        "2026-3-20",
        "2026-02-30",
        "20260320",
        "2026-03-+2",
    ] {
        let p = mutation(
            |f| f.evaluation.as_mut().unwrap().date = Some(bad.into()),
            "evaluation.date",
            false,
        );
        assert!(p.message.contains("年-月-日"), "{bad}: {p:?}");
    }
    mutation(
        |f| f.evaluation.as_mut().unwrap().date = None,
        "evaluation.date",
        true,
    );
}

#[test]
fn an_evaluation_needs_its_body() {
    mutation(|f| f.evaluation = None, "evaluation", true);
    mutation(
        |f| f.evaluation.as_mut().unwrap().body = None,
        "evaluation.body",
        true,
    );
}

// ---------------------------------------------------------------------------------------------
// 联系人

#[test]
fn a_contact_mobile_must_be_a_mainland_mobile_number() {
    for bad in [
        "1380013800",
        "138001380000",
        "23800138000",
        "12800138000",
        "1380013800a",
        "+8613800138000",
        "138 0013 800",
    ] {
        let p = mutation(
            |f| f.contact.as_mut().unwrap().mobile = Some(bad.into()),
            "contact.mobile",
            false,
        );
        assert!(p.message.contains("手机"), "{bad}: {p:?}");
    }
    for good in ["13800138000", "19912345678"] {
        assert!(is_mobile(good));
    }
    mutation(
        |f| f.contact.as_mut().unwrap().mobile = None,
        "contact.mobile",
        true,
    );
}

#[test]
fn a_contact_email_must_be_a_plain_address() {
    for bad in [
        "chenzq.example.com",
        "chenzq@example",
        "chen zq@example.com",
        "@example.com",
        "a@b@example.com",
        "a@.example.com",
        "a@example.com.",
        "a@example..com",
    ] {
        let p = mutation(
            |f| f.contact.as_mut().unwrap().email = Some(bad.into()),
            "contact.email",
            false,
        );
        assert!(p.message.contains("邮箱"), "{bad}: {p:?}");
    }
    assert!(is_email("chenzq@huachuang-zs.com.cn"));
    mutation(
        |f| f.contact.as_mut().unwrap().email = Some(String::new()),
        "contact.email",
        true,
    );
}

#[test]
fn a_contact_needs_a_name() {
    mutation(|f| f.contact = None, "contact", true);
    mutation(
        |f| f.contact.as_mut().unwrap().name = None,
        "contact.name",
        true,
    );
}

// ---------------------------------------------------------------------------------------------
// 应用技术成果

#[test]
fn an_applied_attribute_outside_its_three_values_is_invalid() {
    let p = mutation(
        |f| f.applied.as_mut().unwrap().attribute = Some("new".into()),
        "applied.attribute",
        false,
    );
    assert!(p.message.contains("原始性创新"), "{p:?}");
    mutation(
        |f| f.applied.as_mut().unwrap().attribute = None,
        "applied.attribute",
        true,
    );
}

#[test]
fn an_applied_stage_outside_its_three_values_is_invalid() {
    let p = mutation(
        |f| f.applied.as_mut().unwrap().stage = Some("late".into()),
        "applied.stage",
        false,
    );
    assert!(p.message.contains("成熟期"), "{p:?}");
    mutation(
        |f| f.applied.as_mut().unwrap().stage = None,
        "applied.stage",
        true,
    );
}

#[test]
fn an_industry_code_must_be_a_gb_t_4754_code() {
    for bad in ["X123", "C38721", "c3872", "C3", "3", "38a2", "C-3872"] {
        mutation(
            |f| f.applied.as_mut().unwrap().industry_code = Some(bad.into()),
            "applied.industry_code",
            false,
        );
    }
    for good in ["C", "C38", "C387", "C3872", "3872", "38", "T"] {
        let mut reg = applied();
        reg.fields.applied.as_mut().unwrap().industry_code = Some(good.into());
        no_problem(&reg);
    }
    mutation(
        |f| f.applied.as_mut().unwrap().industry_code = None,
        "applied.industry_code",
        true,
    );
}

#[test]
fn every_intellectual_property_count_is_required() {
    mutation(
        |f| f.applied.as_mut().unwrap().ip = None,
        "applied.ip",
        true,
    );
    mutation(
        |f| {
            f.applied
                .as_mut()
                .unwrap()
                .ip
                .as_mut()
                .unwrap()
                .invention_patents = None
        },
        "applied.ip.invention_patents",
        true,
    );
    mutation(
        |f| {
            f.applied
                .as_mut()
                .unwrap()
                .ip
                .as_mut()
                .unwrap()
                .utility_patents = None
        },
        "applied.ip.utility_patents",
        true,
    );
    mutation(
        |f| {
            f.applied
                .as_mut()
                .unwrap()
                .ip
                .as_mut()
                .unwrap()
                .software_copyrights = None
        },
        "applied.ip.software_copyrights",
        true,
    );
}

#[test]
fn granted_intellectual_property_needs_its_numbers_and_none_needs_none() {
    mutation(
        |f| f.applied.as_mut().unwrap().ip.as_mut().unwrap().numbers = vec![" ".into()],
        "applied.ip.numbers",
        true,
    );
    let mut reg = applied();
    let ip = reg.fields.applied.as_mut().unwrap().ip.as_mut().unwrap();
    ip.invention_patents = Some(0);
    ip.utility_patents = Some(0);
    ip.software_copyrights = Some(0);
    ip.numbers.clear();
    no_problem(&reg);
}

#[test]
fn negative_intellectual_property_counts_do_not_even_parse() {
    let mut value: serde_json::Value = serde_json::from_str(APPLIED).unwrap();
    value["applied"]["ip"]["invention_patents"] = serde_json::json!(-1);
    assert!(serde_json::from_value::<Fields>(value).is_err());
}

#[test]
fn negative_or_non_finite_benefits_are_invalid() {
    for (key, set) in [
        (
            "output",
            (|b: &mut Benefits, v| b.output = Some(v)) as fn(&mut Benefits, f64),
        ),
        ("profit", |b, v| b.profit = Some(v)),
        ("tax", |b, v| b.tax = Some(v)),
    ] {
        for bad in [-0.01, -100.0, f64::NAN, f64::INFINITY, 2.0e9] {
            let p = mutation(
                |f| set(f.applied.as_mut().unwrap().benefits.as_mut().unwrap(), bad),
                &format!("applied.benefits.{key}"),
                false,
            );
            assert!(p.message.contains('“'), "{p:?}");
        }
        let mut reg = applied();
        set(
            reg.fields
                .applied
                .as_mut()
                .unwrap()
                .benefits
                .as_mut()
                .unwrap(),
            0.0,
        );
        no_problem(&reg);
    }
    mutation(
        |f| {
            f.applied
                .as_mut()
                .unwrap()
                .benefits
                .as_mut()
                .unwrap()
                .profit = None
        },
        "applied.benefits.profit",
        true,
    );
    mutation(
        |f| f.applied.as_mut().unwrap().benefits = None,
        "applied.benefits",
        true,
    );
}

#[test]
fn the_application_text_is_required() {
    mutation(
        |f| f.applied.as_mut().unwrap().application = None,
        "applied.application",
        true,
    );
    mutation(
        |f| f.applied.as_mut().unwrap().application = Some(chars(LONG_TEXT_MAX + 1)),
        "applied.application",
        false,
    );
}

#[test]
fn an_applied_achievement_needs_its_section() {
    mutation(|f| f.applied = None, "applied", true);
}

// ---------------------------------------------------------------------------------------------
// 基础理论成果

fn basic() -> Registration {
    registration(Kind::Basic, Source::OtherFiscal)
}

#[track_caller]
fn basic_mutation(f: impl FnOnce(&mut BasicFields), field: &str, missing: bool) -> Problem {
    let mut reg = basic();
    f(reg.fields.basic.as_mut().unwrap());
    only_problem(&reg, field, missing)
}

#[test]
fn a_paper_year_outside_1900_to_this_year_is_invalid() {
    for bad in [1899, 2027, 0, -5] {
        let p = basic_mutation(
            |b| b.papers[0].year = Some(bad),
            "basic.papers[0].year",
            false,
        );
        assert!(p.message.contains("2026"), "{bad}: {p:?}");
    }
    for good in [1900, 2026] {
        let mut reg = basic();
        reg.fields.basic.as_mut().unwrap().papers[1].year = Some(good);
        no_problem(&reg);
    }
    basic_mutation(|b| b.papers[1].year = None, "basic.papers[1].year", true);
}

#[test]
fn a_paper_needs_title_journal_and_indexing() {
    basic_mutation(|b| b.papers[0].title = None, "basic.papers[0].title", true);
    basic_mutation(
        |b| b.papers[0].journal = None,
        "basic.papers[0].journal",
        true,
    );
    basic_mutation(
        |b| b.papers[0].indexed_in = None,
        "basic.papers[0].indexed_in",
        true,
    );
}

#[test]
fn a_basic_form_other_needs_its_text() {
    basic_mutation(|b| b.form = Some("other".into()), "basic.form_other", true);
    let mut reg = basic();
    let b = reg.fields.basic.as_mut().unwrap();
    b.form = Some("other".into());
    b.form_other = Some("专利技术标准".into());
    no_problem(&reg);
}

#[test]
fn a_basic_form_outside_its_values_is_invalid() {
    let p = basic_mutation(|b| b.form = Some("patent".into()), "basic.form", false);
    assert!(p.message.contains("论文"), "{p:?}");
    basic_mutation(|b| b.form = None, "basic.form", true);
}

#[test]
fn a_paper_form_needs_papers_and_others_do_not() {
    basic_mutation(|b| b.papers.clear(), "basic.papers", true);
    for form in ["monograph", "report"] {
        let mut reg = basic();
        let b = reg.fields.basic.as_mut().unwrap();
        b.form = Some(form.into());
        b.papers.clear();
        no_problem(&reg);
    }
}

#[test]
fn more_than_fifty_papers_are_refused() {
    basic_mutation(
        |b| {
            let p: Paper = b.papers[0].clone();
            b.papers = vec![p; LIST_MAX + 1];
        },
        "basic.papers",
        false,
    );
}

#[test]
fn the_citation_count_is_required() {
    basic_mutation(|b| b.citations = None, "basic.citations", true);
    let mut reg = basic();
    reg.fields.basic.as_mut().unwrap().citations = Some(0);
    no_problem(&reg);
}

#[test]
fn a_basic_achievement_needs_its_section() {
    let mut reg = basic();
    reg.fields.basic = None;
    only_problem(&reg, "basic", true);
}

// ---------------------------------------------------------------------------------------------
// 软科学研究成果

fn soft() -> Registration {
    registration(Kind::Soft, Source::OtherFiscal)
}

#[track_caller]
fn soft_mutation(f: impl FnOnce(&mut SoftFields), field: &str, missing: bool) -> Problem {
    let mut reg = soft();
    f(reg.fields.soft.as_mut().unwrap());
    only_problem(&reg, field, missing)
}

#[test]
fn a_soft_achievement_needs_its_adoption() {
    let p = soft_mutation(|s| s.adopted_by = None, "soft.adopted_by", true);
    assert!(p.message.contains("采纳情况"), "{p:?}");
    soft_mutation(
        |s| s.adopted_by = Some(chars(TEXT_MAX + 1)),
        "soft.adopted_by",
        false,
    );
}

#[test]
fn a_soft_form_other_needs_its_text_and_unknown_forms_are_invalid() {
    soft_mutation(|s| s.form = Some("other".into()), "soft.form_other", true);
    soft_mutation(|s| s.form = Some("video".into()), "soft.form", false);
    soft_mutation(|s| s.form = None, "soft.form", true);
}

#[test]
fn a_soft_achievement_needs_its_social_benefit() {
    soft_mutation(|s| s.social_benefit = None, "soft.social_benefit", true);
}

#[test]
fn a_soft_achievement_needs_its_section() {
    let mut reg = soft();
    reg.fields.soft = None;
    only_problem(&reg, "soft", true);
}

// ---------------------------------------------------------------------------------------------
// Sections of other kinds

#[test]
fn a_section_of_another_kind_is_invalid() {
    for kind in KINDS {
        for other in KINDS.into_iter().filter(|k| *k != kind) {
            let mut reg = registration(kind, Source::OtherFiscal);
            let donor = fixture(other);
            match other {
                Kind::Applied => reg.fields.applied = donor.applied,
                Kind::Basic => reg.fields.basic = donor.basic,
                Kind::Soft => reg.fields.soft = donor.soft,
            }
            let p = only_problem(&reg, other.code(), false);
            assert!(p.message.contains(kind.label()), "{p:?}");
            assert!(p.message.contains(other.label()), "{p:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Materials

#[test]
fn each_missing_required_material_is_reported_on_its_category() {
    for kind in KINDS {
        let reg = registration(kind, Source::OtherFiscal);
        for m in materials::checklist(kind) {
            let attachments: Vec<Attachment> = ready_materials(&reg)
                .into_iter()
                .filter(|a| a.category != m.category)
                .collect();
            let problems = check_materials(&reg, &attachments);
            assert_eq!(problems.len(), 1, "{kind} {}: {problems:?}", m.category);
            let p = &problems[0];
            assert_eq!(p.field, format!("materials.{}", m.category));
            assert!(p.missing);
            assert!(p.message.contains(m.label), "{p:?}");
        }
    }
}

#[test]
fn no_attachment_at_all_reports_the_whole_checklist() {
    for kind in KINDS {
        let reg = registration(kind, Source::OtherFiscal);
        let fields: Vec<String> = check_materials(&reg, &[])
            .into_iter()
            .map(|p| p.field)
            .collect();
        let expected: Vec<String> = materials::checklist(kind)
            .iter()
            .map(|m| format!("materials.{}", m.category))
            .collect();
        assert_eq!(fields, expected, "{kind}");
    }
}

#[test]
fn the_material_categories_are_those_of_the_api() {
    let categories =
        |k: Kind| -> Vec<&str> { materials::checklist(k).iter().map(|m| m.category).collect() };
    assert_eq!(
        categories(Kind::Applied),
        [
            "tech_report",
            "work_summary",
            "evaluation",
            "ip_proof",
            "test_report",
            "application_proof",
            "benefit_proof",
            "unit_people_list"
        ]
    );
    assert_eq!(
        categories(Kind::Basic),
        [
            "research_report",
            "work_summary",
            "evaluation",
            "ip_proof",
            "citation_report",
            "social_benefit_proof",
            "unit_people_list"
        ]
    );
    assert_eq!(
        categories(Kind::Soft),
        [
            "research_report",
            "work_summary",
            "evaluation",
            "ip_proof",
            "social_benefit_proof",
            "unit_people_list"
        ]
    );
}

#[test]
fn a_contract_with_the_lists_waives_the_unit_and_people_list() {
    for kind in KINDS {
        let mut reg = registration(kind, Source::OtherFiscal);
        let without_list: Vec<Attachment> = ready_materials(&reg)
            .into_iter()
            .filter(|a| a.category != materials::UNIT_PEOPLE_LIST)
            .collect();
        let problems = check_materials(&reg, &without_list);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "materials.unit_people_list");

        reg.fields.contract_has_lists = true;
        assert!(check_materials(&reg, &without_list).is_empty());
    }
}

#[test]
fn a_pending_attachment_does_not_count() {
    let reg = applied();
    let mut attachments = ready_materials(&reg);
    attachments
        .iter_mut()
        .find(|a| a.category == "evaluation")
        .unwrap()
        .status = AttachmentStatus::Pending;
    let problems = check_materials(&reg, &attachments);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].field, "materials.evaluation");
    assert!(problems[0].missing);

    // A ready one next to the pending one does.
    attachments.push(attachment(&reg, "evaluation", AttachmentStatus::Ready));
    assert!(check_materials(&reg, &attachments).is_empty());
}

#[test]
fn an_attachment_of_another_category_does_not_count() {
    let reg = registration(Kind::Soft, Source::OtherFiscal);
    let mut attachments: Vec<Attachment> = ready_materials(&reg)
        .into_iter()
        .filter(|a| a.category != "social_benefit_proof")
        .collect();
    // `benefit_proof` belongs to applied, `reopen_evidence` to the point.
    attachments.push(attachment(&reg, "benefit_proof", AttachmentStatus::Ready));
    attachments.push(attachment(
        &reg,
        materials::REOPEN_EVIDENCE,
        AttachmentStatus::Ready,
    ));
    let problems = check_materials(&reg, &attachments);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].field, "materials.social_benefit_proof");
}

#[test]
fn materials_are_not_checked_before_the_kind_is_chosen() {
    let mut reg = applied();
    reg.kind = None;
    assert!(check_materials(&reg, &[]).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Problems and `invalid_in`

#[test]
fn the_top_key_of_a_problem_is_the_first_segment_of_its_path() {
    for (field, top) in [
        ("title", "title"),
        ("contact.mobile", "contact"),
        ("completers[0].name", "completers"),
        ("units[1].uscc", "units"),
        ("applied.ip.numbers[3]", "applied"),
        ("basic.papers[0].year", "basic"),
        ("materials.evaluation", "materials"),
        ("keywords[2]", "keywords"),
        ("", ""),
    ] {
        assert_eq!(Problem::invalid(field, "x").top_key(), top, "{field}");
        assert_eq!(Problem::missing(field, "x").top_key(), top, "{field}");
    }
}

#[test]
fn invalid_in_keeps_only_invalid_problems_of_the_given_top_level_keys() {
    let mut reg = applied();
    reg.fields.title = None; // missing
    reg.fields.contact.as_mut().unwrap().mobile = Some("123".into()); // invalid
    reg.fields.contact.as_mut().unwrap().name = None; // missing
    reg.fields.completers[0].gender = Some("x".into()); // invalid
    reg.fields.keywords = vec![];
    let problems = all_problems(&reg);
    assert_eq!(problems.len(), 5, "{problems:#?}");

    let fields =
        |v: Vec<&Problem>| -> Vec<String> { v.into_iter().map(|p| p.field.clone()).collect() };
    assert_eq!(
        fields(invalid_in(&problems, &["contact"])),
        ["contact.mobile"]
    );
    assert_eq!(
        fields(invalid_in(&problems, &["contact", "completers", "title"])),
        ["completers[0].gender", "contact.mobile"]
    );
    assert!(invalid_in(&problems, &["title", "keywords"]).is_empty());
    assert!(invalid_in(&problems, &[]).is_empty());
    // A prefix of a key is not the key.
    assert!(invalid_in(&problems, &["contac"]).is_empty());
}

#[test]
fn check_form_alone_ignores_kind_consent_and_materials() {
    let mut reg = applied();
    reg.consent = false;
    let authorities = authorities();
    let ctx = CheckContext {
        today: TODAY,
        authorities: &authorities,
    };
    assert!(check_form(&reg, &ctx).is_empty());
    assert_eq!(check(&reg, &[], &ctx).len(), 1 + 8);
}
