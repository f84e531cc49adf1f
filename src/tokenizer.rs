//! The CLIP tokenizer, built on the `tokenizers` crate.
//!
//! With `tokenizer/tokenizer.json` present it is loaded as is. Otherwise the pipeline of
//! transformers' `CLIPTokenizerFast` is rebuilt from `vocab.json` and `merges.txt`: NFC,
//! whitespace runs folded to one space, lowercase; CLIP's split regex; byte-level BPE with the
//! `</w>` end-of-word suffix; the added tokens of `tokenizer_config.json` (special tokens are
//! matched before BPE).
//!
//! Text repair: sdrt does NOT apply `ftfy.fix_text` (HTML entities, fullwidth forms,
//! ligatures, mojibake, curly quotes stay as they are). This matches the fast tokenizer and the
//! slow one without those repairs; hosts that want OpenCLIP-style repair clean the prompt first.
//! The golden corpus records the cases where ftfy would change the ids.
//!
//! Long prompts: only what can reach the 77 ids is tokenized. With CLIP's pipeline whitespace
//! ends every word and never belongs to a token, and every word gives at least one token of at
//! most [`ClipTokenizer::max_token_bytes`] bytes, so the text is cut at the whitespace after
//! enough complete words (75, or enough bytes for 75 tokens): the first 75 ids are the ones the
//! whole text gives. A single word (a run with no whitespace) longer than twice that budget is
//! cut inside: its leading tokens are BPE's on the cut word, which equal the whole word's
//! unless merges chain across thousands of characters (none of the tested strings do). Other
//! pipelines (a `tokenizer.json` that is not CLIP's) are tokenized whole.

use std::path::Path;

use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Lowercase, Replace, Sequence as NormSequence, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::error::{Error, ErrorKind, Result};

/// CLIP's word-splitting pattern (contractions, letter runs, single digits, symbol runs).
const CLIP_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// A CLIP tokenizer producing fixed-length id sequences as diffusers requests them
/// (`padding="max_length", truncation=True`).
pub struct ClipTokenizer {
    inner: Tokenizer,
    bos: u32,
    eos: u32,
    pad: u32,
    max_length: usize,
    /// The longest token in bytes of (normalized) text, when long prompts may be pre-cut.
    precut: Option<usize>,
    /// The largest id and its token.
    max_id: (u32, String),
    /// Where the vocabulary comes from, for messages.
    source: String,
}

/// One prompt's ids and what truncation cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// `[BOS] ids[..max-2] [EOS] [PAD]...`, exactly `max_length` ids.
    pub ids: Vec<u32>,
    /// Content tokens beyond what fits: exact when `exact`, else a lower bound (the prompt was
    /// cut before tokenizing).
    pub cut: usize,
    /// Whether `cut` is exact.
    pub exact: bool,
}

fn token_content(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => o.get("content")?.as_str().map(str::to_string),
        _ => None,
    }
}

fn read_json(path: &Path) -> Result<Option<serde_json::Value>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::model(format!("{}: invalid JSON: {e}", path.display())))
}

impl ClipTokenizer {
    /// Loads the tokenizer from a model's `tokenizer/` folder.
    pub fn from_dir(dir: &Path) -> Result<ClipTokenizer> {
        let config = read_json(&dir.join("tokenizer_config.json"))?;
        let special_map = read_json(&dir.join("special_tokens_map.json"))?;
        let special = |key: &str| -> Option<String> {
            special_map
                .as_ref()
                .and_then(|m| m.get(key))
                .and_then(token_content)
                .or_else(|| config.as_ref()?.get(key).and_then(token_content))
        };

        let json_path = dir.join("tokenizer.json");
        let mut inner = if json_path.exists() {
            Tokenizer::from_file(&json_path)
                .map_err(|e| Error::model(format!("{}: {e}", json_path.display())))?
        } else {
            Self::build_from_vocab(dir, special("unk_token"))?
        };

        // The added tokens transformers registers (special tokens, SD2's "!" pad token).
        if !json_path.exists() {
            if let Some(decoder) = config
                .as_ref()
                .and_then(|c| c.get("added_tokens_decoder"))
                .and_then(serde_json::Value::as_object)
            {
                let mut entries: Vec<(u64, &serde_json::Value)> = decoder
                    .iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
                    .collect();
                entries.sort_by_key(|(id, _)| *id);
                for (_, v) in entries {
                    let Some(content) = token_content(v) else {
                        continue;
                    };
                    let flag = |k: &str| v.get(k).and_then(serde_json::Value::as_bool);
                    let special = flag("special").unwrap_or(false);
                    let mut tok = AddedToken::from(content, special);
                    tok = tok
                        .single_word(flag("single_word").unwrap_or(false))
                        .lstrip(flag("lstrip").unwrap_or(false))
                        .rstrip(flag("rstrip").unwrap_or(false))
                        .normalized(flag("normalized").unwrap_or(!special));
                    if special {
                        inner.add_special_tokens(&[tok]);
                    } else {
                        inner.add_tokens(&[tok]);
                    }
                }
            }
        }

        let id_of = |name: &str, default: &str| -> Result<u32> {
            let tok = special(name).unwrap_or_else(|| default.to_string());
            inner.token_to_id(&tok).ok_or_else(|| {
                Error::model(format!(
                    "tokenizer: {name} '{tok}' is not in the vocabulary"
                ))
            })
        };
        let bos = id_of("bos_token", "<|startoftext|>")?;
        let eos = id_of("eos_token", "<|endoftext|>")?;
        // SD1 pads with <|endoftext|>, SD2 with "!".
        let pad = id_of("pad_token", "<|endoftext|>")?;
        let max_length = config
            .as_ref()
            .and_then(|c| c.get("model_max_length"))
            .and_then(serde_json::Value::as_u64)
            .filter(|&n| (2..=4096).contains(&n))
            .unwrap_or(77) as usize;
        let vocab = inner.get_vocab(true);
        let max_id = vocab
            .iter()
            .max_by_key(|(_, &id)| id)
            .map(|(t, &id)| (id, t.clone()))
            .unwrap_or_default();
        let precut = if is_clip_pipeline(&inner)? {
            let longest = vocab
                .keys()
                .map(|t| t.strip_suffix("</w>").unwrap_or(t).chars().count())
                .max()
                .unwrap_or(1);
            Some(longest.max(1))
        } else {
            None
        };
        let source = if json_path.exists() {
            json_path.display().to_string()
        } else {
            format!(
                "{} (with {})",
                dir.join("vocab.json").display(),
                dir.join("tokenizer_config.json").display()
            )
        };
        Ok(ClipTokenizer {
            inner,
            bos,
            eos,
            pad,
            max_length,
            precut,
            max_id,
            source,
        })
    }

    fn build_from_vocab(dir: &Path, unk: Option<String>) -> Result<Tokenizer> {
        let vocab = dir.join("vocab.json");
        let merges = dir.join("merges.txt");
        for p in [&vocab, &merges] {
            if !p.exists() {
                return Err(Error::new(
                    ErrorKind::ModelNotFound,
                    format!("tokenizer file {} is missing", p.display()),
                ));
            }
        }
        let model = BPE::from_file(&vocab.to_string_lossy(), &merges.to_string_lossy())
            .unk_token(unk.unwrap_or_else(|| "<|endoftext|>".to_string()))
            .continuing_subword_prefix(String::new())
            .end_of_word_suffix("</w>".to_string())
            .build()
            .map_err(|e| {
                Error::model(format!(
                    "{} / {}: {e}",
                    vocab.display(),
                    merges.file_name().unwrap_or_default().to_string_lossy()
                ))
            })?;
        let mut tok = Tokenizer::new(model);
        tok.with_normalizer(Some(clip_normalizer()?));
        tok.with_pre_tokenizer(Some(clip_pre_tokenizer()?));
        tok.with_decoder(Some(ByteLevel::default()));
        Ok(tok)
    }

    /// The sequence length (77 for CLIP).
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// `(BOS, EOS, PAD)` ids.
    pub fn special_ids(&self) -> (u32, u32, u32) {
        (self.bos, self.eos, self.pad)
    }

    /// The id of a vocabulary token (e.g. `",</w>"`), if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The largest id the tokenizer can produce (vocabulary and added tokens), and its token.
    pub fn max_id(&self) -> (u32, &str) {
        (self.max_id.0, &self.max_id.1)
    }

    /// The files the vocabulary comes from, for messages.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The longest token in bytes, when long prompts are pre-cut (CLIP's pipeline); `None`
    /// when they are tokenized whole.
    pub fn max_token_bytes(&self) -> Option<usize> {
        self.precut
    }

    /// The part of `text` that can reach the first `max_length - 2` ids, and whether text
    /// (not just whitespace) was left out. The whole text when it is short or the pipeline is
    /// not CLIP's.
    pub fn prefix<'a>(&self, text: &'a str) -> (&'a str, bool) {
        let Some(token_bytes) = self.precut else {
            return (text, false);
        };
        let words = self.max_length - 2;
        // Normalizing (NFC, lowercase) shrinks text at most 3 times: 4 for margin.
        let budget = words * 4 * token_bytes;
        if text.len() <= budget {
            return (text, false);
        }
        let rest_has_text = |i: usize| text[i..].chars().any(|c| !c.is_whitespace());
        let (mut chunks, mut bytes, mut start) = (0usize, 0usize, None::<usize>);
        for (i, c) in text.char_indices() {
            match (c.is_whitespace(), start) {
                (true, Some(s)) => {
                    chunks += 1;
                    bytes += i - s;
                    start = None;
                    if chunks >= words || bytes >= budget {
                        return (&text[..i], rest_has_text(i));
                    }
                }
                (false, None) => start = Some(i),
                (false, Some(s)) if i - s >= 2 * budget => return (&text[..i], true),
                _ => {}
            }
        }
        (text, false)
    }

    /// The token ids of `text` without BOS/EOS and without truncation.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::invalid(format!("tokenizer: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    /// `[BOS] ids[..max-2] [EOS] [PAD]...`, exactly `max_length` ids: prompts longer than the
    /// model's context are truncated as diffusers does.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.encode_prompt(text).map(|e| e.ids)
    }

    /// [`ClipTokenizer::encode`] and how many content tokens were cut off (0 when it fits; a
    /// lower bound for prompts long enough to be cut before tokenizing).
    pub fn encode_truncated(&self, text: &str) -> Result<(Vec<u32>, usize)> {
        self.encode_prompt(text).map(|e| (e.ids, e.cut))
    }

    /// [`ClipTokenizer::encode`] with what truncation cut off.
    pub fn encode_prompt(&self, text: &str) -> Result<Encoded> {
        let (head, more) = self.prefix(text);
        let ids = self.tokenize(head)?;
        let keep = ids.len().min(self.max_length - 2);
        let mut out = Vec::with_capacity(self.max_length);
        out.push(self.bos);
        out.extend_from_slice(&ids[..keep]);
        out.push(self.eos);
        out.resize(self.max_length, self.pad);
        Ok(Encoded {
            ids: out,
            cut: ids.len() - keep + usize::from(more),
            exact: head.len() == text.len(),
        })
    }

    /// How many content tokens `text` has beyond what fits (0 when it fits; a lower bound for
    /// prompts long enough to be cut before tokenizing).
    pub fn overflow(&self, text: &str) -> Result<usize> {
        self.encode_prompt(text).map(|e| e.cut)
    }
}

fn internal(e: tokenizers::Error) -> Error {
    Error::new(ErrorKind::Internal, e.to_string())
}

/// transformers' `CLIPTokenizerFast` normalizer: NFC, whitespace runs to one space, lowercase.
fn clip_normalizer() -> Result<NormSequence> {
    Ok(NormSequence::new(vec![
        NFC.into(),
        Replace::new(
            tokenizers::normalizers::replace::ReplacePattern::Regex(r"\s+".into()),
            " ",
        )
        .map_err(internal)?
        .into(),
        Lowercase.into(),
    ]))
}

/// CLIP's split regex, then byte-level mapping.
fn clip_pre_tokenizer() -> Result<PreSequence> {
    Ok(PreSequence::new(vec![
        Split::new(
            SplitPattern::Regex(CLIP_PATTERN.into()),
            SplitDelimiterBehavior::Removed,
            true,
        )
        .map_err(internal)?
        .into(),
        ByteLevel::new(false, true, false).into(),
    ]))
}

/// `v` with every `use_regex` flag cleared: ByteLevel's own regex (GPT-2's) only splits what
/// CLIP's pattern already split, so both settings tokenize alike.
fn without_use_regex(mut v: serde_json::Value) -> serde_json::Value {
    match &mut v {
        serde_json::Value::Object(o) => {
            if o.contains_key("use_regex") {
                o.insert("use_regex".into(), false.into());
            }
            for x in o.values_mut() {
                *x = without_use_regex(x.take());
            }
        }
        serde_json::Value::Array(a) => {
            for x in a.iter_mut() {
                *x = without_use_regex(x.take());
            }
        }
        _ => {}
    }
    v
}

/// Whether `tok` runs CLIP's normalizer and pre-tokenizer, and no added token holds
/// whitespace: then whitespace separates words and long prompts may be cut there.
fn is_clip_pipeline(tok: &Tokenizer) -> Result<bool> {
    let json = |v: std::result::Result<serde_json::Value, serde_json::Error>| {
        v.map_err(|e| Error::internal(format!("tokenizer: {e}")))
    };
    let norm = match tok.get_normalizer() {
        Some(n) => json(serde_json::to_value(n))?,
        None => return Ok(false),
    };
    let pre = match tok.get_pre_tokenizer() {
        Some(p) => without_use_regex(json(serde_json::to_value(p))?),
        None => return Ok(false),
    };
    let want_norm = json(serde_json::to_value(tokenizers::NormalizerWrapper::from(
        clip_normalizer()?,
    )))?;
    let want_pre = without_use_regex(json(serde_json::to_value(
        tokenizers::PreTokenizerWrapper::from(clip_pre_tokenizer()?),
    ))?);
    let spaced = tok
        .get_added_tokens_decoder()
        .values()
        .any(|t| t.content.chars().any(char::is_whitespace));
    Ok(norm == want_norm && pre == want_pre && !spaced)
}
