//! `SesMailer`: the request it makes and how it reports failures, with a scripted client
//! (aws-smithy-mocks, always run), and end to end against a local AWS-compatible server
//! (ministack), which parses the raw message as a mail program would and records what it got.
//!
//! For the server tests start it with `scripts/ministack.sh start` and set
//! `CHENGGUO_TEST_AWS_ENDPOINT=http://127.0.0.1:4566`; without the variable they are skipped.

use std::sync::{Arc, Mutex};

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sesv2::error::ErrorMetadata;
use aws_sdk_sesv2::operation::send_email::{SendEmailError, SendEmailInput, SendEmailOutput};
use aws_sdk_sesv2::types::error::{MessageRejected, TooManyRequestsException};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chengguo_aws::ses::SesMailer;
use chengguo_domain::ports::{Mailer, OutgoingMail};

const SUBJECT: &str = "【科技成果登记】“新型智能灯具控制系统”已批复：予以登记";
const BODY: &str = "您好！\n\n批复结果：予以登记\n成果登记号：4422026Y0007\n\n此邮件由系统自动发送，请勿直接回复。\n";

fn mail(id: &str, to: Vec<String>) -> OutgoingMail {
    OutgoingMail {
        id: id.into(),
        to,
        subject: SUBJECT.into(),
        body: BODY.into(),
    }
}

// ---- the raw message, read back --------------------------------------------------------------

/// Unfolded headers and the decoded text body of a raw message (single part, base64).
struct Raw {
    headers: Vec<(String, String)>,
    text: String,
}

impl Raw {
    fn parse(bytes: &[u8]) -> Raw {
        let s = std::str::from_utf8(bytes).expect("ASCII message");
        let (head, body) = s.split_once("\r\n\r\n").expect("header/body separator");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                headers.last_mut().expect("a header first").1.push_str(line);
            } else {
                let (n, v) = line.split_once(':').expect("name: value");
                headers.push((n.to_string(), v.trim_start().to_string()));
            }
        }
        let raw = Raw {
            headers,
            text: String::new(),
        };
        assert_eq!(raw.header("Content-Transfer-Encoding"), Some("base64"));
        let decoded = STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .expect("base64 body");
        Raw {
            text: String::from_utf8(decoded).expect("utf-8 body"),
            ..raw
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A header with its RFC 2047 `=?utf-8?b?…?=` words decoded (white space between two words
    /// dropped, as the RFC says).
    fn decoded(&self, name: &str) -> String {
        let value = self.header(name).expect("header present");
        let mut out = Vec::new();
        let mut prev_word = false;
        for (i, token) in value.split(' ').enumerate() {
            let word = token
                .strip_prefix("=?utf-8?b?")
                .and_then(|t| t.strip_suffix("?="));
            match word {
                Some(b64) => {
                    out.extend(STANDARD.decode(b64).expect("base64 word"));
                    prev_word = true;
                }
                None => {
                    if i > 0 || prev_word {
                        out.push(b' ');
                    }
                    out.extend_from_slice(token.as_bytes());
                    prev_word = false;
                }
            }
        }
        String::from_utf8(out).expect("utf-8 header")
    }
}

// ---- scripted client --------------------------------------------------------------------------

#[tokio::test]
async fn sends_the_raw_message_with_sender_and_recipients() {
    let seen: Arc<Mutex<Vec<SendEmailInput>>> = Arc::default();
    let record = seen.clone();
    let rule = mock!(Client::send_email).then_compute_output(move |input| {
        record.lock().unwrap().push(input.clone());
        SendEmailOutput::builder().message_id("ses-1").build()
    });
    let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, [&rule]);
    let mailer = SesMailer::new(client, "科技成果登记系统 <noreply@chengguo.example.org>");

    let m = mail(
        "job-42",
        vec!["leader@example.org".into(), "unit@example.org".into()],
    );
    mailer.send(&m).await.expect("sent");
    assert_eq!(rule.num_calls(), 1);

    let input = seen.lock().unwrap().pop().expect("one request");
    assert_eq!(
        input.from_email_address(),
        Some("noreply@chengguo.example.org")
    );
    assert_eq!(
        input.destination().unwrap().to_addresses(),
        ["leader@example.org", "unit@example.org"]
    );
    let content = input.content().unwrap();
    assert!(content.simple().is_none() && content.template().is_none());
    let raw = Raw::parse(content.raw().unwrap().data().as_ref());
    assert_eq!(raw.decoded("Subject"), SUBJECT);
    assert_eq!(
        raw.decoded("From"),
        "科技成果登记系统 <noreply@chengguo.example.org>"
    );
    assert_eq!(
        raw.header("To"),
        Some("leader@example.org, unit@example.org")
    );
    assert_eq!(raw.header("Message-ID"), Some("<job-42@chengguo>"));
    assert_eq!(
        raw.header("Content-Type")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(raw.text, BODY.replace('\n', "\r\n"));
}

#[tokio::test]
async fn service_errors_become_short_readable_texts() {
    let rejected = mock!(Client::send_email)
        .match_requests(|i| {
            i.destination()
                .is_some_and(|d| d.to_addresses() == ["rejected@example.org"])
        })
        .then_error(|| {
            SendEmailError::MessageRejected(
                MessageRejected::builder()
                    .message("Email address is not verified.")
                    .meta(
                        ErrorMetadata::builder()
                            .code("MessageRejected")
                            .message("Email address is not verified.")
                            .build(),
                    )
                    .build(),
            )
        });
    let throttled = mock!(Client::send_email)
        .match_requests(|i| {
            i.destination()
                .is_some_and(|d| d.to_addresses() == ["busy@example.org"])
        })
        .then_error(|| {
            SendEmailError::TooManyRequestsException(TooManyRequestsException::builder().build())
        });
    let client = mock_client!(aws_sdk_sesv2, RuleMode::MatchAny, [&rejected, &throttled]);
    let mailer = SesMailer::new(client, "noreply@chengguo.example.org");

    let err = mailer
        .send(&mail("job-1", vec!["rejected@example.org".into()]))
        .await
        .unwrap_err();
    assert_eq!(
        err.0,
        "邮件服务拒绝发送（MessageRejected）：Email address is not verified."
    );

    let err = mailer
        .send(&mail("job-2", vec!["busy@example.org".into()]))
        .await
        .unwrap_err();
    assert_eq!(err.0, "邮件服务请求过于频繁（TooManyRequestsException）");

    // A message that cannot be built never reaches SES.
    let err = mailer.send(&mail("job-3", Vec::new())).await.unwrap_err();
    assert_eq!(err.0, "没有收件人");
    let err = mailer
        .send(&mail("../job", vec!["a@example.org".into()]))
        .await
        .unwrap_err();
    assert!(err.0.contains("邮件编号无效"), "{err}");
    assert_eq!(rejected.num_calls() + throttled.num_calls(), 2);
}

#[tokio::test]
async fn an_unreachable_service_is_reported() {
    // Nothing listens on port 9 of the loopback address (discard); the connection is refused.
    let conf = aws_sdk_sesv2::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled())
        .build();
    let mailer = SesMailer::new(Client::from_conf(conf), "noreply@example.org");
    let err = mailer
        .send(&mail("job-1", vec!["a@example.org".into()]))
        .await
        .unwrap_err();
    assert!(err.0.starts_with("无法连接邮件服务"), "{err}");
    assert!(err.0.chars().count() <= 301, "{err}");
}

// ---- local server -----------------------------------------------------------------------------

fn endpoint() -> Option<String> {
    match std::env::var("CHENGGUO_TEST_AWS_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e),
        _ => {
            println!("skipped: CHENGGUO_TEST_AWS_ENDPOINT not set");
            None
        }
    }
}

fn client(endpoint: &str) -> Client {
    let conf = aws_sdk_sesv2::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "chengguo-tests",
        ))
        .build();
    Client::from_conf(conf)
}

/// A sender domain of its own for one test, verified.
async fn verified_domain(client: &Client) -> String {
    let domain = format!("chengguo-{}.example.org", uuid::Uuid::new_v4().simple());
    client
        .create_email_identity()
        .email_identity(&domain)
        .send()
        .await
        .expect("create identity");
    domain
}

/// What the server recorded as sent to `recipient`.
async fn recorded(endpoint: &str, recipient: &str) -> Vec<serde_json::Value> {
    let url = format!("{}/_ministack/ses/messages", endpoint.trim_end_matches('/'));
    let all: serde_json::Value = reqwest::get(&url)
        .await
        .expect("inspection endpoint")
        .json()
        .await
        .expect("json");
    all["messages"]
        .as_object()
        .expect("messages by account")
        .values()
        .flat_map(|msgs| msgs.as_array().cloned().unwrap_or_default())
        .filter(|m| {
            m["To"]
                .as_array()
                .is_some_and(|to| to.iter().any(|a| a == recipient))
        })
        .collect()
}

#[tokio::test]
async fn delivers_through_a_local_ses() {
    let Some(endpoint) = endpoint() else { return };
    let client = client(&endpoint);
    let domain = verified_domain(&client).await;
    let sender = format!("noreply@{domain}");
    let leader = format!("leader@{domain}");
    let unit = format!("unit@{domain}");
    let mailer = SesMailer::new(client, format!("科技成果登记系统 <{sender}>"));

    mailer
        .send(&mail("job-1", vec![leader.clone(), unit.clone()]))
        .await
        .expect("sent");

    let got = recorded(&endpoint, &leader).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let m = &got[0];
    assert_eq!(m["Type"], "v2.SendEmail");
    assert_eq!(m["Source"], sender.as_str());
    assert_eq!(m["To"], serde_json::json!([leader, unit]));
    // The server parsed the raw message with a MIME parser: the subject and body it read are
    // the Chinese texts themselves.
    assert_eq!(m["Subject"], SUBJECT);
    assert_eq!(
        m["BodyText"].as_str().map(|b| b.replace("\r\n", "\n")),
        Some(BODY.to_string())
    );
}

#[tokio::test]
async fn a_local_ses_refuses_an_unverified_sender() {
    let Some(endpoint) = endpoint() else { return };
    let client = client(&endpoint);
    let domain = format!("unverified-{}.example.org", uuid::Uuid::new_v4().simple());
    let mailer = SesMailer::new(client, format!("noreply@{domain}"));
    let err = mailer
        .send(&mail("job-1", vec![format!("leader@{domain}")]))
        .await
        .unwrap_err();
    assert!(
        err.0.starts_with("邮件服务拒绝发送（MessageRejected）："),
        "{err}"
    );
    assert!(err.0.contains("not verified"), "{err}");
    assert!(
        recorded(&endpoint, &format!("leader@{domain}"))
            .await
            .is_empty()
    );
}
