//! The outbox mailer of the embedded default: every message becomes a `.eml` file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chengguo_domain::ports::{MailError, Mailer, OutgoingMail};

use crate::message::{build_message, check_id};

/// Writes each message, as sent on the wire, to `<dir>/<id>.eml`, atomically: a temporary file
/// in the same folder is written, flushed to disk and renamed over the final name, then the
/// folder itself is flushed. Sending the same id again replaces the same file, so a retried job
/// never leaves two copies. The folder is created when missing.
///
/// Messages written at the same time share one flush of the folder (see [`FolderSync`]); each
/// message's own content is still flushed before its rename.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
    folder_sync: Arc<FolderSync>,
}

impl OutboxMailer {
    /// A mailer writing into `dir` with `from` as the sender (`addr` or `名称 <addr>`).
    pub fn new(dir: impl Into<PathBuf>, from: impl Into<String>) -> Self {
        OutboxMailer {
            dir: dir.into(),
            from: from.into(),
            folder_sync: Arc::default(),
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
        let folder_sync = Arc::clone(&self.folder_sync);
        tokio::task::spawn_blocking(move || write_atomically(&dir, &target, &bytes, &folder_sync))
            .await
            .map_err(|e| MailError(format!("写入发件箱失败：{e}")))?
            .map_err(|e| MailError(format!("写入发件箱失败：{}：{e}", path.display())))
    }
}

/// Replaces `target` (a file in `dir`) with `bytes` so that a reader sees the old or the new
/// content, never a part, and the new content survives a crash once this returns.
fn write_atomically(
    dir: &Path,
    target: &Path,
    bytes: &[u8],
    folder_sync: &FolderSync,
) -> io::Result<()> {
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
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    folder_sync.after_rename(|| sync_dir(dir))
}

/// Group flushing of one folder: a caller that renamed a file into it returns once a flush
/// that began after its rename has succeeded. Whoever finds no flush running starts one, which
/// covers every rename made before it began; callers arriving meanwhile wait for it to end and
/// then for the next one, which one of them starts. So with many messages written at once the
/// folder is flushed a few times rather than once per message.
#[derive(Debug, Default)]
struct FolderSync {
    state: Mutex<FlushState>,
    ended: Condvar,
}

#[derive(Debug, Default)]
struct FlushState {
    /// Renames announced so far; the n-th caller's ticket is n.
    renamed: u64,
    /// Every ticket up to this one is covered by a successful flush.
    flushed: u64,
    running: bool,
}

impl FolderSync {
    fn lock(&self) -> MutexGuard<'_, FlushState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Call right after renaming into the folder; `flush` flushes it. An error is returned to
    /// the caller whose flush failed; callers that were waiting on it try again themselves.
    fn after_rename(&self, flush: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let mut state = self.lock();
        state.renamed += 1;
        let ticket = state.renamed;
        loop {
            if state.flushed >= ticket {
                return Ok(());
            }
            if !state.running {
                state.running = true;
                let covers = state.renamed;
                drop(state);
                let result = flush();
                let mut state = self.lock();
                state.running = false;
                if result.is_ok() {
                    state.flushed = state.flushed.max(covers);
                }
                self.ended.notify_all();
                return result;
            }
            state = self
                .ended
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
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
    async fn a_folder_removed_while_running_is_made_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("spool").join("outbox");
        let mailer = OutboxMailer::new(&dir, "noreply@example.org");
        mailer.send(&mail("job-1", "第一封")).await.unwrap();
        fs::remove_dir_all(tmp.path().join("spool")).unwrap();
        mailer.send(&mail("job-2", "第二封")).await.unwrap();
        assert_eq!(files(&dir), ["job-2.eml"]);
    }

    /// Waits (bounded) until `n` renames have been announced to `sync`.
    fn until_announced(sync: &FolderSync, n: u64) {
        for _ in 0..2000 {
            if sync.lock().renamed >= n {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("{n} renames were never announced");
    }

    #[test]
    fn renames_during_a_flush_share_the_next_one_and_none_returns_before_its_own() {
        use std::sync::atomic::{AtomicU32, Ordering};
        use std::sync::mpsc;

        let sync = Arc::new(FolderSync::default());
        let flushes = Arc::new(AtomicU32::new(0));
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);

        std::thread::scope(|scope| {
            // The first caller's flush is held open until the others have renamed.
            let first = scope.spawn(|| {
                sync.after_rename(|| {
                    flushes.fetch_add(1, Ordering::SeqCst);
                    started_tx.send(()).unwrap();
                    release_rx.lock().unwrap().recv().unwrap();
                    Ok(())
                })
            });
            started_rx.recv().unwrap();
            let late: Vec<_> = (0..5)
                .map(|_| {
                    scope.spawn(|| {
                        sync.after_rename(|| {
                            flushes.fetch_add(1, Ordering::SeqCst);
                            Ok(())
                        })
                    })
                })
                .collect();
            until_announced(&sync, 6);
            assert_eq!(flushes.load(Ordering::SeqCst), 1);
            assert!(
                late.iter().all(|h| !h.is_finished()),
                "nobody rides on a flush that began before its rename"
            );
            release_tx.send(()).unwrap();
            first.join().unwrap().unwrap();
            for h in late {
                h.join().unwrap().unwrap();
            }
        });
        assert_eq!(
            flushes.load(Ordering::SeqCst),
            2,
            "the five renames made during the first flush share one"
        );
        let state = sync.lock();
        assert_eq!((state.renamed, state.flushed, state.running), (6, 6, false));
    }

    #[test]
    fn a_failed_flush_fails_its_caller_and_the_waiters_flush_again() {
        use std::sync::mpsc;

        let sync = FolderSync::default();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        std::thread::scope(|scope| {
            let failing = scope.spawn(|| {
                sync.after_rename(|| {
                    started_tx.send(()).unwrap();
                    release_rx.lock().unwrap().recv().unwrap();
                    Err(io::Error::other("disk gone"))
                })
            });
            started_rx.recv().unwrap();
            let waiting = scope.spawn(|| sync.after_rename(|| Ok(())));
            until_announced(&sync, 2);
            release_tx.send(()).unwrap();
            assert_eq!(
                failing.join().unwrap().unwrap_err().to_string(),
                "disk gone"
            );
            waiting.join().unwrap().unwrap();
        });
        assert_eq!(sync.lock().flushed, 2);
        // A later caller alone flushes for itself.
        let mut ran = false;
        sync.after_rename(|| {
            ran = true;
            Ok(())
        })
        .unwrap();
        assert!(ran);
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
