//! Builds the site for 10,000 and 100,000 registered achievements generated on the fly and
//! prints files per second and peak memory (VmHWM), then the time of a rebuild with no change
//! and of a rebuild after one record changed. Figures, not a pass/fail test:
//!
//!     cargo bench -p chengguo-site --bench build
//!
//! Two sinks: one keeping only the hashes (what publishing to S3 or a folder holds in memory:
//! pages stream through), and the memory sink of `serve` (every page held).

use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use chengguo_domain::codes::{DecisionResult, Kind, Source, State};
use chengguo_domain::fields::{Completer, Evaluation, Fields, UnitEntry};
use chengguo_domain::org::Authority;
use chengguo_domain::record::{Decision, Notice, Registration};
use chengguo_site::sink::Manifest;
use chengguo_site::{MemorySink, Page, SinkError, Site, SiteInput, SiteSink, publish};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

/// Keeps the manifest only, like a remote sink seen from this process.
#[derive(Default)]
struct HashSink(Mutex<Manifest>);

#[async_trait]
impl SiteSink for HashSink {
    async fn manifest(&self) -> Result<Manifest, SinkError> {
        Ok(self.0.lock().unwrap().clone())
    }
    async fn write(&self, _: &str, _: &Page, _: &str) -> Result<(), SinkError> {
        Ok(())
    }
    async fn delete(&self, _: &str) -> Result<(), SinkError> {
        Ok(())
    }
    async fn save_manifest(&self, m: &Manifest) -> Result<(), SinkError> {
        *self.0.lock().unwrap() = m.clone();
        Ok(())
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux), so each run reports its own peak.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

const SUMMARY: &str = "本成果面向中山市制造业企业的实际需求，研究了关键工艺参数的在线检测与自适应控制方法，建立了覆盖设计、制造和运维全过程的数据模型，研制了成套装置并在多家企业推广应用。经第三方评价，主要技术指标达到国内先进水平，取得了良好的经济效益和社会效益。";

fn record(i: usize) -> Registration {
    let kind = Kind::ALL[i % 3];
    let at: OffsetDateTime = datetime!(2016-01-04 10:00 +8) + Duration::minutes((i as i64) * 47);
    let year = at.year();
    let unit = format!("中山市第{}高新技术企业有限公司", i % 997);
    Registration {
        id: format!("reg-{i:07}"),
        kind: Some(kind),
        consent: true,
        source: Source::NonFiscal,
        state: State::Decided,
        version: 9,
        owner_id: format!("u-{}", i % 5000),
        unit_id: format!("unit-{}", i % 997),
        department_id: None,
        authority_id: "auth-zs".into(),
        project_id: None,
        fields: Fields {
            title: Some(format!("面向智能制造的关键技术研究与应用（第{i}号）")),
            units: vec![
                UnitEntry {
                    name: Some(unit.clone()),
                    uscc: None,
                },
                UnitEntry {
                    name: Some("中山职业技术学院".into()),
                    uscc: None,
                },
            ],
            completers: (0..4)
                .map(|k| Completer {
                    name: Some(format!("完成人{}", (i + k) % 911)),
                    work_unit: Some(if k == 3 {
                        "中山职业技术学院".into()
                    } else {
                        unit.clone()
                    }),
                    ..Completer::default()
                })
                .collect(),
            keywords: vec![
                format!("关键词{}", i % 101),
                "智能制造".into(),
                "在线检测".into(),
            ],
            summary: Some(SUMMARY.into()),
            level: Some("domestic_advanced".into()),
            evaluation: Some(Evaluation {
                method: Some("third_party".into()),
                body: Some("广东省某科技评价中心".into()),
                date: Some("2025-09-18".into()),
            }),
            ..Fields::default()
        },
        registration_number: Some(format!("442{year}{}{:04}", kind.flag(), i % 10_000)),
        decision: Some(Decision {
            result: DecisionResult::Registered,
            opinion: "同意登记".into(),
            by: "point".into(),
            at,
        }),
        notice: Some(Notice::open(at.date() - Duration::days(40), 7, 30)),
        return_opinion: None,
        submitted_at: None,
        event_count: 9,
        created_at: at,
        updated_at: at,
    }
}

fn input(n: usize) -> SiteInput {
    let mut input = SiteInput::new(date!(2026 - 03 - 10));
    input.base_url = "https://kj.example.gov.cn".into();
    input.authorities = vec![Authority {
        id: "auth-zs".into(),
        name: "中山市科学技术局".into(),
        code: "442".into(),
    }];
    input.registrations = (0..n).map(record).collect();
    // Numbers stay unique: the serial wraps at 10,000 per year and kind, so make the id part of
    // the serial space by shifting wrapped ones to another authority code.
    for (i, r) in input.registrations.iter_mut().enumerate() {
        if let Some(num) = r.registration_number.as_mut() {
            let code = 442 + (i / 10_000) as u32;
            num.replace_range(0..3, &code.to_string());
        }
    }
    // Twenty open announcements besides.
    for k in 0..20 {
        let mut r = record(n + k);
        r.id = format!("notice-{k}");
        r.state = State::DecisionPending;
        r.decision = None;
        r.registration_number = None;
        r.notice = Some(Notice::open(
            date!(2026 - 03 - 01) + Duration::days(k as i64 % 9),
            7,
            30,
        ));
        input.registrations.push(r);
    }
    input
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let site = Site::from_embedded().expect("site");
    println!("site build benchmark (release, one thread)");
    for n in [10_000usize, 100_000] {
        let mut input = input(n);
        reset_peak();
        let base = peak_rss_mib();

        let sink = HashSink::default();
        let t = Instant::now();
        let first = runtime
            .block_on(publish(&site, &input, &sink))
            .expect("publish");
        let secs = t.elapsed().as_secs_f64();
        let files = first.written.len();
        println!(
            "{n:>7} records, streaming publish: {files} files in {secs:.2} s = {:.0} files/s; peak RSS {:.0} MiB (input and hashes included; {:.0} MiB before)",
            files as f64 / secs,
            peak_rss_mib(),
            base
        );

        let t = Instant::now();
        let again = runtime
            .block_on(publish(&site, &input, &sink))
            .expect("publish");
        println!(
            "{n:>7} records, rebuild with no change: {:.2} s, {} files written",
            t.elapsed().as_secs_f64(),
            again.written.len()
        );

        let mid = n / 2;
        input.registrations[mid].fields.title = Some("改动后的成果名称".into());
        let t = Instant::now();
        let one = runtime
            .block_on(publish(&site, &input, &sink))
            .expect("publish");
        println!(
            "{n:>7} records, rebuild after one record changed: {:.2} s, {} files written: {:?}",
            t.elapsed().as_secs_f64(),
            one.written.len(),
            one.written
        );

        reset_peak();
        let memory = MemorySink::new();
        let t = Instant::now();
        runtime
            .block_on(publish(&site, &input, memory.as_ref()))
            .expect("publish");
        let secs = t.elapsed().as_secs_f64();
        let bytes: usize = memory.files().values().map(|p| p.bytes.len()).sum();
        println!(
            "{n:>7} records, memory sink (serve): {} files, {:.0} MiB of pages in {secs:.2} s = {:.0} files/s; peak RSS {:.0} MiB",
            memory.len(),
            bytes as f64 / 1048576.0,
            memory.len() as f64 / secs,
            peak_rss_mib()
        );
        drop(memory);
    }
}
