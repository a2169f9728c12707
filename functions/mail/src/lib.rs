//! Notification emails (邮件通知): the Chinese texts, the message, and the outbox mailer.
//!
//! - [`Templates`] renders the texts of the notifications (`receive_paper`, `return`, `decide`,
//!   `reopen`) from the tera templates in the repository's `templates/mail/`, embedded at compile
//!   time; [`context_for`] fills their variables from a record and the event that caused the mail.
//! - [`build_message`] turns an [`OutgoingMail`] into a UTF-8 plain-text MIME message with a stable
//!   `Message-ID`, which every transport sends as is.
//! - [`OutboxMailer`] is the [`Mailer`] of the embedded default: it writes each message as
//!   `<dir>/<id>.eml`. The AWS backend sends the same message through SES.
//!
//! [`OutgoingMail`]: chengguo_domain::ports::OutgoingMail
//! [`Mailer`]: chengguo_domain::ports::Mailer

mod context;
mod message;
mod outbox;
mod templates;

pub use context::{chinese_date, context_for, stage_name, template_for};
pub use message::{build_message, check_id, message_id};
pub use outbox::OutboxMailer;
pub use templates::Templates;

/// The template engine's context type, so callers need not depend on tera themselves.
pub use tera::Context;
