//! Usage errors, exit codes and error lines of the real binary (no store needed).

mod common;

use common::Sandbox;

#[test]
fn usage_errors_exit_with_2() {
    let sb = Sandbox::new();
    for args in [&[][..], &["cp", "file://only-one"], &["frobnicate"], &["info"], &["serve", "--addr", "nonsense"]] {
        let r = sb.run(args);
        assert_eq!(r.code, 2, "modelio {args:?}: {r:?}");
        assert!(r.stderr.contains("Usage: modelio") || r.stderr.contains("--help"), "{r:?}");
    }
}

#[test]
fn help_and_version_succeed() {
    let sb = Sandbox::new();
    let help = sb.ok(&["--help"]).stdout;
    for cmd in ["info", "ls", "cp", "mv", "rm", "serve"] {
        assert!(help.contains(cmd), "{help}");
    }
    assert!(sb.ok(&["--version"]).stdout.starts_with("modelio "));
}

#[test]
fn a_url_without_scheme_is_one_clear_line() {
    let sb = Sandbox::new();
    let line = sb.fails(&["info", "my-model"]);
    assert!(line.contains("'my-model'") && line.contains("SCHEME://PATH"), "{line}");
}

#[test]
fn an_unknown_scheme_names_the_registered_ones() {
    let sb = Sandbox::new();
    let line = sb.fails(&["cp", "nosuch://a", "nosuch://b"]);
    assert!(line.contains("nosuch://a") && line.contains("registered schemes"), "{line}");
    let line = sb.fails(&["ls", "nosuch://"]);
    assert!(line.contains("nosuch"), "{line}");
}

#[test]
fn copying_a_model_onto_itself_is_refused() {
    let sb = Sandbox::new();
    let line = sb.fails(&["cp", "indexeddb://m", "indexeddb://m"]);
    assert!(line.contains("indexeddb://m"), "{line}");
}
