//! The CLIP tokenizer against transformers' `CLIPTokenizer` (with ftfy) and `CLIPTokenizerFast`.

mod common;

use sdrt::tokenizer::ClipTokenizer;

fn tokenizer() -> ClipTokenizer {
    ClipTokenizer::from_dir(&common::fixture().join("tokenizer")).expect("fixture tokenizer")
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn matches_transformers_on_the_awkward_corpus() {
    let tok = tokenizer();
    let corpus = common::read_json(&common::goldens().join("tokens.json"));
    let cases = corpus.as_array().unwrap();
    assert!(cases.len() >= 60, "corpus too small: {}", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want = ids(&case["ids"]);
        let got = tok.encode(text).unwrap();
        assert_eq!(got.len(), 77);
        if got != want {
            failures.push(format!("{text:?}\n  got  {got:?}\n  want {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ftfy_repair_cases_follow_the_fast_tokenizer() {
    // Documented decision: sdrt does not run ftfy. Where ftfy would repair the text, sdrt
    // gives the fast tokenizer's ids; the file records that ftfy's ids differ.
    let tok = tokenizer();
    let corpus = common::read_json(&common::goldens().join("tokens_ftfy_repairs.json"));
    let cases = corpus.as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let fast = ids(&case["fast_ids"]);
        assert_ne!(
            fast,
            ids(&case["ftfy_ids"]),
            "{text:?} is not a repair case"
        );
        assert_eq!(tok.encode(text).unwrap(), fast, "{text:?}");
    }
}

#[test]
fn tokenizer_json_path_gives_the_same_ids() {
    // A model folder with tokenizer.json (the fast tokenizer's file) must tokenize the same.
    let dir = std::env::temp_dir().join(format!("sdrt-tokjson-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["special_tokens_map.json", "tokenizer_config.json"] {
        std::fs::copy(common::fixture().join("tokenizer").join(f), dir.join(f)).unwrap();
    }
    std::fs::copy(
        common::goldens().join("clip_tokenizer.json"),
        dir.join("tokenizer.json"),
    )
    .unwrap();
    let from_json = ClipTokenizer::from_dir(&dir).unwrap();
    let built = tokenizer();
    let corpus = common::read_json(&common::goldens().join("tokens.json"));
    for case in corpus.as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            from_json.encode(text).unwrap(),
            built.encode(text).unwrap(),
            "{text:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn long_prompts_truncate_to_77_with_eos_last() {
    let tok = tokenizer();
    let text = "a very detailed photograph, ".repeat(40);
    let ids = tok.encode(&text).unwrap();
    assert_eq!(ids.len(), 77);
    assert_eq!(ids[0], 49406);
    assert_eq!(ids[76], 49407);
    assert!(tok.overflow(&text).unwrap() > 0);
    assert_eq!(tok.overflow("short").unwrap(), 0);
}

#[test]
fn missing_vocab_is_a_model_not_found_error() {
    let dir = std::env::temp_dir().join(format!("sdrt-novocab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let err = ClipTokenizer::from_dir(&dir).err().unwrap();
    assert_eq!(err.kind(), sdrt::ErrorKind::ModelNotFound);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn arbitrary_text_never_panics() {
    // A deterministic stream of awkward strings: random code points from every plane, runs
    // of whitespace, special-token fragments, very long inputs.
    let tok = tokenizer();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces = [
        "<|endoftext|>",
        "<|startoftext|>",
        "</w>",
        "!",
        " ",
        "\t\n",
        "\u{200b}",
        "'s",
        "e\u{301}",
    ];
    for round in 0..1500 {
        let len = (next() % if round % 100 == 0 { 5000 } else { 60 }) as usize;
        let mut s = String::new();
        for _ in 0..len {
            let r = next();
            if r % 5 == 0 {
                s.push_str(pieces[(r >> 8) as usize % pieces.len()]);
            } else if let Some(c) = char::from_u32((r >> 11) as u32 % 0x11_0000) {
                s.push(c);
            }
        }
        let ids = tok.encode(&s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(ids.len(), 77);
        assert_eq!(ids[0], 49406);
        assert!(ids[1..].contains(&49407), "{s:?}: no EOS");
    }
}
