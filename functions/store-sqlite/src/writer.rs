//! The one connection that writes, on its own thread, with group commit.
//!
//! Every write is a job sent to this thread. The thread takes all jobs waiting at that moment
//! (up to [`MAX_BATCH`]) and runs them in one `BEGIN IMMEDIATE` transaction, each inside its
//! own savepoint: a job that fails (a version guard, a taken number) is rolled back to its
//! savepoint and leaves the others alone. One `COMMIT`, one fsync of the WAL, makes the whole
//! batch durable, and only then is each job answered. So a write that returned is on disk,
//! each write is applied entirely or not at all, and concurrent writers share the cost of the
//! fsync instead of queueing for one each.
//!
//! Jobs that must not run inside a transaction (`VACUUM INTO`, pragmas, and every read of an
//! in-memory database, whose only connection is this one) run alone, between batches.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

use chengguo_domain::ports::{StoreError, StoreResult};

use crate::Db;

/// The most jobs one transaction takes. Bounds how long a batch holds the write lock against
/// other processes and how much one failed `COMMIT` can refuse.
const MAX_BATCH: usize = 256;

/// A job inside a batch: runs in a savepoint, then hears how the batch's commit went.
trait Grouped: Send {
    /// Does the work; `true` keeps its changes, `false` rolls them back to the savepoint.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: `committed` is the fate of the whole transaction.
    fn finish(self: Box<Self>, committed: StoreResult<()>);
}

struct Task<T, F> {
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Grouped for Task<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = catch_unwind(AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(StoreError::Backend("storage task panicked".into())));
        let keep = result.is_ok();
        self.result = Some(result);
        keep
    }

    fn finish(self: Box<Self>, committed: StoreResult<()>) {
        let answer = match (self.result, committed) {
            // Its own refusal stands whatever happened to the batch: nothing of it was kept.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (_, Err(e)) => Err(e),
            (None, Ok(())) => Err(StoreError::Backend("storage task did not run".into())),
        };
        // The caller may have gone away (a dropped request); the write stands regardless.
        let _ = self.reply.send(answer);
    }
}

enum Job {
    Grouped(Box<dyn Grouped>),
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// The handle of the writer thread. Dropping it lets the thread finish the jobs already sent,
/// close the connection and end; the drop waits for that.
pub(crate) struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Transactions committed so far (each may carry many writes).
    commits: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub(crate) fn start(conn: Connection) -> StoreResult<Writer> {
        let (jobs, queue) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let counted = commits.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(conn, queue, &counted))
            .map_err(|e| StoreError::Backend(format!("start the storage writer: {e}")))?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
            commits,
        })
    }

    /// How many transactions the thread has committed.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    fn send(&self, job: Job) -> StoreResult<()> {
        self.jobs
            .as_ref()
            .and_then(|q| q.send(job).ok())
            .ok_or_else(stopped)
    }

    /// Runs `f` inside the next batch's transaction; `Ok` only once that batch is committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Grouped(Box::new(Task {
            work: Some(f),
            result: None,
            reply,
        })))?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `f` on the connection outside any transaction.
    pub(crate) async fn alone<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Alone(Box::new(move |conn: &mut Connection| {
            let result = catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(StoreError::Backend("storage task panicked".into())));
            let _ = reply.send(result);
        })))?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            // Closing the connection here, not later, lets the file be reopened at once.
            let _ = thread.join();
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Backend("the storage writer has stopped".into())
}

/// The writer thread: until every handle is gone, take what is waiting and run it.
fn serve(mut conn: Connection, queue: mpsc::Receiver<Job>, commits: &AtomicU64) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match queue.recv() {
                Ok(job) => job,
                Err(mpsc::RecvError) => return,
            },
        };
        match job {
            Job::Alone(f) => f(&mut conn),
            Job::Grouped(first) => {
                let mut batch = VecDeque::from([first]);
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(Job::Grouped(g)) => batch.push_back(g),
                        Ok(alone) => {
                            next = Some(alone);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                run_batch(&conn, batch, commits);
            }
        }
    }
}

/// Runs `jobs` in as few transactions as it can: one, unless SQLite abandons a transaction
/// half-way (it does on some I/O errors), in which case the jobs run so far are refused and
/// the rest go into a new one. A job alone in its transaction needs no savepoint: when it
/// refuses, the transaction is rolled back instead.
fn run_batch(conn: &Connection, mut jobs: VecDeque<Box<dyn Grouped>>, commits: &AtomicU64) {
    while !jobs.is_empty() {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE").db() {
            for job in jobs.drain(..) {
                job.finish(Err(e.clone()));
            }
            return;
        }
        let single = jobs.len() == 1;
        let mut ran = Vec::with_capacity(jobs.len());
        let mut broken = None;
        let mut refused_alone = false;
        while let Some(mut job) = jobs.pop_front() {
            if !single && let Err(e) = conn.execute_batch("SAVEPOINT job").db() {
                // Not run: it hears the error with the others.
                ran.push(job);
                broken = Some(e);
                break;
            }
            let keep = job.run(conn);
            ran.push(job);
            if conn.is_autocommit() {
                broken = Some(StoreError::Backend(
                    "sqlite rolled the transaction back".into(),
                ));
                break;
            }
            if single {
                refused_alone = !keep;
                break;
            }
            let end = if keep {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            if let Err(e) = conn.execute_batch(end).db() {
                broken = Some(e);
                break;
            }
        }
        let committed = match broken {
            Some(e) => Err(e),
            // The job's own refusal is its answer; the outcome here is not reported.
            None if refused_alone => conn.execute_batch("ROLLBACK").db(),
            None => conn.execute_batch("COMMIT").db(),
        };
        if committed.is_ok() {
            if !refused_alone {
                commits.fetch_add(1, Ordering::Relaxed);
            }
        } else if !conn.is_autocommit() {
            // Nothing of this transaction may stay: its jobs are told it failed.
            let _ = conn.execute_batch("ROLLBACK");
        }
        for job in ran {
            job.finish(committed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer over an in-memory table `t (x PRIMARY KEY)`.
    fn writer() -> Writer {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .expect("table");
        Writer::start(conn).expect("start")
    }

    fn insert(x: i64) -> impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static {
        move |c| {
            c.execute("INSERT INTO t (x) VALUES (?1)", [x])
                .map_err(|_| StoreError::Conflict)
                .map(drop)
        }
    }

    async fn rows(w: &Writer) -> Vec<i64> {
        w.alone(|c| {
            let mut stmt = c.prepare("SELECT x FROM t ORDER BY x").db()?;
            let rows = stmt.query_map([], |r| r.get(0)).db()?;
            rows.collect::<Result<Vec<i64>, _>>().db()
        })
        .await
        .expect("rows")
    }

    /// Holds the writer thread until the returned future runs. It yields once first, so that
    /// the writes `join!`ed beside it are all sent meanwhile, wait together and form one batch.
    fn hold(w: &Writer) -> impl std::future::Future<Output = ()> {
        let (open, gate) = std::sync::mpsc::channel::<()>();
        w.send(Job::Alone(Box::new(move |_| {
            let _ = gate.recv();
        })))
        .expect("send");
        async move {
            tokio::task::yield_now().await;
            open.send(()).expect("release");
        }
    }

    #[tokio::test]
    async fn writes_waiting_together_share_one_commit_and_a_refused_one_leaves_the_rest() {
        let w = writer();
        let release = hold(&w);
        let (_, a, b, c, d) = tokio::join!(
            release,
            w.write(insert(1)),
            w.write(insert(1)),
            w.write(insert(2)),
            w.write(|c| {
                c.execute("INSERT INTO t (x) VALUES (3)", []).db()?;
                // Refused after writing: its row must go with it.
                Err::<(), _>(StoreError::NumberTaken("3".into()))
            }),
        );
        assert_eq!(a, Ok(()));
        assert_eq!(b, Err(StoreError::Conflict));
        assert_eq!(c, Ok(()));
        assert_eq!(d, Err(StoreError::NumberTaken("3".into())));
        assert_eq!(rows(&w).await, [1, 2]);
        assert_eq!(w.commits(), 1, "four writes, one transaction");
    }

    #[tokio::test]
    async fn a_refused_write_alone_in_its_transaction_leaves_nothing() {
        let w = writer();
        assert_eq!(w.write(insert(1)).await, Ok(()));
        let refused = w
            .write(|c| {
                c.execute("INSERT INTO t (x) VALUES (2)", []).db()?;
                Err::<(), _>(StoreError::Conflict)
            })
            .await;
        assert_eq!(refused, Err(StoreError::Conflict));
        assert_eq!(rows(&w).await, [1]);
        assert_eq!(w.commits(), 1, "the refused write committed nothing");
        assert_eq!(w.write(insert(3)).await, Ok(()));
        assert_eq!(rows(&w).await, [1, 3]);
    }

    #[tokio::test]
    async fn a_write_that_panics_is_refused_and_the_writer_goes_on() {
        let w = writer();
        let release = hold(&w);
        let (_, a, b, c) = tokio::join!(
            release,
            w.write(insert(1)),
            w.write(|c| -> StoreResult<()> {
                c.execute("INSERT INTO t (x) VALUES (2)", []).db()?;
                panic!("a bug in a write");
            }),
            w.write(insert(3)),
        );
        assert_eq!(a, Ok(()));
        assert_eq!(b, Err(StoreError::Backend("storage task panicked".into())));
        assert_eq!(c, Ok(()));
        assert_eq!(rows(&w).await, [1, 3]);
        assert_eq!(w.write(insert(4)).await, Ok(()));
        assert_eq!(rows(&w).await, [1, 3, 4]);
    }

    #[tokio::test]
    async fn when_sqlite_drops_the_transaction_the_writes_in_it_are_refused_and_later_ones_retried()
    {
        let w = writer();
        let release = hold(&w);
        let (_, a, b, c) = tokio::join!(
            release,
            w.write(insert(1)),
            // Stands for an I/O error after which SQLite rolls the whole transaction back.
            w.write(|c| c.execute_batch("ROLLBACK").db()),
            w.write(insert(3)),
        );
        let dropped = Err(StoreError::Backend(
            "sqlite rolled the transaction back".into(),
        ));
        assert_eq!(a, dropped, "its row went with the transaction");
        assert_eq!(b, dropped);
        assert_eq!(c, Ok(()));
        assert_eq!(rows(&w).await, [3]);
    }

    #[tokio::test]
    async fn a_write_is_answered_only_once_committed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("PRAGMA journal_mode = wal; CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .expect("table");
        let w = Writer::start(conn).expect("start");
        let other = Connection::open(&path).expect("second connection");
        for x in 1..=20 {
            w.write(insert(x)).await.expect("write");
            let seen: i64 = other
                .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .expect("count");
            assert_eq!(
                seen, x,
                "another connection sees the write once it is answered"
            );
        }
        drop(w);
        // The writer closed its connection on drop: nothing is left uncommitted.
        let seen: i64 = other
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(seen, 20);
    }
}
