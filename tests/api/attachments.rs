//! Attachments: announce, PUT through the signed URL, confirm (size, type and magic bytes
//! checked), download for users in scope, delete while editable, expiry of unconfirmed uploads,
//! and the point's reopen evidence.

use chengguo_domain::record::Attachment;
use chengguo_tests::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::workflow::{submitted_registration, to_decision_pending};

/// A new 计划外 applied draft of `leader`; returns its id.
pub(crate) async fn draft(leader: &Client<'_>) -> String {
    leader
        .post(
            "/api/registrations",
            json!({"kind": "applied", "source": "other_fiscal", "consent": true}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// The attachments the record shows, and those the attachment list shows.
async fn attachments(client: &Client<'_>, id: &str) -> (Value, Value) {
    let record = client.record(id).await["attachments"].clone();
    let list = client
        .get(&format!("/api/registrations/{id}/attachments"))
        .await
        .expect(StatusCode::OK)["items"]
        .clone();
    (record, list)
}

/// Asserts the record has no attachments at all, by every way of looking.
async fn assert_no_attachments(app: &TestApp, client: &Client<'_>, id: &str) {
    assert_eq!(attachments(client, id).await, (json!([]), json!([])));
    let stored = app.state.store.list_attachments(id).await.expect("list");
    assert!(stored.is_empty(), "stored attachments: {stored:?}");
}

/// Whether bytes are stored under the attachment's key.
async fn stored_size(app: &TestApp, id: &str, aid: &str) -> Option<u64> {
    app.state
        .blobs
        .size(&Attachment::key_for(id, aid))
        .await
        .expect("blob size")
}

/// Sends `bytes` to an upload URL as a browser would: with the URL's headers except
/// `Content-Length`, which the client sets from the bytes it really sends.
async fn put_as_browser(app: &TestApp, upload: &Value, bytes: Vec<u8>) -> StatusCode {
    let headers: Vec<(String, String)> = upload["headers"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("content-length"))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    app.put_url(upload["url"].as_str().expect("url"), &headers, bytes)
        .await
}

fn confirm_path(id: &str, aid: &str) -> String {
    format!("/api/registrations/{id}/attachments/{aid}/confirm")
}

both_backends!(
    a_confirmed_file_cannot_be_replaced_through_its_upload_url,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let pdf = pdf_bytes("技术研究报告");
        let created = leader
            .announce(
                &id,
                "tech_report",
                "技术研究报告.pdf",
                "application/pdf",
                pdf.len(),
            )
            .await
            .expect(StatusCode::CREATED);
        let aid = created["attachment"]["id"].as_str().unwrap().to_owned();
        assert!(
            put_as_browser(&app, &created["upload"], pdf.clone())
                .await
                .is_success()
        );
        let ready = leader
            .post(&confirm_path(&id, &aid), json!({}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(ready["status"], "ready");

        // The URL has not expired, but neither another PDF of the same size nor bytes of
        // another type (which the confirmation would have refused) replace the checked file.
        let mut other = pdf_bytes("另一份报告");
        other.resize(pdf.len(), b' ');
        let mut html = b"<html><script>alert(1)</script>".to_vec();
        html.resize(pdf.len(), b' ');
        for bytes in [other, html] {
            let status = put_as_browser(&app, &created["upload"], bytes).await;
            assert!(status.is_client_error(), "{status}");
        }
        let key = Attachment::key_for(&id, &aid);
        assert_eq!(app.state.blobs.get(&key).await.expect("get"), pdf);
        let record = leader.record(&id).await;
        assert_eq!(record["attachments"][0]["sha256"], ready["sha256"]);
    }
);

both_backends!(
    bytes_that_are_not_what_they_claim_are_refused_and_deleted,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let png = png_bytes();
        let created = leader
            .announce(
                &id,
                "tech_report",
                "技术研究报告.pdf",
                "application/pdf",
                png.len(),
            )
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(created["attachment"]["status"], "pending");
        let aid = created["attachment"]["id"].as_str().unwrap().to_owned();
        let put = app.put_upload(&created["upload"], png.clone()).await;
        assert!(put.is_success(), "{put}");
        assert_eq!(stored_size(&app, &id, &aid).await, Some(png.len() as u64));

        let e = leader
            .post(&confirm_path(&id, &aid), json!({}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(e["error"]["details"][0]["field"], "content_type");
        // The attachment is gone from the record and its bytes deleted.
        assert_no_attachments(&app, &leader, &id).await;
        assert_eq!(stored_size(&app, &id, &aid).await, None);
        leader
            .post(&confirm_path(&id, &aid), json!({}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");

        // The same for a PDF declared as PNG, and random bytes declared as JPEG.
        for (name, ct, bytes) in [
            ("照片.png", "image/png", pdf_bytes("not a png")),
            ("照片.jpg", "image/jpeg", b"GIF89a this is a gif".to_vec()),
        ] {
            let created = leader
                .announce(&id, "test_report", name, ct, bytes.len())
                .await
                .expect(StatusCode::CREATED);
            let aid = created["attachment"]["id"].as_str().unwrap().to_owned();
            assert!(app.put_upload(&created["upload"], bytes).await.is_success());
            leader
                .post(&confirm_path(&id, &aid), json!({}))
                .await
                .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
            assert_eq!(stored_size(&app, &id, &aid).await, None);
        }
        assert_no_attachments(&app, &leader, &id).await;
        // A real PNG declared as PNG is accepted, with its digest.
        let ok = leader
            .upload(&id, "test_report", "检测报告.png", "image/png", &png)
            .await
            .expect(StatusCode::OK);
        assert_eq!(ok["status"], "ready");
        assert_eq!(ok["size"], png.len());
        assert_eq!(ok["sha256"].as_str().map(str::len), Some(64));
    }
);

both_backends!(
    a_size_that_differs_from_the_declared_one_is_refused,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let pdf = pdf_bytes("short");

        // Declared bigger than what is sent: the signed URL refuses the PUT, or confirm does.
        let created = leader
            .announce(
                &id,
                "tech_report",
                "a.pdf",
                "application/pdf",
                pdf.len() + 10,
            )
            .await
            .expect(StatusCode::CREATED);
        let aid = created["attachment"]["id"].as_str().unwrap().to_owned();
        let put = put_as_browser(&app, &created["upload"], pdf.clone()).await;
        let confirm = leader.post(&confirm_path(&id, &aid), json!({})).await;
        let e = confirm.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        if put.is_success() {
            assert_eq!(e["error"]["details"][0]["field"], "size", "{e}");
            assert_no_attachments(&app, &leader, &id).await;
        } else {
            assert!(put.is_client_error(), "{put}");
            // Nothing arrived: confirm says so and the upload stays pending.
            assert_eq!(e["error"]["details"][0]["field"], "attachment", "{e}");
            let (record, _) = attachments(&leader, &id).await;
            assert_eq!(record[0]["status"], "pending");
        }
        assert_eq!(stored_size(&app, &id, &aid).await, None);

        // Declared smaller than what is sent: refused as well.
        let created = leader
            .announce(
                &id,
                "work_summary",
                "b.pdf",
                "application/pdf",
                pdf.len() - 5,
            )
            .await
            .expect(StatusCode::CREATED);
        let aid = created["attachment"]["id"].as_str().unwrap().to_owned();
        let put = put_as_browser(&app, &created["upload"], pdf.clone()).await;
        let confirm = leader.post(&confirm_path(&id, &aid), json!({})).await;
        confirm.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        if put.is_success() {
            assert_eq!(stored_size(&app, &id, &aid).await, None);
        }

        // Bytes of another size stored under the key by any other way: confirm refuses and deletes.
        let created = leader
            .announce(&id, "evaluation", "c.pdf", "application/pdf", 1000)
            .await
            .expect(StatusCode::CREATED);
        let aid = created["attachment"]["id"].as_str().unwrap().to_owned();
        app.state
            .blobs
            .put(
                &Attachment::key_for(&id, &aid),
                pdf.clone(),
                "application/pdf",
            )
            .await
            .expect("put");
        let e = leader
            .post(&confirm_path(&id, &aid), json!({}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(e["error"]["details"][0]["field"], "size");
        assert_eq!(stored_size(&app, &id, &aid).await, None);
        assert!(
            !attachments(&leader, &id)
                .await
                .0
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["id"] == aid.as_str()),
            "the refused attachment is gone"
        );
    }
);

both_backends!(
    announcements_with_wrong_type_extension_category_or_size_are_refused,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let before = leader.record(&id).await["version"].clone();
        for (category, filename, ct, size, field) in [
            (
                "tech_report",
                "report.txt",
                "text/plain",
                100,
                "content_type",
            ),
            (
                "tech_report",
                "report.pdf",
                "text/plain",
                100,
                "content_type",
            ),
            (
                "tech_report",
                "report.doc",
                "application/msword",
                100,
                "content_type",
            ),
            (
                "tech_report",
                "report.pdf",
                "application/PDF",
                100,
                "content_type",
            ),
            (
                "tech_report",
                "report.png",
                "application/pdf",
                100,
                "filename",
            ),
            ("tech_report", "report", "application/pdf", 100, "filename"),
            (
                "tech_report",
                "report.pdf.exe",
                "application/pdf",
                100,
                "filename",
            ),
            ("tech_report", "photo.jpg", "image/png", 100, "filename"),
            ("tech_report", "photo.png", "image/jpeg", 100, "filename"),
            ("tech_report", "report.pdf", "application/pdf", 0, "size"),
            (
                "citation_report",
                "report.pdf",
                "application/pdf",
                100,
                "category",
            ),
            (
                "no_such_category",
                "report.pdf",
                "application/pdf",
                100,
                "category",
            ),
            (
                "reopen_evidence_x",
                "report.pdf",
                "application/pdf",
                100,
                "category",
            ),
        ] {
            let e = leader
                .announce(&id, category, filename, ct, size)
                .await
                .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
            assert_eq!(
                e["error"]["details"][0]["field"], field,
                "{category} {filename} {ct}: {e}"
            );
        }
        // Upper-case extensions and .jpeg are fine.
        for (filename, ct) in [
            ("SCAN.PDF", "application/pdf"),
            ("照片.jpeg", "image/jpeg"),
            ("照片.JPG", "image/jpeg"),
        ] {
            leader
                .announce(&id, "tech_report", filename, ct, 100)
                .await
                .expect(StatusCode::CREATED);
        }
        assert_eq!(
            leader.record(&id).await["version"],
            before,
            "uploads do not change the version"
        );
        let (record, _) = attachments(&leader, &id).await;
        assert_eq!(
            record.as_array().unwrap().len(),
            3,
            "only the three accepted announcements"
        );
    }
);

both_backends!(
    files_over_the_size_limits_are_too_large,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        const MB: usize = 1024 * 1024;
        for (filename, ct, size) in [
            ("big.pdf", "application/pdf", 20 * MB + 1),
            ("big.png", "image/png", 10 * MB + 1),
            ("big.jpg", "image/jpeg", 10 * MB + 1),
            ("huge.pdf", "application/pdf", usize::MAX / 2),
        ] {
            leader
                .announce(&id, "tech_report", filename, ct, size)
                .await
                .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
        }
        assert_no_attachments(&app, &leader, &id).await;
        // Exactly at the limits is accepted.
        for (filename, ct, size) in [
            ("max.pdf", "application/pdf", 20 * MB),
            ("max.png", "image/png", 10 * MB),
            ("max.jpg", "image/jpeg", 10 * MB),
        ] {
            leader
                .announce(&id, "tech_report", filename, ct, size)
                .await
                .expect(StatusCode::CREATED);
        }
    }
);

/// The URL with one character of its signature changed.
fn tampered(url: &str) -> String {
    let at = match url.find("X-Amz-Signature=") {
        Some(i) => i + "X-Amz-Signature=".len(),
        // The local server's token is `payload.signature`.
        None => url.rfind('.').expect("signed token") + 1,
    };
    let mut chars: Vec<char> = url.chars().collect();
    let i = url[..at].chars().count();
    chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
    chars.into_iter().collect()
}

both_backends!(
    a_tampered_upload_url_is_refused_and_stores_nothing,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let pdf = pdf_bytes("tampered");
        let created = leader
            .announce(&id, "tech_report", "a.pdf", "application/pdf", pdf.len())
            .await
            .expect(StatusCode::CREATED);
        let aid = created["attachment"]["id"].as_str().unwrap().to_owned();
        let url = created["upload"]["url"].as_str().unwrap();
        let headers: Vec<(String, String)> = created["upload"]["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let bad = tampered(url);
        assert_ne!(bad, url);
        let status = app.put_url(&bad, &headers, pdf.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(stored_size(&app, &id, &aid).await, None);
        let e = leader
            .post(&confirm_path(&id, &aid), json!({}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(e["error"]["details"][0]["field"], "attachment");

        // Pointing the URL at another key is refused too (embedded: another token; S3: another path).
        let other_key = url.replace(&aid, &uuid::Uuid::new_v4().to_string());
        if other_key != url {
            let status = app.put_url(&other_key, &headers, pdf.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        }
        // The untouched URL still works.
        assert!(app.put_url(url, &headers, pdf.clone()).await.is_success());
        leader
            .post(&confirm_path(&id, &aid), json!({}))
            .await
            .expect(StatusCode::OK);
    }
);

both_backends!(
    an_expired_upload_url_is_refused,
    |app: TestApp| async move {
        if app.backend == Backend::Aws {
            // S3 presigns with the real time, not the test clock: the expiry of presigned URLs on
            // S3 is covered by the blob conformance suite.
            return;
        }
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let pdf = pdf_bytes("late");
        let created = leader
            .announce(&id, "tech_report", "a.pdf", "application/pdf", pdf.len())
            .await
            .expect(StatusCode::CREATED);
        let aid = created["attachment"]["id"].as_str().unwrap().to_owned();
        app.clock
            .advance(time::Duration::minutes(15) + time::Duration::seconds(2));
        let status = app.put_upload(&created["upload"], pdf).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(stored_size(&app, &id, &aid).await, None);
    }
);

both_backends!(
    downloads_redirect_to_the_exact_bytes_for_users_in_scope_only,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let pdf = pdf_bytes("下载内容");
        let a = leader
            .upload(
                &id,
                "tech_report",
                "技术研究报告 (终稿).pdf",
                "application/pdf",
                &pdf,
            )
            .await
            .expect(StatusCode::OK);
        let aid = a["id"].as_str().unwrap().to_owned();
        let path = format!("/api/registrations/{id}/attachments/{aid}/download");

        for who in [
            "leader",
            "dept",
            "unit",
            "point",
            "supervisor",
            "office",
            "admin",
        ] {
            let c = app.login(who).await;
            let r = c.get(&path).await;
            assert_eq!(r.status, StatusCode::FOUND, "{who}: {}", r.text());
            let url = r.headers[http::header::LOCATION].to_str().unwrap();
            let (status, bytes) = app.get_url(url).await;
            assert_eq!(status, StatusCode::OK, "{who}");
            assert_eq!(bytes, pdf, "{who} gets the exact bytes");
        }
        for who in ["unit-b", "leader-b", "leader-nodept"] {
            app.login(who)
                .await
                .get(&path)
                .await
                .expect_error(StatusCode::NOT_FOUND, "not_found");
        }
        // A pending upload cannot be downloaded; neither can an unknown id.
        let pending = leader
            .announce(&id, "work_summary", "b.pdf", "application/pdf", 10)
            .await
            .expect(StatusCode::CREATED);
        let pid = pending["attachment"]["id"].as_str().unwrap();
        leader
            .get(&format!(
                "/api/registrations/{id}/attachments/{pid}/download"
            ))
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        leader
            .get(&format!(
                "/api/registrations/{id}/attachments/no-such-id/download"
            ))
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        // An attachment id used under another record is not found.
        let other = draft(&leader).await;
        leader
            .get(&format!(
                "/api/registrations/{other}/attachments/{aid}/download"
            ))
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
    }
);

both_backends!(
    a_download_url_expires_after_five_minutes,
    |app: TestApp| async move {
        if app.backend == Backend::Aws {
            // S3 presigns with the real time; covered by the blob conformance suite.
            return;
        }
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let pdf = pdf_bytes("soon gone");
        let a = leader
            .upload(&id, "tech_report", "a.pdf", "application/pdf", &pdf)
            .await
            .expect(StatusCode::OK);
        let r = leader
            .get(&format!(
                "/api/registrations/{id}/attachments/{}/download",
                a["id"].as_str().unwrap()
            ))
            .await;
        let url = r.headers[http::header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        app.clock
            .advance(time::Duration::minutes(5) + time::Duration::seconds(2));
        assert_eq!(app.get_url(&url).await.0, StatusCode::FORBIDDEN);
    }
);

both_backends!(
    the_leader_deletes_attachments_in_draft_but_not_after_submitting,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let a = leader
            .upload(
                &id,
                "tech_report",
                "a.pdf",
                "application/pdf",
                &pdf_bytes("x"),
            )
            .await
            .expect(StatusCode::OK);
        let aid = a["id"].as_str().unwrap().to_owned();
        let path = format!("/api/registrations/{id}/attachments/{aid}");
        // Reviewers and other leaders may not delete it.
        app.login("dept")
            .await
            .delete(&path)
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        app.login("unit")
            .await
            .delete(&path)
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        app.login("leader-b")
            .await
            .delete(&path)
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        assert!(stored_size(&app, &id, &aid).await.is_some());

        let r = leader.request(Method::DELETE, &path, None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
        assert_no_attachments(&app, &leader, &id).await;
        assert_eq!(stored_size(&app, &id, &aid).await, None);
        leader
            .delete(&path)
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");

        // After submitting: refused, and the attachment stays.
        let id = submitted_registration(&leader, "applied").await;
        let before = attachments(&leader, &id).await;
        let aid = before.0[0]["id"].as_str().unwrap().to_owned();
        leader
            .delete(&format!("/api/registrations/{id}/attachments/{aid}"))
            .await
            .expect_error(StatusCode::CONFLICT, "invalid_state");
        leader
            .announce(&id, "tech_report", "more.pdf", "application/pdf", 10)
            .await
            .expect_error(StatusCode::CONFLICT, "invalid_state");
        assert_eq!(attachments(&leader, &id).await, before);
        assert!(stored_size(&app, &id, &aid).await.is_some());
    }
);

both_backends!(
    unconfirmed_uploads_expire_and_are_swept_away,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let pdf = pdf_bytes("never confirmed");
        let kept = leader
            .upload(&id, "tech_report", "kept.pdf", "application/pdf", &pdf)
            .await
            .expect(StatusCode::OK);
        let created = leader
            .announce(
                &id,
                "work_summary",
                "pending.pdf",
                "application/pdf",
                pdf.len(),
            )
            .await
            .expect(StatusCode::CREATED);
        let aid = created["attachment"]["id"].as_str().unwrap().to_owned();
        assert!(
            app.put_upload(&created["upload"], pdf.clone())
                .await
                .is_success()
        );
        let announced_only = leader
            .announce(&id, "evaluation", "never-sent.pdf", "application/pdf", 10)
            .await
            .expect(StatusCode::CREATED);
        let other_aid = announced_only["attachment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // Not yet expired: nothing to sweep.
        assert_eq!(
            chengguo_api::routes::attachments::sweep_expired(&app.state)
                .await
                .unwrap(),
            0
        );

        app.clock.advance(time::Duration::minutes(31));
        // Expired uploads are no longer shown even before the sweep.
        let (record, list) = attachments(&leader, &id).await;
        assert_eq!(record.as_array().unwrap().len(), 1, "{record}");
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        let leader = app.login("leader").await;
        let swept = chengguo_api::routes::attachments::sweep_expired(&app.state)
            .await
            .unwrap();
        assert!(swept >= 2, "swept {swept}");
        let stored = app.state.store.list_attachments(&id).await.unwrap();
        assert_eq!(
            stored.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            vec![kept["id"].as_str().unwrap()]
        );
        assert_eq!(stored_size(&app, &id, &aid).await, None);
        assert_eq!(stored_size(&app, &id, &other_aid).await, None);
        assert!(
            stored_size(&app, &id, kept["id"].as_str().unwrap())
                .await
                .is_some()
        );
        leader
            .post(&confirm_path(&id, &aid), json!({}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(
            chengguo_api::routes::attachments::sweep_expired(&app.state)
                .await
                .unwrap(),
            0
        );
    }
);

both_backends!(
    filenames_with_path_separators_or_control_characters_are_refused,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        for name in [
            "../../etc/passwd.pdf",
            "..\\..\\windows\\win.ini.pdf",
            "a/b.pdf",
            "/abs.pdf",
            "C:\\temp\\x.pdf",
            "nul\u{0}.pdf",
            "line\nbreak.pdf",
            "   ",
            "",
        ] {
            let e = leader
                .announce(&id, "tech_report", name, "application/pdf", 10)
                .await
                .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
            assert_eq!(
                e["error"]["details"][0]["field"], "filename",
                "{name:?}: {e}"
            );
        }
        let long = format!("{}.pdf", "长".repeat(120));
        leader
            .announce(&id, "tech_report", &long, "application/pdf", 10)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_no_attachments(&app, &leader, &id).await;

        // A name with dots but no separator is only a name: stored by id, served back as given.
        let pdf = pdf_bytes("dots");
        let a = leader
            .upload(&id, "tech_report", "..报告..pdf", "application/pdf", &pdf)
            .await
            .expect(StatusCode::OK);
        assert_eq!(a["filename"], "..报告..pdf");
        let aid = a["id"].as_str().unwrap();
        assert_eq!(stored_size(&app, &id, aid).await, Some(pdf.len() as u64));
    }
);

both_backends!(
    reopen_evidence_is_uploaded_only_by_the_point_on_decided_records,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = submitted_registration(&leader, "applied").await;
        to_decision_pending(&app, &id).await;
        let point = app.login("point").await;
        let pdf = pdf_bytes("evidence");

        // Not decided yet.
        point
            .announce(
                &id,
                "reopen_evidence",
                "佐证.pdf",
                "application/pdf",
                pdf.len(),
            )
            .await
            .expect_error(StatusCode::CONFLICT, "invalid_state");

        app.advance_days(30);
        let point = app.login("point").await;
        let leader = app.login("leader").await;
        point
            .act(
                &id,
                "decide",
                json!({"result": "registered", "opinion": "予以登记"}),
            )
            .await
            .expect(StatusCode::OK);
        let before = attachments(&point, &id).await;

        // Only the point, and only evidence.
        for who in ["leader", "unit", "dept", "office", "admin", "supervisor"] {
            app.login(who)
                .await
                .announce(
                    &id,
                    "reopen_evidence",
                    "佐证.pdf",
                    "application/pdf",
                    pdf.len(),
                )
                .await
                .expect_error(StatusCode::FORBIDDEN, "forbidden");
        }
        app.login("unit-b")
            .await
            .announce(
                &id,
                "reopen_evidence",
                "佐证.pdf",
                "application/pdf",
                pdf.len(),
            )
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        point
            .announce(&id, "tech_report", "报告.pdf", "application/pdf", pdf.len())
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        leader
            .announce(&id, "tech_report", "报告.pdf", "application/pdf", pdf.len())
            .await
            .expect_error(StatusCode::CONFLICT, "invalid_state");
        assert_eq!(attachments(&point, &id).await, before);

        let evidence = point
            .upload(&id, "reopen_evidence", "佐证.pdf", "application/pdf", &pdf)
            .await
            .expect(StatusCode::OK);
        assert_eq!(evidence["status"], "ready");
        // The leader cannot delete the point's evidence.
        leader
            .delete(&format!(
                "/api/registrations/{id}/attachments/{}",
                evidence["id"].as_str().unwrap()
            ))
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        let r = point
            .act(
                &id,
                "reopen",
                json!({"opinion": "登记信息有误", "evidence_attachment_id": evidence["id"]}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["state"], "decision_pending");
        // Once reopened, no more evidence uploads.
        point
            .announce(
                &id,
                "reopen_evidence",
                "更多.pdf",
                "application/pdf",
                pdf.len(),
            )
            .await
            .expect_error(StatusCode::CONFLICT, "invalid_state");
        // And on a draft the point has nothing to upload.
        let draft_id = draft(&leader).await;
        let e = point
            .announce(
                &draft_id,
                "reopen_evidence",
                "佐证.pdf",
                "application/pdf",
                pdf.len(),
            )
            .await;
        e.expect_error(StatusCode::CONFLICT, "invalid_state");
    }
);
