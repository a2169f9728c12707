//! DynamoDB cost per user action on the AWS backend: every action a person takes runs through
//! the API (the same router the Lambda functions serve) against a local AWS-compatible server,
//! with a DynamoDB client whose interceptor asks every request for its consumed capacity
//! (`ReturnConsumedCapacity=TOTAL`) and records, per request, the operation and the capacity
//! units the answer reports. Where the server reports none, the units are left out and said to
//! be missing rather than guessed.
//!
//! Prints one Markdown table (requests per operation and capacity units per action) and a
//! `RESULT` line per action for `scripts/bench.d/50-dynamodb.sh`; fails if any request was a
//! `Scan`.
//!
//! ```text
//! export MINISTACK_PORT=4599; scripts/ministack.sh start
//! CHENGGUO_TEST_AWS_ENDPOINT=$(scripts/ministack.sh endpoint) cargo bench -p chengguo-tests --bench dynamo_cost
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use chengguo_aws::dynamo::DynamoStore;
use chengguo_tests::{Backend, TestApp, form, pdf_bytes, required_categories};
use http::StatusCode;
use serde_json::{Value, json};

/// One DynamoDB request: its operation and the capacity its answer reported.
#[derive(Debug, Clone, Default)]
struct Call {
    op: String,
    read_units: f64,
    write_units: f64,
    /// Whether the answer carried `ConsumedCapacity`.
    reported: bool,
}

/// Asks every request for its consumed capacity and records what each answer says.
#[derive(Debug, Clone, Default)]
struct Meter(Arc<Mutex<Vec<Call>>>);

impl Meter {
    fn calls(&self) -> Vec<Call> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Operations that accept `ReturnConsumedCapacity`.
const METERED: &[&str] = &[
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
];

fn units(v: &Value) -> (f64, f64) {
    // Read and write units of one ConsumedCapacity object: the split when given, otherwise
    // CapacityUnits counted as read or write by the caller.
    let r = v["ReadCapacityUnits"].as_f64().unwrap_or(0.0);
    let w = v["WriteCapacityUnits"].as_f64().unwrap_or(0.0);
    (r, w)
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "MeterCapacity"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let req = context.request_mut();
        let target = req.headers().get("x-amz-target").unwrap_or("?").to_owned();
        let op = target.rsplit('.').next().unwrap_or(&target).to_owned();
        if METERED.contains(&op.as_str())
            && let Some(bytes) = req.body().bytes()
            && let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(bytes)
        {
            body.insert("ReturnConsumedCapacity".into(), "TOTAL".into());
            let new = serde_json::to_vec(&body)?;
            req.headers_mut()
                .insert("content-length", new.len().to_string());
            *req.body_mut() = new.into();
        }
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(Call {
            op,
            ..Call::default()
        });
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let Some(bytes) = context.response().body().bytes() else {
            return Ok(());
        };
        let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
            return Ok(());
        };
        let mut calls = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(call) = calls.last_mut() else {
            return Ok(());
        };
        let list = match &v["ConsumedCapacity"] {
            Value::Array(a) => a.clone(),
            Value::Object(_) => vec![v["ConsumedCapacity"].clone()],
            _ => return Ok(()),
        };
        let writes = matches!(
            call.op.as_str(),
            "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems"
        );
        for c in &list {
            let (r, w) = units(c);
            let total = c["CapacityUnits"].as_f64().unwrap_or(0.0);
            if r + w > 0.0 {
                call.read_units += r;
                call.write_units += w;
            } else if writes {
                call.write_units += total;
            } else {
                call.read_units += total;
            }
            call.reported = true;
        }
        Ok(())
    }
}

/// What one action cost.
struct Cost {
    action: &'static str,
    ops: BTreeMap<String, usize>,
    read_units: f64,
    write_units: f64,
    unreported: usize,
}

/// On-demand prices in us-east-1 (USD per million request units; standard table class).
const USD_PER_MILLION_WRU: f64 = 0.625;
const USD_PER_MILLION_RRU: f64 = 0.125;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(endpoint) = chengguo_tests::aws_endpoint() else {
        eprintln!("dynamo_cost: set CHENGGUO_TEST_AWS_ENDPOINT (scripts/ministack.sh endpoint)");
        std::process::exit(2);
    };
    // The app of the tests (bucket, verified SES sender, manual clock), with its store
    // replaced by one on a metered client and a table of its own.
    let app = TestApp::new(Backend::Aws).await.expect("aws app");
    let meter = Meter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        chengguo_aws::setup::dynamo_config_for_endpoint(&endpoint)
            .interceptor(meter.clone())
            .build(),
    );
    let table = chengguo_tests::unique("cost");
    chengguo_aws::setup::ensure_table(&client, &table)
        .await
        .expect("table");
    let mut state = app.state.clone();
    state.store = Arc::new(DynamoStore::new(client.clone(), table.clone()));
    chengguo_api::seed::seed_demo(state.store.as_ref(), chengguo_tests::START)
        .await
        .expect("seed");
    let app = app.with_state(state);

    let mut costs: Vec<Cost> = Vec::new();
    let mut mark = meter.calls().len();
    let mut take = |action: &'static str, costs: &mut Vec<Cost>| {
        let calls = meter.calls();
        let mine = &calls[mark..];
        mark = calls.len();
        let mut ops = BTreeMap::new();
        for c in mine {
            *ops.entry(c.op.clone()).or_insert(0) += 1;
        }
        costs.push(Cost {
            action,
            ops,
            read_units: mine.iter().map(|c| c.read_units).sum(),
            write_units: mine.iter().map(|c| c.write_units).sum(),
            unreported: mine
                .iter()
                .filter(|c| !c.reported && METERED.contains(&c.op.as_str()))
                .count(),
        });
    };

    let leader = app.login("leader").await;
    take("login", &mut costs);
    let dept = app.login("dept").await;
    let unit = app.login("unit").await;
    let point = app.login("point").await;
    let _ = take_silently(&mut take);

    let created = leader
        .post(
            "/api/registrations",
            json!({"kind": "applied", "source": "other_fiscal", "consent": true}),
        )
        .await
        .expect(StatusCode::CREATED);
    take("create", &mut costs);
    let id = created["id"].as_str().expect("id").to_owned();
    leader
        .patch(
            &format!("/api/registrations/{id}"),
            json!({"version": created["version"], "fields": form("applied")}),
        )
        .await
        .expect(StatusCode::OK);
    take("patch (whole form)", &mut costs);
    for cat in required_categories("applied") {
        leader
            .upload(
                &id,
                cat,
                &format!("{cat}.pdf"),
                "application/pdf",
                &pdf_bytes(cat),
            )
            .await
            .expect(StatusCode::OK);
    }
    let _ = take_silently(&mut take);
    leader
        .get(&format!("/api/registrations/{id}/check"))
        .await
        .expect(StatusCode::OK);
    take("check", &mut costs);
    let mut version = leader.record(&id).await["version"].clone();
    take("read record", &mut costs);
    // Each action is sent at the version the previous answer gave, so only its own requests
    // are counted.
    let steps: [(
        &chengguo_tests::Client<'_>,
        &'static str,
        &'static str,
        Value,
    ); 6] = [
        (&leader, "submit", "submit", json!({})),
        (&dept, "pass", "pass (department)", json!({})),
        (
            &unit,
            "return",
            "return (unit)",
            json!({"opinion": "请补充材料。"}),
        ),
        (&leader, "submit", "submit again", json!({})),
        (&dept, "pass", "pass (department) again", json!({})),
        (&unit, "pass", "pass (unit)", json!({})),
    ];
    for (who, action, label, extra) in steps {
        version = send_action(who, &id, action, &version, extra).await;
        take(label, &mut costs);
    }
    version = send_action(&point, &id, "pass", &version, json!({})).await;
    take("pass (point)", &mut costs);
    version = send_action(&point, &id, "receive_paper", &version, json!({})).await;
    take("receive_paper", &mut costs);
    point
        .get("/api/registrations?limit=20")
        .await
        .expect(StatusCode::OK);
    take("list page (20)", &mut costs);
    let anon = app.anonymous();
    anon.post(
        "/api/public/objections",
        json!({"registration_id": id, "name": "王小明", "unit": "中山市某公司",
               "phone": "13800138000", "email": "wxm@example.com",
               "content": "该成果的完成人排序与实际贡献不符，请核实。"}),
    )
    .await
    .expect(StatusCode::CREATED);
    take("objection (public)", &mut costs);
    let objections = point
        .get(&format!("/api/registrations/{id}"))
        .await
        .expect(StatusCode::OK)["objections"]
        .clone();
    let _ = take_silently(&mut take);
    if let Some(oid) = objections[0]["id"].as_str() {
        point
            .post(
                &format!("/api/objections/{oid}/resolve"),
                json!({"note": "经核实，完成人排序无误，异议不成立。"}),
            )
            .await
            .expect(StatusCode::OK);
        take("resolve objection", &mut costs);
    }
    // Past the website notice; sessions have expired meanwhile.
    app.advance_days(40);
    let point = app.login("point").await;
    let _ = take_silently(&mut take);
    version = send_action(
        &point,
        &id,
        "decide",
        &version,
        json!({"result": "registered", "opinion": "同意登记。"}),
    )
    .await;
    take("decide", &mut costs);
    let xlsx = point
        .get(&format!("/api/registrations/{id}/notice.xlsx"))
        .await;
    assert_eq!(xlsx.status, StatusCode::OK, "notice.xlsx");
    take("export (one record's notice.xlsx)", &mut costs);
    let evidence = point
        .upload(
            &id,
            "reopen_evidence",
            "evidence.pdf",
            "application/pdf",
            &pdf_bytes("e"),
        )
        .await
        .expect(StatusCode::OK);
    let _ = take_silently(&mut take);
    send_action(
        &point,
        &id,
        "reopen",
        &version,
        json!({"opinion": "完成人信息有误。", "evidence_attachment_id": evidence["id"]}),
    )
    .await;
    take("reopen", &mut costs);

    let scans: usize = meter.calls().iter().filter(|c| c.op == "Scan").count();
    print_table(&costs);
    println!();
    println!("RESULT scans={scans}");
    client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .expect("delete table");
    assert_eq!(scans, 0, "a request was a Scan");
}

/// Moves the meter's mark without counting (setup steps between measured actions).
fn take_silently(take: &mut impl FnMut(&'static str, &mut Vec<Cost>)) -> Vec<Cost> {
    let mut sink = Vec::new();
    take("", &mut sink);
    sink
}

/// Sends an action at `version`; the version of the answer.
async fn send_action(
    who: &chengguo_tests::Client<'_>,
    id: &str,
    action: &str,
    version: &Value,
    extra: Value,
) -> Value {
    let mut body = json!({"version": version});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let answer = who
        .post(&format!("/api/registrations/{id}/actions/{action}"), body)
        .await
        .expect(StatusCode::OK);
    answer["version"].clone()
}

fn print_table(costs: &[Cost]) {
    let mut ops: Vec<String> = costs.iter().flat_map(|c| c.ops.keys().cloned()).collect();
    ops.sort();
    ops.dedup();
    println!(
        "| action | {} | read units | write units | USD per 1,000 |",
        ops.join(" | ")
    );
    println!(
        "| --- |{} ---: | ---: | ---: |",
        " ---: |".repeat(ops.len())
    );
    for c in costs {
        let usd =
            (c.read_units * USD_PER_MILLION_RRU + c.write_units * USD_PER_MILLION_WRU) / 1_000.0;
        let cells: Vec<String> = ops
            .iter()
            .map(|o| c.ops.get(o).map(|n| n.to_string()).unwrap_or_default())
            .collect();
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.5} |",
            c.action,
            cells.join(" | "),
            c.read_units,
            c.write_units,
            usd
        );
        if c.unreported > 0 {
            println!(
                "RESULT unreported action={} requests={}",
                c.action, c.unreported
            );
        }
    }
}
