//! File names of a download: `P.json` + `P.weights.bin`, and `P (k)` when a name is taken.

/// The prefix TF.js uses when `downloads://` has an empty path.
pub const DEFAULT_PREFIX: &str = "model";

/// The prefix as a safe file name: empty means [`DEFAULT_PREFIX`]; path separators, control
/// characters and characters Windows forbids become `_` (as browsers do with download names).
pub fn sanitize_prefix(prefix: &str) -> String {
    if prefix.is_empty() {
        return DEFAULT_PREFIX.to_string();
    }
    let s: String = prefix.chars().map(|c| if c.is_control() || "/\\<>:\"|?*".contains(c) { '_' } else { c }).collect();
    match s.as_str() {
        "." | ".." => s.replace('.', "_"),
        _ => s,
    }
}

/// The `(model.json, weights)` file names of the `k`-th candidate for `prefix`: `k = 0` gives
/// `P.json` and `P.weights.bin`, `k ≥ 1` gives `P (k).json` and `P (k).weights.bin`.
pub fn file_names(prefix: &str, k: usize) -> (String, String) {
    let p = sanitize_prefix(prefix);
    let base = if k == 0 { p } else { format!("{p} ({k})") };
    (format!("{base}.json"), format!("{base}.weights.bin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_tfjs_and_browser_renaming() {
        assert_eq!(file_names("", 0), ("model.json".into(), "model.weights.bin".into()));
        assert_eq!(file_names("fixture-a", 0), ("fixture-a.json".into(), "fixture-a.weights.bin".into()));
        assert_eq!(file_names("m", 2), ("m (2).json".into(), "m (2).weights.bin".into()));
        assert_eq!(sanitize_prefix("dir/sub\\x:y"), "dir_sub_x_y");
        assert_eq!(sanitize_prefix(".."), "__");
        assert_eq!(sanitize_prefix("模型 ✓"), "模型 ✓");
    }
}
