//! TextVectorization against Keras 3.15.1 (TensorFlow 2.21): `scripts/gen_text_reference.py`
//! adapts each configuration on one corpus (or sets its vocabulary), calls it on fixed queries
//! and writes `tests/data/text_vectorization.json`. For every case the layer is built twice,
//! with the builder methods and with `from_config` on Keras's keyword arguments, and both must
//! give Keras's vocabulary, vocabulary size, idf weights, output (indices exactly, floats to
//! 1e-6) and config; then the vocabulary goes through `save_assets` / `load_assets`.

use keras::layers::TextVectorization;
use serde_json::Value;

const META: &str = include_str!("data/text_vectorization.json");
const TOL: f64 = 1e-6;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// Flattens nested lists of numbers.
fn flat(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| flat(x, out)),
        x => out.push(x.as_f64().expect("a number")),
    }
}

/// The layer from Keras's keyword arguments, through the builder methods.
fn build(kwargs: &Value) -> TextVectorization {
    let mut tv = TextVectorization::new();
    let kw = kwargs.as_object().expect("kwargs object");
    // The output mode first: the vocabulary layout depends on it.
    if let Some(m) = kw.get("output_mode") {
        tv = tv.output_mode(m.as_str().unwrap()).unwrap();
    }
    for (k, v) in kw {
        tv = match k.as_str() {
            "output_mode" => tv,
            "max_tokens" => tv.max_tokens(v.as_u64().unwrap() as usize),
            "standardize" => tv.standardize(v.as_str()).unwrap(),
            "split" => tv.split(v.as_str()).unwrap(),
            "ngrams" => match v {
                Value::Array(_) => {
                    let w: Vec<usize> = floats(v).iter().map(|&x| x as usize).collect();
                    tv.ngram_widths(&w)
                }
                _ => tv.ngrams(v.as_u64().unwrap() as usize),
            },
            "output_sequence_length" => tv.output_sequence_length(v.as_u64().unwrap() as usize),
            "pad_to_max_tokens" => tv.pad_to_max_tokens(v.as_bool().unwrap()),
            "vocabulary" => tv.vocabulary(&strings(v)),
            "idf_weights" => tv.idf_weights(&floats(v)),
            other => panic!("no builder for {other}"),
        };
    }
    tv
}

fn without_identity(mut c: Value) -> Value {
    let m = c.as_object_mut().unwrap();
    for k in ["name", "dtype", "trainable"] {
        m.remove(k);
    }
    c
}

fn check(case: &Value, tv: &TextVectorization, queries: &[String], how: &str) {
    let name = format!("{} ({how})", case["name"].as_str().unwrap());
    assert_eq!(
        tv.get_vocabulary(true).unwrap(),
        strings(&case["vocabulary"]),
        "{name}: vocabulary"
    );
    assert_eq!(
        tv.vocabulary_size().unwrap() as u64,
        case["vocabulary_size"].as_u64().unwrap(),
        "{name}: vocabulary_size"
    );
    match case.get("idf_weights") {
        Some(w) => {
            let want = floats(w);
            let got = tv.get_idf_weights().unwrap().expect("idf weights");
            assert_eq!(got.len(), want.len(), "{name}: idf weights length");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((*g as f64 - w).abs() <= TOL, "{name}: idf weight {i}: {g} vs {w}");
            }
        }
        None => assert!(tv.get_idf_weights().unwrap().is_none(), "{name}: idf weights"),
    }
    let y = tv.call(queries).unwrap();
    let shape: Vec<usize> = case["output_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(y.shape(), &shape[..], "{name}: output shape");
    let mut want = Vec::new();
    flat(&case["output"], &mut want);
    if case["kwargs"].get("output_mode").is_none_or(|m| m == "int") {
        assert_eq!(case["output_dtype"], "int64", "{name}: Keras's dtype");
        let got = y.to_vec::<i64>().unwrap();
        let want: Vec<i64> = want.iter().map(|&x| x as i64).collect();
        assert_eq!(got, want, "{name}: output");
    } else {
        // Our dense outputs are float32 (Keras's `compute_output_spec`); Keras 3.15.1 on
        // TensorFlow actually returns int64 for multi_hot and count, with the same values.
        let got = y.to_vec::<f32>().unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((*g as f64 - w).abs() <= TOL, "{name}: output {i}: {g} vs {w}");
        }
    }
    assert_eq!(
        without_identity(tv.get_config()),
        case["config"],
        "{name}: get_config"
    );
}

#[test]
fn text_vectorization_matches_keras() {
    let meta: Value = serde_json::from_str(META).expect("text_vectorization.json");
    let corpus = strings(&meta["corpus"]);
    let queries = strings(&meta["queries"]);
    let cases = meta["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let kwargs = &case["kwargs"];
        let mut a = build(kwargs);
        let mut b = TextVectorization::from_config(kwargs).unwrap();
        if case["adapt"].as_bool().unwrap() {
            a.adapt(&corpus).unwrap();
            b.adapt_iter(corpus.iter()).unwrap();
        }
        check(case, &a, &queries, "builder");
        check(case, &b, &queries, "from_config");

        // Keras's own config rebuilds the same layer.
        let again = TextVectorization::from_config(&a.get_config()).unwrap();
        if !case["adapt"].as_bool().unwrap() {
            check(case, &again, &queries, "config round trip");
        }

        // The vocabulary through the assets files. As in Keras, a token with a line break
        // (split=None on such text) cannot survive the one-token-per-line vocabulary.txt.
        let breaks = |t: &String| t.contains(['\n', '\r', '\u{b}', '\u{c}', '\u{85}']);
        if strings(&case["vocabulary"]).iter().any(breaks) {
            continue;
        }
        let dir = std::env::temp_dir().join(format!(
            "keras_rs_tv_{}_{}",
            std::process::id(),
            case["name"].as_str().unwrap()
        ));
        a.save_assets(&dir).unwrap();
        let mut c = TextVectorization::from_config(&a.get_config()).unwrap();
        c.load_assets(&dir).unwrap();
        check(case, &c, &queries, "assets");
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn errors_name_the_layer_and_the_problem() {
    let msg = |r: Result<TextVectorization, keras_tensor::Error>| r.expect_err("an error").to_string();
    assert!(msg(TextVectorization::new().standardize(Some("upper"))).contains("standardize"));
    assert!(msg(TextVectorization::new().split(Some("comma"))).contains("split"));
    assert!(msg(TextVectorization::new().output_mode("ints")).contains("output_mode"));
    assert!(msg(TextVectorization::new().output_mode("one_hot")).contains("one_hot"));
    let e = msg(TextVectorization::new().sparse(true));
    assert!(e.contains("TextVectorization") && e.contains("sparse"), "{e}");

    // Keras rejects output_sequence_length outside int mode.
    let tv = TextVectorization::new()
        .output_mode("count")
        .unwrap()
        .output_sequence_length(3)
        .vocabulary(&["a"]);
    let e = tv.call(&["a"]).unwrap_err().to_string();
    assert!(
        e.contains("TextVectorization") && e.contains("output_sequence_length"),
        "{e}"
    );
    let bad = serde_json::json!({"output_mode": "multi_hot", "output_sequence_length": 2});
    assert!(TextVectorization::from_config(&bad).is_err());

    // pad_to_max_tokens needs max_tokens; max_tokens must exceed 1.
    let mut tv = TextVectorization::new()
        .output_mode("count")
        .unwrap()
        .pad_to_max_tokens(true);
    assert!(tv.adapt(&["a"]).unwrap_err().to_string().contains("max_tokens"));
    let mut tv = TextVectorization::new().max_tokens(1);
    assert!(tv.adapt(&["a"]).unwrap_err().to_string().contains("max_tokens"));

    // Calling before adapt or a vocabulary.
    let e = TextVectorization::new().call(&["a"]).unwrap_err().to_string();
    assert!(e.contains("TextVectorization") && e.contains("adapt"), "{e}");
    assert!(TextVectorization::new().get_vocabulary(true).is_err());

    // tf_idf with a given vocabulary needs idf weights; idf weights need tf_idf.
    let tv = TextVectorization::new()
        .output_mode("tf_idf")
        .unwrap()
        .vocabulary(&["a"]);
    assert!(tv.call(&["a"]).unwrap_err().to_string().contains("idf_weights"));
    let tv = TextVectorization::new().vocabulary(&["a"]).idf_weights(&[1.0]);
    assert!(tv.call(&["a"]).unwrap_err().to_string().contains("idf_weights"));

    // A given vocabulary cannot be adapted over.
    let mut tv = TextVectorization::new().vocabulary(&["a"]);
    assert!(tv
        .adapt(&["b"])
        .unwrap_err()
        .to_string()
        .contains("static vocabulary"));

    // Vocabulary checks: repeated, misplaced mask token, too large, empty.
    let mut tv = TextVectorization::new();
    assert!(tv
        .set_vocabulary(&["a", "b", "a"], None)
        .unwrap_err()
        .to_string()
        .contains("repeated"));
    assert!(tv
        .set_vocabulary(&["a", ""], None)
        .unwrap_err()
        .to_string()
        .contains("mask"));
    assert!(tv
        .set_vocabulary::<&str>(&[], None)
        .unwrap_err()
        .to_string()
        .contains("empty"));
    let mut tv = TextVectorization::new().max_tokens(3);
    assert!(tv
        .set_vocabulary(&["a", "b"], None)
        .unwrap_err()
        .to_string()
        .contains("max_tokens"));

    // Config: unknown keys, callables, other encodings, ragged.
    for bad in [
        serde_json::json!({"max_token": 3}),
        serde_json::json!({"standardize": {"class_name": "my_fn"}}),
        serde_json::json!({"encoding": "latin-1"}),
        serde_json::json!({"ragged": true}),
        serde_json::json!({"sparse": true, "output_mode": "count"}),
        serde_json::json!({"vocabulary": "/tmp/vocab.txt"}),
    ] {
        assert!(TextVectorization::from_config(&bad).is_err(), "{bad}");
    }
}

#[test]
fn dense_modes_keep_their_width() {
    // Keras: with output_mode != "int" and pad_to_max_tokens=False the vocabulary size is
    // frozen once set.
    let mut tv = TextVectorization::new().output_mode("multi_hot").unwrap();
    tv.adapt(&["a b"]).unwrap();
    assert!(tv.adapt(&["a b c"]).is_err());
    tv.adapt(&["c d"]).unwrap();
    assert_eq!(tv.get_vocabulary(false).unwrap(), ["d", "c"]);
    // int mode and padded outputs may change.
    let mut tv = TextVectorization::new();
    tv.adapt(&["a b"]).unwrap();
    tv.adapt(&["a b c"]).unwrap();
    assert_eq!(tv.vocabulary_size().unwrap(), 5);
}

#[test]
fn int_output_pads_to_longest_and_handles_empty_batches() {
    let tv = TextVectorization::new().vocabulary(&["a", "b"]);
    let y = tv.call(&["", "a  b\tb "]).unwrap();
    assert_eq!(y.shape(), &[2, 3]);
    assert_eq!(y.to_vec::<i64>().unwrap(), [0, 0, 0, 2, 3, 3]);
    let y = tv.call::<&str>(&[]).unwrap();
    assert_eq!(y.shape(), &[0, 0]);
    let y = tv.call(&["", ""]).unwrap();
    assert_eq!(y.shape(), &[2, 0]);
}
