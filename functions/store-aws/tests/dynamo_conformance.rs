//! The storage suite against `DynamoStore` on a local AWS-compatible server (ministack).
//!
//! Start it with `scripts/ministack.sh start` and set
//! `CHENGGUO_TEST_AWS_ENDPOINT=http://127.0.0.1:4566`; without the variable the tests are skipped.
//!
//! Each case gets a table of its own, created by `ensure_table`, and a client that records the
//! name of every DynamoDB operation it sends: after each case the test asserts that no `Scan`
//! was among them, so the whole suite proves that every read is a key lookup or a query.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, IndexStatus, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus, TimeToLiveStatus,
};
use chengguo_aws::dynamo::{DynamoStore, PageBudget};
use chengguo_aws::setup::{
    BY_DUE, client_for_endpoint, dynamo_config_for_endpoint, ensure_bucket, ensure_table,
    table_definition,
};
use chengguo_conformance::store;
use chengguo_domain::ports::{ListFilter, Store, StoreError, WriteSet};
use chengguo_domain::record::MailStatus;
use chengguo_domain::scope::ListScope;

fn endpoint() -> Option<String> {
    match std::env::var("CHENGGUO_TEST_AWS_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e),
        _ => {
            println!("skipped: CHENGGUO_TEST_AWS_ENDPOINT not set");
            None
        }
    }
}

/// Records the operation (`X-Amz-Target`) of every request the client sends.
#[derive(Debug, Clone, Default)]
struct Operations(Arc<Mutex<Vec<String>>>);

impl Operations {
    fn names(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Intercept for Operations {
    fn name(&self) -> &'static str {
        "RecordOperations"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let op = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(op);
        Ok(())
    }
}

/// A client recording its operations, and a fresh table made by `ensure_table`.
async fn fresh_table(endpoint: &str) -> (Client, Operations, String) {
    let ops = Operations::default();
    let client = Client::from_conf(
        dynamo_config_for_endpoint(endpoint)
            .interceptor(ops.clone())
            .build(),
    );
    let table = format!("chengguo-test-{}", uuid::Uuid::new_v4().simple());
    let created = ensure_table(&client, &table).await.expect("ensure_table");
    assert!(created, "a new table is created");
    (client, ops, table)
}

async fn drop_table(client: &Client, table: &str) {
    client
        .delete_table()
        .table_name(table)
        .send()
        .await
        .expect("delete table");
}

/// Runs one case on a store of its own table, drops the table, and checks that no operation
/// of the case was a `Scan`.
async fn run_case(name: &str) {
    let Some(endpoint) = endpoint() else { return };
    let (_, case) = store::CASES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no case {name} in the suite"));
    let (client, ops, table) = fresh_table(&endpoint).await;
    let store: Arc<dyn Store> = Arc::new(DynamoStore::new(client.clone(), &table));
    let before = ops.names().len();
    let outcome = tokio::spawn(case(store)).await;
    drop_table(&client, &table).await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => panic!("case {name} did not finish: {e}"),
        }
    }
    let used = ops.names()[before..].to_vec();
    assert!(
        !used.is_empty(),
        "case {name}: the interceptor saw the case's requests"
    );
    assert!(
        !used.iter().any(|op| op == "Scan"),
        "case {name} used Scan: {used:?}"
    );
}

macro_rules! suite {
    ($($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                run_case(stringify!($case)).await;
            }
        )+

        /// The cases run here are exactly the suite's: a case added to the suite fails this
        /// test until it is added above.
        #[test]
        fn every_case_of_the_suite_runs_here() {
            let here: Vec<&str> = vec![$(stringify!($case)),+];
            let suite: Vec<&str> = store::CASES.iter().map(|(name, _)| *name).collect();
            assert_eq!(here, suite);
        }
    };
}

suite!(
    organisation,
    users_and_sessions,
    insert_registration,
    guarded_update,
    concurrent_commits,
    numbers,
    concurrent_claims,
    list_scopes,
    updates_move_records_between_scopes,
    list_filters,
    list_order_and_paging,
    bad_cursor,
    events_and_project_links,
    attachments,
    projects,
    project_writes_are_atomic,
    objections,
    mail_is_queued_with_its_transition,
    due_mail,
    mail_updates,
    mail_listings,
    counters,
    concurrent_counters,
    reads_together,
);

/// The recorder behind the no-`Scan` checks does see a `Scan` when one is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operation_recorder_sees_a_scan() {
    let Some(endpoint) = endpoint() else { return };
    let (client, ops, table) = fresh_table(&endpoint).await;
    client.scan().table_name(&table).send().await.expect("scan");
    drop_table(&client, &table).await;
    let names = ops.names();
    assert!(names.iter().any(|op| op == "CreateTable"), "{names:?}");
    assert!(names.iter().any(|op| op == "Scan"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_table_creates_the_defined_indexes_once_and_enables_ttl() {
    let Some(endpoint) = endpoint() else { return };
    let (client, _s3) = client_for_endpoint(&endpoint).await;
    let table = format!("chengguo-test-{}", uuid::Uuid::new_v4().simple());
    assert!(ensure_table(&client, &table).await.expect("first ensure"));
    assert!(
        !ensure_table(&client, &table).await.expect("second ensure"),
        "an existing table is left as it is"
    );

    let desc = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("describe");
    let t = desc.table().expect("table description");
    assert_eq!(t.table_status(), Some(&TableStatus::Active));
    let def = table_definition();
    let mut have: Vec<(String, Vec<String>)> = t
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            assert_eq!(g.index_status(), Some(&IndexStatus::Active));
            (
                g.index_name().unwrap_or_default().to_owned(),
                g.key_schema()
                    .iter()
                    .map(|k| k.attribute_name().to_owned())
                    .collect(),
            )
        })
        .collect();
    have.sort();
    let mut want: Vec<(String, Vec<String>)> = def
        .gsis
        .iter()
        .map(|g| (g.name.to_owned(), vec![g.pk.to_owned(), g.sk.to_owned()]))
        .collect();
    want.sort();
    assert_eq!(have, want);

    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .expect("describe ttl");
    let ttl = ttl.time_to_live_description().expect("ttl description");
    assert_eq!(ttl.attribute_name(), Some(def.ttl_attribute));
    assert!(matches!(
        ttl.time_to_live_status(),
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ));
    drop_table(&client, &table).await;
}

/// A table made by an older version, lacking indexes, gets them added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_table_adds_missing_indexes_to_an_existing_table() {
    let Some(endpoint) = endpoint() else { return };
    let (client, _s3) = client_for_endpoint(&endpoint).await;
    let table = format!("chengguo-test-{}", uuid::Uuid::new_v4().simple());
    let def = table_definition();
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key")
    };
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(def.pk))
        .attribute_definitions(attr(def.sk))
        .key_schema(key(def.pk, KeyType::Hash))
        .key_schema(key(def.sk, KeyType::Range))
        .send()
        .await
        .expect("create a bare table");

    assert!(!ensure_table(&client, &table).await.expect("ensure"));
    let desc = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("describe");
    let mut names: Vec<&str> = desc
        .table()
        .expect("table")
        .global_secondary_indexes()
        .iter()
        .filter_map(|g| g.index_name())
        .collect();
    names.sort_unstable();
    let mut want: Vec<&str> = def.gsis.iter().map(|g| g.name).collect();
    want.sort_unstable();
    assert_eq!(names, want);
    drop_table(&client, &table).await;
}

/// Pages of a filtered merge of several units still visit every match once, newest first,
/// with many non-matching records between them; the cursor of one scope is refused by another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_units_page_through_sparse_matches_without_scanning() {
    let Some(endpoint) = endpoint() else { return };
    let (client, ops, table) = fresh_table(&endpoint).await;
    let s = DynamoStore::new(client.clone(), &table);
    let regs: Vec<_> = (0..40i64)
        .map(|i| {
            let unit = ["unit-a", "unit-b", "unit-c"][(i % 3) as usize];
            let mut r = store::sample_registration(
                &format!("m-{i:02}"),
                "user-1",
                unit,
                None,
                "auth-1",
                store::at(i),
            );
            if i % 9 == 0 {
                r.fields.title = Some(format!("needle {i}"));
            }
            r
        })
        .collect();
    store::seed_registrations(&s, &regs).await;

    let scope = ListScope::Units(vec!["unit-c".into(), "unit-a".into(), "unit-a".into()]);
    let filter = ListFilter {
        q: Some("NEEDLE".into()),
        ..ListFilter::default()
    };
    let want: Vec<String> = regs
        .iter()
        .rev()
        .filter(|r| scope.contains(r) && filter.matches(r))
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(want, ["m-36", "m-27", "m-18", "m-09", "m-00"]);
    for limit in [1, 2, 3, 10] {
        let got = store::list_all(&s, &scope, &filter, limit).await;
        let got: Vec<String> = got.into_iter().map(|r| r.id).collect();
        assert_eq!(got, want, "pages of {limit}");
    }

    let page = s
        .list_registrations(&scope, &ListFilter::default(), 2, None)
        .await
        .expect("first page");
    let cursor = page.next_cursor.expect("more follow");
    assert_eq!(
        s.list_registrations(
            &ListScope::Unit("unit-a".into()),
            &ListFilter::default(),
            2,
            Some(&cursor)
        )
        .await,
        Err(StoreError::BadCursor),
        "a merge cursor is not a single-partition cursor"
    );
    let single = s
        .list_registrations(
            &ListScope::Unit("unit-a".into()),
            &ListFilter::default(),
            2,
            None,
        )
        .await
        .expect("unit page")
        .next_cursor
        .expect("more follow");
    for other in [
        ListScope::Unit("unit-b".into()),
        ListScope::All,
        scope.clone(),
    ] {
        assert_eq!(
            s.list_registrations(&other, &ListFilter::default(), 2, Some(&single))
                .await,
            Err(StoreError::BadCursor),
            "a cursor of unit-a on {other:?}"
        );
    }
    drop_table(&client, &table).await;
    assert!(!ops.names().iter().any(|op| op == "Scan"));
}

/// `ensure_bucket` (beside `ensure_table` in `setup-aws`): creates a private, encrypted bucket
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_bucket_creates_a_private_encrypted_bucket_once() {
    let Some(endpoint) = endpoint() else { return };
    let (_dynamo, s3) = client_for_endpoint(&endpoint).await;
    let bucket = format!("chengguo-test-{}", uuid::Uuid::new_v4().simple());
    assert!(ensure_bucket(&s3, &bucket).await.expect("first ensure"));
    assert!(!ensure_bucket(&s3, &bucket).await.expect("second ensure"));
    let block = s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .expect("public access block");
    let block = block
        .public_access_block_configuration()
        .expect("configuration");
    assert_eq!(block.block_public_acls(), Some(true));
    assert_eq!(block.restrict_public_buckets(), Some(true));
    let enc = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .expect("encryption");
    let algorithm = enc
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_owned());
    assert_eq!(algorithm.as_deref(), Some("AES256"));
    s3.delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("delete bucket");
}

/// With a tiny reading budget pages come back short but never empty, and following their
/// cursors still visits every match exactly once, newest first, in one unit and across units.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_pages_within_a_tiny_budget_still_visit_every_match_once() {
    let Some(endpoint) = endpoint() else { return };
    let (client, ops, table) = fresh_table(&endpoint).await;
    let s = DynamoStore::new(client.clone(), &table).with_page_budget(PageBudget {
        max_calls: 1,
        max_batch: 2,
    });
    let regs: Vec<_> = (0..24i64)
        .map(|i| {
            let unit = if i % 2 == 0 { "unit-a" } else { "unit-b" };
            let mut r = store::sample_registration(
                &format!("t-{i:02}"),
                "user-1",
                unit,
                None,
                "auth-1",
                store::at(i / 2),
            );
            if i % 5 == 0 {
                r.fields.title = Some(format!("needle {i}"));
            }
            r
        })
        .collect();
    store::seed_registrations(&s, &regs).await;

    let needle = ListFilter {
        q: Some("needle".into()),
        ..ListFilter::default()
    };
    let units = ListScope::Units(vec!["unit-a".into(), "unit-b".into()]);
    for (scope, filter) in [
        (ListScope::All, ListFilter::default()),
        (ListScope::All, needle.clone()),
        (ListScope::Unit("unit-a".into()), needle.clone()),
        (units.clone(), needle.clone()),
        (units, ListFilter::default()),
    ] {
        let mut want: Vec<_> = regs
            .iter()
            .filter(|r| scope.contains(r) && filter.matches(r))
            .collect();
        want.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        let want: Vec<&str> = want.iter().map(|r| r.id.as_str()).collect();
        for limit in [1, 3, 5] {
            let mut got = Vec::new();
            let mut short_pages = 0;
            let mut cursor: Option<String> = None;
            for _ in 0..100 {
                let page = s
                    .list_registrations(&scope, &filter, limit, cursor.as_deref())
                    .await
                    .expect("page");
                assert!(page.items.len() <= limit);
                if page.next_cursor.is_some() {
                    assert!(
                        !page.items.is_empty(),
                        "{scope:?} {filter:?} {limit}: empty page"
                    );
                    short_pages += usize::from(page.items.len() < limit);
                }
                got.extend(page.items.into_iter().map(|r| r.id));
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            assert_eq!(got, want, "{scope:?} {filter:?}, pages of {limit}");
            if limit == 5 && filter == ListFilter::default() {
                assert!(short_pages > 0, "{scope:?}: the budget cut some page short");
            }
        }
    }
    drop_table(&client, &table).await;
    assert!(!ops.names().iter().any(|op| op == "Scan"));
}

/// The operations recorded since `before`.
fn since(ops: &Operations, before: usize) -> Vec<String> {
    ops.names()[before..].to_vec()
}

/// Mail items: only pending jobs sit in the sparse due index, and every mail read is one
/// index `Query` and one consistent `BatchGetItem` of the jobs themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_pending_mail_is_in_the_due_index_and_mail_reads_are_queries() {
    let Some(endpoint) = endpoint() else { return };
    let (client, ops, table) = fresh_table(&endpoint).await;
    let s = DynamoStore::new(client.clone(), &table);
    let pending = store::sample_mail("mail-p", Some("reg-1"), store::at(10));
    let mut sent = store::sample_mail("mail-s", Some("reg-1"), store::at(20));
    sent.status = MailStatus::Sent;
    sent.sent_at = Some(store::at(21));
    s.commit(WriteSet {
        mails: vec![pending.clone(), sent.clone()],
        ..WriteSet::default()
    })
    .await
    .expect("queue");

    let in_due_index = || async {
        let resp = client
            .query()
            .table_name(&table)
            .index_name(BY_DUE.name)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", BY_DUE.pk)
            .expression_attribute_values(":p", AttributeValue::S("MAIL".into()))
            .send()
            .await
            .expect("query the due index");
        resp.items()
            .iter()
            .map(|i| i["pk"].as_s().expect("pk").clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(in_due_index().await, ["MAIL#mail-p"]);

    let before = ops.names().len();
    assert_eq!(
        s.due_mail(store::at(1000), 10).await,
        Ok(vec![pending.clone()])
    );
    assert_eq!(since(&ops, before), ["Query", "BatchGetItem"], "due_mail");
    let before = ops.names().len();
    assert_eq!(
        s.list_mail(MailStatus::Sent, 10).await,
        Ok(vec![sent.clone()])
    );
    assert_eq!(since(&ops, before), ["Query", "BatchGetItem"], "list_mail");
    let before = ops.names().len();
    assert_eq!(
        s.mail_of_registration("reg-1").await,
        Ok(vec![sent.clone(), pending.clone()])
    );
    assert_eq!(
        since(&ops, before),
        ["Query", "BatchGetItem"],
        "mail_of_registration"
    );
    let before = ops.names().len();
    assert_eq!(s.due_mail(store::at(0), 10).await, Ok(vec![]));
    assert_eq!(since(&ops, before), ["Query"], "nothing due, nothing read");

    let mut done = pending.clone();
    done.status = MailStatus::Sent;
    s.put_mail(&done).await.expect("mark sent");
    assert_eq!(in_due_index().await, Vec::<String>::new(), "left the index");
    done.status = MailStatus::Pending;
    s.put_mail(&done).await.expect("queue again");
    assert_eq!(in_due_index().await, ["MAIL#mail-p"], "back in the index");

    drop_table(&client, &table).await;
    assert!(!ops.names().iter().any(|op| op == "Scan"));
}

/// A write set larger than one DynamoDB transaction is refused before anything is sent; one of
/// exactly the limit goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_beyond_the_transaction_limit_is_refused_whole() {
    let Some(endpoint) = endpoint() else { return };
    let (client, ops, table) = fresh_table(&endpoint).await;
    let s = DynamoStore::new(client.clone(), &table);
    let jobs = |n: usize, prefix: &str| -> Vec<_> {
        (0..n)
            .map(|i| store::sample_mail(&format!("{prefix}-{i:03}"), None, store::at(i as i64)))
            .collect()
    };
    let before = ops.names().len();
    match s
        .commit(WriteSet {
            mails: jobs(101, "big"),
            ..WriteSet::default()
        })
        .await
    {
        Err(StoreError::Backend(msg)) => assert!(msg.contains("100"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(since(&ops, before).is_empty(), "nothing was sent");
    assert_eq!(s.get_mail("big-000").await, Ok(None));

    s.commit(WriteSet {
        mails: jobs(100, "full"),
        ..WriteSet::default()
    })
    .await
    .expect("a write of 100 items");
    assert_eq!(
        s.list_mail(MailStatus::Pending, 1000)
            .await
            .map(|v| v.len()),
        Ok(100)
    );
    drop_table(&client, &table).await;
}

/// A counter is one item with its window's end and a time to live; a hit in the window is one
/// `UpdateItem`, a hit after it one failed `UpdateItem` and one `PutItem`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_is_one_item_with_a_time_to_live() {
    let Some(endpoint) = endpoint() else { return };
    let (client, ops, table) = fresh_table(&endpoint).await;
    let s = DynamoStore::new(client.clone(), &table);
    let (t0, end) = (store::far(0), store::far(60));

    let before = ops.names().len();
    assert_eq!(s.bump_counter("login:a", t0, end).await, Ok(1));
    assert_eq!(since(&ops, before), ["UpdateItem"], "a new counter");
    let before = ops.names().len();
    assert_eq!(
        s.bump_counter("login:a", store::far(30), store::far(90))
            .await,
        Ok(2)
    );
    assert_eq!(since(&ops, before), ["UpdateItem"], "a hit in the window");

    let item = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("COUNTER#login:a".into()))
        .key("sk", AttributeValue::S("COUNTER".into()))
        .send()
        .await
        .expect("get")
        .item
        .expect("the counter item");
    let number = |name: &str| item[name].as_n().expect(name).clone();
    assert_eq!(number("count"), "2");
    assert_eq!(
        number("expires_at"),
        end.unix_timestamp_nanos().to_string(),
        "the first hit's window"
    );
    // DynamoDB may remove it a day after its window ends (never earlier by the wall clock).
    assert_eq!(number("ttl"), (end.unix_timestamp() + 86_400).to_string());

    let before = ops.names().len();
    assert_eq!(
        s.bump_counter("login:a", store::far(61), store::far(121))
            .await,
        Ok(1)
    );
    assert_eq!(
        since(&ops, before),
        ["UpdateItem", "PutItem"],
        "a hit after the window"
    );
    drop_table(&client, &table).await;
}
