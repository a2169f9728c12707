//! The outbox mailer of the embedded default: every message becomes a `.eml` file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chengguo_domain::ports::{MailError, Mailer, OutgoingMail};
use tempfile::NamedTempFile;
use tokio::sync::oneshot;

use crate::message::{build_message, check_id};

/// The most messages one batch writes.
const MAX_BATCH: usize = 256;

/// Writes each message, as sent on the wire, to `<dir>/<id>.eml`, atomically: a reader of the
/// folder sees no file or the whole message, never a part, and a send that returned has its
/// file on disk. Sending the same id again replaces the same file, so a retried job never
/// leaves two copies. The folder is created when missing.
///
/// The files are written by one thread in batches (group commit, as the store's writer does):
/// every message waiting is written to a temporary file, the contents are flushed to disk
/// together, the files are renamed to their final names and the renames are flushed together;
/// only then is each send answered. On Linux a batch of several messages flushes with `syncfs`
/// of the folder's file system, two flushes of the disk however many messages it holds (and
/// whatever else is waiting to be written on that file system goes with them); a message alone,
/// and every batch elsewhere, flushes each file before its rename and the folder once after. With
/// [`gathering`](Self::gathering) the thread waits a little after the first message of a
/// batch for others to join it.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
    spool: Arc<Spool>,
}

impl OutboxMailer {
    /// A mailer writing into `dir` with `from` as the sender (`addr` or `名称 <addr>`); a batch
    /// holds the messages already waiting when it starts.
    pub fn new(dir: impl Into<PathBuf>, from: impl Into<String>) -> Self {
        let dir = dir.into();
        OutboxMailer {
            spool: Arc::new(Spool::new(dir.clone(), Duration::ZERO)),
            dir,
            from: from.into(),
        }
    }

    /// The same mailer, each batch waiting up to `gather` after its first message for more, as
    /// long as they keep coming (a pause of a fifth of `gather` ends it): fewer flushes of the
    /// disk when mail is sent in the background, where a send may wait.
    pub fn gathering(self, gather: Duration) -> Self {
        OutboxMailer {
            spool: Arc::new(Spool::new(self.dir.clone(), gather)),
            ..self
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

    /// How many batches have been taken so far (a send that returned was in one of them).
    pub fn batches(&self) -> u64 {
        self.spool.batches.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let path = self.path_of(&mail.id)?;
        let bytes = build_message(mail, &self.from)?.formatted();
        let (done, written) = oneshot::channel();
        let failed = |e: &dyn std::fmt::Display| MailError(format!("写入发件箱失败：{e}"));
        self.spool
            .queue()
            .map_err(|e| failed(&e))?
            .send(Letter {
                target: path.clone(),
                bytes,
                done,
            })
            .map_err(|_| failed(&"发件箱写入线程已停止"))?;
        written
            .await
            .map_err(|_| failed(&"发件箱写入线程已停止"))?
            .map_err(|e| MailError(format!("写入发件箱失败：{}：{e}", path.display())))
    }
}

/// One message for the writer thread: its final path, its bytes, and who waits for it.
struct Letter {
    target: PathBuf,
    bytes: Vec<u8>,
    done: oneshot::Sender<io::Result<()>>,
}

/// The writer thread of one mailer (and its clones), started by the first send; it ends when
/// the last clone is dropped.
#[derive(Debug)]
struct Spool {
    dir: PathBuf,
    gather: Duration,
    queue: OnceLock<mpsc::Sender<Letter>>,
    batches: Arc<AtomicU64>,
}

impl Spool {
    fn new(dir: PathBuf, gather: Duration) -> Spool {
        Spool {
            dir,
            gather,
            queue: OnceLock::new(),
            batches: Arc::default(),
        }
    }

    fn queue(&self) -> io::Result<&mpsc::Sender<Letter>> {
        if let Some(queue) = self.queue.get() {
            return Ok(queue);
        }
        let (queue, letters) = mpsc::channel();
        let (dir, gather, batches) = (self.dir.clone(), self.gather, self.batches.clone());
        // Two first sends at once may both start a thread; the loser's ends at once, as its
        // queue is dropped unused.
        std::thread::Builder::new()
            .name("outbox-writer".into())
            .spawn(move || {
                while let Some(batch) = next_batch(&letters, gather) {
                    // Counted before its senders hear back, so that they see it counted.
                    batches.fetch_add(1, Ordering::Relaxed);
                    write_batch(&dir, batch);
                }
            })?;
        Ok(self.queue.get_or_init(|| queue))
    }
}

/// Waits for a letter, then takes those that follow it (up to [`MAX_BATCH`]): with a `gather`
/// window, for at most that long after the first and while they keep coming (a pause of a fifth
/// of the window ends the batch, so a sender waiting for each answer in turn is not held the
/// whole window every time); without one, those already waiting. `None` once every sender is
/// gone.
fn next_batch(letters: &mpsc::Receiver<Letter>, gather: Duration) -> Option<Vec<Letter>> {
    let first = letters.recv().ok()?;
    let deadline = Instant::now() + gather;
    let pause = gather / 5;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .min(pause);
        let next = if left.is_zero() {
            letters.try_recv().ok()
        } else {
            letters.recv_timeout(left).ok()
        };
        match next {
            Some(letter) => batch.push(letter),
            None => break,
        }
    }
    Some(batch)
}

/// How a batch makes its files durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// Each file before its rename, then the folder once after the renames: what one message
    /// costs anyway, and all a platform without `syncfs` offers.
    EachFile,
    /// The whole file system once for the contents and once for the renames (`syncfs`): two
    /// flushes of the disk however many messages the batch holds.
    FileSystem,
}

impl Flush {
    fn of(batch: usize) -> Flush {
        if cfg!(target_os = "linux") && batch > 1 {
            Flush::FileSystem
        } else {
            Flush::EachFile
        }
    }
}

/// Writes `batch` into `dir` and answers each letter: `Ok` once its file is on disk under its
/// final name. A letter whose file cannot be written or renamed fails alone; a failed flush
/// fails every letter it was to cover.
fn write_batch(dir: &Path, batch: Vec<Letter>) {
    let flush = Flush::of(batch.len());
    let mut staged = Vec::with_capacity(batch.len());
    for letter in batch {
        match stage(dir, &letter.bytes, flush) {
            Ok(tmp) => staged.push((letter, tmp)),
            Err(e) => {
                let _ = letter.done.send(Err(e));
            }
        }
    }
    if staged.is_empty() {
        return;
    }
    // The contents first, so that no final name can ever show a part of its message.
    if flush == Flush::FileSystem
        && let Err(e) = sync_file_system(dir)
    {
        for (letter, _) in staged {
            let _ = letter.done.send(Err(copy(&e)));
        }
        return;
    }
    let mut renamed = Vec::with_capacity(staged.len());
    for (letter, tmp) in staged {
        match tmp.persist(&letter.target) {
            Ok(_) => renamed.push(letter),
            Err(e) => {
                let _ = letter.done.send(Err(e.error));
            }
        }
    }
    if renamed.is_empty() {
        return;
    }
    let flushed = match flush {
        Flush::FileSystem => sync_file_system(dir),
        Flush::EachFile => sync_dir(dir),
    };
    for letter in renamed {
        let _ = letter.done.send(flushed.as_ref().map(|_| ()).map_err(copy));
    }
}

/// The same error again, for each of the letters it fails.
fn copy(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

/// `bytes` in a new temporary file in `dir` (created when missing), flushed to disk unless the
/// batch flushes the file system after staging.
fn stage(dir: &Path, bytes: &[u8], flush: Flush) -> io::Result<NamedTempFile> {
    let temp = || {
        tempfile::Builder::new()
            .prefix(".outbox-")
            .suffix(".tmp")
            .tempfile_in(dir)
    };
    // The folder is there on every write but the first (or one after an operator removed it):
    // create it only when the temporary file finds it missing.
    let mut tmp = match temp() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir)?;
            temp()?
        }
        other => other?,
    };
    tmp.write_all(bytes)?;
    if flush == Flush::EachFile {
        tmp.as_file().sync_all()?;
    }
    Ok(tmp)
}

/// One flush of everything written to the file system that holds `dir`: its data, its metadata
/// and the disk's cache.
#[cfg(target_os = "linux")]
fn sync_file_system(dir: &Path) -> io::Result<()> {
    rustix::fs::syncfs(File::open(dir)?).map_err(io::Error::from)
}

/// Never chosen where `syncfs` is missing (see [`Flush::of`]).
#[cfg(not(target_os = "linux"))]
fn sync_file_system(_dir: &Path) -> io::Result<()> {
    Err(io::Error::other("syncfs is only available on Linux"))
}

/// Flushes the folder's entries (the renames) to disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Folders cannot be opened as files here; the renames are as durable as the platform makes them.
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
    async fn a_folder_removed_while_running_is_made_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("spool").join("outbox");
        let mailer = OutboxMailer::new(&dir, "noreply@example.org");
        mailer.send(&mail("job-1", "第一封")).await.unwrap();
        fs::remove_dir_all(tmp.path().join("spool")).unwrap();
        mailer.send(&mail("job-2", "第二封")).await.unwrap();
        assert_eq!(files(&dir), ["job-2.eml"]);
    }

    #[tokio::test]
    async fn messages_sent_together_share_one_batch_and_each_is_whole_on_return() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        let mailer = OutboxMailer::new(&dir, "noreply@example.org")
            .gathering(std::time::Duration::from_millis(500));
        let ids: Vec<String> = (0..20).map(|i| format!("job-{i:02}")).collect();
        let mails: Vec<OutgoingMail> = ids.iter().map(|id| mail(id, id)).collect();
        let results = futures::future::join_all(mails.iter().map(|m| mailer.send(m))).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(
            mailer.batches(),
            1,
            "twenty sends within the window, one batch"
        );
        let expected: Vec<String> = ids.iter().map(|id| format!("{id}.eml")).collect();
        assert_eq!(files(&dir), expected, "no temporary file is left");
        for id in &ids {
            let p = parse(&fs::read(dir.join(format!("{id}.eml"))).unwrap());
            assert_eq!(decode_words(p.header("Subject").unwrap()), *id);
        }
        // A later send is a batch of its own.
        mailer.send(&mail("job-20", "后来的")).await.unwrap();
        assert_eq!(mailer.batches(), 2);
    }

    #[tokio::test]
    async fn a_sender_waiting_for_each_answer_is_not_held_the_whole_window() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        let window = std::time::Duration::from_secs(1);
        let mailer = OutboxMailer::new(&dir, "noreply@example.org").gathering(window);
        let started = Instant::now();
        for id in ["job-1", "job-2", "job-3"] {
            mailer.send(&mail(id, id)).await.unwrap();
        }
        assert_eq!(mailer.batches(), 3, "one batch per answer awaited");
        // Each batch ends at the pause after its one message (a fifth of the window), not at
        // the window's end: well under the three windows the sends would otherwise take.
        assert!(started.elapsed() < 2 * window, "{:?}", started.elapsed());
        assert_eq!(files(&dir), ["job-1.eml", "job-2.eml", "job-3.eml"]);
    }

    #[tokio::test]
    async fn a_message_that_cannot_be_placed_fails_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        // A folder where the message of job-x belongs: its rename cannot replace it.
        fs::create_dir_all(dir.join("job-x.eml").join("inside")).unwrap();
        let mailer = OutboxMailer::new(&dir, "noreply@example.org")
            .gathering(std::time::Duration::from_millis(500));
        let (ok, x) = (mail("job-ok", "可以"), mail("job-x", "不行"));
        let results = futures::future::join_all([mailer.send(&ok), mailer.send(&x)]).await;
        assert_eq!(mailer.batches(), 1);
        assert!(results[0].is_ok(), "{results:?}");
        let err = results[1].as_ref().unwrap_err();
        assert!(err.0.starts_with("写入发件箱失败"), "{err}");
        assert!(err.0.contains("job-x.eml"), "{err}");
        assert_eq!(files(&dir), ["job-ok.eml", "job-x.eml"]);
        assert!(
            dir.join("job-x.eml").is_dir(),
            "the folder in the way is left alone"
        );
    }

    #[tokio::test]
    async fn the_writer_ends_with_the_last_clone_of_its_mailer() {
        let tmp = tempfile::tempdir().unwrap();
        let mailer = OutboxMailer::new(tmp.path().join("outbox"), "noreply@example.org");
        let clone = mailer.clone();
        mailer.send(&mail("job-1", "一")).await.unwrap();
        let spool = Arc::downgrade(&mailer.spool);
        drop(mailer);
        clone.send(&mail("job-2", "二")).await.unwrap();
        assert_eq!(clone.batches(), 2, "the clone shares the writer");
        drop(clone);
        assert!(
            spool.upgrade().is_none(),
            "nothing keeps the writer's queue alive"
        );
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
