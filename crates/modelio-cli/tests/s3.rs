//! `modelio cp / ls / info / mv / rm` on `s3://` against a real S3 server: SeaweedFS on loopback
//! (`io_object_store::testkit::Weed`; `cargo xtask test-all` installs it), configured through the
//! environment exactly as `object_store` reads it (`AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, ...).

mod common;

use common::{fixture_url, Run, Sandbox};
use io_object_store::testkit::Weed;
use serde_json::Value;

#[test]
fn cp_ls_info_mv_rm_through_a_bucket() {
    let weed = Weed::start();
    weed.create_bucket("cli-models");
    let sb = Sandbox::new();
    let run = |args: &[&str]| Run::from(sb.command(args).envs(weed.env()).output().expect("run modelio"));
    let ok = |args: &[&str]| {
        let r = run(args);
        assert_eq!(r.code, 0, "modelio {args:?} failed: {r:?}");
        r
    };
    let content = |url: &str| {
        let mut v = ok(&["info", "--json", "--stats", url]).json();
        v.as_object_mut().unwrap().remove("url");
        v
    };
    let src = fixture_url("node_file/a");
    let r = ok(&["cp", &src, "s3://cli-models/team/a"]);
    assert_eq!(r.stdout, format!("copied {src} -> s3://cli-models/team/a (92 weight bytes)\n"));
    // The layout in the bucket, read anonymously over plain HTTP as a browser would.
    let (status, body) = weed.request("GET", "/cli-models/team/a/model.json", &[]).expect("GET model.json");
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_slice(&body).expect("model.json");
    let shard = doc["weightsManifest"][0]["paths"][0].as_str().expect("a weight path").to_string();
    let (status, weights) = weed.request("GET", &format!("/cli-models/team/a/{shard}"), &[]).expect("GET weights");
    assert_eq!((status, weights.len()), (200, 92));

    assert_eq!(content("s3://cli-models/team/a"), content(&src));
    ok(&["-q", "cp", "s3://cli-models/team/a", &sb.file_url("back/a")]);
    assert_eq!(content(&sb.file_url("back/a")), content(&src));

    let listed = ok(&["ls", "--json", "s3://cli-models/"]).json();
    assert_eq!(listed.as_object().unwrap().keys().collect::<Vec<_>>(), ["s3://cli-models/team/a"], "{listed}");
    assert_eq!(listed["s3://cli-models/team/a"]["weightDataBytes"], 92);

    let r = ok(&["mv", "s3://cli-models/team/a", "s3://cli-models/team/b"]);
    assert_eq!(r.stdout, "moved s3://cli-models/team/a -> s3://cli-models/team/b (92 weight bytes)\n");
    let listed = ok(&["ls", "--json", "s3://cli-models/team"]).json();
    assert_eq!(listed.as_object().unwrap().keys().collect::<Vec<_>>(), ["s3://cli-models/team/b"], "{listed}");
    assert_eq!(weed.request("GET", "/cli-models/team/a/model.json", &[]).unwrap().0, 404, "the source is gone");

    let r = ok(&["rm", "s3://cli-models/team/b"]);
    assert_eq!(r.stdout, "removed s3://cli-models/team/b (92 weight bytes)\n");
    assert!(ok(&["ls", "--json", "s3://cli-models/"]).json().as_object().unwrap().is_empty());

    // One error line naming the bucket, status 1.
    let r = run(&["ls", "s3://no-such-bucket/"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.starts_with("modelio: error: ") && r.stderr.contains("s3://no-such-bucket/"), "{r:?}");
    let r = run(&["info", "s3://cli-models/missing"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("s3://cli-models/missing"), "{r:?}");
}
