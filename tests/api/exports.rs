//! xlsx exports (公示信息 of one record or many, the list) and the xlsx import of projects. The
//! workbooks are opened with calamine and read cell by cell.

use std::io::Cursor;

use calamine::{Data, Range, Reader, Xlsx};
use chengguo_tests::*;
use futures::StreamExt;
use http::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::workflow::{submitted_registration, to_decision_pending};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const REFUSAL: &str = "您选择的成果登记，在成果登记点未接收纸质材料之前，无法导出公示信息。";

/// RFC 5987 percent-encoding, as the answer's `filename*` uses.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Checks the download headers and opens the workbook.
#[track_caller]
fn workbook(resp: &Response, name_prefix: &str) -> Xlsx<Cursor<Vec<u8>>> {
    assert_eq!(resp.status, StatusCode::OK, "body: {}", resp.text());
    let h = |n: header::HeaderName| {
        resp.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(h(header::CONTENT_TYPE), XLSX);
    assert_eq!(h(header::CACHE_CONTROL), "no-store");
    let disposition = h(header::CONTENT_DISPOSITION);
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    let encoded = format!("filename*=UTF-8''{}", percent(name_prefix));
    assert!(disposition.contains(&encoded), "{disposition}");
    assert!(disposition.ends_with(".xlsx"), "{disposition}");
    Xlsx::new(Cursor::new(resp.body.clone())).expect("a valid xlsx workbook")
}

fn first_sheet(wb: &mut Xlsx<Cursor<Vec<u8>>>) -> Range<Data> {
    wb.worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable")
}

/// Every cell's text.
fn cells(range: &Range<Data>) -> Vec<String> {
    range.rows().flatten().map(|c| c.to_string()).collect()
}

/// The value right of the label `label` in a sheet of labels and values.
fn value_of<'a>(range: &'a Range<Data>, label: &str) -> &'a Data {
    range
        .rows()
        .find(|r| {
            r.first()
                .is_some_and(|c| matches!(c, Data::String(s) if s == label))
        })
        .and_then(|r| r.get(1))
        .unwrap_or_else(|| panic!("no row {label}"))
}

/// The column of a header in the first row.
fn column(range: &Range<Data>, header: &str) -> usize {
    range
        .rows()
        .next()
        .expect("header row")
        .iter()
        .position(|c| matches!(c, Data::String(s) if s == header))
        .unwrap_or_else(|| panic!("no column {header}"))
}

/// Creates a 计划外 record of `leader` with `form`, uploads every material and submits it.
async fn submitted_with(leader: &Client<'_>, kind: &str, form: Value) -> String {
    let created = leader
        .post(
            "/api/registrations",
            json!({"kind": kind, "source": "other_fiscal", "consent": true}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = created["id"].as_str().expect("id").to_owned();
    leader
        .patch(
            &format!("/api/registrations/{id}"),
            json!({"version": created["version"], "fields": form}),
        )
        .await
        .expect(StatusCode::OK);
    for cat in required_categories(kind) {
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
    leader
        .act(&id, "submit", json!({}))
        .await
        .expect(StatusCode::OK);
    id
}

/// A new draft of `leader`.
async fn draft(leader: &Client<'_>) -> String {
    leader
        .post(
            "/api/registrations",
            json!({"kind": "soft", "source": "non_fiscal", "consent": true}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn export_batch(client: &Client<'_>, ids: &[&str]) -> Response {
    client
        .post("/api/exports/notices", json!({ "ids": ids }))
        .await
}

both_backends!(
    exports_the_notice_sheet_of_one_record_to_the_leader_unit_and_point,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = submitted_registration(&leader, "applied").await;
        let path = format!("/api/registrations/{id}/notice.xlsx");

        // Not before the point has received the paper materials.
        let refused = leader
            .get(&path)
            .await
            .expect_error(StatusCode::CONFLICT, "paper_not_received");
        assert_eq!(refused["error"]["message"], REFUSAL);
        assert_eq!(refused["error"]["details"], json!([{"id": id}]));

        to_decision_pending(&app, &id).await;
        let form = form("applied");
        for who in ["leader", "unit", "point"] {
            let client = app.login(who).await;
            let resp = client.get(&path).await;
            let mut wb = workbook(&resp, "科技成果登记信息表-");
            let range = first_sheet(&mut wb);
            assert_eq!(
                range.get_value((0, 0)),
                Some(&Data::String("科技成果登记信息表".into())),
                "{who}"
            );
            assert_eq!(
                value_of(&range, "成果名称"),
                &Data::String(form["title"].as_str().unwrap().into())
            );
            assert_eq!(value_of(&range, "成果类型").to_string(), "应用技术成果");
            assert_eq!(value_of(&range, "成果水平").to_string(), "国内领先");
            assert_eq!(value_of(&range, "评价方式").to_string(), "验收");
            assert_eq!(
                value_of(&range, "第一完成单位").to_string(),
                "中山市华创智能科技有限公司"
            );
            assert_eq!(
                value_of(&range, "完成人员").to_string(),
                "陈志强（中山市华创智能科技有限公司）、黄晓雯（中山市智能制造技术研究院）"
            );
            // The notice windows: paper received today (2026-11-28), 7 and 30 days.
            assert!(matches!(
                value_of(&range, "接收纸质材料日期"),
                Data::DateTime(_)
            ));
            assert_eq!(
                value_of(&range, "单位公示期").to_string(),
                "2026-11-28 至 2026-12-04"
            );
            assert_eq!(
                value_of(&range, "网站公示期").to_string(),
                "2026-11-28 至 2026-12-27"
            );
            let all = cells(&range).join("\n");
            assert!(all.contains("异议") && all.contains("中山市科学技术局"));
            // Never the contact details.
            for secret in [
                form["contact"]["mobile"].as_str().unwrap(),
                form["contact"]["email"].as_str().unwrap(),
            ] {
                assert!(!all.contains(secret), "{who}: {secret} exported");
            }
        }

        // Others who see the record may not export it; outside scope it does not exist.
        for who in ["supervisor", "dept", "office"] {
            app.login(who)
                .await
                .get(&path)
                .await
                .expect_error(StatusCode::FORBIDDEN, "forbidden");
        }
        for who in ["leader-b", "unit-b"] {
            app.login(who)
                .await
                .get(&path)
                .await
                .expect_error(StatusCode::NOT_FOUND, "not_found");
        }
        leader
            .get("/api/registrations/nope/notice.xlsx")
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
    }
);

both_backends!(
    exports_a_batch_in_one_workbook_or_refuses_it_whole,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let point = app.login("point").await;
        let mut received = Vec::new();
        for kind in ["applied", "basic", "soft"] {
            let id = submitted_registration(&leader, kind).await;
            to_decision_pending(&app, &id).await;
            received.push(id);
        }
        let waiting = submitted_registration(&leader, "soft").await;
        let drafted = draft(&leader).await;
        let ids: Vec<&str> = received.iter().map(String::as_str).collect();

        // Three records, three rows under the header, in the order asked.
        let resp = export_batch(&point, &ids).await;
        let mut wb = workbook(&resp, "科技成果登记信息表-3项-");
        let range = first_sheet(&mut wb);
        assert_eq!(range.height(), 4);
        let title = column(&range, "成果名称");
        let kind = column(&range, "成果类型");
        let kinds: Vec<String> = (1..4)
            .map(|r| range.get((r, kind)).unwrap().to_string())
            .collect();
        assert_eq!(kinds, ["应用技术成果", "基础理论成果", "软科学研究成果"]);
        for (r, k) in ["applied", "basic", "soft"].iter().enumerate() {
            assert_eq!(
                range.get((r + 1, title)),
                Some(&Data::String(form(k)["title"].as_str().unwrap().into()))
            );
            // Dates are real dates.
            for h in [
                "评价日期",
                "接收纸质材料日期",
                "单位公示结束",
                "网站公示开始",
            ] {
                assert!(
                    matches!(
                        range.get((r + 1, column(&range, h))),
                        Some(Data::DateTime(_))
                    ),
                    "{h} of row {}",
                    r + 1
                );
            }
        }
        let all = cells(&range).join("\n");
        assert!(!all.contains("13800138000"));
        // The leader and the unit may export the same batch.
        for who in ["leader", "unit"] {
            let resp = export_batch(&app.login(who).await, &ids).await;
            assert_eq!(resp.status, StatusCode::OK, "{who}: {}", resp.text());
        }

        // Any record without paper refuses the whole batch, naming exactly those records.
        let mixed = [
            received[0].as_str(),
            waiting.as_str(),
            received[1].as_str(),
            drafted.as_str(),
        ];
        let resp = export_batch(&leader, &mixed).await;
        let body = resp.expect_error(StatusCode::CONFLICT, "paper_not_received");
        assert_eq!(body["error"]["message"], REFUSAL);
        assert_eq!(
            body["error"]["details"],
            json!([{"id": waiting}, {"id": drafted}])
        );
        assert_ne!(
            resp.headers.get(header::CONTENT_TYPE).unwrap(),
            XLSX,
            "nothing is produced"
        );

        // A record outside the caller's scope is not found, whatever else is wrong.
        let other = draft(&app.login("leader-b").await).await;
        export_batch(
            &leader,
            &[received[0].as_str(), other.as_str(), waiting.as_str()],
        )
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
        export_batch(&app.login("unit-b").await, &ids)
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        // Roles that may not export.
        for who in ["supervisor", "office"] {
            export_batch(&app.login(who).await, &ids)
                .await
                .expect_error(StatusCode::FORBIDDEN, "forbidden");
        }
        // Bad lists of ids.
        export_batch(&point, &[])
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        export_batch(&point, &[ids[0], ids[1], ids[0]])
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        let many: Vec<String> = (0..10_001).map(|i| format!("id-{i}")).collect();
        point
            .post("/api/exports/notices", json!({ "ids": many }))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        point
            .post("/api/exports/notices", json!({"ids": ids, "all": true}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        // A state-changing request needs the CSRF token.
        let mut no_csrf = app.login("point").await;
        no_csrf.csrf = None;
        export_batch(&no_csrf, &ids)
            .await
            .expect_error(StatusCode::FORBIDDEN, "csrf");
    }
);

both_backends!(
    formula_looking_text_is_exported_as_text,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let hyperlink = r#"=HYPERLINK("http://evil","x")"#;
        let mut form = form("applied");
        form["title"] = json!(hyperlink);
        form["keywords"] = json!(["+1"]);
        form["evaluation"]["body"] = json!("-2");
        form["project"]["funding"] = json!("@SUM(A1)");
        let id = submitted_with(&leader, "applied", form).await;
        to_decision_pending(&app, &id).await;

        let resp = leader
            .get(&format!("/api/registrations/{id}/notice.xlsx"))
            .await;
        let mut wb = workbook(&resp, "科技成果登记信息表-");
        let range = first_sheet(&mut wb);
        assert_eq!(
            value_of(&range, "成果名称"),
            &Data::String(hyperlink.into())
        );
        assert_eq!(value_of(&range, "关键词"), &Data::String("+1".into()));
        assert_eq!(value_of(&range, "评价机构"), &Data::String("-2".into()));
        assert_eq!(
            value_of(&range, "经费来源"),
            &Data::String("@SUM(A1)".into())
        );
        let sheet = wb.sheet_names()[0].clone();
        let formulas = wb.worksheet_formula(&sheet).expect("formulas");
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "no cell is a formula"
        );

        let resp = export_batch(&leader, &[id.as_str()]).await;
        let mut wb = workbook(&resp, "科技成果登记信息表-1项-");
        let range = first_sheet(&mut wb);
        for (h, want) in [
            ("成果名称", hyperlink),
            ("关键词", "+1"),
            ("评价机构", "-2"),
            ("经费来源/计划类别", "@SUM(A1)"),
        ] {
            assert_eq!(
                range.get((1, column(&range, h))),
                Some(&Data::String(want.into())),
                "{h}"
            );
        }
        for sheet in wb.sheet_names() {
            let formulas = wb.worksheet_formula(&sheet).expect("formulas");
            assert!(
                formulas.used_cells().all(|(_, _, f)| f.is_empty()),
                "{sheet}"
            );
        }
    }
);

both_backends!(
    exports_the_list_of_the_callers_query,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let submitted = submitted_registration(&leader, "applied").await;
        let drafted = draft(&leader).await;
        let other = draft(&app.login("leader-b").await).await;

        let ids_in = |range: &Range<Data>| -> Vec<String> {
            let c = column(range, "编号");
            range
                .rows()
                .skip(1)
                .map(|r| r[c].to_string())
                .collect::<Vec<_>>()
        };
        let resp = leader
            .get("/api/exports/registrations.xlsx?state=dept_review")
            .await;
        let mut wb = workbook(&resp, "成果登记列表-");
        let range = first_sheet(&mut wb);
        assert_eq!(ids_in(&range), vec![submitted.clone()]);
        assert_eq!(
            range.get((1, column(&range, "状态"))),
            Some(&Data::String("待二级部门审核".into()))
        );
        assert_eq!(
            range.get((1, column(&range, "待处理方"))),
            Some(&Data::String("二级部门".into()))
        );
        assert!(matches!(
            range.get((1, column(&range, "创建时间"))),
            Some(Data::DateTime(_))
        ));

        // Without filters: every record of the leader, none of others.
        let resp = leader.get("/api/exports/registrations.xlsx").await;
        let mut wb = workbook(&resp, "成果登记列表-");
        let mut ids = ids_in(&first_sheet(&mut wb));
        ids.sort();
        let mut want = vec![submitted.clone(), drafted.clone()];
        want.sort();
        assert_eq!(ids, want);
        assert!(!ids.contains(&other));

        // Staff export their own scope the same way; paging parameters are ignored.
        let resp = app
            .login("dept")
            .await
            .get("/api/exports/registrations.xlsx?kind=applied&limit=1")
            .await;
        let mut wb = workbook(&resp, "成果登记列表-");
        assert_eq!(ids_in(&first_sheet(&mut wb)), vec![submitted]);

        leader
            .get("/api/exports/registrations.xlsx?state=nonsense")
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        app.anonymous()
            .get("/api/exports/registrations.xlsx")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
);

/// A workbook of project rows (a number where the cell is all digits), header first.
fn projects_xlsx(rows: &[&[&str]]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (r, cells) in rows.iter().enumerate() {
        for (c, v) in cells.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            if r > 0 && !v.is_empty() && v.chars().all(|ch| ch.is_ascii_digit()) {
                ws.write_number(r, c, v.parse::<f64>().unwrap()).unwrap();
            } else {
                ws.write_string(r, c, *v).unwrap();
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

async fn import(admin: &Client<'_>, bytes: Vec<u8>, content_type: &str) -> Response {
    admin
        .raw(
            Method::POST,
            "/api/projects/import",
            Some(bytes),
            Some(content_type),
        )
        .await
}

both_backends!(
    imports_projects_from_an_xlsx_workbook,
    |app: TestApp| async move {
        let admin = app.login("admin").await;
        // Row 1 header; 2 good; 3 empty; 4 unknown leader; 5 good with a numeric number;
        // 6 without a name; 7 a duplicate of row 2.
        let rows: &[&[&str]] = &[
            &[
                "项目编号",
                "项目名称",
                "计划类别",
                "项目负责人账号",
                "承担单位",
            ],
            &[
                "2024B0101001",
                "新型储能材料关键技术研究",
                "广东省重点领域研发计划",
                "leader-nodept",
                "中山市示范科技有限公司",
            ],
            &[],
            &[
                "2024B0101002",
                "账号不存在",
                "广东省重点领域研发计划",
                "nobody",
                "中山市示范科技有限公司",
            ],
            &[
                "20240101003",
                "智慧农业物联网平台研发",
                "广东省科技创新战略专项",
                "leader-nodept",
                "91442000MA4UJ8K30D",
            ],
            &[
                "2024B0101004",
                "",
                "广东省科技创新战略专项",
                "leader-nodept",
                "中山市示范科技有限公司",
            ],
            &[
                "2024B0101001",
                "重复",
                "广东省重点领域研发计划",
                "leader-nodept",
                "中山市示范科技有限公司",
            ],
        ];
        let bytes = projects_xlsx(rows);
        let report = import(&admin, bytes.clone(), XLSX)
            .await
            .expect(StatusCode::OK);
        assert_eq!(report["created"], json!(["2024B0101001", "20240101003"]));
        let refused: Vec<u64> = report["refused"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["row"].as_u64().unwrap())
            .collect();
        assert_eq!(refused, vec![4, 6, 7]);
        assert!(
            report["refused"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| is_chinese(p["reason"].as_str().unwrap()))
        );

        // Importing again changes nothing; the content type does not matter for a workbook.
        let again = import(&admin, bytes.clone(), "text/csv")
            .await
            .expect(StatusCode::OK);
        assert_eq!(again["created"], json!([]));
        assert_eq!(again["updated"], json!([]));
        assert_eq!(again["unchanged"], json!(["2024B0101001", "20240101003"]));

        // Only the good rows became projects.
        let list = admin.get("/api/projects").await.expect(StatusCode::OK);
        let mut numbers: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["number"].as_str().unwrap())
            .collect();
        numbers.sort();
        assert_eq!(numbers, ["20240101003", "2024B0101001"]);

        // Other types (an old .xls among them) are refused; a broken workbook is a validation
        // error.
        import(&admin, b"a,b".to_vec(), "application/json")
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        import(&admin, b"not a workbook".to_vec(), XLSX)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        import(
            &admin,
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest".to_vec(),
            "application/vnd.ms-excel",
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        let missing = projects_xlsx(&[&["项目编号", "项目名称"], &["1", "x"]]);
        let body = import(&admin, missing, XLSX)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("计划类别")
        );
        // Only the administrator imports.
        import(&app.login("office").await, bytes, XLSX)
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
    }
);

/// Stores `n` records of `username` directly (decision pending, paper received unless
/// `without_paper` holds the index), newest last; returns their ids in order.
async fn stored_records(
    app: &TestApp,
    username: &str,
    n: usize,
    without_paper: &[usize],
) -> Vec<String> {
    use chengguo_domain::ports::{RegistrationWrite, WriteSet};
    let store = app.state.store.as_ref();
    let owner = store.find_user(username).await.unwrap().expect("user");
    let unit = store
        .get_unit(owner.unit_id.as_deref().unwrap())
        .await
        .unwrap();
    let authority = store.list_authorities().await.unwrap()[0].id.clone();
    let now = app.state.clock.now();
    let ids: Vec<String> = (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let writes = ids.iter().enumerate().map(|(i, id)| {
        let (mut reg, event) = chengguo_api::service::new_draft(
            id.clone(),
            &owner,
            unit.as_ref(),
            &authority,
            chengguo_domain::Source::NonFiscal,
            Some(chengguo_domain::Kind::Soft),
            now + time::Duration::seconds(i as i64),
        );
        reg.fields.title = Some(format!("批量成果{i:04}"));
        if !without_paper.contains(&i) {
            reg.state = chengguo_domain::State::DecisionPending;
            reg.notice = Some(chengguo_domain::Notice::open(
                app.state.clock.today(),
                7,
                30,
            ));
        }
        store.commit(WriteSet {
            registrations: vec![RegistrationWrite {
                record: reg,
                expected_version: None,
                event: Some(event),
            }],
            ..WriteSet::default()
        })
    });
    let results = futures::stream::iter(writes)
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    ids
}

both_backends!(
    streams_large_batches_and_lists_of_many_pages,
    |app: TestApp| async move {
        // More records than a batch keeps in memory, and than one list page holds.
        let ids = stored_records(&app, "leader-nodept", 620, &[]).await;
        let leader = app.login("leader-nodept").await;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();

        let resp = export_batch(&leader, &refs).await;
        let mut wb = workbook(&resp, "科技成果登记信息表-620项-");
        let range = first_sheet(&mut wb);
        assert_eq!(range.height(), 621);
        let title = column(&range, "成果名称");
        for (r, want) in [
            (1, "批量成果0000"),
            (300, "批量成果0299"),
            (620, "批量成果0619"),
        ] {
            assert_eq!(range.get((r, title)), Some(&Data::String(want.into())));
        }

        let resp = leader.get("/api/exports/registrations.xlsx").await;
        let mut wb = workbook(&resp, "成果登记列表-");
        let range = first_sheet(&mut wb);
        assert_eq!(range.height(), 621, "every page of the list");
        let c = column(&range, "编号");
        let mut listed: Vec<String> = range.rows().skip(1).map(|r| r[c].to_string()).collect();
        listed.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(listed, want);

        // A large batch is refused whole too, naming the records without paper.
        let more = stored_records(&app, "leader-nodept", 3, &[0, 2]).await;
        let mut all = refs.clone();
        all.extend(more.iter().map(String::as_str));
        let body = export_batch(&leader, &all)
            .await
            .expect_error(StatusCode::CONFLICT, "paper_not_received");
        assert_eq!(
            body["error"]["details"],
            json!([{"id": more[0]}, {"id": more[2]}])
        );
    }
);
