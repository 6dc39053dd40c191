//! How a command fails: one line for stderr, exit status 1.

use std::fmt;

/// A failed command, as the one line the user sees (`modelio: error: <line>`).
#[derive(Debug, PartialEq, Eq)]
pub struct Failure(String);

impl Failure {
    /// A failure with this message; line breaks are folded so it stays one line.
    pub fn new(message: impl fmt::Display) -> Self {
        let text = message.to_string();
        Failure(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<modelio::Error> for Failure {
    fn from(e: modelio::Error) -> Self {
        Failure::new(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::new(e)
    }
}

/// What every command returns.
pub type CmdResult = Result<(), Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line() {
        assert_eq!(Failure::new("a\n  b\tc").to_string(), "a b c");
    }
}
