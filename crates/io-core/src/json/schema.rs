//! model.json's typed parts read and written with [`super::text`] (not serde; see there why):
//! weight specs, manifest groups and `ModelArtifactsInfo`, with TF.js's key order. As serde's
//! derives did: unknown fields are ignored, `null` is an absent optional field, a field given twice
//! or a required one missing is an error naming it and where.

use super::text::{once, required, write_string, write_u64, JsonResult, ObjectWriter, Reader};
use crate::artifacts::{DType, ManifestGroup, QuantDType, Quantization, WeightSpec};
use crate::info::ModelArtifactsInfo;

fn opt<T>(r: &mut Reader<'_>, read: impl FnOnce(&mut Reader<'_>) -> JsonResult<T>) -> JsonResult<Option<T>> {
    if r.null()? {
        Ok(None)
    } else {
        read(r).map(Some)
    }
}

fn string(r: &mut Reader<'_>) -> JsonResult<String> {
    r.string().map(|s| s.into_owned())
}

fn number(r: &mut Reader<'_>) -> JsonResult<serde_json::Number> {
    if !matches!(r.peek(), Some(b'-' | b'0'..=b'9')) {
        return Err(r.type_err("a number"));
    }
    let at = r.position();
    let t = r.number_text()?;
    t.parse().map_err(|_| r.err_at_offset(at, "invalid number"))
}

fn u64_value(r: &mut Reader<'_>) -> JsonResult<u64> {
    r.usize().map(|n| n as u64)
}

fn quantization(r: &mut Reader<'_>) -> JsonResult<Quantization> {
    let (mut dtype, mut min, mut scale, mut original) = (None, None, None, None);
    r.object(|r, k| {
        let at = r.position();
        match &*k {
            "dtype" => {
                let v = QuantDType::parse(&r.string()?);
                once(r, &mut dtype, at, "dtype", v)
            }
            "min" => {
                let v = opt(r, number)?;
                once(r, &mut min, at, "min", v)
            }
            "scale" => {
                let v = opt(r, number)?;
                once(r, &mut scale, at, "scale", v)
            }
            "original_dtype" => {
                let v = opt(r, string)?;
                once(r, &mut original, at, "original_dtype", v)
            }
            _ => r.value_text().map(|_| ()),
        }
    })?;
    let end = r.position();
    Ok(Quantization {
        dtype: required(r, dtype, end, "dtype")?,
        min: min.flatten(),
        scale: scale.flatten(),
        original_dtype: original.flatten(),
    })
}

/// One weight spec.
pub(crate) fn weight_spec(r: &mut Reader<'_>) -> JsonResult<WeightSpec> {
    let (mut name, mut shape, mut dtype, mut group, mut quant) = (None, None, None, None, None);
    r.object(|r, k| {
        let at = r.position();
        match &*k {
            "name" => {
                let v = string(r)?;
                once(r, &mut name, at, "name", v)
            }
            "shape" => {
                let mut dims = Vec::new();
                r.array(|r| r.usize().map(|d| dims.push(d)))?;
                once(r, &mut shape, at, "shape", dims)
            }
            "dtype" => {
                let v = DType::parse(&r.string()?);
                once(r, &mut dtype, at, "dtype", v)
            }
            "group" => {
                let v = opt(r, string)?;
                once(r, &mut group, at, "group", v)
            }
            "quantization" => {
                let v = opt(r, quantization)?;
                once(r, &mut quant, at, "quantization", v)
            }
            _ => r.value_text().map(|_| ()),
        }
    })?;
    let end = r.position();
    Ok(WeightSpec {
        name: required(r, name, end, "name")?,
        shape: required(r, shape, end, "shape")?,
        dtype: required(r, dtype, end, "dtype")?,
        group: group.flatten(),
        quantization: quant.flatten(),
    })
}

/// A JSON array of weight specs.
pub(crate) fn weight_specs(r: &mut Reader<'_>) -> JsonResult<Vec<WeightSpec>> {
    let mut out = Vec::new();
    r.array(|r| weight_spec(r).map(|w| out.push(w)))?;
    Ok(out)
}

/// `weightsManifest`.
pub(crate) fn manifest(r: &mut Reader<'_>) -> JsonResult<Vec<ManifestGroup>> {
    let mut out = Vec::new();
    r.array(|r| {
        let (mut paths, mut weights) = (None, None);
        r.object(|r, k| {
            let at = r.position();
            match &*k {
                "paths" => {
                    let mut v = Vec::new();
                    r.array(|r| string(r).map(|p| v.push(p)))?;
                    once(r, &mut paths, at, "paths", v)
                }
                "weights" => {
                    let v = weight_specs(r)?;
                    once(r, &mut weights, at, "weights", v)
                }
                _ => r.value_text().map(|_| ()),
            }
        })?;
        let end = r.position();
        out.push(ManifestGroup {
            paths: required(r, paths, end, "paths")?,
            weights: required(r, weights, end, "weights")?,
        });
        Ok(())
    })?;
    Ok(out)
}

/// `ModelArtifactsInfo`.
pub(crate) fn info(r: &mut Reader<'_>) -> JsonResult<ModelArtifactsInfo> {
    let (mut date, mut ty, mut topo, mut specs, mut data) = (None, None, None, None, None);
    r.object(|r, k| {
        let at = r.position();
        match &*k {
            "dateSaved" => {
                let v = string(r)?;
                once(r, &mut date, at, "dateSaved", v)
            }
            "modelTopologyType" => {
                let v = string(r)?;
                once(r, &mut ty, at, "modelTopologyType", v)
            }
            "modelTopologyBytes" => {
                let v = opt(r, u64_value)?;
                once(r, &mut topo, at, "modelTopologyBytes", v)
            }
            "weightSpecsBytes" => {
                let v = opt(r, u64_value)?;
                once(r, &mut specs, at, "weightSpecsBytes", v)
            }
            "weightDataBytes" => {
                let v = opt(r, u64_value)?;
                once(r, &mut data, at, "weightDataBytes", v)
            }
            _ => r.value_text().map(|_| ()),
        }
    })?;
    let end = r.position();
    Ok(ModelArtifactsInfo {
        date_saved: required(r, date, end, "dateSaved")?,
        model_topology_type: required(r, ty, end, "modelTopologyType")?,
        model_topology_bytes: topo.flatten(),
        weight_specs_bytes: specs.flatten(),
        weight_data_bytes: data.flatten(),
    })
}

/// Reads all of `text` with `read` (nothing but whitespace may follow).
pub(crate) fn read_all<T>(text: &str, read: impl FnOnce(&mut Reader<'_>) -> JsonResult<T>) -> JsonResult<T> {
    let mut r = Reader::new(text);
    let v = read(&mut r)?;
    r.end()?;
    Ok(v)
}

/// Appends one weight spec (key order `name, shape, dtype, group, quantization`, TF.js's).
pub(crate) fn write_weight_spec(out: &mut String, w: &WeightSpec) {
    let mut o = ObjectWriter::new(out);
    o.string("name", &w.name);
    let s = o.key("shape");
    s.push('[');
    for (i, d) in w.shape.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        write_u64(s, *d as u64);
    }
    s.push(']');
    o.string("dtype", w.dtype.as_str());
    if let Some(g) = &w.group {
        o.string("group", g);
    }
    if let Some(q) = &w.quantization {
        let mut qo = ObjectWriter::new(o.key("quantization"));
        qo.string("dtype", q.dtype.as_str());
        if let Some(n) = &q.min {
            qo.raw("min", n.as_str());
        }
        if let Some(n) = &q.scale {
            qo.raw("scale", n.as_str());
        }
        if let Some(d) = &q.original_dtype {
            qo.string("original_dtype", d);
        }
        qo.finish();
    }
    o.finish();
}

/// Appends a JSON array of weight specs.
pub(crate) fn write_weight_specs(out: &mut String, specs: &[WeightSpec]) {
    out.push('[');
    for (i, w) in specs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_weight_spec(out, w);
    }
    out.push(']');
}

/// Appends `weightsManifest` (key order `paths, weights`).
pub(crate) fn write_manifest(out: &mut String, groups: &[ManifestGroup]) {
    out.push('[');
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut o = ObjectWriter::new(out);
        let p = o.key("paths");
        p.push('[');
        for (j, path) in g.paths.iter().enumerate() {
            if j > 0 {
                p.push(',');
            }
            write_string(p, path);
        }
        p.push(']');
        write_weight_specs(o.key("weights"), &g.weights);
        o.finish();
    }
    out.push(']');
}

/// Appends `ModelArtifactsInfo` (TF.js's key order; absent counts left out).
pub(crate) fn write_info(out: &mut String, info: &ModelArtifactsInfo) {
    let mut o = ObjectWriter::new(out);
    o.string("dateSaved", &info.date_saved);
    o.string("modelTopologyType", &info.model_topology_type);
    for (k, n) in [
        ("modelTopologyBytes", info.model_topology_bytes),
        ("weightSpecsBytes", info.weight_specs_bytes),
        ("weightDataBytes", info.weight_data_bytes),
    ] {
        if let Some(n) = n {
            o.u64(k, n);
        }
    }
    o.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written reader and writer agree with serde's derives (kept for API users).
    #[test]
    fn agrees_with_serde() {
        let specs = r#"[{"name":"d/k","shape":[2,3],"dtype":"float32","group":"model"},
            {"name":"q","shape":[],"dtype":"int32","quantization":{"dtype":"uint8","min":-0.5,"scale":1.5E-3,"original_dtype":"float32"}},
            {"name":"n","shape":[1],"dtype":"string","group":null,"extra":[1,{"x":2}],"quantization":{"dtype":"float16"}}]"#;
        let ours = read_all(specs, weight_specs).unwrap();
        let theirs: Vec<WeightSpec> = serde_json::from_str(specs).unwrap();
        assert_eq!(ours, theirs);
        let mut out = String::new();
        write_weight_specs(&mut out, &ours);
        assert_eq!(out, serde_json::to_string(&theirs).unwrap());
        let info =
            r#"{"dateSaved":"2026-11-25T19:32:34.925Z","modelTopologyType":"JSON","weightSpecsBytes":12,"x":null}"#;
        let ours = read_all(info, super::info).unwrap();
        assert_eq!(ours, serde_json::from_str::<ModelArtifactsInfo>(info).unwrap());
        let mut out = String::new();
        write_info(&mut out, &ours);
        assert_eq!(out, serde_json::to_string(&ours).unwrap());
    }

    #[test]
    fn schema_errors_name_the_field_and_where() {
        let e = |t: &str| read_all(t, weight_specs).unwrap_err().to_string();
        assert_eq!(e(r#"[{"name":"a","shape":[1]}]"#), "missing field `dtype` at line 1 column 26");
        assert_eq!(e(r#"[{"name":"a","name":"b"}]"#), "duplicate field `name` at line 1 column 21");
        assert_eq!(
            e(r#"[{"name":"a","shape":[-1]}]"#),
            "invalid value: -1, expected a non-negative integer at line 1 column 23"
        );
        assert_eq!(e(r#"[{"name":1}]"#), "invalid type: a number, expected a string at line 1 column 10");
        assert_eq!(e(r#"{}"#), "invalid type: an object, expected an array at line 1 column 1");
    }
}
