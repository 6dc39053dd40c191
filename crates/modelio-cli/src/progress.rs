//! Progress on the terminal (stderr), and only there.
//!
//! What is measured, honestly: every scheme reports the bytes it reads or writes through the call's
//! options (`modelio::Options::on_progress`): files and http as they stream, the SQLite and browser
//! stores once their one transaction is done. The task becomes a byte bar as soon as a total of at
//! least [`THRESHOLD`] is known; until then it shows a spinner with the elapsed time (from
//! [`SHOW_AFTER`] on, so quick operations stay silent).
//! When a task that moved at least [`THRESHOLD`] bytes is done, one line remains: the bytes, the
//! wall time and the resulting throughput. Nothing is drawn when stderr is not a terminal or with
//! `--quiet`.

use std::future::Future;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Transfers of at least this many bytes get a summary line (about 1 MB).
pub const THRESHOLD: u64 = 1 << 20;

/// A running task is shown once it has taken this long.
pub const SHOW_AFTER: Duration = Duration::from_millis(250);

/// Whether progress is drawn in this run.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Progress for this process: on when stderr is a terminal and `quiet` is off.
    pub fn for_stderr(quiet: bool) -> Self {
        Progress { enabled: enabled(quiet, std::io::stderr().is_terminal()) }
    }

    /// A task described by `message` (not shown yet).
    pub fn task(&self, message: impl Into<String>) -> Task {
        let bar = ProgressBar::hidden();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"));
        bar.set_message(message.into());
        Task { bar, enabled: self.enabled, started: Instant::now() }
    }
}

/// Whether to draw progress: never with `--quiet`, only on a terminal.
pub fn enabled(quiet: bool, stderr_is_terminal: bool) -> bool {
    !quiet && stderr_is_terminal
}

/// One operation the user waits for.
pub struct Task {
    bar: ProgressBar,
    enabled: bool,
    started: Instant,
}

impl Task {
    /// Runs `fut`; if it is still running after [`SHOW_AFTER`], the spinner appears.
    pub async fn run<F: Future>(&self, fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        tokio::select! {
            out = &mut fut => return out,
            _ = tokio::time::sleep(SHOW_AFTER) => {}
        }
        self.show();
        fut.await
    }

    /// A callback for byte progress (`loaded` of `total` bytes), callable from any thread. Once a
    /// total of at least [`THRESHOLD`] is known, the spinner becomes a byte bar and is shown at once.
    pub fn byte_sink(&self) -> impl Fn(u64, Option<u64>) + Send + Sync + 'static {
        let task = Task { bar: self.bar.clone(), enabled: self.enabled, started: self.started };
        move |loaded, total| {
            if let Some(total) = total.filter(|&t| task.bar.length() != Some(t)) {
                task.bar.set_length(total);
                task.bar.set_style(
                    ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec}")
                        .expect("valid template"),
                );
                if total >= THRESHOLD {
                    task.show();
                }
            }
            task.bar.set_position(loaded);
        }
    }

    fn show(&self) {
        if self.enabled && self.bar.is_hidden() {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(Duration::from_millis(100));
        }
    }

    /// Ends the task. When it moved at least [`THRESHOLD`] bytes (and progress is on), leaves one
    /// line: `<what> <bytes> in <seconds> s (<bytes>/s)`; otherwise the spinner just disappears.
    pub fn finish(self, what: &str, bytes: Option<u64>) {
        let secs = self.started.elapsed().as_secs_f64();
        match bytes {
            Some(b) if self.enabled && b >= THRESHOLD => {
                if self.bar.is_hidden() {
                    self.bar.set_draw_target(ProgressDrawTarget::stderr());
                }
                self.bar.set_style(ProgressStyle::with_template("{msg}").expect("valid template"));
                let rate = HumanBytes((b as f64 / secs.max(1e-9)) as u64);
                self.bar.finish_with_message(format!("{what} {} in {secs:.2} s ({rate}/s)", HumanBytes(b)));
            }
            _ => self.bar.finish_and_clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_on_a_terminal_and_not_quiet() {
        assert!(enabled(false, true));
        assert!(!enabled(true, true));
        assert!(!enabled(false, false));
    }

    #[tokio::test]
    async fn run_returns_the_output_of_fast_and_slow_futures() {
        let p = Progress { enabled: false };
        let t = p.task("x");
        assert_eq!(t.run(async { 1 }).await, 1);
        let slow = async {
            tokio::time::sleep(SHOW_AFTER + Duration::from_millis(50)).await;
            2
        };
        assert_eq!(t.run(slow).await, 2);
        let sink = t.byte_sink();
        sink(10, Some(THRESHOLD * 4));
        assert_eq!((t.bar.position(), t.bar.length()), (10, Some(THRESHOLD * 4)));
        assert!(t.bar.is_hidden(), "disabled progress never draws");
        t.finish("copied", Some(THRESHOLD));
    }
}
