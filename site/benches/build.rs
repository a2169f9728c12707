//! Builds the site for generated registered achievements (10,000 and 100,000 unless
//! `BENCH_SIZES` says otherwise, `BENCH_RUNS` times each) and prints, per run, one
//! `site-bench` line of `key=value` figures that `scripts/bench.d/20-site.sh` summarises:
//!
//! - `full_s`, `files`, `html`, `peak_mib`: a full build streamed to a sink that keeps only the
//!   hashes (what publishing to S3 or a folder holds in memory), on every core; peak RSS
//!   (VmHWM, reset before the build) includes the generated input, which the build takes and
//!   keeps as its model for later updates;
//! - `serve_s`, `serve_peak_mib`: the same into the memory sink of `serve` (every page held);
//! - `decision_ms`, `announce_ms`: the median time of publishing one record's change (a
//!   decision of an announced record; a new announcement) into the memory sink, the record
//!   given ([`SiteState::update_records`], what `Publisher::rebuild_records` does after reading
//!   it from the store), and the files each wrote;
//! - `diff_ms`: the same decision found by comparing a whole fresh input with the previous
//!   build ([`SiteState::update_input`], what `Publisher::rebuild` does after reading every
//!   record from the store; the read itself is not included).
//!
//!     cargo bench -p chengguo-site --bench build

use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use chengguo_domain::codes::{DecisionResult, Kind, Source, State};
use chengguo_domain::fields::{Completer, Evaluation, Fields, UnitEntry};
use chengguo_domain::org::Authority;
use chengguo_domain::record::{Decision, Notice, Registration};
use chengguo_site::sink::Manifest;
use chengguo_site::{MemorySink, Page, SinkError, Site, SiteInput, SiteSink, SiteState};
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
    input.registrations.extend((0..20).map(|k| notice(n, k)));
    input
}

/// Open announcement `k` of the input of `n` achievements.
fn notice(n: usize, k: usize) -> Registration {
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
    r
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn env_usize(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// The announced record `k` decided `registered` after every other decision.
fn decided(n: usize, k: usize) -> Registration {
    let mut r = notice(n, k);
    r.state = State::Decided;
    r.registration_number = Some(format!("9992026Y{k:04}"));
    r.decision = Some(Decision {
        result: DecisionResult::Registered,
        opinion: "同意登记".into(),
        by: "point".into(),
        at: datetime!(2026-03-10 10:00 +8) + Duration::minutes(k as i64),
    });
    r
}

/// A record announced on the build date.
fn announcement(n: usize, k: usize) -> Registration {
    let mut r = record(n + 100 + k);
    r.id = format!("new-notice-{k}");
    r.state = State::DecisionPending;
    r.decision = None;
    r.registration_number = None;
    r.notice = Some(Notice::open(date!(2026 - 03 - 10), 7, 30));
    r
}

const ONE_RECORD_RUNS: usize = 5;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let site = Site::from_embedded().expect("site");
    let sizes = env_usize("BENCH_SIZES", "10000,100000");
    let runs = env_usize("BENCH_RUNS", "1")
        .first()
        .copied()
        .unwrap_or(1)
        .max(1);
    for n in sizes {
        for run in 1..=runs {
            // Each build takes its input, as `Publisher` does with what it read.
            let fresh = input(n);
            let today = fresh.today;
            reset_peak();
            let sink = HashSink::default();
            let t = Instant::now();
            let (state, first) = runtime
                .block_on(SiteState::publish(&site, fresh, &sink))
                .expect("publish");
            let full_s = t.elapsed().as_secs_f64();
            let peak = peak_rss_mib();
            let files = first.written.len();
            let html = first
                .written
                .iter()
                .filter(|p| p.ends_with(".html"))
                .count();
            drop(state);
            drop(sink);

            let fresh = input(n);
            reset_peak();
            let memory = MemorySink::new();
            let t = Instant::now();
            let (mut state, _) = runtime
                .block_on(SiteState::publish(&site, fresh, memory.as_ref()))
                .expect("publish");
            let serve_s = t.elapsed().as_secs_f64();
            let serve_peak = peak_rss_mib();

            // Publishing one record's change, timed over ONE_RECORD_RUNS records made by `make`:
            // the times in ms and the files the last one wrote or deleted.
            let mut one_record = |make: fn(usize, usize) -> Registration| {
                let mut times = Vec::new();
                let mut files = 0;
                for k in 0..ONE_RECORD_RUNS {
                    let r = make(n, k);
                    let t = Instant::now();
                    let report = runtime
                        .block_on(state.update_records(
                            &site,
                            today,
                            vec![(r.id.clone(), Some(r))],
                            Vec::new(),
                            memory.as_ref(),
                        ))
                        .expect("update");
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                    files = report.written.len() + report.deleted.len();
                }
                (times, files)
            };
            let (decision, decision_written) = one_record(decided);
            let (announce, announce_written) = one_record(announcement);

            // The next decision found by comparing a whole input with the previous build.
            let mut fresh = input(n);
            for k in 0..ONE_RECORD_RUNS {
                let d = decided(n, k);
                if let Some(r) = fresh.registrations.iter_mut().find(|r| r.id == d.id) {
                    *r = d;
                }
                fresh.registrations.push(announcement(n, k));
            }
            let d = decided(n, ONE_RECORD_RUNS);
            if let Some(r) = fresh.registrations.iter_mut().find(|r| r.id == d.id) {
                *r = d;
            }
            let t = Instant::now();
            runtime
                .block_on(state.update_input(&site, fresh, memory.as_ref()))
                .expect("update");
            let diff_ms = t.elapsed().as_secs_f64() * 1000.0;

            println!(
                "site-bench n={n} run={run} full_s={full_s:.3} files={files} html={html} peak_mib={peak:.0} serve_s={serve_s:.3} serve_peak_mib={serve_peak:.0} decision_ms={:.2} decision_files={decision_written} announce_ms={:.2} announce_files={announce_written} diff_ms={diff_ms:.1}",
                median(decision),
                median(announce),
            );
            drop(state);
            drop(memory);
        }
    }
}
