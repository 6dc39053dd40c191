//! Where TF.js fetches weight shards from: the exact string rule of `tfjs-core/src/io/http.ts`.

use io_core::ManifestGroup;

/// Splits a model URL as TF.js's `parseUrl` does: the prefix up to and including the last `/`,
/// and the `?query` when it comes after that `/` (empty otherwise).
///
/// This is plain string work, as in TF.js: a `/` inside the query moves the split point, and
/// nothing is normalized (`./` stays in the string; the URL parser of the request removes it).
pub fn split_model_url(url: &str) -> (&str, &str) {
    let last_slash = url.rfind('/');
    let prefix = match last_slash {
        Some(i) => &url[..=i],
        None => "",
    };
    let suffix = match (url.rfind('?'), last_slash) {
        (Some(q), Some(s)) if q > s => &url[q..],
        (Some(q), None) => &url[q..],
        _ => "",
    };
    (prefix, suffix)
}

/// How shard URLs are made from a manifest path.
#[derive(Clone, Copy)]
pub enum ShardUrlRule<'a> {
    /// TF.js's default: `(weight_path_prefix or the model URL's prefix) + path + the model URL's query`.
    Prefix {
        /// The model.json URL.
        model_url: &'a str,
        /// `weightPathPrefix`: replaces the model URL's prefix; no `/` is added after it.
        weight_path_prefix: Option<&'a str>,
    },
    /// `weightUrlConverter`: the URL of each path is whatever the function returns.
    Converter(&'a (dyn Fn(&str) -> String + Send + Sync)),
}

impl ShardUrlRule<'_> {
    /// The URL of one manifest path.
    pub fn url(&self, path: &str) -> String {
        match self {
            ShardUrlRule::Prefix { model_url, weight_path_prefix } => {
                let (prefix, query) = split_model_url(model_url);
                format!("{}{path}{query}", weight_path_prefix.unwrap_or(prefix))
            }
            ShardUrlRule::Converter(f) => f(path),
        }
    }

    /// The URLs of every shard of every group, in manifest order (the order TF.js requests them).
    pub fn urls(&self, manifest: &[ManifestGroup]) -> Vec<Vec<String>> {
        manifest.iter().map(|g| g.paths.iter().map(|p| self.url(p)).collect()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule<'a>(model_url: &'a str, weight_path_prefix: Option<&'a str>) -> ShardUrlRule<'a> {
        ShardUrlRule::Prefix { model_url, weight_path_prefix }
    }

    #[test]
    fn split_like_tfjs() {
        assert_eq!(split_model_url("http://h/a/model.json"), ("http://h/a/", ""));
        assert_eq!(split_model_url("http://h/a/model.json?v=1&tok=x%2Fy"), ("http://h/a/", "?v=1&tok=x%2Fy"));
        // TF.js's quirk: a '/' in the query moves the prefix into the query, and there is no suffix.
        assert_eq!(split_model_url("http://h/a/model.json?p=x/y"), ("http://h/a/model.json?p=x/", ""));
    }

    #[test]
    fn prefix_and_query_are_concatenated() {
        assert_eq!(rule("http://h/a/model.json", None).url("./w.bin"), "http://h/a/./w.bin");
        assert_eq!(rule("http://h/s/model.json?q=1", Some("http://h/p/")).url("./w.bin"), "http://h/p/./w.bin?q=1");
        assert_eq!(rule("http://h/s/model.json", Some("http://h/p")).url("./w.bin"), "http://h/p./w.bin");
        let conv = |p: &str| format!("http://cdn/{p}");
        assert_eq!(ShardUrlRule::Converter(&conv).url("g1.bin"), "http://cdn/g1.bin");
    }
}
