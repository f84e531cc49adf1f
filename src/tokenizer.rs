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
        Ok(ClipTokenizer {
            inner,
            bos,
            eos,
            pad,
            max_length,
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
            .map_err(|e| Error::model(format!("tokenizer vocab/merges: {e}")))?;
        let internal = |e: tokenizers::Error| Error::new(ErrorKind::Internal, e.to_string());
        let normalizer = NormSequence::new(vec![
            NFC.into(),
            Replace::new(
                tokenizers::normalizers::replace::ReplacePattern::Regex(r"\s+".into()),
                " ",
            )
            .map_err(internal)?
            .into(),
            Lowercase.into(),
        ]);
        let pre = PreSequence::new(vec![
            Split::new(
                SplitPattern::Regex(CLIP_PATTERN.into()),
                SplitDelimiterBehavior::Removed,
                true,
            )
            .map_err(internal)?
            .into(),
            ByteLevel::new(false, true, false).into(),
        ]);
        let mut tok = Tokenizer::new(model);
        tok.with_normalizer(Some(normalizer));
        tok.with_pre_tokenizer(Some(pre));
        tok.with_decoder(Some(ByteLevel::default()));
        Ok(tok)
    }

    /// The sequence length (77 for CLIP).
    pub fn max_length(&self) -> usize {
        self.max_length
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
        self.encode_truncated(text).map(|(ids, _)| ids)
    }

    /// [`ClipTokenizer::encode`] and how many content tokens were cut off (0 when it fits).
    pub fn encode_truncated(&self, text: &str) -> Result<(Vec<u32>, usize)> {
        let ids = self.tokenize(text)?;
        let keep = ids.len().min(self.max_length - 2);
        let mut out = Vec::with_capacity(self.max_length);
        out.push(self.bos);
        out.extend_from_slice(&ids[..keep]);
        out.push(self.eos);
        out.resize(self.max_length, self.pad);
        Ok((out, ids.len() - keep))
    }

    /// How many content tokens `text` has beyond what fits (0 when it fits).
    pub fn overflow(&self, text: &str) -> Result<usize> {
        Ok(self
            .tokenize(text)?
            .len()
            .saturating_sub(self.max_length - 2))
    }
}
