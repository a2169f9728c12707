//! The materials checklist (资料提交) of each kind, and the attachment rules.

use crate::codes::Kind;

/// One material category of a kind's checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Material {
    pub category: &'static str,
    pub label: &'static str,
    /// What the category accepts, shown as help.
    pub hint: &'static str,
}

const fn m(category: &'static str, label: &'static str, hint: &'static str) -> Material {
    Material {
        category,
        label,
        hint,
    }
}

/// The category waived when the contract already lists units and people.
pub const UNIT_PEOPLE_LIST: &str = "unit_people_list";
/// The evidence the point uploads to reopen a decided record.
pub const REOPEN_EVIDENCE: &str = "reopen_evidence";

const APPLIED: &[Material] = &[
    m("tech_report", "技术研究报告", ""),
    m("work_summary", "工作总结报告", ""),
    m(
        "evaluation",
        "评价证明",
        "验收报告或验收书、鉴定证书、第三方评价报告、评估报告等其中一种",
    ),
    m(
        "ip_proof",
        "知识产权证明材料",
        "专利授权证书或软件著作权证书",
    ),
    m("test_report", "检测证明", ""),
    m("application_proof", "第三方应用证明", ""),
    m("benefit_proof", "社会经济效益证明", ""),
    m(
        UNIT_PEOPLE_LIST,
        "成果完成单位名单及完成人员名单",
        "若合同中已包含这部分内容，已提交合同则不需重复提交",
    ),
];

const BASIC: &[Material] = &[
    m("research_report", "项目研究报告", ""),
    m("work_summary", "工作总结报告", ""),
    m(
        "evaluation",
        "评价证明",
        "验收报告或验收书、鉴定证书、学术委员会评价证明",
    ),
    m(
        "ip_proof",
        "知识产权证明材料",
        "已公开发表的学术论文或已进行版权登记的著作",
    ),
    m("citation_report", "论文引文检索证明", ""),
    m("social_benefit_proof", "社会效益证明", ""),
    m(
        UNIT_PEOPLE_LIST,
        "成果完成单位名单及完成人员名单",
        "若合同中已包含这部分内容，已提交合同则不需重复提交",
    ),
];

const SOFT: &[Material] = &[
    m("research_report", "项目研究报告", ""),
    m("work_summary", "工作总结报告", ""),
    m(
        "evaluation",
        "评价证明",
        "验收报告或验收书、第三方评审证明或评价报告",
    ),
    m(
        "ip_proof",
        "知识产权证明材料",
        "已公开发表的学术论文或已进行版权登记的著作",
    ),
    m("social_benefit_proof", "社会效益证明", ""),
    m(
        UNIT_PEOPLE_LIST,
        "成果完成单位名单及完成人员名单",
        "若合同中已包含这部分内容，已提交合同则不需重复提交",
    ),
];

/// The checklist of a kind, in the source document's order.
pub fn checklist(kind: Kind) -> &'static [Material] {
    match kind {
        Kind::Applied => APPLIED,
        Kind::Basic => BASIC,
        Kind::Soft => SOFT,
    }
}

/// The categories that must be present before submitting.
pub fn required(kind: Kind, contract_has_lists: bool) -> impl Iterator<Item = &'static Material> {
    checklist(kind)
        .iter()
        .filter(move |m| !(contract_has_lists && m.category == UNIT_PEOPLE_LIST))
}

/// The label of a category of a kind, or of the reopen evidence.
pub fn label(kind: Option<Kind>, category: &str) -> Option<&'static str> {
    if category == REOPEN_EVIDENCE {
        return Some("退回到未批复佐证材料");
    }
    kind.and_then(|k| checklist(k).iter().find(|m| m.category == category))
        .map(|m| m.label)
}

/// A file type accepted for attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Pdf,
    Jpeg,
    Png,
}

impl FileType {
    /// The declared content type, if accepted.
    pub fn from_content_type(ct: &str) -> Option<FileType> {
        match ct {
            "application/pdf" => Some(FileType::Pdf),
            "image/jpeg" => Some(FileType::Jpeg),
            "image/png" => Some(FileType::Png),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Jpeg => "image/jpeg",
            FileType::Png => "image/png",
        }
    }

    /// Largest accepted size in bytes: PDF 20 MB, images 10 MB.
    pub fn max_size(self) -> u64 {
        match self {
            FileType::Pdf => 20 * 1024 * 1024,
            FileType::Jpeg | FileType::Png => 10 * 1024 * 1024,
        }
    }

    /// Whether a filename's extension fits the type.
    pub fn matches_extension(self, filename: &str) -> bool {
        let ext = filename
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        match self {
            FileType::Pdf => ext == "pdf",
            FileType::Jpeg => ext == "jpg" || ext == "jpeg",
            FileType::Png => ext == "png",
        }
    }

    /// Whether the first bytes of a file are this type's magic number.
    pub fn matches_magic(self, head: &[u8]) -> bool {
        match self {
            FileType::Pdf => head.starts_with(b"%PDF-"),
            FileType::Jpeg => head.starts_with(&[0xFF, 0xD8, 0xFF]),
            FileType::Png => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checklists_follow_the_source_document() {
        assert_eq!(checklist(Kind::Applied).len(), 8);
        assert_eq!(checklist(Kind::Basic).len(), 7);
        assert_eq!(checklist(Kind::Soft).len(), 6);
        assert_eq!(required(Kind::Soft, true).count(), 5);
        assert_eq!(label(Some(Kind::Applied), "test_report"), Some("检测证明"));
        assert_eq!(label(Some(Kind::Soft), "test_report"), None);
    }

    #[test]
    fn magic_bytes_must_match_the_declared_type() {
        assert!(FileType::Pdf.matches_magic(b"%PDF-1.7\n"));
        assert!(!FileType::Pdf.matches_magic(b"\x89PNG\r\n\x1a\n"));
        assert!(FileType::Png.matches_magic(b"\x89PNG\r\n\x1a\nrest"));
        assert!(FileType::Jpeg.matches_magic(&[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(FileType::Jpeg.matches_extension("a.JPEG"));
        assert!(!FileType::Pdf.matches_extension("a.pdf.exe"));
    }
}
