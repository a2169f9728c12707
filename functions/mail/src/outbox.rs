//! The outbox mailer of the embedded default: every message becomes a `.eml` file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chengguo_domain::ports::{MailError, Mailer, OutgoingMail};

use crate::message::{build_message, check_id};

/// Writes each message, as sent on the wire, to `<dir>/<id>.eml`, atomically: a temporary file
/// in the same folder is written, flushed to disk and renamed over the final name, then the
/// folder itself is flushed. Sending the same id again replaces the same file, so a retried job
/// never leaves two copies. The folder is created when missing.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
}

impl OutboxMailer {
    /// A mailer writing into `dir` with `from` as the sender (`addr` or `名称 <addr>`).
    pub fn new(dir: impl Into<PathBuf>, from: impl Into<String>) -> Self {
        OutboxMailer {
            dir: dir.into(),
            from: from.into(),
        }
    }

    /// The outbox folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the message of a mail id is written; refuses an id that is not `[A-Za-z0-9_-]+`.
    pub fn path_of(&self, id: &str) -> Result<PathBuf, MailError> {
        check_id(id)?;
        Ok(self.dir.join(format!("{id}.eml")))
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let path = self.path_of(&mail.id)?;
        let bytes = build_message(mail, &self.from)?.formatted();
        let dir = self.dir.clone();
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &target, &bytes))
            .await
            .map_err(|e| MailError(format!("写入发件箱失败：{e}")))?
            .map_err(|e| MailError(format!("写入发件箱失败：{}：{e}", path.display())))
    }
}

/// Replaces `target` (a file in `dir`) with `bytes` so that a reader sees the old or the new
/// content, never a part, and the new content survives a crash once this returns.
fn write_atomically(dir: &Path, target: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".outbox-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Flushes a folder's entries (the rename) to disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Folders cannot be opened as files here; the rename is as durable as the platform makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tests::{decode_words, parse};

    fn mail(id: &str, subject: &str) -> OutgoingMail {
        OutgoingMail {
            id: id.into(),
            to: vec!["leader@example.org".into()],
            subject: subject.into(),
            body: "您好！\n\n详细信息请登录科技成果登记系统查看。\n".into(),
        }
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn writes_one_file_per_id_and_overwrites_on_resend() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        let mailer = OutboxMailer::new(&dir, "noreply@example.org");

        mailer.send(&mail("job-1", "第一封")).await.unwrap();
        mailer.send(&mail("job_2", "第二封")).await.unwrap();
        assert_eq!(files(&dir), ["job-1.eml", "job_2.eml"]);

        mailer.send(&mail("job-1", "重发")).await.unwrap();
        assert_eq!(
            files(&dir),
            ["job-1.eml", "job_2.eml"],
            "no temp file is left"
        );

        let p = parse(&fs::read(dir.join("job-1.eml")).unwrap());
        assert_eq!(decode_words(p.header("Subject").unwrap()), "重发");
        assert_eq!(p.header("Message-ID"), Some("<job-1@chengguo>"));
        assert_eq!(p.header("To"), Some("leader@example.org"));
        assert!(p.text().contains("科技成果登记系统"));
        assert_eq!(mailer.path_of("job-1").unwrap(), dir.join("job-1.eml"));
    }

    #[tokio::test]
    async fn refuses_a_bad_id_before_touching_the_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        let mailer = OutboxMailer::new(&dir, "noreply@example.org");
        for bad in ["../escape", "a/b", "", ".hidden", "x.eml", "a\0b"] {
            let err = mailer.send(&mail(bad, "x")).await.unwrap_err();
            assert!(err.0.contains("邮件编号无效"), "{bad:?}: {err}");
        }
        assert!(!dir.exists());
        assert!(!tmp.path().join("escape.eml").exists());
    }

    #[tokio::test]
    async fn reports_a_folder_that_cannot_be_written() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("file");
        fs::write(&blocker, b"not a folder").unwrap();
        let mailer = OutboxMailer::new(blocker.join("outbox"), "noreply@example.org");
        let err = mailer.send(&mail("job-1", "x")).await.unwrap_err();
        assert!(err.0.starts_with("写入发件箱失败"), "{err}");
    }
}
