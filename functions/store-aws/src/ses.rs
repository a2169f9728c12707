//! Notification emails through Amazon SES (API v2).
//!
//! The message is the one [`chengguo_mail::build_message`] formats for every transport (UTF-8
//! plain text, the stable `Message-ID` of the job), sent as a raw message, so what SES delivers
//! is byte for byte what the outbox folder would hold.

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use chengguo_domain::ports::{MailError, Mailer, OutgoingMail};

/// The longest error text kept on a mail job.
const MAX_ERROR_CHARS: usize = 300;

/// Sends mail through SES from a verified identity.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
}

/// An SES client from the shared AWS configuration (its endpoint included, for a local server).
pub fn ses_client(conf: &aws_config::SdkConfig) -> Client {
    Client::new(conf)
}

impl SesMailer {
    /// A mailer sending as `from` (`addr` or `名称 <addr>`); the address must be an identity
    /// verified in SES.
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        SesMailer {
            client,
            from: from.into(),
        }
    }

    /// The sender as configured.
    pub fn from(&self) -> &str {
        &self.from
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = chengguo_mail::build_message(mail, &self.from)?;
        let envelope = message.envelope();
        let recipients: Vec<String> = envelope.to().iter().map(ToString::to_string).collect();
        let sender = envelope.from().map(ToString::to_string);
        let raw = RawMessage::builder()
            .data(Blob::new(message.formatted()))
            .build()
            .map_err(|e| MailError(format!("邮件请求无法生成：{e}")))?;
        self.client
            .send_email()
            .set_from_email_address(sender)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(recipients))
                    .build(),
            )
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(send_error)?;
        Ok(())
    }
}

/// A short text for staff saying why SES did not take the message.
fn send_error<R: std::fmt::Debug>(e: SdkError<SendEmailError, R>) -> MailError {
    let text = match &e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let (what, code) = match err {
                SendEmailError::MessageRejected(_) => ("邮件服务拒绝发送", "MessageRejected"),
                SendEmailError::MailFromDomainNotVerifiedException(_) => {
                    ("发件域名未通过验证", "MailFromDomainNotVerifiedException")
                }
                SendEmailError::AccountSuspendedException(_) => {
                    ("邮件服务账号已暂停发送", "AccountSuspendedException")
                }
                SendEmailError::SendingPausedException(_) => {
                    ("邮件服务已暂停发送", "SendingPausedException")
                }
                SendEmailError::LimitExceededException(_) => {
                    ("邮件服务发送额度超限", "LimitExceededException")
                }
                SendEmailError::TooManyRequestsException(_) => {
                    ("邮件服务请求过于频繁", "TooManyRequestsException")
                }
                SendEmailError::NotFoundException(_) => {
                    ("邮件服务找不到所需的资源", "NotFoundException")
                }
                SendEmailError::BadRequestException(_) => {
                    ("邮件服务认为请求有误", "BadRequestException")
                }
                _ => ("邮件服务返回错误", "Unknown"),
            };
            let code = err.code().unwrap_or(code);
            match err.message().filter(|m| !m.trim().is_empty()) {
                Some(m) => format!("{what}（{code}）：{m}"),
                None => format!("{what}（{code}）"),
            }
        }
        SdkError::TimeoutError(_) => "邮件服务请求超时".to_string(),
        SdkError::DispatchFailure(_) => {
            format!("无法连接邮件服务：{}", DisplayErrorContext(&e))
        }
        SdkError::ResponseError(_) => {
            format!("邮件服务的应答无法解析：{}", DisplayErrorContext(&e))
        }
        SdkError::ConstructionFailure(_) => {
            format!("邮件请求无法生成：{}", DisplayErrorContext(&e))
        }
        _ => format!("邮件发送失败：{}", DisplayErrorContext(&e)),
    };
    MailError(shorten(&text))
}

/// At most [`MAX_ERROR_CHARS`] characters, on one line.
fn shorten(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = one_line.chars();
    let mut out: String = chars.by_ref().take(MAX_ERROR_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}
