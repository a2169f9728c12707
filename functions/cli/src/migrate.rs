//! `chengguo migrate`: copies the embedded backend (a data folder) into the AWS backend
//! (DynamoDB and S3 from the environment), through the same storage ports both implement.
//!
//! Everything that is the system's state moves: authorities, units, departments, accounts,
//! projects, registrations with their whole history, attachments with their bytes, objections,
//! mail jobs and the registration numbers they hold. Sessions and rate-limit counters do not:
//! people log in again. A run is idempotent: what is already there and the same is left alone,
//! so an interrupted run is finished by running it again. It ends by counting both sides.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use chengguo_api::AppState;
use chengguo_domain::MailStatus;
use chengguo_domain::ports::{
    ListFilter, ProjectWrite, RegistrationWrite, Store, StoreError, WriteSet,
};
use chengguo_domain::scope::ListScope;

/// More mail jobs than any one system sends: listing by status takes a limit.
const MAIL_LIMIT: usize = 1_000_000;

/// How many of each kind a backend holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub authorities: usize,
    pub units: usize,
    pub departments: usize,
    pub users: usize,
    pub projects: usize,
    pub registrations: usize,
    pub events: usize,
    pub attachments: usize,
    /// Attachments whose bytes are in the file store.
    pub files: usize,
    pub objections: usize,
    pub mail_jobs: usize,
    /// Registration numbers held by a record.
    pub numbers: usize,
}

impl Counts {
    fn rows(&self) -> [(&'static str, usize); 12] {
        [
            ("authorities", self.authorities),
            ("units", self.units),
            ("departments", self.departments),
            ("users", self.users),
            ("projects", self.projects),
            ("registrations", self.registrations),
            ("events", self.events),
            ("attachments", self.attachments),
            ("files", self.files),
            ("objections", self.objections),
            ("mail jobs", self.mail_jobs),
            ("numbers", self.numbers),
        ]
    }
}

/// What a run did and what it found at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Items written by this run (records, events, files…); 0 on a repeated run.
    pub written: usize,
    pub source: Counts,
    pub target: Counts,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<14} {:>8} {:>8}", "", "source", "target")?;
        for ((name, s), (_, t)) in self.source.rows().iter().zip(self.target.rows()) {
            let mark = if *s == t { "" } else { "  ≠" };
            writeln!(f, "{name:<14} {s:>8} {t:>8}{mark}")?;
        }
        write!(f, "written by this run: {}", self.written)
    }
}

/// The command: the data folder `data` into the AWS backend of `CHENGGUO_TABLE` and
/// `CHENGGUO_UPLOADS_BUCKET` (endpoint, region and credentials from the AWS SDK's variables).
pub async fn run(data: &Path) -> anyhow::Result<()> {
    let db = data.join("chengguo.db");
    if !db.exists() {
        bail!("{} holds no embedded data (no chengguo.db)", data.display());
    }
    let config = crate::backend::config_from_env()?;
    let clock = crate::backend::system_clock();
    let embedded = crate::backend::Backend::Embedded {
        data: data.to_path_buf(),
        public_url: config.public_url.clone(),
    };
    let var = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let table = var("CHENGGUO_TABLE", "chengguo");
    let bucket = var("CHENGGUO_UPLOADS_BUCKET", "chengguo-uploads");
    let aws = crate::backend::Backend::Aws {
        table: table.clone(),
        uploads_bucket: bucket.clone(),
    };
    let source = crate::backend::open(&embedded, config.clone(), clock.clone()).await?;
    let target = crate::backend::open(&aws, config, clock).await?;
    println!(
        "正在把 {} 复制到 DynamoDB 表 {table} 和 S3 存储桶 {bucket}……",
        data.display()
    );
    let report = migrate(&source, &target).await?;
    println!("{report}");
    println!("迁移完成，两边数量一致。");
    Ok(())
}

/// Copies everything from `source` into `target`, then counts both and fails when a count
/// differs. `target` should be otherwise unused meanwhile.
pub async fn migrate(source: &AppState, target: &AppState) -> anyhow::Result<Report> {
    let mut written = 0;
    let (src, dst) = (source.store.as_ref(), target.store.as_ref());

    // Organisation and accounts: plain puts, the same on a repeated run.
    for a in src.list_authorities().await? {
        dst.put_authority(&a).await?;
    }
    for u in src.list_units().await? {
        dst.put_unit(&u).await?;
        for d in src.list_departments(&u.id).await? {
            dst.put_department(&d).await?;
        }
    }
    for u in src.list_users(None).await? {
        match dst.find_user(&u.username).await? {
            Some(existing) if existing == u => {}
            Some(existing) if existing.id != u.id => bail!(
                "the target already has an account {} with another id ({} here, {} there)",
                u.username,
                u.id,
                existing.id
            ),
            Some(_) => dst.update_user(&u).await?,
            None => {
                dst.create_user(&u).await?;
                written += 1;
            }
        }
    }

    // Projects, guarded by their version like any write.
    for p in src.list_projects(None).await? {
        let expected = match dst.get_project(&p.id).await? {
            Some(existing) if existing == p => continue,
            Some(existing) => Some(existing.version),
            None => None,
        };
        dst.commit(WriteSet {
            project: Some(ProjectWrite {
                record: p.clone(),
                expected_version: expected,
            }),
            ..WriteSet::default()
        })
        .await
        .with_context(|| format!("project {}", p.number))?;
        written += 1;
    }

    // Registrations, each with its history, number, attachments, objections and mail.
    let mut mail_ids = BTreeSet::new();
    for reg in all_registrations(src).await? {
        written += copy_registration(source, target, &reg)
            .await
            .with_context(|| format!("registration {}", reg.id))?;
        for job in src.mail_of_registration(&reg.id).await? {
            mail_ids.insert(job.id.clone());
            if dst.get_mail(&job.id).await?.as_ref() != Some(&job) {
                dst.put_mail(&job).await?;
                written += 1;
            }
        }
    }
    // Mail not about a registration.
    for status in [MailStatus::Pending, MailStatus::Sent, MailStatus::Failed] {
        for job in src.list_mail(status, MAIL_LIMIT).await? {
            if mail_ids.insert(job.id.clone())
                && dst.get_mail(&job.id).await?.as_ref() != Some(&job)
            {
                dst.put_mail(&job).await?;
                written += 1;
            }
        }
    }

    let report = Report {
        written,
        source: count(source).await?,
        target: count(target).await?,
    };
    if report.source != report.target {
        bail!("the counts differ after copying:\n{report}");
    }
    Ok(report)
}

/// Every registration, newest first.
async fn all_registrations(
    store: &dyn Store,
) -> anyhow::Result<Vec<chengguo_domain::Registration>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_registrations(
                &ListScope::All,
                &ListFilter::default(),
                100,
                cursor.as_deref(),
            )
            .await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Copies one registration and what hangs off it; returns how many items it wrote.
async fn copy_registration(
    source: &AppState,
    target: &AppState,
    reg: &chengguo_domain::Registration,
) -> anyhow::Result<usize> {
    let (src, dst) = (source.store.as_ref(), target.store.as_ref());
    let mut written = 0;
    let events = src.list_events(&reg.id).await?;
    let have: BTreeSet<u64> = dst
        .list_events(&reg.id)
        .await?
        .iter()
        .map(|e| e.seq)
        .collect();
    // The number it holds in the source, claimed with the record's first write.
    let number = match &reg.registration_number {
        Some(n) if src.number_holder(n).await?.as_deref() == Some(reg.id.as_str()) => {
            Some(n.clone())
        }
        _ => None,
    };
    let mut current = dst.get_registration(&reg.id).await?;
    let mut missing = events.into_iter().filter(|e| !have.contains(&e.seq));
    if current.is_none() {
        dst.commit(WriteSet {
            registrations: vec![RegistrationWrite {
                record: reg.clone(),
                expected_version: None,
                event: missing.next(),
            }],
            claim_number: number.clone().map(|n| (n, reg.id.clone())),
            ..WriteSet::default()
        })
        .await?;
        written += 1;
        current = Some(reg.clone());
    }
    // The rest of the history, one event per write, the record unchanged.
    for event in missing {
        let stored = current.as_ref().map(|c| c.version);
        dst.commit(WriteSet {
            registrations: vec![RegistrationWrite {
                record: current.clone().unwrap_or_else(|| reg.clone()),
                expected_version: stored,
                event: Some(event),
            }],
            ..WriteSet::default()
        })
        .await?;
        written += 1;
    }
    // A record changed since an earlier run: bring it up to date.
    if let Some(c) = &current
        && c != reg
    {
        dst.commit(WriteSet {
            registrations: vec![RegistrationWrite {
                record: reg.clone(),
                expected_version: Some(c.version),
                event: None,
            }],
            ..WriteSet::default()
        })
        .await?;
        written += 1;
    }
    if let Some(n) = &number
        && dst.number_holder(n).await?.is_none()
    {
        match dst
            .commit(WriteSet {
                claim_number: Some((n.clone(), reg.id.clone())),
                ..WriteSet::default()
            })
            .await
        {
            Ok(()) => written += 1,
            Err(StoreError::NumberTaken(_)) => bail!("number {n} is held by another record"),
            Err(e) => return Err(e.into()),
        }
    }

    for a in src.list_attachments(&reg.id).await? {
        if dst.get_attachment(&reg.id, &a.id).await?.as_ref() != Some(&a) {
            dst.put_attachment(&a).await?;
            written += 1;
        }
        let Some(size) = source.blobs.size(&a.key).await? else {
            // A pending upload never sent: nothing to copy; it expires as it would have.
            continue;
        };
        if target.blobs.size(&a.key).await? != Some(size) {
            let bytes = source
                .blobs
                .get(&a.key)
                .await
                .with_context(|| format!("reading {}", a.key))?;
            target
                .blobs
                .put(&a.key, bytes, &a.content_type)
                .await
                .with_context(|| format!("writing {}", a.key))?;
            written += 1;
        }
    }
    for o in src.list_objections(&reg.id).await? {
        if dst.get_objection(&o.id).await?.as_ref() != Some(&o) {
            dst.put_objection(&o).await?;
            written += 1;
        }
    }
    Ok(written)
}

/// Counts what a backend holds.
pub async fn count(state: &AppState) -> anyhow::Result<Counts> {
    let store = state.store.as_ref();
    let mut c = Counts {
        authorities: store.list_authorities().await?.len(),
        users: store.list_users(None).await?.len(),
        projects: store.list_projects(None).await?.len(),
        ..Counts::default()
    };
    let units = store.list_units().await?;
    c.units = units.len();
    for u in &units {
        c.departments += store.list_departments(&u.id).await?.len();
    }
    let mut mail = BTreeSet::new();
    for status in [MailStatus::Pending, MailStatus::Sent, MailStatus::Failed] {
        mail.extend(
            store
                .list_mail(status, MAIL_LIMIT)
                .await?
                .into_iter()
                .map(|j| j.id),
        );
    }
    for reg in all_registrations(store).await? {
        c.registrations += 1;
        c.events += store.list_events(&reg.id).await?.len();
        for a in store.list_attachments(&reg.id).await? {
            c.attachments += 1;
            if state.blobs.size(&a.key).await?.is_some() {
                c.files += 1;
            }
        }
        c.objections += store.list_objections(&reg.id).await?.len();
        mail.extend(
            store
                .mail_of_registration(&reg.id)
                .await?
                .into_iter()
                .map(|j| j.id),
        );
        if let Some(n) = &reg.registration_number
            && store.number_holder(n).await?.as_deref() == Some(reg.id.as_str())
        {
            c.numbers += 1;
        }
    }
    c.mail_jobs = mail.len();
    Ok(c)
}
