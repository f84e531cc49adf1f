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

/// The ids a prompt gives when the whole text is tokenized: `[BOS] first 75 [EOS] [PAD]...`.
fn whole(tok: &ClipTokenizer, text: &str) -> Vec<u32> {
    let all = tok.tokenize(text).unwrap();
    let mut want = vec![49406];
    want.extend_from_slice(&all[..all.len().min(75)]);
    want.push(49407);
    want.resize(77, want_pad(tok));
    want
}

fn want_pad(tok: &ClipTokenizer) -> u32 {
    *tok.encode("").unwrap().last().unwrap()
}

#[test]
fn a_5_mb_prompt_tokenizes_at_once_with_the_ids_of_its_first_words() {
    let tok = tokenizer();
    let sentence = "a lighthouse on a cliff at dusk, ";
    let big = sentence.repeat(5_000_000 / sentence.len() + 1);
    assert!(big.len() >= 5_000_000);
    let started = std::time::Instant::now();
    let enc = tok.encode_prompt(&big).unwrap();
    let took = started.elapsed();
    // Tokenizing all of it took 11 s in this (debug) build, 7.6 s in release; now only the
    // words that can reach the 77 ids are tokenized.
    assert!(
        took < std::time::Duration::from_millis(500),
        "a 5 MB prompt took {took:?}"
    );
    let first_words: String = big.split(' ').take(120).collect::<Vec<_>>().join(" ");
    assert_eq!(enc.ids, tok.encode(&first_words).unwrap());
    assert_eq!(enc.ids, whole(&tok, &first_words));
    assert!(!enc.exact && enc.cut > 0, "{enc:?}");
    eprintln!("5 MB prompt: {took:?}");
}

/// A deterministic stream of awkward long prompts: words from the golden corpus and the
/// vocabulary, whitespace runs of every kind, special tokens, combining marks, digits, CJK
/// and emoji runs.
fn long_prompts(n: usize, seed: u64) -> Vec<String> {
    let corpus = common::read_json(&common::goldens().join("tokens.json"));
    let mut words: Vec<String> = corpus
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            c["text"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    words.extend(
        [
            "<|endoftext|>",
            "<|startoftext|>",
            "!!!",
            "e\u{301}",
            "\u{301}",
            "ﬁ",
            "Σίσυφος",
            "İstanbul",
            "K",
            "東京タワーの夜景",
            "🇺🇸🇺🇸",
            "😂😂😂😂",
            "12345",
            "it's",
            "'ll",
            "a\u{200b}b",
            "\u{1100}\u{1161}\u{11a8}",
        ]
        .map(String::from),
    );
    let spaces = [
        " ",
        "  ",
        "\t",
        "\n",
        "\u{3000}",
        "\u{a0}",
        " \u{2003} ",
        "\r\n",
    ];
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let target = 10_000 + (next() % 30_000) as usize;
            let mut s = String::new();
            while s.len() < target {
                s.push_str(&words[(next() % words.len() as u64) as usize]);
                if next() % 7 != 0 {
                    s.push_str(spaces[(next() % spaces.len() as u64) as usize]);
                }
            }
            s
        })
        .collect()
}

#[test]
fn long_prompts_cut_before_tokenizing_give_the_whole_texts_ids() {
    let tok = tokenizer();
    let token_bytes = tok.max_token_bytes().expect("CLIP's pipeline is pre-cut");
    assert_eq!(
        token_bytes, 32,
        "the longest CLIP token (an emoji run) has 32 bytes"
    );
    let prompts = long_prompts(40, 0x1234_5678_9abc_def1);
    let mut cut = 0;
    for p in &prompts {
        let (head, _) = tok.prefix(p);
        cut += usize::from(head.len() < p.len());
        assert_eq!(tok.encode(p).unwrap(), whole(&tok, p), "{:?}", &p[..200]);
    }
    assert!(
        cut >= 35,
        "only {cut} of {} prompts were pre-cut",
        prompts.len()
    );
    eprintln!(
        "{} long prompts ({cut} pre-cut) give the whole text's ids",
        prompts.len()
    );
}

#[test]
fn giant_words_are_cut_with_the_whole_words_ids() {
    // A run with no whitespace longer than twice the budget is cut inside: its first tokens
    // are still the whole word's for every kind of run tried here.
    let tok = tokenizer();
    let mut state = 0x0dd_ba11_cafe_f00du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabets: [&[char]; 5] = [
        &['a', 'b', 'e', 'n', 'r', 's', 't', 'o'],
        &['東', '京', 'タ', 'ワ', 'ー', '夜', '景', 'の'],
        &['😂', '🔥', '🇺', '🇸', '✨'],
        &['!', '?', '.', ',', '#', '@', '~', '-'],
        &['a', '1', 'b', '2', ',', 'x', '9', 'é'],
    ];
    let mut checked = 0;
    for alphabet in alphabets {
        for _ in 0..3 {
            let n = 22_000 + (next() % 8_000) as usize;
            let s: String = (0..n)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let (head, more) = tok.prefix(&s);
            assert!(more && head.len() < s.len());
            assert_eq!(tok.encode(&s).unwrap(), whole(&tok, &s), "{:?}", &s[..80]);
            checked += 1;
        }
    }
    // A single repeated letter: BPE's merges chain along the whole run.
    let s = "a".repeat(40_000);
    assert_eq!(tok.encode(&s).unwrap(), whole(&tok, &s));
    eprintln!(
        "{} giant words give the whole word's first ids",
        checked + 1
    );
}

#[test]
fn tokenizer_json_pipelines_are_pre_cut_too() {
    let dir = std::env::temp_dir().join(format!("sdrt-tokjson-cut-{}", std::process::id()));
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
    assert_eq!(from_json.max_token_bytes(), Some(32));
    for p in long_prompts(5, 77) {
        assert_eq!(from_json.encode(&p).unwrap(), whole(&from_json, &p));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
