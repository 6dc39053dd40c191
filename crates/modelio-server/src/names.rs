//! Model names in URLs: nested names (`team/model-a`) are fine, anything that could escape the store,
//! collide with the server's own URLs or its bookkeeping in the store, or look like another name is not.
//!
//! A name is one or more `/`-separated segments. Refused (400):
//! - empty names, names over [`MAX_NAME_BYTES`] bytes or with a segment over [`MAX_SEGMENT_BYTES`],
//!   names of more than [`MAX_SEGMENTS`] segments;
//! - empty, `.` and `..` segments, absolute names, drive paths, backslashes;
//! - control characters and invisible or bidirectional formatting characters ([`is_invisible`]): a
//!   name must look like what it is;
//! - names not in Unicode NFC (the message gives the NFC spelling): two spellings of one name would
//!   be two models on some file systems and one on others;
//! - segments starting with `.` (the store's hidden entries: temporary folders, the versions under
//!   [`crate::versions::ROOT`]) or `@` (the server's version URLs, `NAME/@v/VERSION/FILE`);
//! - a last segment that is one of the server's file names or routes ([`RESERVED`]).

use unicode_normalization::{is_nfc, UnicodeNormalization};

/// The last segments a model name may not have: `NAME/model.json` is a file URL and
/// `NAME/versions` the versions route.
pub const RESERVED: [&str; 3] = ["model.json", "model.weights.bin", "versions"];

/// Longest accepted name, in bytes (UTF-8).
pub const MAX_NAME_BYTES: usize = 1024;

/// Longest accepted segment, in bytes (UTF-8): what most file systems allow for one file name.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Most segments in a name. A `file://` store lists model folders at most 16 levels below the folder
/// it lists, and a name's versions lie one level below it in [`crate::versions::ROOT`]
/// (`NAME/VERSION`): a deeper model would be stored but neither listed by `GET /models` nor counted
/// by the store quota.
pub const MAX_SEGMENTS: usize = 15;

/// Whether `c` is invisible or changes the direction of text: format characters (Unicode category Cf:
/// zero-width spaces and joiners, bidi embeddings, overrides and isolates, the BOM, soft hyphen, ...),
/// and the invisible fillers and variation selectors.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}' | '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}' | '\u{08E2}'
        | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}' | '\u{2028}' | '\u{2029}')
}

/// Checks a (percent-decoded) model name, returning why it is refused.
pub fn check(name: &str) -> Result<&str, String> {
    if name.is_empty() {
        return Err("the model name is empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!("the model name is {} bytes long; at most {MAX_NAME_BYTES} are allowed", name.len()));
    }
    let segments = name.split('/').count();
    if segments > MAX_SEGMENTS {
        return Err(format!("model name {name:?} has {segments} path segments; at most {MAX_SEGMENTS} are allowed"));
    }
    if name.contains('\\') {
        return Err(format!("model name {name:?} contains a backslash"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("model name {name:?} contains a control character"));
    }
    if let Some(c) = name.chars().find(|&c| is_invisible(c)) {
        return Err(format!(
            "model name {name:?} contains the invisible or bidirectional formatting character U+{:04X}",
            c as u32
        ));
    }
    if !is_nfc(name) {
        let nfc: String = name.nfc().collect();
        return Err(format!("model name {name:?} is not in Unicode NFC; use the NFC spelling {nfc:?}"));
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
            s if s.len() > MAX_SEGMENT_BYTES => {
                return Err(format!(
                    "model name {name:?} has a segment of {} bytes; at most {MAX_SEGMENT_BYTES} are allowed",
                    s.len()
                ))
            }
            s if s.starts_with('.') => {
                return Err(format!(
                    "model name {name:?} has a segment starting with '.', which is reserved for the store's own entries"
                ))
            }
            s if s.starts_with('@') => {
                return Err(format!(
                    "model name {name:?} has a segment starting with '@', which is reserved for version URLs"
                ))
            }
            _ => {}
        }
    }
    if let Some(last) = name.rsplit('/').next().filter(|l| RESERVED.contains(l)) {
        return Err(format!("model name {name:?} ends with '{last}', which is reserved for the server's URLs"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_names_pass_traversal_fails() {
        for ok in ["m", "team/model-a", "ünï/模型 ✓", "a.b/c..d", "versions/x", "a@b"] {
            assert_eq!(check(ok), Ok(ok));
        }
        for bad in [
            "",
            "..",
            "../x",
            "a/../b",
            "a/./b",
            "/etc/passwd",
            "a//b",
            "a/",
            "a\\b",
            "C:x",
            "a\u{0}b",
            "m/model.json",
            "m/versions",
            ".hidden",
            "a/.modelio",
            "a/@v",
        ] {
            assert!(check(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn lengths_normal_form_and_invisible_characters() {
        let seg = "x".repeat(255);
        assert!(check(&seg).is_ok());
        assert!(check(&"x".repeat(256)).unwrap_err().contains("at most 255"));
        let long = [seg.as_str(); 5].join("/");
        assert!(check(&long).unwrap_err().contains("at most 1024"));
        let deepest = ["s"; MAX_SEGMENTS].join("/");
        assert!(check(&deepest).is_ok());
        assert!(check(&format!("{deepest}/s")).unwrap_err().contains("at most 15 are allowed"));
        let nfd = "u\u{0308}";
        assert!(check(nfd).unwrap_err().contains("NFC"));
        assert!(check("\u{00FC}").is_ok());
        for c in ['\u{200B}', '\u{202E}', '\u{2066}', '\u{FEFF}', '\u{200D}', '\u{061C}'] {
            let n = format!("a{c}b");
            assert!(check(&n).unwrap_err().contains("invisible"), "{c:?}");
        }
    }
}
