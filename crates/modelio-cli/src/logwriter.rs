//! The server's log writer: the threads that log append whole lines to one buffer; one thread
//! writes them to stderr in batches.
//!
//! Why not one `write` per line, or `tracing-appender`: on a loaded server one system call per
//! request line cost 15% of a model.json GET's throughput with stderr in a file, and
//! `tracing-appender`'s writer thread, woken for every line, cost as much in wake-ups. Here the
//! writer thread is woken once when lines start to arrive, lets them gather for [`GATHER`] (or
//! until [`BATCH_BYTES`] wait), and writes them in one go: a few system calls and wake-ups a
//! second, however many requests. A line reaches stderr at most [`GATHER`] after it was logged.
//!
//! Logging never blocks an async executor on the disk or a pipe: if stderr stops taking bytes
//! (a full pipe nobody reads) and [`MAX_PENDING_BYTES`] are waiting, further lines are dropped and
//! counted, and a line saying how many is written once stderr takes bytes again.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// How long the first waiting line waits for others before they are written together.
pub const GATHER: Duration = Duration::from_millis(50);
/// Lines waiting that make the writer write at once.
pub const BATCH_BYTES: usize = 64 << 10;
/// Lines waiting beyond which new lines are dropped (stderr is not taking them).
pub const MAX_PENDING_BYTES: usize = 8 << 20;

/// A [`MakeWriter`] for `tracing-subscriber`'s fmt layer (which writes each event with one
/// `write_all`): see the module documentation. Dropping the [`Flusher`] it came with writes out
/// what is waiting and stops the thread.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// The writer thread: dropping it writes the waiting lines and waits for that.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    pending: Mutex<Pending>,
    /// The writer thread, woken when the first line arrives and when a batch is full.
    thread: OnceLock<Thread>,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Lines dropped since the last write.
    dropped: u64,
    /// No more lines: write what is left and stop.
    closed: bool,
}

/// The batched writer to stderr and its writer thread (`None` if the thread cannot be started:
/// then each line is written directly, as without batching).
pub fn stderr() -> (BatchedWriter, Option<Flusher>) {
    to(Box::new(io::stderr()))
}

/// The batched writer to `out` and its writer thread.
fn to(mut out: Box<dyn Write + Send>) -> (BatchedWriter, Option<Flusher>) {
    let shared = Arc::new(Shared { pending: Mutex::new(Pending::default()), thread: OnceLock::new() });
    let mine = shared.clone();
    let spawned = std::thread::Builder::new().name("modelio-log".into()).spawn(move || write_loop(&mine, &mut *out));
    let flusher = spawned.ok().map(|handle| {
        let _ = shared.thread.set(handle.thread().clone());
        Flusher { shared: shared.clone(), thread: Some(handle) }
    });
    (BatchedWriter { shared }, flusher)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A thread that panicked while appending left whole lines or none: the bytes are usable.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }
}

/// The writer thread: waits for a first line, lets more gather, writes them all; until closed.
fn write_loop(shared: &Shared, out: &mut dyn Write) {
    let mut spare = Vec::new();
    loop {
        loop {
            let p = shared.lock();
            if !p.bytes.is_empty() || p.closed {
                break;
            }
            drop(p);
            std::thread::park();
        }
        let deadline = Instant::now() + GATHER;
        loop {
            let p = shared.lock();
            if p.bytes.len() >= BATCH_BYTES || p.closed {
                break;
            }
            drop(p);
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::park_timeout(deadline - now);
        }
        let (dropped, closed) = {
            let mut p = shared.lock();
            std::mem::swap(&mut p.bytes, &mut spare);
            (std::mem::take(&mut p.dropped), p.closed)
        };
        // Errors are not reported: there is nowhere left to report them.
        let _ = out.write_all(&spare);
        if dropped > 0 {
            let _ = writeln!(out, "modelio: {dropped} log lines were dropped: stderr did not take them in time");
        }
        let _ = out.flush();
        spare.clear();
        if closed && shared.lock().bytes.is_empty() {
            return;
        }
    }
}

impl Shared {
    /// Appends one formatted event (the fmt layer writes each with one `write_all`).
    fn append(&self, line: &[u8]) -> io::Result<usize> {
        let mut p = self.lock();
        if p.closed {
            drop(p);
            // The writer thread has stopped: straight to stderr.
            return io::stderr().write(line);
        }
        let before = p.bytes.len();
        if before + line.len() > MAX_PENDING_BYTES {
            p.dropped += 1;
            return Ok(line.len());
        }
        p.bytes.extend_from_slice(line);
        let after = p.bytes.len();
        drop(p);
        if before == 0 || (before < BATCH_BYTES && after >= BATCH_BYTES) {
            self.wake();
        }
        Ok(line.len())
    }
}

/// What [`BatchedWriter`] hands the fmt layer for one event.
pub struct LineWriter<'a>(&'a Shared);

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.0.append(line)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.shared)
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer into shared memory that can be made to block, and counts its `write` calls.
    #[derive(Clone, Default)]
    struct Sink {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<std::sync::atomic::AtomicUsize>,
        gate: Arc<Mutex<()>>,
    }

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let _open = self.gate.lock().unwrap();
            self.writes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.bytes.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn line(w: &BatchedWriter, text: &str) {
        w.make_writer().write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn lines_arrive_in_order_in_few_writes_and_all_by_the_time_the_flusher_is_dropped() {
        let sink = Sink::default();
        let (w, flusher) = to(Box::new(sink.clone()));
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        for i in 0..1000 {
            line(&w, &format!("line {i}\n"));
        }
        drop(flusher);
        assert_eq!(String::from_utf8(sink.bytes.lock().unwrap().clone()).unwrap(), expected);
        // 1000 lines (8.9 KB) in well under GATHER: one or two writes, not a thousand.
        assert!(sink.writes.load(std::sync::atomic::Ordering::SeqCst) <= 3);
    }

    #[test]
    fn a_line_is_written_within_the_gather_time_without_more_lines_or_a_drop() {
        let sink = Sink::default();
        let (w, _flusher) = to(Box::new(sink.clone()));
        line(&w, "alone\n");
        let start = Instant::now();
        while sink.bytes.lock().unwrap().is_empty() {
            assert!(start.elapsed() < Duration::from_secs(5), "the line was never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*sink.bytes.lock().unwrap(), b"alone\n");
    }

    #[test]
    fn a_stuck_stderr_drops_lines_beyond_the_cap_instead_of_blocking_the_logger_and_says_so() {
        let sink = Sink::default();
        let gate = sink.gate.lock().unwrap(); // stderr takes nothing
        let (w, flusher) = to(Box::new(sink.clone()));
        let text = "x".repeat(1023) + "\n";
        // Let the writer thread take a first batch and block on it.
        line(&w, &text);
        std::thread::sleep(GATHER * 3);
        let start = Instant::now();
        let lines = 2 * MAX_PENDING_BYTES / text.len();
        for _ in 0..lines {
            line(&w, &text);
        }
        // Appending never waited on the stuck writer.
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(gate);
        drop(flusher);
        let out = String::from_utf8(sink.bytes.lock().unwrap().clone()).unwrap();
        let kept = out.lines().filter(|l| l.starts_with('x')).count();
        assert!(kept > 1 && kept < lines, "{kept} of {lines} lines kept");
        let dropped = lines + 1 - kept;
        assert!(out.contains(&format!("modelio: {dropped} log lines were dropped")), "{}", &out[out.len() - 200..]);
    }
}
