//! The closed sets of codes used in JSON and storage, each with its Chinese label.

use serde::{Deserialize, Serialize};

macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal : $zh:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the order of the specification.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code used in JSON and storage.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The Chinese label shown to people.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }

            /// Parses a code; `None` when it is not one of [`Self::ALL`].
            pub fn parse(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

code_enum!(
    /// 成果类型: chosen once with consent, never changed.
    Kind {
        Basic = "basic": "基础理论成果",
        Applied = "applied": "应用技术成果",
        Soft = "soft": "软科学研究成果",
    }
);

impl Kind {
    /// The flag letter of the registration number.
    pub fn flag(self) -> char {
        match self {
            Kind::Basic => 'J',
            Kind::Applied => 'Y',
            Kind::Soft => 'R',
        }
    }
}

code_enum!(
    /// 登记对象: where the achievement comes from.
    Source {
        ProvincialPlan = "provincial_plan": "省科技计划产生的科技成果",
        OtherFiscal = "other_fiscal": "其他财政投入产生的科技成果",
        NonFiscal = "non_fiscal": "非财政投入产生的科技成果",
    }
);

code_enum!(
    /// The workflow states; the only ones a registration can be in.
    State {
        Draft = "draft": "待提交",
        Returned = "returned": "退回修改",
        DeptReview = "dept_review": "待二级部门审核",
        UnitReview = "unit_review": "待单位审核",
        PointReview = "point_review": "待登记点审核",
        PaperPending = "paper_pending": "待接收纸质材料",
        DecisionPending = "decision_pending": "待批复",
        Decided = "decided": "已批复",
    }
);

impl State {
    /// Who the record waits for, in Chinese (进度跟踪).
    pub fn waiting_for(self) -> &'static str {
        match self {
            State::Draft | State::Returned => "项目负责人",
            State::DeptReview => "二级部门",
            State::UnitReview => "申报单位",
            State::PointReview | State::PaperPending | State::DecisionPending => "成果登记点",
            State::Decided => "无",
        }
    }

    /// Whether the leader may edit the form and attachments in this state.
    pub fn is_editable(self) -> bool {
        matches!(self, State::Draft | State::Returned)
    }

    /// Submitted and not yet decided: the states a failed acceptance returns from.
    pub fn is_under_review(self) -> bool {
        matches!(
            self,
            State::DeptReview
                | State::UnitReview
                | State::PointReview
                | State::PaperPending
                | State::DecisionPending
        )
    }
}

code_enum!(
    /// What can happen to a registration. The first six are the API's actions; the rest are
    /// recorded in history by the system or by editing.
    Action {
        Submit = "submit": "提交",
        Pass = "pass": "审核通过",
        Return = "return": "退回修改",
        ReceivePaper = "receive_paper": "接收纸质材料",
        Decide = "decide": "批复",
        Reopen = "reopen": "退回到未批复",
        Create = "create": "创建",
        ChooseKind = "choose_kind": "选择成果类型",
        AcceptanceFailed = "acceptance_failed": "项目验收不通过，系统退回",
    }
);

impl Action {
    /// The actions a person requests through `POST .../actions/{action}`.
    pub const REQUESTABLE: &'static [Action] = &[
        Action::Submit,
        Action::Pass,
        Action::Return,
        Action::ReceivePaper,
        Action::Decide,
        Action::Reopen,
    ];
}

code_enum!(
    /// Roles of people using the system (the public has none).
    Role {
        Leader = "leader": "项目负责人",
        Department = "department": "二级部门",
        Unit = "unit": "申报单位",
        Point = "point": "成果登记点",
        Supervisor = "supervisor": "主管部门",
        Office = "office": "业务处室",
        Admin = "admin": "系统管理员",
    }
);

code_enum!(
    /// 成果水平.
    Level {
        IntlLeading = "intl_leading": "国际领先",
        IntlAdvanced = "intl_advanced": "国际先进",
        DomesticLeading = "domestic_leading": "国内领先",
        DomesticAdvanced = "domestic_advanced": "国内先进",
        Unevaluated = "unevaluated": "未评价",
    }
);

code_enum!(
    /// 评价方式.
    EvaluationMethod {
        Acceptance = "acceptance": "验收",
        Appraisal = "appraisal": "鉴定",
        ThirdParty = "third_party": "第三方评价",
        Assessment = "assessment": "评估",
        AcademicCommittee = "academic_committee": "学术委员会评价",
        ThirdPartyReview = "third_party_review": "第三方评审",
    }
);

impl EvaluationMethod {
    /// The evaluation proofs the checklist of each kind accepts (domain.md §3).
    pub fn allowed_for(kind: Kind) -> &'static [EvaluationMethod] {
        use EvaluationMethod::*;
        match kind {
            Kind::Applied => &[Acceptance, Appraisal, ThirdParty, Assessment],
            Kind::Basic => &[Acceptance, Appraisal, AcademicCommittee],
            Kind::Soft => &[Acceptance, ThirdPartyReview],
        }
    }

    /// Evaluations issued by a third party, as `non_fiscal` achievements need.
    pub fn is_third_party(self) -> bool {
        matches!(
            self,
            EvaluationMethod::ThirdParty
                | EvaluationMethod::Assessment
                | EvaluationMethod::Appraisal
                | EvaluationMethod::ThirdPartyReview
        )
    }
}

code_enum!(
    /// Gender of a completer.
    Gender {
        Male = "male": "男",
        Female = "female": "女",
    }
);

code_enum!(
    /// 成果属性 of an applied achievement.
    AppliedAttribute {
        Original = "original": "原始性创新",
        Introduced = "introduced": "国外引进消化吸收创新",
        Secondary = "secondary": "国内技术二次开发",
    }
);

code_enum!(
    /// 成果所处阶段 of an applied achievement.
    AppliedStage {
        Early = "early": "初期",
        Middle = "middle": "中期",
        Mature = "mature": "成熟期",
    }
);

code_enum!(
    /// 成果体现形式 of a basic achievement.
    BasicForm {
        Paper = "paper": "论文",
        Monograph = "monograph": "著作",
        Report = "report": "研究报告",
        Other = "other": "其他",
    }
);

code_enum!(
    /// 成果体现形式 of a soft-science achievement.
    SoftForm {
        Report = "report": "研究报告",
        Paper = "paper": "论文",
        Monograph = "monograph": "著作",
        Other = "other": "其他",
    }
);

code_enum!(
    /// Result of a decision (批复).
    DecisionResult {
        Registered = "registered": "予以登记",
        Rejected = "rejected": "不予登记",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_parse_and_serde() {
        for s in State::ALL {
            assert_eq!(State::parse(s.code()), Some(*s));
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.code()));
        }
        assert_eq!(Kind::parse("nope"), None);
        assert_eq!(Kind::Applied.flag(), 'Y');
        assert_eq!(Kind::Basic.flag(), 'J');
        assert_eq!(Kind::Soft.flag(), 'R');
    }
}
