//! `modelio cp` with the converter's weight options, and `modelio verify`, on the real binary.

mod common;

use std::process::Command;

use common::{fixture, fixture_json, fixture_url, Sandbox};

fn read(p: impl AsRef<std::path::Path>) -> Vec<u8> {
    std::fs::read(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// TF.js's own save of model `m`, quantized by the CLI, gives the Python converter's files.
#[test]
fn cp_quantizes_as_the_converter() {
    let sb = Sandbox::new();
    for (m, flags, case) in [
        ("b", vec!["--quantize-uint8", "--shard-size"], "b_quant_uint8"),
        ("b", vec!["--quantize-uint16", "--shard-size"], "b_quant_uint16"),
        ("b", vec!["--quantize-float16", "--shard-size"], "b_quant_float16"),
        ("a", vec!["--quantize-uint8=*/kernel", "--quantize-float16", "--shard-size=4194304"], "a_quant_mixed"),
    ] {
        let out = format!("out/{case}");
        let mut args = vec!["-q", "cp"];
        args.extend(flags.iter().copied());
        let src = fixture_url(&format!("node_file/{m}"));
        let dst = sb.file_url(&out);
        args.extend([src.as_str(), dst.as_str()]);
        sb.ok(&args);
        let want_dir = fixture(&format!("converter_write_weights/{case}"));
        assert_eq!(
            read(sb.path().join(&out).join("group1-shard1of1.bin")),
            read(want_dir.join("group1-shard1of1.bin")),
            "{case}: weight bytes"
        );
        let ours: serde_json::Value = serde_json::from_slice(&read(sb.path().join(&out).join("model.json"))).unwrap();
        assert_eq!(
            ours["weightsManifest"],
            fixture_json(&format!("converter_write_weights/{case}/weights_manifest.json"))
        );
        // The numbers are written with the converter's text.
        let text = String::from_utf8(read(sb.path().join(&out).join("model.json"))).unwrap();
        if case == "b_quant_uint8" {
            assert!(text.contains(r#""min":-0.5018382352941176,"scale":0.003860294117647059"#), "{text}");
        }
    }
}

#[test]
fn cp_dequantizes_and_shards() {
    let sb = Sandbox::new();
    // float16 holds b's values exactly: dequantized, the bytes are TF.js's own.
    let src = fixture_url("converter_write_weights/b_quant_float16");
    sb.ok(&["-q", "cp", "--dequantize", &src, &sb.file_url("plain")]);
    assert_eq!(read(sb.path().join("plain/weights.bin")), read(fixture("node_file/b/weights.bin")));
    let info = sb.ok(&["info", "--json", &sb.file_url("plain")]).json();
    assert!(info["weights"].as_array().unwrap().iter().all(|w| w["quantization"].is_null()));
    // 724 bytes in 256-byte shards: 3 files.
    sb.ok(&["-q", "cp", "--shard-size=256", &sb.file_url("plain"), &sb.file_url("sharded")]);
    let sizes: Vec<u64> = (1..=3)
        .map(|i| std::fs::metadata(sb.path().join(format!("sharded/group1-shard{i}of3.bin"))).unwrap().len())
        .collect();
    assert_eq!(sizes, [256, 256, 212]);
    // Across stores too: quantized into indexeddb://, back out as float32.
    sb.ok(&["-q", "cp", "--quantize-float16", &sb.file_url("sharded"), "indexeddb://q"]);
    let q = sb.ok(&["info", "--json", "indexeddb://q"]).json();
    assert_eq!(q["weightBytes"], 362);
    sb.ok(&["-q", "mv", "--dequantize", "indexeddb://q", &sb.file_url("back")]);
    assert_eq!(read(sb.path().join("back/weights.bin")), read(fixture("node_file/b/weights.bin")));
}

#[test]
fn conflicting_conversions_are_refused() {
    let sb = Sandbox::new();
    let src = fixture_url("node_file/a");
    let dst = sb.file_url("x");
    let e = sb.fails(&["cp", "--quantize-uint8", "--quantize-uint16", &src, &dst]);
    assert!(e.contains("more than one quantization applies to all weights"), "{e}");
    let e = sb.fails(&["cp", "--quantize-uint8=dense*", "--quantize-float16=*/bias", &src, &dst]);
    assert!(e.contains("two quantizations") && e.contains("dense_a1/bias"), "{e}");
    assert!(!sb.path().join("x").exists(), "nothing written");
    let r = sb.run(&["cp", "--dequantize", "--quantize-uint8", &src, &dst]);
    assert_eq!(r.code, 2, "{r:?}");
}

fn sha256sum(dir: &std::path::Path, files: &[&str]) -> String {
    let out = Command::new("sha256sum").args(files).current_dir(dir).output().expect("coreutils sha256sum");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn verify_prints_sha256sum_lines_and_checks_digests() {
    let sb = Sandbox::new();
    sb.ok(&["-q", "cp", "--shard-size=300", &fixture_url("node_file/b"), &sb.file_url("m")]);
    let dir = sb.path().join("m");
    let names = ["model.json", "group1-shard1of3.bin", "group1-shard2of3.bin", "group1-shard3of3.bin"];
    let want = sha256sum(&dir, &names);
    let r = sb.ok(&["verify", &sb.file_url("m")]);
    assert_eq!(r.stdout, format!("{want}verified {}: 4 files, 8 weights, 724 weight bytes\n", sb.file_url("m")));
    std::fs::write(sb.path().join("digests"), &want).unwrap();
    let r = sb.ok(&["-q", "verify", "--digests", "digests", &sb.file_url("m")]);
    assert_eq!(r.stdout, want);

    // A changed byte: the digest names the file.
    let shard2 = dir.join("group1-shard2of3.bin");
    let mut bytes = read(&shard2);
    bytes[10] ^= 1;
    std::fs::write(&shard2, &bytes).unwrap();
    let e = sb.fails(&["verify", "--digests", "digests", &sb.file_url("m")]);
    assert!(e.contains("group1-shard2of3.bin: sha256") && e.contains("does not match"), "{e}");
    // Without digests the model still decodes (a flipped bit is still a float).
    sb.ok(&["-q", "verify", &sb.file_url("m")]);

    // A truncated first shard: the sizes name it, not the last file.
    let shard1 = dir.join("group1-shard1of3.bin");
    let b1 = read(&shard1);
    std::fs::write(&shard1, &b1[..b1.len() - 4]).unwrap();
    let e = sb.fails(&["verify", &sb.file_url("m")]);
    assert!(e.contains("group1-shard1of3.bin: this weight file is shorter"), "{e}");
    std::fs::write(&shard1, &b1).unwrap();

    // A digest file that lists another file, or misses one.
    std::fs::write(sb.path().join("extra"), format!("{want}{}  other.bin\n", "0".repeat(64))).unwrap();
    std::fs::write(&shard2, {
        bytes[10] ^= 1;
        &bytes
    })
    .unwrap();
    let e = sb.fails(&["verify", "--digests", "extra", &sb.file_url("m")]);
    assert!(e.contains("other.bin: listed in"), "{e}");
    let partial: String = want.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(sb.path().join("partial"), partial).unwrap();
    let e = sb.fails(&["verify", "--digests", "partial", &sb.file_url("m")]);
    assert!(e.contains("group1-shard2of3.bin: not listed in"), "{e}");
    std::fs::write(sb.path().join("bad"), "xyz  model.json\n").unwrap();
    let e = sb.fails(&["verify", "--digests", "bad", &sb.file_url("m")]);
    assert!(e.contains("bad:1: expected '<sha256>"), "{e}");
}

#[test]
fn verify_a_store_without_files() {
    let sb = Sandbox::new();
    sb.ok(&["-q", "cp", &fixture_url("node_file/a"), "localstorage://a"]);
    let want = sha256sum(&fixture("node_file/a"), &["weights.bin"]);
    let r = sb.ok(&["-q", "verify", "localstorage://a"]);
    let hash = want.split_whitespace().next().unwrap();
    assert_eq!(r.stdout, format!("{hash}  (weight data; this store keeps no files)\n"));
}
