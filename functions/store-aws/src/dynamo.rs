//! State storage in one DynamoDB table.
//!
//! Every value is stored as its JSON in the `doc` attribute of one item, next to the key and
//! index attributes that the queries need ([`crate::setup::table_definition`] lists the indexes):
//!
//! | item | `pk` | `sk` | index attributes |
//! | --- | --- | --- | --- |
//! | registration | `REG#<id>` | `REG` | `owner_pk`, `department_pk`, `unit_pk`, `authority_pk`, `all_pk`, `project_pk` = `REG#…`/`REG`; `list_sk`; `version` |
//! | event | `REG#<reg>` | `EVENT#<seq:020>` | |
//! | attachment | `REG#<reg>` | `ATT#<id>` | while pending: `expiry_pk` = `PENDING`, `expiry_sk` |
//! | objection | `REG#<reg>` | `OBJ#<id>` | |
//! | objection pointer | `OBJ#<id>` | `OBJ` | `registration_id` |
//! | registration number | `NUMSEQ#<prefix>` | `<serial:04>` | `holder` |
//! | authority / unit | `ORG#AUTHORITY` / `ORG#UNIT` | `AUTHORITY#<id>` / `UNIT#<id>` | |
//! | department | `DEPT#<id>` | `DEPT` | `unit_pk` = `DEPT#<unit>`, `list_sk` |
//! | user | `USER#<id>` | `USER` | `unit_pk` = `USER#<unit>`, `all_pk` = `USER`, `list_sk` |
//! | username | `USERNAME#<name>` | `USERNAME` | `user_id` |
//! | session | `SESSION#<hash>` | `SESSION` | `ttl` |
//! | project | `PROJECT#<id>` | `PROJECT` | `unit_pk` = `PROJ#<unit>`, `all_pk` = `PROJ`, `list_sk`; `version` |
//! | project number | `PROJNUM#<number>` | `PROJNUM` | `project_id` |
//! | mail job | `MAIL#<id>` | `MAIL` | `all_pk` = `MAIL#<status>`, `list_sk`; `project_pk` = `MAIL#<registration>` when about one; while pending: `due_pk` = `MAIL`, `due_sk` = `<next_attempt_at>#<id>` |
//! | rate-limit counter | `COUNTER#<key>` | `COUNTER` | `count`, `expires_at` (Unix ns), `ttl` |
//!
//! `list_sk` is `<created_at, UTC, fixed width>#<id>`, so the newest come first when an index is
//! read backwards. Nothing is ever scanned: every read is a `GetItem`, a `BatchGetItem` or a
//! `Query`. Mail reads go through an index and then read the jobs themselves (consistently),
//! since an index lags the table: a job just sent must not be handed out as due again.

use std::collections::{BTreeMap, HashMap, VecDeque};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chengguo_domain::numbering;
use chengguo_domain::org::{Authority, Department, Session, Unit, User};
use chengguo_domain::ports::{
    ListFilter, Page, ProjectWrite, RegistrationWrite, Store, StoreError, StoreResult, WriteSet,
};
use chengguo_domain::project::Project;
use chengguo_domain::record::{
    Attachment, AttachmentStatus, Event, MailJob, MailStatus, Objection, Registration,
};
use chengguo_domain::scope::ListScope;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::setup::{
    BY_ALL, BY_AUTHORITY, BY_DEPARTMENT, BY_DUE, BY_EXPIRY, BY_OWNER, BY_PROJECT, BY_UNIT, Gsi, PK,
    SK, TTL_ATTRIBUTE,
};

type Item = HashMap<String, AttributeValue>;

const DOC: &str = "doc";
const VERSION: &str = "version";
const HOLDER: &str = "holder";
const USER_ID: &str = "user_id";
const PROJECT_ID: &str = "project_id";
const REGISTRATION_ID: &str = "registration_id";
const PENDING: &str = "PENDING";
const COUNT: &str = "count";
const EXPIRES_AT: &str = "expires_at";
/// The one partition of [`BY_DUE`].
const MAIL_DUE: &str = "MAIL";

/// The most items one `TransactWriteItems` may hold.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// The most keys one `BatchGetItem` may ask for.
const MAX_BATCH_GET: usize = 100;
/// How often a `BatchGetItem` is repeated for keys the server left unprocessed.
const BATCH_GET_ROUNDS: u32 = 8;
/// How often [`Store::bump_counter`] tries again when other bumps keep resetting the counter.
const COUNTER_ROUNDS: u32 = 8;

/// How much reading fills one page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageBudget {
    /// At most this many `Query` calls per partition fill a page once something matched; a page
    /// may come back short, with a cursor, when the filter rejects many records.
    pub max_calls: usize,
    /// The largest `Limit` of one listing query; batches grow up to it.
    pub max_batch: usize,
}

impl Default for PageBudget {
    fn default() -> Self {
        PageBudget {
            max_calls: 8,
            max_batch: 500,
        }
    }
}

/// [`Store`] on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    budget: PageBudget,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            budget: PageBudget::default(),
        }
    }

    /// Changes how much reading fills a page (tests use a tiny budget to reach its edges).
    pub fn with_page_budget(mut self, budget: PageBudget) -> Self {
        self.budget = PageBudget {
            max_calls: budget.max_calls.max(1),
            max_batch: budget.max_batch.clamp(2, 1000),
        };
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and conversions.

/// A primary key: `(pk, sk)`.
type Key = (String, String);

mod keys {
    use super::{Key, numbering};

    pub fn registration(id: &str) -> Key {
        (format!("REG#{id}"), "REG".into())
    }
    pub fn event(registration_id: &str, seq: u64) -> Key {
        (format!("REG#{registration_id}"), format!("EVENT#{seq:020}"))
    }
    pub fn attachment(registration_id: &str, id: &str) -> Key {
        (format!("REG#{registration_id}"), format!("ATT#{id}"))
    }
    pub fn objection(registration_id: &str, id: &str) -> Key {
        (format!("REG#{registration_id}"), format!("OBJ#{id}"))
    }
    pub fn objection_pointer(id: &str) -> Key {
        (format!("OBJ#{id}"), "OBJ".into())
    }
    pub const AUTHORITIES: &str = "ORG#AUTHORITY";
    pub fn authority(id: &str) -> Key {
        (AUTHORITIES.into(), format!("AUTHORITY#{id}"))
    }
    pub const UNITS: &str = "ORG#UNIT";
    pub fn unit(id: &str) -> Key {
        (UNITS.into(), format!("UNIT#{id}"))
    }
    pub fn department(id: &str) -> Key {
        (format!("DEPT#{id}"), "DEPT".into())
    }
    pub fn user(id: &str) -> Key {
        (format!("USER#{id}"), "USER".into())
    }
    pub fn username(username: &str) -> Key {
        (format!("USERNAME#{username}"), "USERNAME".into())
    }
    pub fn session(token_hash: &str) -> Key {
        (format!("SESSION#{token_hash}"), "SESSION".into())
    }
    pub fn project(id: &str) -> Key {
        (format!("PROJECT#{id}"), "PROJECT".into())
    }
    pub fn project_number(number: &str) -> Key {
        (format!("PROJNUM#{number}"), "PROJNUM".into())
    }
    pub fn mail(id: &str) -> Key {
        (format!("MAIL#{id}"), "MAIL".into())
    }
    pub fn counter(key: &str) -> Key {
        (format!("COUNTER#{key}"), "COUNTER".into())
    }
    pub fn number_partition(prefix: &str) -> String {
        format!("NUMSEQ#{prefix}")
    }
    /// Well-formed numbers sit under their prefix, so that the highest serial is one query;
    /// anything else still gets a unique item.
    pub fn number(number: &str) -> Key {
        match numbering::split(number) {
            Some((prefix, serial)) => (number_partition(prefix), format!("{serial:04}")),
            None => (format!("NUM#{number}"), "NUM".into()),
        }
    }
}

/// Partition values of the overloaded indexes.
mod parts {
    pub fn registrations_of(id: &str) -> String {
        format!("REG#{id}")
    }
    pub const ALL_REGISTRATIONS: &str = "REG";
    pub fn users_of(unit_id: &str) -> String {
        format!("USER#{unit_id}")
    }
    pub const ALL_USERS: &str = "USER";
    pub fn departments_of(unit_id: &str) -> String {
        format!("DEPT#{unit_id}")
    }
    pub fn projects_of(unit_id: &str) -> String {
        format!("PROJ#{unit_id}")
    }
    pub const ALL_PROJECTS: &str = "PROJ";
    /// Mail jobs with a status, in [`super::BY_ALL`].
    pub fn mail_with(status: &str) -> String {
        format!("MAIL#{status}")
    }
    /// Mail jobs about a registration, in [`super::BY_PROJECT`].
    pub fn mail_about(registration_id: &str) -> String {
        format!("MAIL#{registration_id}")
    }
}

const SORTABLE: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

/// An instant as fixed-width UTC text, which sorts as the instants do.
fn sortable_time(t: OffsetDateTime) -> StoreResult<String> {
    t.to_offset(UtcOffset::UTC)
        .format(SORTABLE)
        .map_err(|e| StoreError::Backend(format!("formatting {t}: {e}")))
}

fn list_sort_key(created_at: OffsetDateTime, id: &str) -> StoreResult<String> {
    Ok(format!("{}#{id}", sortable_time(created_at)?))
}

/// Whether text is a `list_sk` this store writes.
fn is_list_sort_key(s: &str) -> bool {
    s.split_once('#')
        .is_some_and(|(t, id)| !id.is_empty() && PrimitiveDateTime::parse(t, SORTABLE).is_ok())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key_item((pk, sk): Key) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn get_s<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Backend(format!(
            "item lacks the string attribute {name}"
        ))),
    }
}

fn backend<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Backend(DisplayErrorContext(e).to_string())
}

/// A domain value kept as one item: its JSON in `doc`, next to its key and index attributes.
trait Stored: Serialize + DeserializeOwned {
    fn key(&self) -> Key;
    /// Index and guard attributes besides the key.
    fn attributes(&self) -> StoreResult<Vec<(&'static str, AttributeValue)>> {
        Ok(Vec::new())
    }

    fn to_item(&self) -> StoreResult<Item> {
        let doc = serde_json::to_string(self)
            .map_err(|e| StoreError::Backend(format!("encoding: {e}")))?;
        let mut item = key_item(self.key());
        item.insert(DOC.into(), s(doc));
        for (name, value) in self.attributes()? {
            item.insert(name.into(), value);
        }
        Ok(item)
    }

    fn from_item(item: &Item) -> StoreResult<Self> {
        serde_json::from_str(get_s(item, DOC)?)
            .map_err(|e| StoreError::Backend(format!("decoding {}: {e}", describe(item))))
    }
}

fn describe(item: &Item) -> String {
    let part = |name| get_s(item, name).unwrap_or("?");
    format!("{}/{}", part(PK), part(SK))
}

impl Stored for Registration {
    fn key(&self) -> Key {
        keys::registration(&self.id)
    }
    fn attributes(&self) -> StoreResult<Vec<(&'static str, AttributeValue)>> {
        let mut a = vec![
            (BY_OWNER.pk, s(parts::registrations_of(&self.owner_id))),
            (BY_UNIT.pk, s(parts::registrations_of(&self.unit_id))),
            (
                BY_AUTHORITY.pk,
                s(parts::registrations_of(&self.authority_id)),
            ),
            (BY_ALL.pk, s(parts::ALL_REGISTRATIONS)),
            (BY_OWNER.sk, s(list_sort_key(self.created_at, &self.id)?)),
            (VERSION, n(self.version)),
        ];
        if let Some(d) = &self.department_id {
            a.push((BY_DEPARTMENT.pk, s(parts::registrations_of(d))));
        }
        if let Some(p) = &self.project_id {
            a.push((BY_PROJECT.pk, s(parts::registrations_of(p))));
        }
        Ok(a)
    }
}

impl Stored for Event {
    fn key(&self) -> Key {
        keys::event(&self.registration_id, self.seq)
    }
}

impl Stored for Attachment {
    fn key(&self) -> Key {
        keys::attachment(&self.registration_id, &self.id)
    }
    fn attributes(&self) -> StoreResult<Vec<(&'static str, AttributeValue)>> {
        if self.status != AttachmentStatus::Pending {
            return Ok(Vec::new());
        }
        let sk = format!(
            "{}#{}#{}",
            sortable_time(self.expires_at)?,
            self.registration_id,
            self.id
        );
        Ok(vec![(BY_EXPIRY.pk, s(PENDING)), (BY_EXPIRY.sk, s(sk))])
    }
}

impl Stored for Objection {
    fn key(&self) -> Key {
        keys::objection(&self.registration_id, &self.id)
    }
}

impl Stored for Authority {
    fn key(&self) -> Key {
        keys::authority(&self.id)
    }
}

impl Stored for Unit {
    fn key(&self) -> Key {
        keys::unit(&self.id)
    }
}

impl Stored for Department {
    fn key(&self) -> Key {
        keys::department(&self.id)
    }
    fn attributes(&self) -> StoreResult<Vec<(&'static str, AttributeValue)>> {
        Ok(vec![
            (BY_UNIT.pk, s(parts::departments_of(&self.unit_id))),
            (BY_UNIT.sk, s(format!("DEPT#{}", self.id))),
        ])
    }
}

impl Stored for User {
    fn key(&self) -> Key {
        keys::user(&self.id)
    }
    fn attributes(&self) -> StoreResult<Vec<(&'static str, AttributeValue)>> {
        let mut a = vec![
            (BY_ALL.pk, s(parts::ALL_USERS)),
            (BY_ALL.sk, s(list_sort_key(self.created_at, &self.id)?)),
        ];
        if let Some(u) = &self.unit_id {
            a.push((BY_UNIT.pk, s(parts::users_of(u))));
        }
        Ok(a)
    }
}

impl Stored for Session {
    fn key(&self) -> Key {
        keys::session(&self.token_hash)
    }
    fn attributes(&self) -> StoreResult<Vec<(&'static str, AttributeValue)>> {
        Ok(vec![(TTL_ATTRIBUTE, n(cleanup_after(self.expires_at)))])
    }
}

impl Stored for Project {
    fn key(&self) -> Key {
        keys::project(&self.id)
    }
    fn attributes(&self) -> StoreResult<Vec<(&'static str, AttributeValue)>> {
        Ok(vec![
            (BY_UNIT.pk, s(parts::projects_of(&self.unit_id))),
            (BY_ALL.pk, s(parts::ALL_PROJECTS)),
            (BY_ALL.sk, s(list_sort_key(self.created_at, &self.id)?)),
            (VERSION, n(self.version)),
        ])
    }
}

impl Stored for MailJob {
    fn key(&self) -> Key {
        keys::mail(&self.id)
    }
    fn attributes(&self) -> StoreResult<Vec<(&'static str, AttributeValue)>> {
        let mut a = vec![
            (BY_ALL.pk, s(parts::mail_with(self.status.code()))),
            (BY_ALL.sk, s(list_sort_key(self.created_at, &self.id)?)),
        ];
        if let Some(r) = &self.registration_id {
            // BY_PROJECT's sort key is list_sk too.
            a.push((BY_PROJECT.pk, s(parts::mail_about(r))));
        }
        // Sparse: a job leaves the due index as soon as it is no longer pending.
        if self.status == MailStatus::Pending {
            a.push((BY_DUE.pk, s(MAIL_DUE)));
            a.push((BY_DUE.sk, s(list_sort_key(self.next_attempt_at, &self.id)?)));
        }
        Ok(a)
    }
}

/// An item that only points at another: a uniqueness claim or a lookup by a second key.
fn pointer_item(key: Key, attribute: &'static str, target: &str) -> Item {
    let mut item = key_item(key);
    item.insert(attribute.into(), s(target));
    item
}

// ---------------------------------------------------------------------------------------------
// Cursors.

/// Where a listing resumes.
#[derive(Debug, Clone, PartialEq)]
enum Cursor {
    /// The last evaluated key of an index query (one partition).
    Key(BTreeMap<String, String>),
    /// The `list_sk` of the last record considered (merged partitions).
    After(String),
}

impl Cursor {
    fn encode(&self) -> String {
        let json = match self {
            Cursor::Key(k) => serde_json::json!({ "k": k }),
            Cursor::After(a) => serde_json::json!({ "a": a }),
        };
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn decode(text: &str) -> StoreResult<Cursor> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| StoreError::BadCursor)?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
        let obj = value.as_object().ok_or(StoreError::BadCursor)?;
        match (obj.len(), obj.get("k"), obj.get("a")) {
            (1, Some(k), None) => {
                let map = k.as_object().ok_or(StoreError::BadCursor)?;
                map.iter()
                    .map(|(name, v)| {
                        Ok((
                            name.clone(),
                            v.as_str().ok_or(StoreError::BadCursor)?.to_owned(),
                        ))
                    })
                    .collect::<StoreResult<_>>()
                    .map(Cursor::Key)
            }
            (1, None, Some(a)) => {
                let a = a.as_str().ok_or(StoreError::BadCursor)?;
                if is_list_sort_key(a) {
                    Ok(Cursor::After(a.to_owned()))
                } else {
                    Err(StoreError::BadCursor)
                }
            }
            _ => Err(StoreError::BadCursor),
        }
    }

    /// The exclusive start key of a query of `partition` in `gsi`, if this cursor is one.
    fn start_key(&self, gsi: &Gsi, partition: &str) -> StoreResult<Item> {
        let Cursor::Key(k) = self else {
            return Err(StoreError::BadCursor);
        };
        let expected = [PK, SK, gsi.pk, gsi.sk];
        let well_formed = k.len() == expected.len()
            && expected.iter().all(|name| k.contains_key(*name))
            && k[gsi.pk] == partition
            && k[SK] == "REG"
            && is_list_sort_key(&k[gsi.sk])
            && k[gsi.sk]
                .split_once('#')
                .map(|(_, id)| keys::registration(id).0)
                == Some(k[PK].clone());
        if !well_formed {
            return Err(StoreError::BadCursor);
        }
        Ok(k.iter().map(|(n, v)| (n.clone(), s(v.clone()))).collect())
    }

    /// The cursor resuming after `item` (a record or a last evaluated key) in `gsi`.
    fn from_item(item: &Item, gsi: &Gsi) -> StoreResult<Cursor> {
        [PK, SK, gsi.pk, gsi.sk]
            .iter()
            .map(|name| Ok(((*name).to_owned(), get_s(item, name)?.to_owned())))
            .collect::<StoreResult<_>>()
            .map(Cursor::Key)
    }
}

// ---------------------------------------------------------------------------------------------
// The atomic write.

/// What a member of a transaction guards, to explain a cancellation.
#[derive(Debug, Clone, PartialEq)]
enum Guard {
    Record,
    Number(String),
    /// A unique name: a project number or a username.
    Unique(String),
    Unguarded,
}

#[derive(Default)]
struct Transaction {
    items: Vec<TransactWriteItem>,
    guards: Vec<Guard>,
}

/// A condition with its placeholders.
struct Condition {
    expression: &'static str,
    names: Vec<(&'static str, &'static str)>,
    values: Vec<(&'static str, AttributeValue)>,
}

impl Condition {
    fn absent() -> Condition {
        Condition {
            expression: "attribute_not_exists(#pk)",
            names: vec![("#pk", PK)],
            values: Vec::new(),
        }
    }

    fn present() -> Condition {
        Condition {
            expression: "attribute_exists(#pk)",
            names: vec![("#pk", PK)],
            values: Vec::new(),
        }
    }

    /// Guarded by version: absent for an insert, at `expected` for an update.
    fn version(expected: Option<u64>) -> Condition {
        match expected {
            None => Condition::absent(),
            Some(v) => Condition {
                expression: "#v = :expected",
                names: vec![("#v", VERSION)],
                values: vec![(":expected", n(v))],
            },
        }
    }

    /// Free, or already held by `holder`.
    fn free_or_held_by(holder: &str) -> Condition {
        Condition {
            expression: "attribute_not_exists(#pk) OR #h = :holder",
            names: vec![("#pk", PK), ("#h", HOLDER)],
            values: vec![(":holder", s(holder))],
        }
    }
}

impl Transaction {
    fn put(
        &mut self,
        table: &str,
        item: Item,
        cond: Option<Condition>,
        guard: Guard,
    ) -> StoreResult<()> {
        let mut b = Put::builder().table_name(table).set_item(Some(item));
        if let Some(c) = cond {
            b = b.condition_expression(c.expression);
            for (k, v) in c.names {
                b = b.expression_attribute_names(k, v);
            }
            for (k, v) in c.values {
                b = b.expression_attribute_values(k, v);
            }
        }
        let put = b.build().map_err(|e| StoreError::Backend(e.to_string()))?;
        self.items
            .push(TransactWriteItem::builder().put(put).build());
        self.guards.push(guard);
        Ok(())
    }

    fn delete(&mut self, table: &str, key: Key) -> StoreResult<()> {
        let delete = Delete::builder()
            .table_name(table)
            .set_key(Some(key_item(key)))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.items
            .push(TransactWriteItem::builder().delete(delete).build());
        self.guards.push(Guard::Unguarded);
        Ok(())
    }

    fn registration(&mut self, table: &str, w: &RegistrationWrite) -> StoreResult<()> {
        self.put(
            table,
            w.record.to_item()?,
            Some(Condition::version(w.expected_version)),
            Guard::Record,
        )?;
        if let Some(event) = &w.event {
            self.put(
                table,
                event.to_item()?,
                Some(Condition::absent()),
                Guard::Record,
            )?;
        }
        Ok(())
    }

    fn project(&mut self, table: &str, w: &ProjectWrite) -> StoreResult<()> {
        self.put(
            table,
            w.record.to_item()?,
            Some(Condition::version(w.expected_version)),
            Guard::Record,
        )?;
        if w.expected_version.is_none() {
            let claim = pointer_item(
                keys::project_number(&w.record.number),
                PROJECT_ID,
                &w.record.id,
            );
            self.put(
                table,
                claim,
                Some(Condition::absent()),
                Guard::Unique(w.record.number.clone()),
            )?;
        }
        Ok(())
    }

    fn number(&mut self, table: &str, w: &WriteSet) -> StoreResult<()> {
        let reclaimed = |number: &str| w.release_number.as_deref() == Some(number);
        if let Some((number, holder)) = &w.claim_number {
            // Releasing and claiming the same number in one write keeps it with its holder;
            // a transaction cannot touch one item twice, so that is one guarded put.
            let cond = if reclaimed(number) {
                Condition::free_or_held_by(holder)
            } else {
                Condition::absent()
            };
            let item = pointer_item(keys::number(number), HOLDER, holder);
            self.put(table, item, Some(cond), Guard::Number(number.clone()))?;
        }
        if let Some(number) = &w.release_number {
            let claimed = w.claim_number.as_ref().is_some_and(|(c, _)| c == number);
            if !claimed {
                self.delete(table, keys::number(number))?;
            }
        }
        Ok(())
    }

    /// Explains a cancelled transaction: a version or existence guard wins over a number taken.
    /// A collision with another transaction (after [`CONFLICT_RETRIES`] tries) counts as the
    /// record having changed: the client reloads and tries again.
    fn explain(
        &self,
        e: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> StoreError {
        let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error()
        else {
            return backend(e);
        };
        let reasons = c.cancellation_reasons();
        let failed: Vec<&Guard> = reasons
            .iter()
            .zip(&self.guards)
            .filter(|(r, _)| r.code() == Some("ConditionalCheckFailed"))
            .map(|(_, g)| g)
            .collect();
        if failed.is_empty() {
            if reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                return StoreError::Conflict;
            }
            return backend(e);
        }
        if failed
            .iter()
            .any(|g| matches!(g, Guard::Record | Guard::Unguarded))
        {
            return StoreError::Conflict;
        }
        match failed[0] {
            Guard::Number(number) => StoreError::NumberTaken(number.clone()),
            Guard::Unique(number) => StoreError::AlreadyExists(number.clone()),
            Guard::Record | Guard::Unguarded => StoreError::Conflict,
        }
    }
}

/// How often a transaction cancelled only by a collision with another one is tried again.
pub const CONFLICT_RETRIES: u32 = 4;

/// Waits 10, 20, 40, 80 ms, each with up to as much again at random, so that two writers that
/// collided do not collide again.
fn conflict_backoff(attempt: u32) -> std::time::Duration {
    let base = 10u64 << attempt.saturating_sub(1).min(6);
    std::time::Duration::from_millis(base + rand::random_range(0..=base))
}

/// Whether a transaction was cancelled by collisions with other transactions only: no
/// condition of its own failed.
fn only_collided(
    e: &SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error()
    else {
        return false;
    };
    let codes: Vec<&str> = c
        .cancellation_reasons()
        .iter()
        .filter_map(|r| r.code())
        .filter(|code| *code != "None")
        .collect();
    !codes.is_empty() && codes.iter().all(|code| *code == "TransactionConflict")
}

// ---------------------------------------------------------------------------------------------
// Reads.

/// One index partition to list, newest first.
struct Partition {
    gsi: &'static Gsi,
    value: String,
}

impl DynamoStore {
    async fn get_item(&self, key: Key) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.item)
    }

    async fn get<T: Stored>(&self, key: Key) -> StoreResult<Option<T>> {
        self.get_item(key)
            .await?
            .as_ref()
            .map(T::from_item)
            .transpose()
    }

    async fn put_item(&self, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn put<T: Stored>(&self, value: &T) -> StoreResult<()> {
        self.put_item(value.to_item()?).await
    }

    async fn transact(&self, tx: Transaction) -> StoreResult<()> {
        if tx.items.is_empty() {
            return Ok(());
        }
        if tx.items.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Backend(format!(
                "one write of {} items exceeds DynamoDB's {MAX_TRANSACTION_ITEMS}",
                tx.items.len()
            )));
        }
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(tx.items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                // DynamoDB cancels a transaction that meets another one on the same item
                // (`TransactionConflict`) even when its conditions hold, and may cancel both:
                // the write is tried again, its conditions still guarding it, so the loser of
                // a real race is told by its condition and nobody by a collision alone.
                Err(e) if only_collided(&e) && attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(conflict_backoff(attempt)).await;
                }
                Err(e) => return Err(tx.explain(e)),
            }
        }
    }

    /// Every item of a table partition whose sort key starts with `prefix`, in key order.
    async fn query_table(&self, pk: &str, prefix: &str) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":prefix", s(prefix))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend)?;
            start = resp.last_evaluated_key().cloned();
            out.extend(resp.items.unwrap_or_default());
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// Every item of an index partition, newest first when `backwards`.
    async fn query_index(&self, gsi: &Gsi, value: &str, backwards: bool) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let resp = self
                .index_query(gsi, value, None, start, None, !backwards)
                .await?;
            start = resp.last_evaluated_key().cloned();
            out.extend(resp.items.unwrap_or_default());
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// One `Query` of an index partition, optionally below a sort key.
    async fn index_query(
        &self,
        gsi: &Gsi,
        value: &str,
        below: Option<&str>,
        start: Option<Item>,
        limit: Option<usize>,
        forward: bool,
    ) -> StoreResult<QueryOutput> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(gsi.name)
            .expression_attribute_names("#p", gsi.pk)
            .expression_attribute_values(":p", s(value))
            .scan_index_forward(forward)
            .set_exclusive_start_key(start)
            .set_limit(limit.map(|l| l.clamp(1, self.budget.max_batch) as i32));
        q = match below {
            Some(b) => q
                .key_condition_expression("#p = :p AND #s < :below")
                .expression_attribute_names("#s", gsi.sk)
                .expression_attribute_values(":below", s(b)),
            None => q.key_condition_expression("#p = :p"),
        };
        q.send().await.map_err(backend)
    }

    async fn all_of<T: Stored>(&self, gsi: &Gsi, value: &str) -> StoreResult<Vec<T>> {
        self.query_index(gsi, value, false)
            .await?
            .iter()
            .map(T::from_item)
            .collect()
    }

    /// How many records the first listing query reads: a page and one more, more when
    /// filtering.
    fn batch_size(&self, filter: &ListFilter, limit: usize) -> usize {
        let factor = if *filter == ListFilter::default() {
            1
        } else {
            4
        };
        ((limit + 1) * factor).clamp(2, self.budget.max_batch)
    }

    /// One page of one index partition, filled within the [`PageBudget`].
    async fn page_of_partition(
        &self,
        part: &Partition,
        filter: &ListFilter,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Registration>> {
        let mut start = cursor
            .map(|c| c.start_key(part.gsi, &part.value))
            .transpose()?;
        let mut batch = self.batch_size(filter, limit);
        // Up to one more match than the page holds, to know whether a next page exists.
        let mut found: Vec<(Registration, Item)> = Vec::new();
        let mut exhausted = false;
        let mut calls = 0;
        // A page with a cursor is never empty: the bound applies once something matched.
        while found.len() <= limit
            && !exhausted
            && (calls < self.budget.max_calls || found.is_empty())
        {
            calls += 1;
            let resp = self
                .index_query(
                    part.gsi,
                    &part.value,
                    None,
                    start.take(),
                    Some(batch),
                    false,
                )
                .await?;
            batch = (batch * 2).min(self.budget.max_batch);
            for item in resp.items() {
                let reg = Registration::from_item(item)?;
                if filter.matches(&reg) {
                    found.push((reg, item.clone()));
                    if found.len() > limit {
                        break;
                    }
                }
            }
            start = resp.last_evaluated_key().cloned();
            exhausted = start.is_none();
        }
        let next_cursor = if found.len() > limit {
            found.truncate(limit);
            found
                .last()
                .map(|(_, last)| Cursor::from_item(last, part.gsi))
                .transpose()?
                .map(|c| c.encode())
        } else if exhausted {
            None
        } else {
            // Out of queries: resume after the last record read.
            start
                .map(|lek| Cursor::from_item(&lek, part.gsi))
                .transpose()?
                .map(|c| c.encode())
        };
        Ok(Page {
            items: found.into_iter().map(|(r, _)| r).collect(),
            next_cursor,
        })
    }

    /// One page of several index partitions merged newest first. The cursor is the sort key of
    /// the last record considered, so each partition resumes below it.
    async fn page_of_merge(
        &self,
        parts: Vec<Partition>,
        filter: &ListFilter,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Registration>> {
        let below = match cursor {
            None => None,
            Some(Cursor::After(a)) => Some(a.clone()),
            Some(Cursor::Key(_)) => return Err(StoreError::BadCursor),
        };
        struct Stream {
            part: Partition,
            buffer: VecDeque<(String, Registration)>,
            start: Option<Item>,
            done: bool,
        }
        let mut streams: Vec<Stream> = parts
            .into_iter()
            .map(|part| Stream {
                part,
                buffer: VecDeque::new(),
                start: None,
                done: false,
            })
            .collect();
        let mut batch = self.batch_size(filter, limit);
        let streams_len = streams.len();
        // One first query per partition, then the budget.
        let budget = self.budget.max_calls + streams_len;
        let mut calls = 0;
        let mut found: Vec<(String, Registration)> = Vec::new();
        let mut considered = below.clone();
        let mut out_of_budget = false;
        while found.len() <= limit {
            for st in streams
                .iter_mut()
                .filter(|st| st.buffer.is_empty() && !st.done)
            {
                // A page with a cursor is never empty: the bound applies once something matched.
                if calls >= budget && !found.is_empty() {
                    out_of_budget = true;
                    break;
                }
                calls += 1;
                let resp = self
                    .index_query(
                        st.part.gsi,
                        &st.part.value,
                        below.as_deref(),
                        st.start.take(),
                        Some(batch),
                        false,
                    )
                    .await?;
                for item in resp.items() {
                    let sk = get_s(item, st.part.gsi.sk)?.to_owned();
                    st.buffer.push_back((sk, Registration::from_item(item)?));
                }
                st.start = resp.last_evaluated_key().cloned();
                st.done = st.start.is_none();
                if calls % streams_len == 0 {
                    batch = (batch * 2).min(self.budget.max_batch);
                }
            }
            if out_of_budget {
                break;
            }
            let newest = streams
                .iter_mut()
                .filter(|st| !st.buffer.is_empty())
                .max_by(|a, b| a.buffer[0].0.cmp(&b.buffer[0].0));
            let Some(st) = newest else {
                break;
            };
            let Some((sk, reg)) = st.buffer.pop_front() else {
                break;
            };
            considered = Some(sk.clone());
            if filter.matches(&reg) {
                found.push((sk, reg));
            }
        }
        let next_cursor = if found.len() > limit {
            found.truncate(limit);
            found
                .last()
                .map(|(sk, _)| Cursor::After(sk.clone()).encode())
        } else if out_of_budget {
            considered.map(|sk| Cursor::After(sk).encode())
        } else {
            None
        };
        Ok(Page {
            items: found.into_iter().map(|(_, r)| r).collect(),
            next_cursor,
        })
    }
}

/// The index partitions holding the registrations of a scope.
fn partitions(scope: &ListScope) -> Vec<Partition> {
    let part = |gsi: &'static Gsi, value: String| Partition { gsi, value };
    match scope {
        ListScope::Owner(id) => vec![part(&BY_OWNER, parts::registrations_of(id))],
        ListScope::Department(id) => vec![part(&BY_DEPARTMENT, parts::registrations_of(id))],
        ListScope::Unit(id) => vec![part(&BY_UNIT, parts::registrations_of(id))],
        ListScope::Authority(id) => vec![part(&BY_AUTHORITY, parts::registrations_of(id))],
        ListScope::All => vec![part(&BY_ALL, parts::ALL_REGISTRATIONS.into())],
        ListScope::Units(ids) => {
            let mut ids: Vec<&String> = ids.iter().collect();
            ids.sort();
            ids.dedup();
            ids.into_iter()
                .map(|id| part(&BY_UNIT, parts::registrations_of(id)))
                .collect()
        }
        ListScope::Nothing => Vec::new(),
    }
}

/// When DynamoDB may delete an item that stops mattering at `expires_at`: a day after that, or
/// after the server's own clock, whichever is later. Validity is always judged by the stored
/// `expires_at` against the caller's clock; TTL only tidies up, and must never remove an item
/// early because the caller's clock differs from the wall clock.
fn cleanup_after(expires_at: OffsetDateTime) -> i64 {
    let wall = OffsetDateTime::now_utc();
    expires_at.max(wall).unix_timestamp() + 86_400
}

// ---------------------------------------------------------------------------------------------
// The port.

#[async_trait]
impl Store for DynamoStore {
    async fn put_authority(&self, a: &Authority) -> StoreResult<()> {
        self.put(a).await
    }

    async fn list_authorities(&self) -> StoreResult<Vec<Authority>> {
        let items = self.query_table(keys::AUTHORITIES, "AUTHORITY#").await?;
        items.iter().map(Authority::from_item).collect()
    }

    async fn put_unit(&self, u: &Unit) -> StoreResult<()> {
        self.put(u).await
    }

    async fn get_unit(&self, id: &str) -> StoreResult<Option<Unit>> {
        self.get(keys::unit(id)).await
    }

    async fn list_units(&self) -> StoreResult<Vec<Unit>> {
        let items = self.query_table(keys::UNITS, "UNIT#").await?;
        items.iter().map(Unit::from_item).collect()
    }

    async fn put_department(&self, d: &Department) -> StoreResult<()> {
        self.put(d).await
    }

    async fn get_department(&self, id: &str) -> StoreResult<Option<Department>> {
        self.get(keys::department(id)).await
    }

    async fn list_departments(&self, unit_id: &str) -> StoreResult<Vec<Department>> {
        self.all_of(&BY_UNIT, &parts::departments_of(unit_id)).await
    }

    async fn create_user(&self, u: &User) -> StoreResult<()> {
        let mut tx = Transaction::default();
        tx.put(
            &self.table,
            u.to_item()?,
            Some(Condition::absent()),
            Guard::Record,
        )?;
        tx.put(
            &self.table,
            pointer_item(keys::username(&u.username), USER_ID, &u.id),
            Some(Condition::absent()),
            Guard::Unique(u.username.clone()),
        )?;
        match self.transact(tx).await {
            // The id exists: report it the same way, the account cannot be created.
            Err(StoreError::Conflict) => Err(StoreError::AlreadyExists(u.id.clone())),
            other => other,
        }
    }

    async fn update_user(&self, u: &User) -> StoreResult<()> {
        let Some(old) = self.get::<User>(keys::user(&u.id)).await? else {
            return Err(StoreError::Conflict);
        };
        let mut tx = Transaction::default();
        tx.put(
            &self.table,
            u.to_item()?,
            Some(Condition::present()),
            Guard::Record,
        )?;
        if old.username != u.username {
            tx.delete(&self.table, keys::username(&old.username))?;
            tx.put(
                &self.table,
                pointer_item(keys::username(&u.username), USER_ID, &u.id),
                Some(Condition::absent()),
                Guard::Unique(u.username.clone()),
            )?;
        }
        self.transact(tx).await
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        self.get(keys::user(id)).await
    }

    async fn find_user(&self, username: &str) -> StoreResult<Option<User>> {
        let Some(pointer) = self.get_item(keys::username(username)).await? else {
            return Ok(None);
        };
        let user: Option<User> = self.get(keys::user(get_s(&pointer, USER_ID)?)).await?;
        Ok(user.filter(|u| u.username == username))
    }

    async fn list_users(&self, unit_id: Option<&str>) -> StoreResult<Vec<User>> {
        match unit_id {
            Some(unit) => self.all_of(&BY_UNIT, &parts::users_of(unit)).await,
            None => self.all_of(&BY_ALL, parts::ALL_USERS).await,
        }
    }

    async fn put_session(&self, session: &Session) -> StoreResult<()> {
        self.put(session).await
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        self.get(keys::session(token_hash)).await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        self.delete_item(keys::session(token_hash)).await
    }

    async fn commit(&self, w: WriteSet) -> StoreResult<()> {
        let mut tx = Transaction::default();
        for r in &w.registrations {
            tx.registration(&self.table, r)?;
        }
        if let Some(p) = &w.project {
            tx.project(&self.table, p)?;
        }
        tx.number(&self.table, &w)?;
        for job in &w.mails {
            tx.put(
                &self.table,
                job.to_item()?,
                Some(Condition::absent()),
                Guard::Record,
            )?;
        }
        self.transact(tx).await
    }

    async fn get_registration(&self, id: &str) -> StoreResult<Option<Registration>> {
        self.get(keys::registration(id)).await
    }

    async fn list_registrations(
        &self,
        scope: &ListScope,
        filter: &ListFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Registration>> {
        let cursor = cursor.map(Cursor::decode).transpose()?;
        let limit = limit.max(1);
        let mut parts = partitions(scope);
        match (scope, parts.len()) {
            (_, 0) => Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            }),
            (ListScope::Units(_), _) => {
                self.page_of_merge(parts, filter, limit, cursor.as_ref())
                    .await
            }
            (_, _) => {
                let part = parts.remove(0);
                self.page_of_partition(&part, filter, limit, cursor.as_ref())
                    .await
            }
        }
    }

    async fn list_events(&self, registration_id: &str) -> StoreResult<Vec<Event>> {
        let (pk, _) = keys::registration(registration_id);
        let items = self.query_table(&pk, "EVENT#").await?;
        items.iter().map(Event::from_item).collect()
    }

    async fn max_serial(&self, prefix: &str) -> StoreResult<Option<u32>> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(keys::number_partition(prefix)))
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(backend)?;
        resp.items()
            .first()
            .map(|item| {
                let serial = get_s(item, SK)?;
                serial
                    .parse()
                    .map_err(|_| StoreError::Backend(format!("bad serial {serial}")))
            })
            .transpose()
    }

    async fn number_holder(&self, number: &str) -> StoreResult<Option<String>> {
        self.get_item(keys::number(number))
            .await?
            .map(|item| get_s(&item, HOLDER).map(str::to_owned))
            .transpose()
    }

    async fn registrations_of_project(&self, project_id: &str) -> StoreResult<Vec<Registration>> {
        let items = self
            .query_index(&BY_PROJECT, &parts::registrations_of(project_id), true)
            .await?;
        // The index lags the table; read each record itself for the current version.
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            let id = Registration::from_item(item)?.id;
            if let Some(reg) = self.get_registration(&id).await?
                && reg.project_id.as_deref() == Some(project_id)
            {
                out.push(reg);
            }
        }
        Ok(out)
    }

    async fn put_attachment(&self, a: &Attachment) -> StoreResult<()> {
        self.put(a).await
    }

    async fn get_attachment(
        &self,
        registration_id: &str,
        id: &str,
    ) -> StoreResult<Option<Attachment>> {
        self.get(keys::attachment(registration_id, id)).await
    }

    async fn list_attachments(&self, registration_id: &str) -> StoreResult<Vec<Attachment>> {
        let (pk, _) = keys::registration(registration_id);
        let mut out = self
            .query_table(&pk, "ATT#")
            .await?
            .iter()
            .map(Attachment::from_item)
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    async fn delete_attachment(&self, registration_id: &str, id: &str) -> StoreResult<()> {
        self.delete_item(keys::attachment(registration_id, id))
            .await
    }

    async fn expired_attachments(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<Attachment>> {
        let now_key = sortable_time(now)?;
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let resp = self
                .index_query(
                    &BY_EXPIRY,
                    PENDING,
                    Some(&now_key),
                    start.take(),
                    Some(limit - out.len()),
                    true,
                )
                .await?;
            for item in resp.items() {
                let a = Attachment::from_item(item)?;
                if a.status == AttachmentStatus::Pending && a.expires_at < now && out.len() < limit
                {
                    out.push(a);
                }
            }
            start = resp.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        Ok(out)
    }

    async fn get_project(&self, id: &str) -> StoreResult<Option<Project>> {
        self.get(keys::project(id)).await
    }

    async fn find_project(&self, number: &str) -> StoreResult<Option<Project>> {
        let Some(pointer) = self.get_item(keys::project_number(number)).await? else {
            return Ok(None);
        };
        let project: Option<Project> = self
            .get(keys::project(get_s(&pointer, PROJECT_ID)?))
            .await?;
        Ok(project.filter(|p| p.number == number))
    }

    async fn list_projects(&self, unit_id: Option<&str>) -> StoreResult<Vec<Project>> {
        match unit_id {
            Some(unit) => self.all_of(&BY_UNIT, &parts::projects_of(unit)).await,
            None => self.all_of(&BY_ALL, parts::ALL_PROJECTS).await,
        }
    }

    async fn put_objection(&self, o: &Objection) -> StoreResult<()> {
        let mut tx = Transaction::default();
        tx.put(&self.table, o.to_item()?, None, Guard::Unguarded)?;
        tx.put(
            &self.table,
            pointer_item(
                keys::objection_pointer(&o.id),
                REGISTRATION_ID,
                &o.registration_id,
            ),
            None,
            Guard::Unguarded,
        )?;
        self.transact(tx).await
    }

    async fn get_objection(&self, id: &str) -> StoreResult<Option<Objection>> {
        let Some(pointer) = self.get_item(keys::objection_pointer(id)).await? else {
            return Ok(None);
        };
        self.get(keys::objection(get_s(&pointer, REGISTRATION_ID)?, id))
            .await
    }

    async fn list_objections(&self, registration_id: &str) -> StoreResult<Vec<Objection>> {
        let (pk, _) = keys::registration(registration_id);
        let mut out = self
            .query_table(&pk, "OBJ#")
            .await?
            .iter()
            .map(Objection::from_item)
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by(|a, b| (a.filed_at, &a.id).cmp(&(b.filed_at, &b.id)));
        Ok(out)
    }
    async fn put_mail(&self, job: &MailJob) -> StoreResult<()> {
        self.put(job).await
    }

    async fn get_mail(&self, id: &str) -> StoreResult<Option<MailJob>> {
        self.get(keys::mail(id)).await
    }

    async fn due_mail(&self, now: OffsetDateTime, limit: usize) -> StoreResult<Vec<MailJob>> {
        // `<now>$` sorts right after every `<now>#<id>`: due at or before `now`.
        let below = format!("{}$", sortable_time(now)?);
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let resp = self
                .index_query(
                    &BY_DUE,
                    MAIL_DUE,
                    Some(&below),
                    start.take(),
                    Some(limit - out.len()),
                    true,
                )
                .await?;
            out.extend(
                self.current_mail(resp.items(), |j| {
                    j.status == MailStatus::Pending && j.next_attempt_at <= now
                })
                .await?,
            );
            start = resp.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
        out.truncate(limit);
        Ok(out)
    }

    async fn list_mail(&self, status: MailStatus, limit: usize) -> StoreResult<Vec<MailJob>> {
        let part = parts::mail_with(status.code());
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let resp = self
                .index_query(
                    &BY_ALL,
                    &part,
                    None,
                    start.take(),
                    Some(limit - out.len()),
                    false,
                )
                .await?;
            out.extend(
                self.current_mail(resp.items(), |j| j.status == status)
                    .await?,
            );
            start = resp.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        newest_first(&mut out);
        out.truncate(limit);
        Ok(out)
    }

    async fn mail_of_registration(&self, registration_id: &str) -> StoreResult<Vec<MailJob>> {
        let items = self
            .query_index(&BY_PROJECT, &parts::mail_about(registration_id), true)
            .await?;
        let mut out = self
            .current_mail(&items, |j| {
                j.registration_id.as_deref() == Some(registration_id)
            })
            .await?;
        newest_first(&mut out);
        Ok(out)
    }

    async fn bump_counter(
        &self,
        key: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<u64> {
        let now = n(now.unix_timestamp_nanos());
        let expires = n(expires_at.unix_timestamp_nanos());
        // DynamoDB removes the item some time after its window ended.
        let ttl = n(cleanup_after(expires_at));
        for _ in 0..COUNTER_ROUNDS {
            // A live counter gets one more; a missing one is created at 1 with this window.
            let added = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_item(keys::counter(key))))
                .update_expression(
                    "SET #e = if_not_exists(#e, :expires), #ttl = if_not_exists(#ttl, :ttl) \
                     ADD #c :one",
                )
                .condition_expression("attribute_not_exists(#pk) OR #e > :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#e", EXPIRES_AT)
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_names("#c", COUNT)
                .expression_attribute_values(":expires", expires.clone())
                .expression_attribute_values(":ttl", ttl.clone())
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", now.clone())
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match added {
                Ok(out) => return count_of(out.attributes()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(backend(e)),
            }
            // Its window ended: start a new one at 1, unless another bump just did.
            let mut item = key_item(keys::counter(key));
            item.insert(COUNT.into(), n(1));
            item.insert(EXPIRES_AT.into(), expires.clone());
            item.insert(TTL_ATTRIBUTE.into(), ttl.clone());
            let reset = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk) OR #e <= :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#e", EXPIRES_AT)
                .expression_attribute_values(":now", now.clone())
                .send()
                .await;
            match reset {
                Ok(_) => return Ok(1),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(backend(e)),
            }
        }
        Err(StoreError::Backend(format!(
            "counter {key} kept changing during {COUNTER_ROUNDS} attempts"
        )))
    }
}

impl DynamoStore {
    async fn delete_item(&self, key: Key) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// Sorts mail jobs newest first: `created_at` descending, then `id` descending.
fn newest_first(jobs: &mut [MailJob]) {
    jobs.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
}

/// The `count` an update returned.
fn count_of(attributes: Option<&Item>) -> StoreResult<u64> {
    match attributes.and_then(|a| a.get(COUNT)) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Backend(format!("bad count {v}"))),
        _ => Err(StoreError::Backend("the update returned no count".into())),
    }
}

impl DynamoStore {
    /// The items with these keys, read consistently, in no particular order; absent ones are
    /// left out.
    async fn batch_get(&self, keys: Vec<Key>) -> StoreResult<Vec<Item>> {
        let mut keys = keys;
        keys.sort();
        keys.dedup();
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_BATCH_GET) {
            let mut wanted: Vec<Item> = chunk.iter().cloned().map(key_item).collect();
            let mut round = 0;
            while !wanted.is_empty() {
                if round == BATCH_GET_ROUNDS {
                    return Err(StoreError::Backend(format!(
                        "{} keys stayed unprocessed by BatchGetItem",
                        wanted.len()
                    )));
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << round)).await;
                }
                round += 1;
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(wanted))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                let resp = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(backend)?;
                if let Some(items) = resp.responses().and_then(|r| r.get(&self.table)) {
                    out.extend(items.iter().cloned());
                }
                wanted = resp
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
            }
        }
        Ok(out)
    }

    /// The current version of the mail jobs behind some index items, those passing `keep`.
    async fn current_mail(
        &self,
        index_items: &[Item],
        keep: impl Fn(&MailJob) -> bool,
    ) -> StoreResult<Vec<MailJob>> {
        if index_items.is_empty() {
            return Ok(Vec::new());
        }
        let keys = index_items
            .iter()
            .map(|i| Ok((get_s(i, PK)?.to_owned(), get_s(i, SK)?.to_owned())))
            .collect::<StoreResult<Vec<Key>>>()?;
        let mut out = Vec::with_capacity(keys.len());
        for item in self.batch_get(keys).await? {
            let job = MailJob::from_item(&item)?;
            if keep(&job) {
                out.push(job);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sort_keys_have_fixed_width_and_sort_as_instants() {
        let a = list_sort_key(datetime!(2026-01-02 03:04:05 +08:00), "x").unwrap();
        let b = list_sort_key(datetime!(2026-01-02 03:04:05.5 UTC), "x").unwrap();
        assert_eq!(a, "2026-01-01T19:04:05.000000000Z#x");
        assert_eq!(b, "2026-01-02T03:04:05.500000000Z#x");
        assert!(a < b);
        assert!(is_list_sort_key(&a));
        assert!(!is_list_sort_key("2026-01-01#x"));
        assert!(!is_list_sort_key("2026-01-01T19:04:05.000000000Z#"));
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let after = Cursor::After("2026-01-01T19:04:05.000000000Z#x".into());
        assert_eq!(Cursor::decode(&after.encode()).unwrap(), after);
        let key = Cursor::Key(BTreeMap::from([
            (PK.to_owned(), "REG#x".to_owned()),
            (SK.to_owned(), "REG".to_owned()),
            (BY_OWNER.pk.to_owned(), "REG#o".to_owned()),
            (
                BY_OWNER.sk.to_owned(),
                "2026-01-01T19:04:05.000000000Z#x".to_owned(),
            ),
        ]));
        let decoded = Cursor::decode(&key.encode()).unwrap();
        assert_eq!(decoded, key);
        assert!(decoded.start_key(&BY_OWNER, "REG#o").is_ok());
        assert_eq!(
            decoded.start_key(&BY_OWNER, "REG#other"),
            Err(StoreError::BadCursor)
        );
        assert_eq!(
            decoded.start_key(&BY_UNIT, "REG#o"),
            Err(StoreError::BadCursor)
        );
        for garbage in [
            "",
            "!!!",
            "bm90IGpzb24",
            "e30",
            "eyJrIjoxfQ",
            "eyJhIjoieCJ9",
        ] {
            assert_eq!(
                Cursor::decode(garbage),
                Err(StoreError::BadCursor),
                "{garbage}"
            );
        }
    }

    #[test]
    fn well_formed_numbers_sit_under_their_prefix() {
        assert_eq!(
            keys::number("4422026Y0007"),
            ("NUMSEQ#4422026Y".to_owned(), "0007".to_owned())
        );
        assert_eq!(
            keys::number("bad"),
            ("NUM#bad".to_owned(), "NUM".to_owned())
        );
    }
}
