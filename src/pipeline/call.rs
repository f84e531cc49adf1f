//! One generate call's context: the guard against re-entry from the call's own callbacks,
//! the ONNX Runtime run options a cancel terminates, and the cancel epoch the call started in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ort::session::RunOptions;
use parking_lot::Mutex;

use crate::error::{Error, ErrorKind, Result};
use crate::model::session::FloatTensor;
use crate::runtime::PipelineLog;

thread_local! {
    /// The pipelines (by address) whose generate call runs on this thread: a step callback
    /// calling generate on one of them would wait for its own lock forever.
    static GENERATING: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Marks a pipeline (by address) as generating on this thread for the guard's lifetime.
pub(crate) struct Reentry(usize);

impl Reentry {
    /// Marks pipeline `id`; an error when this thread already runs a call on it.
    pub(crate) fn enter(id: usize) -> Result<Reentry> {
        let busy = GENERATING
            .try_with(|g| {
                let mut g = g.borrow_mut();
                if g.contains(&id) {
                    true
                } else {
                    g.push(id);
                    false
                }
            })
            .unwrap_or(false);
        if busy {
            return Err(Error::invalid(
                "generate was called on a pipeline from inside its own callback (the same \
                 thread already runs a generate call on it, and calls on one pipeline take \
                 turns): return from the callback first, or use another pipeline",
            ));
        }
        Ok(Reentry(id))
    }
}

impl Drop for Reentry {
    fn drop(&mut self) {
        let _ = GENERATING.try_with(|g| {
            let mut g = g.borrow_mut();
            if let Some(k) = g.iter().rposition(|&x| x == self.0) {
                g.remove(k);
            }
        });
    }
}

/// Whether pipeline `id` runs a call on this thread.
pub(crate) fn generating_on_this_thread(id: usize) -> bool {
    GENERATING
        .try_with(|g| g.borrow().contains(&id))
        .unwrap_or(false)
}

/// Where a pipeline's calls learn that they are cancelled: an epoch `cancel` advances, and the
/// run options of the call in flight, which `cancel` terminates.
#[derive(Default)]
pub(crate) struct Cancellation {
    epoch: AtomicU64,
    active: Mutex<Vec<Arc<RunOptions>>>,
}

/// The moment a call entered the pipeline: a cancel after it cancels the call. Taken first
/// thing on entry, before the call copies its inputs (a large init image), so a cancel during
/// that copy is not lost.
#[derive(Debug, Clone, Copy)]
pub struct CallStart(u64);

impl Cancellation {
    /// Cancels every call that started before now: calls waiting for the pipeline see it at
    /// their first check, the graph in flight stops between two of its nodes.
    pub(crate) fn cancel(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for run in self.active.lock().iter() {
            let _ = run.terminate();
        }
    }

    /// Now, as a call's start.
    pub(crate) fn start(&self) -> CallStart {
        CallStart(self.epoch.load(Ordering::SeqCst))
    }

    /// Registers a call (under the pipeline's graph lock: one at a time) that started at
    /// `start`: its run options are what `cancel` terminates until the returned guard drops.
    pub(crate) fn register<'a>(
        &'a self,
        start: CallStart,
        log: &'a PipelineLog,
    ) -> Result<Registered<'a>> {
        let run = Arc::new(RunOptions::new()?);
        let last = Arc::new(shrinking_run_options()?);
        *self.active.lock() = vec![Arc::clone(&run), Arc::clone(&last)];
        Ok(Registered {
            run,
            last,
            epoch: start.0,
            owner: self,
            log,
        })
    }
}

/// A registered call; its run options are unregistered when it drops, however the call ends
/// (a panic included).
pub(crate) struct Registered<'a> {
    run: Arc<RunOptions>,
    last: Arc<RunOptions>,
    epoch: u64,
    owner: &'a Cancellation,
    log: &'a PipelineLog,
}

impl Registered<'_> {
    /// The call's view for its stages.
    pub(crate) fn call(&self) -> Call<'_> {
        Call {
            run: &self.run,
            last: &self.last,
            epoch: self.epoch,
            cancel_epoch: &self.owner.epoch,
            log: self.log,
        }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.owner.active.lock().clear();
    }
}

/// Run options for a graph's last run of a call: ONNX Runtime hands the arena memory of its
/// activations back when the run ends, instead of holding it until the next call (where the
/// next graph would need its own on top).
fn shrinking_run_options() -> Result<RunOptions> {
    let mut r = RunOptions::new()?;
    r.set("memory.enable_memory_arena_shrinkage", "cpu:0")?;
    Ok(r)
}

/// One call's link to cancellation: its ONNX Runtime run options and the cancel epoch it
/// started in.
pub(crate) struct Call<'a> {
    run: &'a RunOptions,
    /// The same, for a graph's last run of the call (see `shrinking_run_options`).
    last: &'a RunOptions,
    epoch: u64,
    cancel_epoch: &'a AtomicU64,
    /// The pipeline's logger.
    pub(crate) log: &'a PipelineLog,
}

impl Call<'_> {
    /// The run options of a graph run; `last`: the graph's last run of this call.
    pub(crate) fn options(&self, last: bool) -> &RunOptions {
        if last {
            self.last
        } else {
            self.run
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel_epoch.load(Ordering::SeqCst) != self.epoch
    }

    pub(crate) fn cancelled_error() -> Error {
        Error::new(ErrorKind::Cancelled, "generation was cancelled")
    }

    /// `Cancelled` once `Pipeline::cancel` ran after this call started.
    pub(crate) fn check_cancel(&self) -> Result<()> {
        if self.cancelled() {
            Err(Self::cancelled_error())
        } else {
            Ok(())
        }
    }

    /// The first output of a graph run; a run that failed because of a cancel is `Cancelled`.
    pub(crate) fn first(&self, r: Result<Vec<FloatTensor>>) -> Result<FloatTensor> {
        match r {
            Err(_) if self.cancelled() => Err(Self::cancelled_error()),
            Err(e) => Err(e),
            Ok(mut v) => {
                if v.is_empty() {
                    Err(Error::model("a graph returned no output"))
                } else {
                    Ok(v.swap_remove(0))
                }
            }
        }
    }
}
