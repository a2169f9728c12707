//! Benchmark of the batch export of 公示信息 (`exports::batch_workbook`): N realistic records,
//! each generated on the fly inside the iterator (never all held), written as one workbook in
//! constant memory. Prints rows per second, the workbook's size and the peak resident memory of
//! the process (VmHWM of /proc/self/status). Target: 10,000 rows under 100 MB peak.
//!
//! Run (release profile, as `cargo bench` builds):
//!
//! ```text
//! export CARGO_TARGET_DIR=$HOME/.cache/chengguo/target
//! cargo bench -p chengguo-api --bench export_batch               # 10,000 rows
//! cargo bench -p chengguo-api --bench export_batch -- 100000     # or EXPORT_ROWS=100000
//! EXPORT_OUT=/tmp/batch.xlsx cargo bench -p chengguo-api --bench export_batch   # keep the file
//! EXPORT_DUMP=/tmp/rows.jsonl cargo bench -p chengguo-api --bench export_batch   # rows only
//! ```
//!
//! `EXPORT_DUMP=FILE` writes, instead of a workbook, the cell values of the same N rows (one
//! JSON array per line: the header line first, then each row's texts and dates as
//! `YYYY-MM-DD` or null), so that another writer (`scripts/bench.d/export_xlsxwriter.py`)
//! can write exactly the same table. The last line of a timed run, `RESULT rows=… secs=…
//! peak_kib=… bytes=…`, is what `scripts/bench.d/30-export.sh` reads.

use std::collections::HashMap;
use std::time::Instant;

use chengguo_api::exports::{ExportContext, PublicFields, batch_headers, batch_workbook};
use chengguo_domain::codes::{Kind, Source, State};
use chengguo_domain::fields::{
    Completer, Contact, Discipline, Evaluation, Fields, ProjectInfo, UnitEntry,
};
use chengguo_domain::record::{Notice, Registration};
use time::macros::{date, datetime};

/// Peak and current resident memory in KiB, from /proc/self/status.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

const SURNAMES: &[&str] = &["陈", "黄", "李", "梁", "张", "刘", "何", "吴", "林", "郑"];
const GIVEN: &[&str] = &[
    "志强", "晓雯", "建国", "丽华", "文杰", "嘉欣", "伟明", "慧敏",
];
const UNITS: &[&str] = &[
    "中山市华创智能科技有限公司",
    "中山市智能制造技术研究院",
    "中山大学中山研究院",
    "电子科技大学中山学院",
    "中山市古镇灯饰产业技术创新中心",
];
const TOPICS: &[&str] = &[
    "基于机器视觉的灯饰产品智能质检系统",
    "高精度伺服驱动控制技术",
    "新型储能材料关键技术",
    "智慧农业物联网平台",
    "家电智能控制芯片",
];
const SENTENCES: &[&str] = &[
    "本成果针对产业关键技术瓶颈，提出了新的方法并完成了工程化验证。",
    "相关指标达到国内领先水平，已在多家企业推广应用。",
    "系统采用多光源结构光成像与深度学习缺陷识别相结合的方法。",
    "单件检测时间小于1.5秒，缺陷识别准确率达到98.6%。",
    "显著降低了人工质检成本，提升了产品出厂合格率。",
    "项目形成发明专利2项、实用新型专利3项、软件著作权1项。",
    "研究建立了材料配方与工艺参数的多目标优化模型。",
    "成果已在中山市古镇、小榄等镇街的生产线上应用。",
];

/// A summary of `sentences` sentences with some varied text, so it compresses like real
/// prose rather than like one sentence repeated.
fn summary(i: usize, sentences: usize) -> String {
    let mut state = (i as u64)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1);
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let mut s = String::new();
    for _ in 0..sentences {
        s.push_str(SENTENCES[next() % SENTENCES.len()]);
        // A clause of common characters in varying order.
        for _ in 0..12 {
            s.push(char::from_u32(0x4E00 + (next() % 3000) as u32).unwrap_or('研'));
        }
        s.push('。');
    }
    s
}

/// The `i`-th record: realistic sizes (a summary of 300–1,500 characters, 2–6 completers).
fn record(i: usize) -> Registration {
    let pick = |list: &[&'static str], k: usize| list[k % list.len()];
    let completers = (0..2 + i % 5)
        .map(|k| Completer {
            name: Some(format!(
                "{}{}",
                pick(SURNAMES, i + k),
                pick(GIVEN, i * 3 + k)
            )),
            gender: Some("male".into()),
            title: Some("高级工程师".into()),
            degree: Some("硕士研究生".into()),
            work_unit: Some(pick(UNITS, i + k).into()),
            contribution: Some("负责关键技术研发与系统集成。".into()),
        })
        .collect();
    let units = (0..1 + i % 3)
        .map(|k| UnitEntry {
            name: Some(pick(UNITS, i + k).into()),
            uscc: Some("91442000MA4UJ8K30D".into()),
        })
        .collect();
    let received = date!(2026 - 01 - 05) + time::Duration::days((i % 300) as i64);
    Registration {
        id: format!("{i:08}-7f3c-4a51-9c1e-0d5a6b7c8d9e"),
        kind: Some([Kind::Applied, Kind::Basic, Kind::Soft][i % 3]),
        consent: true,
        source: Source::OtherFiscal,
        state: State::DecisionPending,
        version: 9,
        owner_id: format!("leader-{}", i % 500),
        unit_id: "unit".into(),
        department_id: None,
        authority_id: "zs-kjj".into(),
        project_id: None,
        fields: Fields {
            title: Some(format!("{}研发及产业化应用（第{i}号）", pick(TOPICS, i))),
            project: Some(ProjectInfo {
                name: Some(format!("{}研究", pick(TOPICS, i + 1))),
                number: Some(format!("ZS2025-{i:05}")),
                funding: Some("中山市科技计划项目市级财政资金".into()),
            }),
            units,
            completers,
            keywords: vec!["机器视觉".into(), "智能制造".into(), "质检".into()],
            discipline: Some(Discipline {
                code: Some("520".into()),
                name: Some("计算机科学技术".into()),
            }),
            summary: Some(summary(i, 5 + i % 20)),
            level: Some("domestic_leading".into()),
            evaluation: Some(Evaluation {
                method: Some("acceptance".into()),
                body: Some("中山市科学技术局".into()),
                date: Some("2025-12-20".into()),
            }),
            contact: Some(Contact {
                name: Some("陈志强".into()),
                mobile: Some("13800138000".into()),
                email: Some("chenzq@example.com".into()),
            }),
            ..Fields::default()
        },
        registration_number: i
            .is_multiple_of(4)
            .then(|| format!("4422026Y{:04}", i % 10_000)),
        decision: None,
        notice: Some(Notice::open(received, 7, 30)),
        return_opinion: None,
        submitted_at: Some(datetime!(2025-12-28 02:00 UTC)),
        event_count: 9,
        created_at: datetime!(2025-12-01 02:00 UTC),
        updated_at: datetime!(2026-01-05 02:00 UTC),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the first plain number is the row count.
    let rows: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .or_else(|| std::env::var("EXPORT_ROWS").ok())
        .and_then(|n| n.replace('_', "").parse().ok())
        .unwrap_or(10_000);
    let ctx = ExportContext {
        authorities: HashMap::from([("zs-kjj".to_owned(), "中山市科学技术局".to_owned())]),
        projects: HashMap::new(),
        objection_contact: "网站公示期内，也可通过科技成果登记公示网站在线提交。".into(),
        generated_at: Some(datetime!(2026-11-28 02:00 UTC)),
    };
    if let Ok(path) = std::env::var("EXPORT_DUMP") {
        dump(&path, rows, &ctx);
        return;
    }
    let (before, _) = memory_kib();
    let started = Instant::now();
    let bytes = batch_workbook((0..rows).map(record), &ctx).expect("workbook");
    let secs = started.elapsed().as_secs_f64();
    let (peak, now) = memory_kib();
    if let Ok(path) = std::env::var("EXPORT_OUT") {
        std::fs::write(&path, &bytes).expect("write EXPORT_OUT");
        println!("written to {path}");
    }
    println!(
        "export_batch: {rows} rows in {secs:.2} s = {:.0} rows/s",
        rows as f64 / secs
    );
    println!(
        "workbook: {:.1} MB ({} bytes, {:.0} bytes/row)",
        bytes.len() as f64 / 1e6,
        bytes.len(),
        bytes.len() as f64 / rows.max(1) as f64
    );
    println!(
        "memory: peak RSS (VmHWM) {:.1} MB; before {:.1} MB; after {:.1} MB",
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
        now as f64 / 1024.0
    );
    println!(
        "RESULT rows={rows} secs={secs:.4} peak_kib={peak} bytes={}",
        bytes.len()
    );
}

/// Writes the header and the cell values of rows `0..rows` as JSON lines (see the file's
/// first lines): the texts `write_batch_row` writes, in column order, then the dates.
fn dump(path: &str, rows: usize, ctx: &ExportContext) {
    use std::io::Write;
    let file = std::fs::File::create(path).expect("create EXPORT_DUMP");
    let mut out = std::io::BufWriter::new(file);
    let line = serde_json::to_string(&batch_headers()).expect("headers");
    writeln!(out, "{line}").expect("write");
    for i in 0..rows {
        let reg = record(i);
        let p = PublicFields::of(&reg, ctx);
        let day = |d: Option<time::Date>| d.map(|d| d.to_string());
        let n = reg.notice.as_ref();
        let row = serde_json::json!([
            p.registration_number,
            p.title,
            p.kind,
            p.source,
            p.authority,
            p.first_unit,
            p.units,
            p.completers,
            p.project_name,
            p.project_number,
            p.project_funding,
            p.keywords,
            p.discipline,
            p.level,
            p.evaluation_method,
            p.evaluation_body,
            p.evaluation_date,
            p.summary,
            day(n.map(|n| n.paper_received_on)),
            day(n.map(|n| n.unit_from)),
            day(n.map(|n| n.unit_to)),
            day(n.map(|n| n.website_from)),
            day(n.map(|n| n.website_to)),
        ]);
        writeln!(out, "{row}").expect("write");
    }
    out.flush().expect("flush");
    println!("EXPORT_DUMP: {rows} rows written to {path}");
}
