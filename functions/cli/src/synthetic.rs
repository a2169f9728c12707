//! `chengguo seed-synthetic`: a data folder with N realistic registrations, for benchmarks and
//! for trying the system at the size of a real city.
//!
//! The records are not written by hand: every one is created, filled, submitted, reviewed,
//! received, decided (and sometimes returned or reopened) through the API's own use cases in
//! `chengguo_api::service`, with a manual clock walking through the years in time order. So
//! each record has exactly the history, versions, numbers and queued mail that people using the
//! system would have left. To be fast, the use cases run against a private in-memory SQLite
//! store (no fsync per commit); at the end the whole database is written into the data folder
//! in one step (`SqliteStore::save_into`, SQLite's `VACUUM INTO`) and opened once the normal
//! way, which switches it to WAL.
//!
//! What is synthetic: the organisation (units with valid USCCs, departments, unit, department
//! and leader accounts, all with the demo password) and the form contents (varied from the
//! three fixture forms). The demo organisation and accounts are loaded too, so a benchmark can
//! sign in as `leader`, `dept`, `unit` and `point`. Synthetic accounts have no email address
//! (it is optional), so their history queues no mail; the demo accounts keep theirs.
//! Attachments are real files: one small document per material category, hard-linked under
//! each attachment's key, so their checksums and downloads are genuine.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chengguo_api::AppState;
use chengguo_api::service::{self, CreateRequest};
use chengguo_domain::codes::{Action, DecisionResult, Kind, State};
use chengguo_domain::materials;
use chengguo_domain::org::{Department, Unit, User};
use chengguo_domain::ports::{Clock, ManualClock, Store};
use chengguo_domain::record::{Attachment, AttachmentStatus};
use chengguo_domain::workflow::ActionRequest;
use chengguo_domain::{Role, uscc};
use chengguo_files_local::LocalFiles;
use chengguo_sqlite::SqliteStore;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// What a seeding produced, printed by the command.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub registrations: usize,
    pub accounts: usize,
    pub units: usize,
    pub attachments: usize,
    /// Records per state code, in state order.
    pub by_state: Vec<(String, usize)>,
    pub numbers: usize,
}

/// The first day synthetic records are created (China time), for up to
/// [`RECORDS_PER_YEAR`] records a year.
const FIRST: OffsetDateTime = datetime!(2022-01-04 01:30 UTC);

/// At most this many records are created in one year: about 60% of them are 应用技术成果,
/// and the serials of one kind in one year have four digits (at most 9,999).
const RECORDS_PER_YEAR: usize = 10_000;

/// The first day `count` records are created when the last are created at `end`: [`FIRST`],
/// or earlier when `count` needs more years.
fn first_day(count: usize, end: OffsetDateTime) -> OffsetDateTime {
    let years = i64::try_from(count.div_ceil(RECORDS_PER_YEAR)).unwrap_or(i64::MAX);
    FIRST.min(end - Duration::days(366 * years))
}

/// A small deterministic generator (SplitMix64), so the same `N` gives the same folder.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len() as u64) as usize]
    }
    fn days(&mut self, from: i64, to: i64) -> Duration {
        // A working-hours instant on a day in from..=to.
        Duration::days(from + self.below((to - from + 1) as u64) as i64)
            + Duration::minutes(self.below(8 * 60) as i64)
    }
}

const PLACES: &[&str] = &[
    "石岐",
    "东区",
    "西区",
    "南区",
    "火炬",
    "小榄",
    "古镇",
    "南头",
    "黄圃",
    "东凤",
    "三角",
    "民众",
    "坦洲",
    "三乡",
    "板芙",
    "大涌",
    "沙溪",
    "横栏",
    "五桂山",
    "港口",
    "阜沙",
];
const TRADES: &[&str] = &[
    "智能装备",
    "光电",
    "灯饰",
    "精密机械",
    "生物医药",
    "健康科技",
    "新材料",
    "电子信息",
    "家电",
    "智能家居",
    "储能技术",
    "环保科技",
    "半导体",
    "海洋工程",
    "现代农业",
    "软件",
];
const FORMS: &[&str] = &[
    "有限公司",
    "股份有限公司",
    "科技有限公司",
    "研究院",
    "技术研究所",
];
const SURNAMES: &[&str] = &[
    "陈", "黄", "李", "梁", "张", "刘", "何", "吴", "林", "郑", "冯", "罗", "杨", "谭", "苏", "周",
    "麦", "卢", "邓", "徐",
];
const GIVEN: &[&str] = &[
    "志强", "晓雯", "建国", "丽华", "文杰", "嘉欣", "伟明", "慧敏", "国栋", "海燕", "振华", "雪梅",
    "子轩", "思远", "俊豪", "静怡", "永康", "凤仪", "锦标", "宇航",
];
const DEPARTMENTS: &[&str] = &[
    "研发中心",
    "技术部",
    "工程中心",
    "检测中心",
    "质量部",
    "实验室",
];
const TOPICS: &[&str] = &[
    "基于机器视觉的灯饰产品智能质检",
    "高精度伺服驱动控制",
    "新型锂离子储能材料制备",
    "智慧农业物联网监测",
    "家电智能控制芯片设计",
    "海洋牧场水质在线监测",
    "中药材有效成分提取工艺",
    "工业机器人柔性装配",
    "LED照明光学设计",
    "生物可降解包装材料",
    "城市内涝预警模型",
    "红木家具表面处理",
    "医用防护材料改性",
    "电梯安全远程诊断",
    "燃气具低氮燃烧",
    "数控机床热误差补偿",
];
const ENDINGS: &[&str] = &[
    "关键技术研究",
    "研发及产业化应用",
    "技术集成与示范",
    "系统研制",
    "工艺优化与推广",
    "理论与方法研究",
];
const SENTENCES: &[&str] = &[
    "本成果针对产业关键技术瓶颈，提出了新的方法并完成了工程化验证。",
    "相关指标达到国内领先水平，已在多家企业推广应用。",
    "研究建立了材料配方与工艺参数的多目标优化模型。",
    "显著降低了生产成本，提升了产品合格率。",
    "项目形成了一批专利和软件著作权，培养了技术骨干。",
    "成果已在中山市多个镇街的生产线上稳定运行。",
    "通过对比试验验证了方案的可靠性和经济性。",
    "为同类企业的技术改造提供了可复制的经验。",
];
const TITLES: &[&str] = &[
    "高级工程师",
    "工程师",
    "研究员",
    "副研究员",
    "教授",
    "副教授",
    "助理研究员",
];
const DEGREES: &[&str] = &["博士研究生", "硕士研究生", "大学本科"];

/// A valid Guangdong (Zhongshan, 4420xx) unified social credit code from `seed`.
fn zhongshan_uscc(seed: u64, company: bool) -> String {
    const BODY: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut rng = Rng::new(seed ^ 0x5EED);
    let mut s = String::from(if company { "91442000" } else { "12442000" });
    for _ in 0..9 {
        s.push(BODY[rng.below(BODY.len() as u64) as usize] as char);
    }
    let check = uscc::check_char(&s).unwrap_or('0');
    s.push(check);
    s
}

fn fixture(kind: Kind) -> Value {
    let text = match kind {
        Kind::Applied => include_str!("../../../tests/fixtures/form_applied.json"),
        Kind::Basic => include_str!("../../../tests/fixtures/form_basic.json"),
        Kind::Soft => include_str!("../../../tests/fixtures/form_soft.json"),
    };
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// One synthetic person's name.
fn person(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))
}

/// The organisation the records belong to.
struct Org {
    units: Vec<Unit>,
    /// Per unit: its administrator, its department accounts, its leaders.
    admins: Vec<User>,
    departments: Vec<Vec<User>>,
    leaders: Vec<Vec<User>>,
    point: User,
}

fn account(id: String, name: String, role: Role, hash: &str, at: OffsetDateTime) -> User {
    User {
        username: id.clone(),
        id: format!("user-{id}"),
        display_name: name,
        role,
        password_hash: hash.to_owned(),
        email: None,
        unit_id: None,
        department_id: None,
        authority_id: None,
        supervised_unit_ids: Vec::new(),
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
        unlocked_at: None,
        active: true,
        created_at: at,
    }
}

async fn seed_org(
    store: &dyn Store,
    n: usize,
    first: OffsetDateTime,
    rng: &mut Rng,
) -> anyhow::Result<Org> {
    let store_err = |e| anyhow::anyhow!("{e}");
    let hash = chengguo_api::auth::hash_password(chengguo_api::seed::DEMO_PASSWORD)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let point = store
        .find_user("point")
        .await
        .map_err(store_err)?
        .context("the demo point account is missing")?;
    let unit_count = (n / 250).clamp(3, 400);
    let mut org = Org {
        units: Vec::new(),
        admins: Vec::new(),
        departments: Vec::new(),
        leaders: Vec::new(),
        point,
    };
    for u in 0..unit_count {
        let company = !rng.chance(25);
        let name = format!(
            "中山市{}{}{}",
            rng.pick(PLACES),
            rng.pick(TRADES),
            if company {
                rng.pick(&FORMS[..3])
            } else {
                rng.pick(&FORMS[3..])
            }
        );
        let unit = Unit {
            id: format!("unit-s{u:04}"),
            name: format!("{name}（{u}）"),
            uscc: zhongshan_uscc(u as u64, company),
        };
        store.put_unit(&unit).await.map_err(store_err)?;
        let mut admin = account(
            format!("s{u:04}-unit"),
            format!("{}管理员", unit.name),
            Role::Unit,
            &hash,
            first,
        );
        admin.unit_id = Some(unit.id.clone());
        store.create_user(&admin).await.map_err(store_err)?;
        let mut depts = Vec::new();
        for d in 0..rng.below(3) {
            let dep = Department {
                id: format!("dept-s{u:04}-{d}"),
                unit_id: unit.id.clone(),
                name: DEPARTMENTS[d as usize % DEPARTMENTS.len()].to_owned(),
            };
            store.put_department(&dep).await.map_err(store_err)?;
            let mut acc = account(
                format!("s{u:04}-dept{d}"),
                dep.name.clone(),
                Role::Department,
                &hash,
                first,
            );
            acc.unit_id = Some(unit.id.clone());
            acc.department_id = Some(dep.id.clone());
            store.create_user(&acc).await.map_err(store_err)?;
            depts.push(acc);
        }
        // About one leader for every eight records of the unit.
        let mut leaders = Vec::new();
        for l in 0..(n / unit_count / 8).max(2) {
            let mut acc = account(
                format!("s{u:04}-leader{l}"),
                person(rng),
                Role::Leader,
                &hash,
                first,
            );
            acc.unit_id = Some(unit.id.clone());
            if !depts.is_empty() && rng.chance(70) {
                let d = &depts[rng.below(depts.len() as u64) as usize];
                acc.department_id = d.department_id.clone();
            }
            store.create_user(&acc).await.map_err(store_err)?;
            leaders.push(acc);
        }
        org.units.push(unit);
        org.admins.push(admin);
        org.departments.push(depts);
        org.leaders.push(leaders);
    }
    Ok(org)
}

/// The full form of a record: a fixture of its kind with its own title, people, units, dates
/// and summary.
fn form(
    kind: Kind,
    non_fiscal: bool,
    unit: &Unit,
    leader: &User,
    at: OffsetDateTime,
    rng: &mut Rng,
) -> Value {
    let mut f = fixture(kind);
    let topic = rng.pick(TOPICS);
    f["title"] = format!("{topic}{}", rng.pick(ENDINGS)).into();
    let day = at.to_offset(chengguo_domain::ports::CHINA).date();
    let ended = day - Duration::days(30 + rng.below(300) as i64);
    let started = ended - Duration::days(365 + rng.below(700) as i64);
    f["research_start"] = format!("{}-{:02}", started.year(), started.month() as u8).into();
    f["research_end"] = format!("{}-{:02}", ended.year(), ended.month() as u8).into();
    if let Some(ev) = f.get_mut("evaluation").and_then(Value::as_object_mut) {
        ev.insert(
            "date".into(),
            (ended + Duration::days(20)).to_string().into(),
        );
        // Non-fiscal achievements need a third party's evaluation (domain.md §3).
        if non_fiscal {
            let method = match kind {
                Kind::Applied => "third_party",
                Kind::Basic => "appraisal",
                Kind::Soft => "third_party_review",
            };
            ev.insert("method".into(), method.into());
        }
    }
    // Papers of a basic theory record were published while the research ran.
    if let Some(papers) = f.pointer_mut("/basic/papers").and_then(Value::as_array_mut) {
        for (k, p) in papers.iter_mut().enumerate() {
            p["year"] = (ended.year() - (k as i32 % 2)).into();
        }
    }
    let mut units = vec![serde_json::json!({"name": unit.name, "uscc": unit.uscc})];
    if rng.chance(40) {
        units.push(serde_json::json!({
            "name": format!("中山市{}{}研究院", rng.pick(PLACES), rng.pick(TRADES)),
            "uscc": zhongshan_uscc(rng.next(), false),
        }));
    }
    f["units"] = units.into();
    let mut people = vec![serde_json::json!({
        "name": leader.display_name,
        "gender": if rng.chance(60) { "male" } else { "female" },
        "title": rng.pick(TITLES),
        "degree": rng.pick(DEGREES),
        "work_unit": unit.name,
        "contribution": "项目总体方案设计与技术路线制定，主持关键技术攻关。",
    })];
    for _ in 0..1 + rng.below(5) {
        people.push(serde_json::json!({
            "name": person(rng),
            "gender": if rng.chance(55) { "male" } else { "female" },
            "title": rng.pick(TITLES),
            "degree": rng.pick(DEGREES),
            "work_unit": unit.name,
            "contribution": "负责试验设计、数据分析与样机研制。",
        }));
    }
    f["completers"] = people.into();
    let mut summary = format!("本成果围绕{topic}开展研究。");
    for _ in 0..3 + rng.below(6) {
        summary.push_str(rng.pick(SENTENCES));
    }
    f["summary"] = summary.into();
    if let Some(c) = f.get_mut("contact").and_then(Value::as_object_mut) {
        c.insert("name".into(), leader.display_name.clone().into());
        c.insert(
            "mobile".into(),
            format!("13{:09}", rng.below(1_000_000_000)).into(),
        );
    }
    if let Some(p) = f.get_mut("project").and_then(Value::as_object_mut) {
        p.insert(
            "number".into(),
            format!("{}B{:04}", started.year(), rng.below(10_000)).into(),
        );
        p.insert("name".into(), format!("{topic}研究").into());
    }
    f
}

/// The next step of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Create,
    Fill,
    Submit,
    /// A review by the state's reviewer: pass, or return with an opinion.
    Review,
    ReceivePaper,
    Decide,
    Reopen,
    Done,
}

/// One record on its way.
struct Plan {
    id: String,
    kind: Kind,
    non_fiscal: bool,
    unit: usize,
    leader: usize,
    step: Step,
    version: u64,
    /// Never submitted (an abandoned or fresh draft).
    stays_draft: bool,
    returns_left: u8,
    reopen: bool,
}

/// Fills `data` (a new data folder) with the demo organisation and `count` registrations.
pub async fn seed(data: &Path, count: usize) -> anyhow::Result<Report> {
    let db = data.join("chengguo.db");
    if db.exists() {
        bail!(
            "数据目录 {} 中已有数据库，请指定一个新的目录。",
            data.display()
        );
    }
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let end = OffsetDateTime::now_utc() - Duration::hours(1);
    let first = first_day(count, end);
    let clock = Arc::new(ManualClock::new(first - Duration::days(30)));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let store = SqliteStore::open_in_memory().map_err(|e| anyhow::anyhow!("{e}"))?;
    let secret = crate::backend::local_secret(data)?;
    let files = Arc::new(
        LocalFiles::new(data.join("files"), "http://127.0.0.1:8080", secret)
            .with_clock(dyn_clock.clone()),
    );
    let config = crate::backend::config_from_env()?;
    let state = AppState {
        store: Arc::new(store.clone()),
        blobs: files.clone(),
        clock: dyn_clock,
        mailer: Arc::new(crate::backend::outbox(data, &config)),
        mail_templates: Arc::new(crate::backend::templates()?),
        config: Arc::new(config),
        local_files: Some(files.clone()),
        site_changes: None,
    };
    let err = |e: chengguo_api::ApiError| anyhow::anyhow!("{e:?}");
    chengguo_api::seed::seed_demo(state.store.as_ref(), clock.now())
        .await
        .map_err(err)?;
    let mut rng = Rng::new(count as u64);
    let org = seed_org(state.store.as_ref(), count, first, &mut rng).await?;
    let templates = MaterialFiles::write(&data.join("files").join(".synthetic"))?;

    // Creation instants spread evenly over the years up to now, in order.
    let span = (end - first).whole_seconds().max(1);
    let mut plans = Vec::with_capacity(count);
    let mut queue = BinaryHeap::new();
    for i in 0..count {
        let at = first + Duration::seconds(span * i as i64 / count.max(1) as i64);
        let kind = match rng.below(10) {
            0..=5 => Kind::Applied,
            6 | 7 => Kind::Basic,
            _ => Kind::Soft,
        };
        let unit = rng.below(org.units.len() as u64) as usize;
        let leader = rng.below(org.leaders[unit].len() as u64) as usize;
        plans.push(Plan {
            id: String::new(),
            kind,
            non_fiscal: rng.chance(35),
            unit,
            leader,
            step: Step::Create,
            version: 0,
            stays_draft: rng.chance(4),
            returns_left: u8::from(rng.chance(12)) + u8::from(rng.chance(3)),
            reopen: rng.chance(2),
        });
        queue.push(Reverse((at, i)));
    }
    let mut steps = 0usize;
    while let Some(Reverse((at, i))) = queue.pop() {
        if at > end {
            continue; // still to come: the record stays where it is today
        }
        clock.set(at);
        let next = advance(&state, &org, &templates, &mut plans[i], &mut rng)
            .await
            .with_context(|| format!("record {i} at {at}"))?;
        steps += 1;
        if let Some(delay) = next {
            queue.push(Reverse((at + delay, i)));
        }
        if steps.is_multiple_of(50_000) {
            tracing::info!(steps, "seeding");
        }
    }

    store
        .save_into(&db)
        .await
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", db.display()))?;
    drop(state);
    // Opening it once the normal way switches it to WAL and makes the other folders.
    let opened = crate::backend::open(
        &crate::backend::Backend::Embedded {
            data: data.to_path_buf(),
            public_url: "http://127.0.0.1:8080".into(),
        },
        chengguo_api::Config::default(),
        crate::backend::system_clock(),
    )
    .await?;
    report(opened.store.as_ref(), count).await
}

/// The counts a seeding left, read back from the store.
pub async fn report(store: &dyn Store, _count: usize) -> anyhow::Result<Report> {
    use chengguo_domain::ports::ListFilter;
    use chengguo_domain::scope::ListScope;
    let mut r = Report::default();
    let mut cursor = None;
    let mut states = std::collections::BTreeMap::<u8, (String, usize)>::new();
    let mut numbers = std::collections::HashSet::new();
    // Bounded: at most one page per 500 records, with a generous upper limit.
    for _ in 0..10_000 {
        let page = store
            .list_registrations(
                &ListScope::All,
                &ListFilter::default(),
                500,
                cursor.as_deref(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for reg in &page.items {
            r.registrations += 1;
            let e = states
                .entry(reg.state as u8)
                .or_insert((reg.state.code().to_owned(), 0));
            e.1 += 1;
            if let Some(n) = &reg.registration_number
                && !numbers.insert(n.clone())
            {
                bail!("成果登记号 {n} 重复");
            }
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    r.by_state = states.into_values().collect();
    r.numbers = numbers.len();
    r.units = store
        .list_units()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .len();
    r.accounts = store
        .list_users(None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .len();
    Ok(r)
}

/// One small document per material category, written once; attachments hard-link to them.
struct MaterialFiles {
    dir: PathBuf,
}

impl MaterialFiles {
    fn write(dir: &Path) -> anyhow::Result<MaterialFiles> {
        std::fs::create_dir_all(dir)?;
        Ok(MaterialFiles {
            dir: dir.to_path_buf(),
        })
    }

    /// The template of `category` (made on first use) with its size and SHA-256.
    fn template(&self, category: &str) -> anyhow::Result<(PathBuf, u64, String)> {
        let path = self.dir.join(format!("{category}.pdf"));
        if !path.exists() {
            let text = format!(
                "%PDF-1.4\n% synthetic material: {category}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
            );
            std::fs::write(&path, text)?;
        }
        let bytes = std::fs::read(&path)?;
        Ok((
            path,
            bytes.len() as u64,
            hex::encode(Sha256::digest(&bytes)),
        ))
    }

    /// A ready attachment of `category` on `reg_id`, its bytes in the file store.
    async fn attach(
        &self,
        state: &AppState,
        files: &LocalFiles,
        reg_id: &str,
        category: &str,
        uploader: &str,
        n: u64,
    ) -> anyhow::Result<Attachment> {
        let (template, size, sha) = self.template(category)?;
        let id = format!(
            "{:032x}",
            u128::from(n) << 64 | u128::from(n.wrapping_mul(31))
        );
        let key = Attachment::key_for(reg_id, &id);
        let path = files.path_for(&key).map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::hard_link(&template, &path)
            .or_else(|_| std::fs::copy(&template, &path).map(drop))
            .with_context(|| format!("writing {}", path.display()))?;
        let now = state.clock.now();
        let a = Attachment {
            id,
            registration_id: reg_id.to_owned(),
            category: category.to_owned(),
            filename: format!(
                "{}.pdf",
                materials::label(None, category).unwrap_or(category)
            ),
            content_type: "application/pdf".into(),
            size,
            status: AttachmentStatus::Ready,
            sha256: Some(sha),
            key,
            uploaded_by: uploader.to_owned(),
            created_at: now,
            expires_at: now + state.config.upload_ttl,
        };
        state
            .store
            .put_attachment(&a)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(a)
    }
}

/// Performs the record's next step at the clock's instant; returns the delay to the step after
/// it, or `None` when the record is finished.
async fn advance(
    state: &AppState,
    org: &Org,
    templates: &MaterialFiles,
    p: &mut Plan,
    rng: &mut Rng,
) -> anyhow::Result<Option<Duration>> {
    let err = |e: chengguo_api::ApiError| anyhow::anyhow!("{e:?}");
    let leader = &org.leaders[p.unit][p.leader];
    let files = state
        .local_files
        .clone()
        .context("synthetic seeding needs local files")?;
    let act = |user: &User, action: Action, version: u64, opinion: Option<&str>| {
        let req = ActionRequest {
            version,
            opinion: opinion.map(str::to_owned),
            result: None,
            number: None,
            evidence_attachment_id: None,
        };
        let id = p.id.clone();
        let user = user.clone();
        async move { service::act(state, &user, &id, action, req).await }
    };
    match p.step {
        Step::Create => {
            let reg = service::create_registration(
                state,
                leader,
                CreateRequest {
                    kind: p.kind.code().into(),
                    source: if p.non_fiscal {
                        "non_fiscal"
                    } else {
                        "other_fiscal"
                    }
                    .into(),
                    consent: true,
                    authority_id: None,
                    project: None,
                },
            )
            .await
            .map_err(err)?;
            p.id = reg.id;
            p.version = reg.version;
            p.step = Step::Fill;
            Ok(Some(rng.days(0, 3)))
        }
        Step::Fill => {
            let unit = &org.units[p.unit];
            let f = form(p.kind, p.non_fiscal, unit, leader, state.clock.now(), rng);
            let map: Map<String, Value> = f.as_object().cloned().unwrap_or_default();
            let reg = service::patch(state, leader, &p.id, p.version, &map)
                .await
                .map_err(err)?;
            p.version = reg.version;
            let contract_lists = reg.fields.contract_has_lists;
            for (k, m) in materials::required(p.kind, contract_lists).enumerate() {
                templates
                    .attach(
                        state,
                        &files,
                        &p.id,
                        m.category,
                        &leader.username,
                        rng.next() ^ k as u64,
                    )
                    .await?;
            }
            if p.stays_draft {
                p.step = Step::Done;
                return Ok(None);
            }
            p.step = Step::Submit;
            Ok(Some(rng.days(1, 20)))
        }
        Step::Submit => {
            let reg = act(leader, Action::Submit, p.version, None)
                .await
                .map_err(err)?;
            p.version = reg.version;
            p.step = Step::Review;
            Ok(Some(rng.days(1, 6)))
        }
        Step::Review => {
            let current = state
                .store
                .get_registration(&p.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .context("record vanished")?;
            let reviewer = match current.state {
                State::DeptReview => org.departments[p.unit]
                    .iter()
                    .find(|d| d.department_id == current.department_id)
                    .context("no department account")?
                    .clone(),
                State::UnitReview => org.admins[p.unit].clone(),
                State::PointReview => org.point.clone(),
                other => bail!("unexpected state {other:?} in review"),
            };
            // Some records go back once or twice; a returned record is resubmitted later.
            if p.returns_left > 0 && rng.chance(30) {
                p.returns_left -= 1;
                let reg = act(
                    &reviewer,
                    Action::Return,
                    p.version,
                    Some("请补充成果应用证明材料，并核对完成人排序。"),
                )
                .await
                .map_err(err)?;
                p.version = reg.version;
                p.step = Step::Submit;
                return Ok(Some(rng.days(2, 25)));
            }
            let reg = act(&reviewer, Action::Pass, p.version, None)
                .await
                .map_err(err)?;
            p.version = reg.version;
            if reg.state == State::PaperPending {
                p.step = Step::ReceivePaper;
                return Ok(Some(rng.days(3, 20)));
            }
            Ok(Some(rng.days(1, 6)))
        }
        Step::ReceivePaper => {
            let reg = act(&org.point, Action::ReceivePaper, p.version, None)
                .await
                .map_err(err)?;
            p.version = reg.version;
            p.step = Step::Decide;
            let notice =
                i64::from(state.config.unit_notice_days + state.config.website_notice_days);
            Ok(Some(rng.days(notice + 1, notice + 12)))
        }
        Step::Decide => {
            let registered = !rng.chance(4);
            let req = ActionRequest {
                version: p.version,
                opinion: Some(
                    if registered {
                        "材料齐全，公示期内无异议，同意登记。"
                    } else {
                        "成果材料不符合登记要求。"
                    }
                    .to_owned(),
                ),
                result: Some(if registered {
                    DecisionResult::Registered
                } else {
                    DecisionResult::Rejected
                }),
                number: None,
                evidence_attachment_id: None,
            };
            let reg = service::act(state, &org.point, &p.id, Action::Decide, req)
                .await
                .map_err(err)?;
            p.version = reg.version;
            if p.reopen && registered {
                p.reopen = false;
                p.step = Step::Reopen;
                return Ok(Some(rng.days(10, 60)));
            }
            p.step = Step::Done;
            Ok(None)
        }
        Step::Reopen => {
            let evidence = templates
                .attach(
                    state,
                    &files,
                    &p.id,
                    materials::REOPEN_EVIDENCE,
                    &org.point.username,
                    rng.next(),
                )
                .await?;
            let req = ActionRequest {
                version: p.version,
                opinion: Some("成果完成人信息有误，退回到未批复后更正。".into()),
                result: None,
                number: None,
                evidence_attachment_id: Some(evidence.id),
            };
            let reg = service::act(state, &org.point, &p.id, Action::Reopen, req)
                .await
                .map_err(err)?;
            p.version = reg.version;
            p.step = Step::Decide;
            Ok(Some(rng.days(3, 20)))
        }
        Step::Done => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_records_start_earlier_so_no_year_needs_more_than_four_digit_serials() {
        let end = datetime!(2026-11-28 08:00 UTC);
        assert_eq!(first_day(500, end), FIRST);
        assert_eq!(first_day(40_000, end), FIRST);
        for count in [100_000, 250_000] {
            let first = first_day(count, end);
            let years = (end - first).whole_days() as f64 / 365.25;
            let per_year = count as f64 / years;
            assert!(
                per_year <= RECORDS_PER_YEAR as f64,
                "{count}: {per_year:.0} a year"
            );
            // About 60% are 应用技术成果, the most common kind: their serials fit in 9,999.
            assert!(per_year * 0.6 < 9_999.0);
        }
    }
}
