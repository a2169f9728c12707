//! 「新增计划外项目成果登记」 (`/app/new`) and the kind choice of a draft the system created for
//! an in-system project (`/app/r/{id}/kind`): both with 《科技成果登记与信息公开知情同意书》 and the
//! warning that the kind can never change.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chengguo_api::ApiError;
use chengguo_api::service::{self, CreateRequest};
use chengguo_domain::codes::{Kind, Source};
use chengguo_domain::fields::ProjectInfo;
use chengguo_domain::{DomainError, Problem};
use serde::{Deserialize, Serialize};
use tera::Context;

use super::{context, leader_only, load};
use crate::PageState;
use crate::guard::{PageUser, check_form_token, error_page};

/// The consent text (知情同意书), paragraph by paragraph.
pub const CONSENT: &[&str] = &[
    "本人作为项目负责人，代表成果完成单位和完成人员申请科技成果登记，已阅读并知悉以下内容：",
    "一、所填报的登记信息和提交的材料真实、准确、完整，不涉及国家秘密，不侵犯他人的知识产权和其他合法权益；如有不实，由本人及完成单位承担相应责任。",
    "二、成果登记点接收纸质材料后，本成果的公开信息（成果名称、成果类型、完成单位、完成人员、项目来源、成果简介、关键词、成果水平和评价情况等）将在完成单位内部公示7日，并在中山市科学技术局政务网公示30日。公示期间，任何单位和个人均可实名提出异议。",
    "三、予以登记的成果将载入科技成果库，依照《广东省促进科技成果转化条例》无偿向社会提供查询、筛选等公益服务。联系人的电话、电子邮箱和上传的证明材料不对外公开。",
    "四、登记信息用于科技成果登记、统计分析、转化服务和监测评价等科技管理工作。",
    "五、成果类型决定登记表的格式和检查规则，一经选择不可更改。",
];

/// The kinds with a short definition from the city's guidance, in our own words.
#[derive(Serialize)]
struct KindChoice {
    code: &'static str,
    label: &'static str,
    definition: &'static str,
    selected: bool,
}

fn kinds(selected: Option<&str>) -> Vec<KindChoice> {
    Kind::ALL
        .iter()
        .map(|k| KindChoice {
            code: k.code(),
            label: k.label(),
            definition: match k {
                Kind::Basic => "阐明自然现象、特征、规律及其内在联系的自然科学基础理论和应用基础理论研究成果，主要以科学论文、专著等形式体现。",
                Kind::Applied => "可以用于生产或指导生产的成果，包括可独立应用的阶段性成果和对引进技术、设备消化吸收后的再创新成果，如新技术、新产品、新工艺、新材料、新品种、新装置等。",
                Kind::Soft => "为决策科学化和管理现代化开展的发展战略、政策、规划、评价、预测、科技立法以及管理科学与政策科学研究成果，主要体现为研究报告和著作。",
            },
            selected: selected == Some(k.code()),
        })
        .collect()
}

#[derive(Serialize)]
struct SourceChoice {
    code: &'static str,
    label: &'static str,
    rule: &'static str,
    selected: bool,
}

fn sources(selected: Option<&str>) -> Vec<SourceChoice> {
    [Source::OtherFiscal, Source::NonFiscal]
        .into_iter()
        .map(|s| SourceChoice {
            code: s.code(),
            label: s.label(),
            rule: match s {
                Source::OtherFiscal => "自愿登记。成果必须已通过验收（评价证明为验收报告或验收书）。",
                _ => "自愿登记。成果必须已通过第三方评价（第三方出具的评价报告、评估报告或鉴定证书等）。",
            },
            selected: selected == Some(s.code()),
        })
        .collect()
}

/// Problems of a refused request, by field path.
pub(crate) fn errors_by_field(e: &ApiError) -> Option<HashMap<String, Vec<String>>> {
    let details: &[Problem] = match e {
        ApiError::Domain(DomainError::Validation { details, .. })
        | ApiError::Domain(DomainError::BadRequest { details, .. }) => details,
        _ => return None,
    };
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for p in details {
        map.entry(p.field.clone())
            .or_default()
            .push(p.message.clone());
    }
    Some(map)
}

/// What the new-registration form sends.
#[derive(Deserialize, Default)]
pub struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    consent: Option<String>,
    #[serde(default)]
    authority_id: String,
    #[serde(default, rename = "project.name")]
    project_name: String,
    #[serde(default, rename = "project.number")]
    project_number: String,
    #[serde(default, rename = "project.funding")]
    project_funding: String,
}

async fn new_page(
    state: &PageState,
    who: &PageUser,
    status: StatusCode,
    f: &NewForm,
    errors: HashMap<String, Vec<String>>,
) -> Response {
    let authorities = match service::authorities(&state.app).await {
        Ok(a) => a,
        Err(e) => return error_page(state, Some(who), &e),
    };
    let mut ctx: Context = context(who, "新增计划外项目成果登记");
    ctx.insert("kinds", &kinds(Some(f.kind.as_str())));
    ctx.insert("sources", &sources(Some(f.source.as_str())));
    ctx.insert("consent_text", CONSENT);
    ctx.insert("consent_checked", &f.consent.is_some());
    ctx.insert("authorities", &authorities);
    let chosen_authority = if f.authority_id.is_empty() {
        authorities
            .first()
            .map(|a| a.id.clone())
            .unwrap_or_default()
    } else {
        f.authority_id.clone()
    };
    ctx.insert("authority_id", &chosen_authority);
    ctx.insert("project_name", &f.project_name);
    ctx.insert("project_number", &f.project_number);
    ctx.insert("project_funding", &f.project_funding);
    ctx.insert("has_errors", &!errors.is_empty());
    ctx.insert("errors", &errors);
    state.pages.render(status, "app/new.html", &ctx)
}

/// `GET /app/new`.
pub async fn show_new(State(state): State<PageState>, who: PageUser) -> Response {
    if let Err(r) = leader_only(&who) {
        return r;
    }
    new_page(
        &state,
        &who,
        StatusCode::OK,
        &NewForm::default(),
        HashMap::new(),
    )
    .await
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// `POST /app/new`.
pub async fn submit_new(
    State(state): State<PageState>,
    who: PageUser,
    Form(f): Form<NewForm>,
) -> Response {
    if let Err(r) = leader_only(&who) {
        return r;
    }
    if let Err(r) = check_form_token(&state, &who, &f.csrf) {
        return r;
    }
    let project = ProjectInfo {
        name: opt(&f.project_name),
        number: opt(&f.project_number),
        funding: opt(&f.project_funding),
    };
    let mut pre: HashMap<String, Vec<String>> = HashMap::new();
    if f.source.is_empty() {
        pre.entry("source".into())
            .or_default()
            .push("请选择登记对象。".into());
    }
    if f.kind.is_empty() {
        pre.entry("kind".into())
            .or_default()
            .push("请选择成果类型。".into());
    }
    if project.name.is_none() {
        pre.entry("project.name".into())
            .or_default()
            .push("请填写“项目名称”。".into());
    }
    if project.funding.is_none() {
        pre.entry("project.funding".into())
            .or_default()
            .push("请填写“经费来源”。".into());
    }
    if f.consent.is_none() {
        pre.entry("consent".into())
            .or_default()
            .push("请阅读并同意《科技成果登记与信息公开知情同意书》。".into());
    }
    if !pre.is_empty() {
        return new_page(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, &f, pre).await;
    }
    let req = CreateRequest {
        kind: f.kind.clone(),
        source: f.source.clone(),
        consent: f.consent.is_some(),
        authority_id: opt(&f.authority_id),
        project: Some(project),
    };
    match service::create_registration(&state.app, &who.user, req).await {
        Ok(reg) => Redirect::to(&format!("/app/r/{}/edit?msg=created", reg.id)).into_response(),
        Err(e) => match errors_by_field(&e) {
            Some(errors) => {
                new_page(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, &f, errors).await
            }
            None => error_page(&state, Some(&who), &e),
        },
    }
}

/// What the kind choice sends.
#[derive(Deserialize, Default)]
pub struct KindForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    consent: Option<String>,
}

fn kind_page(
    state: &PageState,
    who: &PageUser,
    status: StatusCode,
    reg: &chengguo_domain::Registration,
    f: &KindForm,
    errors: HashMap<String, Vec<String>>,
) -> Response {
    let mut ctx = context(who, "选择成果类型");
    ctx.insert("reg", &super::record_facts(reg));
    ctx.insert("kinds", &kinds(Some(f.kind.as_str())));
    ctx.insert("consent_text", CONSENT);
    ctx.insert("consent_checked", &f.consent.is_some());
    ctx.insert("has_errors", &!errors.is_empty());
    ctx.insert("errors", &errors);
    state.pages.render(status, "app/kind.html", &ctx)
}

/// `GET /app/r/{id}/kind`: for a draft the system created without a kind.
pub async fn show_kind(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = leader_only(&who) {
        return r;
    }
    let reg = match load(&state, &who, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if reg.kind.is_some() {
        return Redirect::to(&format!("/app/r/{id}")).into_response();
    }
    kind_page(
        &state,
        &who,
        StatusCode::OK,
        &reg,
        &KindForm::default(),
        HashMap::new(),
    )
}

/// `POST /app/r/{id}/kind`.
pub async fn submit_kind(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
    Form(f): Form<KindForm>,
) -> Response {
    if let Err(r) = leader_only(&who) {
        return r;
    }
    if let Err(r) = check_form_token(&state, &who, &f.csrf) {
        return r;
    }
    let reg = match load(&state, &who, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut pre: HashMap<String, Vec<String>> = HashMap::new();
    if f.kind.is_empty() {
        pre.entry("kind".into())
            .or_default()
            .push("请选择成果类型。".into());
    }
    if f.consent.is_none() {
        pre.entry("consent".into())
            .or_default()
            .push("请阅读并同意《科技成果登记与信息公开知情同意书》。".into());
    }
    if !pre.is_empty() {
        return kind_page(
            &state,
            &who,
            StatusCode::UNPROCESSABLE_ENTITY,
            &reg,
            &f,
            pre,
        );
    }
    match service::choose_kind(&state.app, &who.user, &id, &f.kind, true).await {
        Ok(_) => Redirect::to(&format!("/app/r/{id}/edit?msg=kind")).into_response(),
        Err(e) => match errors_by_field(&e) {
            Some(errors) => kind_page(
                &state,
                &who,
                StatusCode::UNPROCESSABLE_ENTITY,
                &reg,
                &f,
                errors,
            ),
            None => error_page(&state, Some(&who), &e),
        },
    }
}
