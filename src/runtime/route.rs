//! ONNX Runtime's environment-wide messages, routed to the call that caused them, also when a
//! process holds several copies of libsdrt.
//!
//! ONNX Runtime has one environment per process, and it logs through the logger of whoever
//! created it: with two copies of libsdrt at two paths (a plug-in host loading two plug-ins),
//! every message ONNX Runtime logs outside a session's own logger (its allocators' messages,
//! for one) reaches the first copy, also while the second copy's pipeline runs. So each copy
//! marks the calls it runs on a thread ([`enter`]), and the environment's logger asks every
//! copy in turn whether the thread that logged is inside one of its calls ([`deliver`]); the
//! copy that says yes passes the message to that call's pipeline log. The worker threads of a
//! pipeline's sessions are created by sdrt ([`Workers`]) and run inside that pipeline's scope
//! all their life. Messages logged outside any call go to the process-wide sink of the copy
//! that created the environment.
//!
//! The copies find each other through one [`Router`] per process: the first copy publishes the
//! address of its own in the environment variable `SDRT_LOG_ROUTER_<pid>` (with `setenv` that
//! keeps a value already there; the value also carries the kernel's per-exec random bytes, so a
//! value left by an image this process ran before `exec` is not trusted), the others register
//! their [`Entry`] in it. Copies are never unloaded (libsdrt pins itself), so the router and
//! the entries stay valid. On other systems than Linux each copy routes only its own calls.

use std::cell::RefCell;
use std::sync::atomic::{AtomicPtr, Ordering};

use once_cell::sync::OnceCell;

use super::log::{log, LogLevel, PipelineLog};

thread_local! {
    /// The calls of this copy running on this thread, innermost last (a progress callback may
    /// run a call on another pipeline).
    static CALLS: RefCell<Vec<PipelineLog>> = const { RefCell::new(Vec::new()) };
}

/// A call of this copy on this thread, for its lifetime: ONNX Runtime's environment messages
/// logged on this thread go to its pipeline log.
pub(crate) struct CallScope(bool);

/// Marks a call about the pipeline that logs to `log` as running on this thread.
pub(crate) fn enter(log: &PipelineLog) -> CallScope {
    CallScope(
        CALLS
            .try_with(|calls| calls.borrow_mut().push(log.clone()))
            .is_ok(),
    )
}

impl Drop for CallScope {
    fn drop(&mut self) {
        if self.0 {
            let _ = CALLS.try_with(|calls| calls.borrow_mut().pop());
        }
    }
}

/// Creates the worker threads of one pipeline's ONNX Runtime sessions (the intra-op pool),
/// each inside the pipeline's scope for its whole life: what ONNX Runtime logs on them (each
/// says where it pinned itself as it starts) is that pipeline's.
pub(super) struct Workers(PipelineLog);

impl Workers {
    pub(super) fn new(log: &PipelineLog) -> Workers {
        Workers(log.clone())
    }
}

/// The stack ONNX Runtime's own threads get on Linux (the process default of 8 MiB), not
/// Rust's 2 MiB default.
const WORKER_STACK: usize = 8 << 20;

impl ort::environment::ThreadManager for Workers {
    type Thread = std::thread::JoinHandle<()>;

    fn create(&self, work: impl FnOnce() + Send + 'static) -> ort::Result<Self::Thread> {
        let log = self.0.clone();
        std::thread::Builder::new()
            .name("sdrt-ort-worker".into())
            .stack_size(WORKER_STACK)
            .spawn(move || {
                let _scope = enter(&log);
                work();
            })
            .map_err(|e| ort::Error::new(format!("cannot start a worker thread: {e}")))
    }

    fn join(thread: Self::Thread) -> ort::Result<()> {
        // A worker's panic stays in the worker: ONNX Runtime is waiting on this join.
        let _ = thread.join();
        Ok(())
    }
}

/// Version 1 of the layout every copy agrees on (`repr(C)`, only ever grown at the end).
const MAGIC: u64 = u64::from_le_bytes(*b"sdrtrout");
const VERSION: u64 = 1;
const SLOTS: usize = 64;

/// One copy of libsdrt, as the router knows it.
#[repr(C)]
struct Entry {
    magic: u64,
    /// Delivers the message and returns true when the calling thread is inside one of this
    /// copy's calls; returns false otherwise. Never unwinds.
    claim: unsafe extern "C" fn(level: u32, message: *const u8, len: usize) -> bool,
}

/// The copies of libsdrt in this process, in the order they registered.
#[repr(C)]
struct Router {
    magic: u64,
    version: u64,
    slots: [AtomicPtr<Entry>; SLOTS],
}

static OWN_ROUTER: Router = Router {
    magic: MAGIC,
    version: VERSION,
    slots: [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS],
};

static OWN_ENTRY: Entry = Entry {
    magic: MAGIC,
    claim,
};

static ROUTER: OnceCell<&'static Router> = OnceCell::new();

unsafe extern "C" fn claim(level: u32, message: *const u8, len: usize) -> bool {
    let Some(call) = CALLS
        .try_with(|calls| calls.borrow().last().cloned())
        .ok()
        .flatten()
    else {
        return false;
    };
    // SAFETY: `deliver` passes a live UTF-8 string of `len` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(message, len) };
    let text = String::from_utf8_lossy(bytes);
    // A panicking log callback must not unwind into another copy's frames.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        call.log(LogLevel::from_u32(level), &text)
    }));
    true
}

/// Registers this copy with the process's router (once the runtime is initialized).
pub(super) fn register() {
    let me = &OWN_ENTRY as *const Entry as *mut Entry;
    for slot in &router().slots {
        match slot.compare_exchange(
            std::ptr::null_mut(),
            me,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return,
            Err(p) if p == me => return,
            Err(_) => {}
        }
    }
    // Sixty-four copies registered: this one's environment messages stay process-wide.
}

/// Passes one of ONNX Runtime's environment messages to the call it came from (in whichever
/// copy runs it on this thread), else to this copy's process-wide sink.
pub(super) fn deliver(level: LogLevel, message: &str) {
    for slot in &router().slots {
        let entry = slot.load(Ordering::Acquire);
        if entry.is_null() {
            break;
        }
        // SAFETY: only `register` stores into the slots, the address of a copy's static
        // `OWN_ENTRY`, and copies are never unloaded.
        let entry = unsafe { &*entry };
        // SAFETY: the claim function's contract; the message outlives the call.
        if entry.magic == MAGIC
            && unsafe { (entry.claim)(level as u32, message.as_ptr(), message.len()) }
        {
            return;
        }
    }
    log(level, message);
}

fn router() -> &'static Router {
    ROUTER.get_or_init(find_or_publish)
}

#[cfg(target_os = "linux")]
fn find_or_publish() -> &'static Router {
    use std::ffi::{CStr, CString};

    let own = &OWN_ROUTER as *const Router as usize;
    // SAFETY: AT_RANDOM is the address of 16 bytes the kernel writes for each exec.
    let token = match unsafe { libc::getauxval(libc::AT_RANDOM) } as usize {
        0 => return &OWN_ROUTER,
        p => {
            let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, 16) };
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        }
    };
    let Ok(name) = CString::new(format!("SDRT_LOG_ROUTER_{}", std::process::id())) else {
        return &OWN_ROUTER;
    };
    let read = || -> Option<String> {
        // SAFETY: getenv with a NUL-terminated name; the value is copied at once.
        let v = unsafe { libc::getenv(name.as_ptr()) };
        (!v.is_null()).then(|| unsafe { CStr::from_ptr(v) }.to_string_lossy().into_owned())
    };
    let trusted = |value: &str| -> Option<&'static Router> {
        let (address, t) = value.split_once(':')?;
        if t != token {
            return None; // left by the image this process ran before an exec
        }
        let address = usize::from_str_radix(address, 16).ok()?;
        // SAFETY: a copy of libsdrt in this process image published the address of its
        // static router, and copies are never unloaded.
        let router = unsafe { &*(address as *const Router) };
        (router.magic == MAGIC && router.version >= VERSION).then_some(router)
    };
    if let Some(router) = read().as_deref().and_then(trusted) {
        return router;
    }
    let Ok(value) = CString::new(format!("{own:x}:{token}")) else {
        return &OWN_ROUTER;
    };
    // Overwrite only a value this image cannot trust; otherwise keep the first copy's.
    let overwrite = i32::from(read().is_some());
    // SAFETY: NUL-terminated name and value; setenv copies them.
    unsafe { libc::setenv(name.as_ptr(), value.as_ptr(), overwrite) };
    read().as_deref().and_then(trusted).unwrap_or(&OWN_ROUTER)
}

#[cfg(not(target_os = "linux"))]
fn find_or_publish() -> &'static Router {
    &OWN_ROUTER
}
