//! Model names in URLs: nested names (`team/model-a`) are fine, anything that could escape the store is not.

/// The file names the server serves inside a model; a model name may not end with one.
pub const RESERVED: [&str; 2] = ["model.json", "model.weights.bin"];

/// Checks a (percent-decoded) model name, returning why it is refused.
pub fn check(name: &str) -> Result<&str, String> {
    if name.is_empty() {
        return Err("the model name is empty".into());
    }
    if name.len() > 1024 {
        return Err("the model name is longer than 1024 bytes".into());
    }
    if name.contains('\\') {
        return Err(format!("model name {name:?} contains a backslash"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("model name {name:?} contains a control character"));
    }
    if name.starts_with('/') {
        return Err(format!("model name {name:?} is absolute"));
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return Err(format!("model name {name:?} looks like a drive path"));
    }
    for seg in name.split('/') {
        match seg {
            "" => return Err(format!("model name {name:?} has an empty path segment")),
            "." | ".." => return Err(format!("model name {name:?} contains a '{seg}' segment")),
            _ => {}
        }
    }
    if let Some(last) = name.rsplit('/').next().filter(|l| RESERVED.contains(l)) {
        return Err(format!("model name {name:?} ends with '{last}', which is reserved for the model's files"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn nested_names_pass_traversal_fails() {
        for ok in ["m", "team/model-a", "ünï/模型 ✓", "a.b/c..d"] {
            assert_eq!(check(ok), Ok(ok));
        }
        for bad in
            ["", "..", "../x", "a/../b", "a/./b", "/etc/passwd", "a//b", "a/", "a\\b", "C:x", "a\u{0}b", "m/model.json"]
        {
            assert!(check(bad).is_err(), "{bad:?} accepted");
        }
    }
}
