//! Where results go: stdout for results and summaries, stderr (terminal only) for progress.

use std::io::Write;

use serde::Serialize;

use crate::failure::{CmdResult, Failure};
use crate::progress::Progress;

/// The output of one run.
pub struct Output {
    /// Progress drawing for this run.
    pub progress: Progress,
    quiet: bool,
}

impl Output {
    /// Output for this process; `quiet` drops progress and summary lines.
    pub fn new(quiet: bool) -> Self {
        Output { progress: Progress::for_stderr(quiet), quiet }
    }

    /// Writes `text` to stdout as is. A closed pipe (`modelio ls | head`) is not an error.
    pub fn text(&self, text: &str) -> CmdResult {
        let mut stdout = std::io::stdout().lock();
        match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(Failure::new(format!("writing to stdout: {e}")))
            }
            _ => Ok(()),
        }
    }

    /// Writes `value` as one pretty-printed JSON document and a newline.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> CmdResult {
        let mut s = serde_json::to_string_pretty(value).map_err(Failure::new)?;
        s.push('\n');
        self.text(&s)
    }

    /// Writes a one-line summary of what was done (`copied a -> b ...`), unless quiet.
    pub fn summary(&self, line: &str) -> CmdResult {
        if self.quiet {
            return Ok(());
        }
        self.text(&format!("{line}\n"))
    }
}
