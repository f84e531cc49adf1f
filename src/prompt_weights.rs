//! A1111's prompt emphasis ("attention") syntax and its chunking of long prompts, as
//! stable-diffusion-webui's `prompt_parser.parse_prompt_attention` and
//! `sd_hijack_clip.tokenize_line` behave (the "Original" emphasis):
//!
//! - `(text)` multiplies the weight of `text` by 1.1, `[text]` divides it by 1.1, `(text:1.3)`
//!   multiplies it by 1.3; brackets nest and their factors multiply.
//! - `\(`, `\)`, `\[`, `\]` and `\\` are the literal characters; a lone `\` before anything else
//!   is dropped (A1111's pattern matches it alone and keeps what follows the backslash: nothing).
//! - A `(` or `[` left open applies its factor (1.1 or 1/1.1) to everything after it; a `)` or
//!   `]` with nothing open is literal text, as is a `:` not followed by a number and `)`.
//!   So `(word:abc)` is the text `word:abc` at weight 1.1, as in A1111.
//! - The weight of `(text:w)` is `[+-]?[.0-9]+` parsed as a float; a number Python's `float`
//!   refuses (`1.2.3`, `.`) makes A1111 raise, and here refuses the prompt
//!   ([`ErrorKind::InvalidArgument`](crate::ErrorKind)), as does a weight that is not finite
//!   (digits beyond `f64`'s range).
//! - Not implemented: `BREAK` (it stays literal text) and textual-inversion embeddings.
//!
//! Chunking: the pieces are tokenized separately (no BOS/EOS), their tokens filled into chunks
//! of 75; when a chunk is full and the last comma (`,</w>`) in it is at most
//! [`COMMA_BACKTRACK`] tokens from its end, the tokens after that comma move to the next
//! chunk. Each chunk becomes `BOS + tokens + EOS`, padded to 77 with the tokenizer's padding
//! (diffusers' and A1111's pad token), weight 1 for BOS, EOS and padding.

use crate::error::{Error, Result};
use crate::tokenizer::ClipTokenizer;

/// A1111's `comma_padding_backtrack` default.
pub const COMMA_BACKTRACK: usize = 20;
/// `(text)`'s factor.
const ROUND: f64 = 1.1;
/// `[text]`'s factor.
const SQUARE: f64 = 1.0 / 1.1;

/// One piece of a parsed prompt: its text and weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The text, brackets and escapes removed.
    pub text: String,
    /// Its weight.
    pub weight: f64,
}

/// One encoder chunk: `max_length` ids (`BOS + tokens + EOS + padding`) and a weight each.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// The ids, `max_length` of them.
    pub ids: Vec<u32>,
    /// A weight per id.
    pub weights: Vec<f64>,
}

/// Python's `str.isspace` for what `\s` matches.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// At `s` (just after a `:`), `\s*([+-]?[.\d]+)\s*\)`: the number's text and the length
/// matched after the colon.
fn weight_at(s: &str) -> Option<(&str, usize)> {
    let lead = s.len() - s.trim_start_matches(is_space).len();
    let rest = &s[lead..];
    let sign = usize::from(rest.starts_with(['+', '-']));
    let digits = rest[sign..]
        .find(|c: char| !(c == '.' || c.is_ascii_digit()))
        .unwrap_or(rest.len() - sign);
    if digits == 0 {
        return None;
    }
    let number = &rest[..sign + digits];
    let after = &rest[sign + digits..];
    let trail = after.len() - after.trim_start_matches(is_space).len();
    after[trail..]
        .starts_with(')')
        .then_some((number, lead + sign + digits + trail + 1))
}

/// The prompt's pieces and weights, as A1111's `parse_prompt_attention` (without `BREAK`):
/// adjacent pieces of equal weight merged, `[("", 1.0)]` for an empty prompt.
pub fn parse(text: &str) -> Result<Vec<Piece>> {
    let mut res: Vec<Piece> = Vec::new();
    let mut round: Vec<usize> = Vec::new();
    let mut square: Vec<usize> = Vec::new();
    let multiply = |res: &mut Vec<Piece>, from: usize, m: f64| {
        for p in &mut res[from..] {
            p.weight *= m;
        }
    };
    let literal = |res: &mut Vec<Piece>, t: &str| {
        res.push(Piece {
            text: t.to_string(),
            weight: 1.0,
        })
    };
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let c = rest.chars().next().unwrap_or('\0');
        match c {
            '\\' => {
                // `\(`, `\)`, `\[`, `\]`, `\\` are literals; a lone `\` is dropped.
                match rest[1..].chars().next() {
                    Some(n @ ('(' | ')' | '[' | ']' | '\\')) => {
                        literal(&mut res, &n.to_string());
                        i += 2;
                    }
                    _ => {
                        literal(&mut res, "");
                        i += 1;
                    }
                }
            }
            '(' => {
                round.push(res.len());
                i += 1;
            }
            '[' => {
                square.push(res.len());
                i += 1;
            }
            ':' => match weight_at(&rest[1..]) {
                Some((number, len)) if !round.is_empty() => {
                    let w: f64 = number.parse().map_err(|_| {
                        Error::invalid(format!(
                            "prompt: the emphasis weight '{number}' is not a number"
                        ))
                    })?;
                    if !w.is_finite() {
                        return Err(Error::invalid(format!(
                            "prompt: the emphasis weight '{number}' is not finite"
                        )));
                    }
                    let from = round.pop().unwrap_or(0);
                    multiply(&mut res, from, w);
                    i += 1 + len;
                }
                // With no `(` open, A1111's `:number)` match falls through to literal text
                // (the whole match, `:1.2)` included).
                Some((_, len)) => {
                    literal(&mut res, &rest[..1 + len]);
                    i += 1 + len;
                }
                None => {
                    literal(&mut res, ":");
                    i += 1;
                }
            },
            ')' if !round.is_empty() => {
                let from = round.pop().unwrap_or(0);
                multiply(&mut res, from, ROUND);
                i += 1;
            }
            ']' if !square.is_empty() => {
                let from = square.pop().unwrap_or(0);
                multiply(&mut res, from, SQUARE);
                i += 1;
            }
            ')' | ']' => {
                literal(&mut res, &rest[..1]);
                i += 1;
            }
            _ => {
                let end = rest
                    .find(['\\', '(', ')', '[', ']', ':'])
                    .unwrap_or(rest.len());
                literal(&mut res, &rest[..end]);
                i += end;
            }
        }
    }
    for from in round {
        multiply(&mut res, from, ROUND);
    }
    for from in square {
        multiply(&mut res, from, SQUARE);
    }
    if res.is_empty() {
        literal(&mut res, "");
    }
    let mut merged: Vec<Piece> = Vec::with_capacity(res.len());
    for p in res {
        match merged.last_mut() {
            Some(last) if last.weight == p.weight => last.text.push_str(&p.text),
            _ => merged.push(p),
        }
    }
    Ok(merged)
}

/// The prompt's chunks as A1111 makes them with emphasis on (see the module's documentation);
/// at least one chunk. `max_chunks` bounds the work: a prompt that needs more is refused.
pub fn chunks(tokenizer: &ClipTokenizer, prompt: &str, max_chunks: usize) -> Result<Vec<Chunk>> {
    let pieces = parse(prompt)?;
    let length = tokenizer.max_length() - 2;
    let comma = tokenizer.token_id(",</w>");
    let mut done: Vec<Chunk> = Vec::new();
    let (mut ids, mut weights): (Vec<u32>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut last_comma: Option<usize> = None;
    let finish = |ids: Vec<u32>, weights: Vec<f64>, done: &mut Vec<Chunk>| -> Result<()> {
        if done.len() == max_chunks {
            return Err(Error::invalid(format!(
                "prompt: more than {max_chunks} chunks of {length} tokens"
            )));
        }
        let (bos, eos, pad) = tokenizer.special_ids();
        let mut c = Chunk {
            ids: Vec::with_capacity(length + 2),
            weights: Vec::with_capacity(length + 2),
        };
        c.ids.push(bos);
        c.ids.extend_from_slice(&ids);
        c.ids.push(eos);
        c.ids.resize(length + 2, pad);
        c.weights.push(1.0);
        c.weights.extend_from_slice(&weights);
        c.weights.resize(length + 2, 1.0);
        done.push(c);
        Ok(())
    };
    for piece in &pieces {
        // Long texts are bounded by `max_chunks` as their tokens fill chunks; a piece's own
        // tokenization is bounded by the prompt's length, which the caller's checks bound.
        for token in tokenizer.tokenize(&piece.text)? {
            if Some(token) == comma {
                last_comma = Some(ids.len());
            } else if let Some(at) = last_comma.filter(|&at| {
                ids.len() == length && COMMA_BACKTRACK != 0 && ids.len() - at <= COMMA_BACKTRACK
            }) {
                let moved_ids = ids.split_off(at + 1);
                let moved_weights = weights.split_off(at + 1);
                finish(
                    std::mem::replace(&mut ids, moved_ids),
                    std::mem::replace(&mut weights, moved_weights),
                    &mut done,
                )?;
                last_comma = None;
            }
            if ids.len() == length {
                finish(
                    std::mem::take(&mut ids),
                    std::mem::take(&mut weights),
                    &mut done,
                )?;
                last_comma = None;
            }
            ids.push(token);
            weights.push(piece.weight);
        }
    }
    if !ids.is_empty() || done.is_empty() {
        finish(ids, weights, &mut done)?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Vec<(String, f64)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|p| (p.text, p.weight))
            .collect()
    }

    #[test]
    fn parses_as_a1111_documents() {
        // The examples of A1111's `parse_prompt_attention` docstring.
        assert_eq!(w("normal text"), [("normal text".into(), 1.0)]);
        assert_eq!(w("an (important) word")[1], ("important".into(), 1.1));
        assert_eq!(w("a [word]")[1], ("word".into(), 1.0 / 1.1));
        assert_eq!(w("(unbalanced"), [("unbalanced".into(), 1.1)]);
        assert_eq!(w("\\(literal\\]"), [("(literal]".into(), 1.0)]);
        assert_eq!(
            w("(unnecessary)(parens)"),
            [("unnecessaryparens".into(), 1.1)]
        );
        assert_eq!(w("(word:abc)"), [("word:abc".into(), 1.1)]);
        assert_eq!(w(""), [("".into(), 1.0)]);
        assert_eq!(w("a:1.2) b"), [("a:1.2) b".into(), 1.0)]);
        assert!(parse("(a:1.2.3)").is_err());
        assert!(parse(&format!("(a:{})", "9".repeat(400))).is_err());
    }

    #[test]
    fn never_panics_and_keeps_every_character_but_syntax() {
        // Every string of up to 5 characters over the syntax, a digit, a space and a
        // multi-byte letter: parsed or refused, never a panic; the text kept is the input
        // without brackets, escapes and weights.
        let alphabet: Vec<char> = "(a):1.\\[]é ".chars().collect();
        let mut idx: Vec<usize> = Vec::new();
        loop {
            let s: String = idx.iter().map(|&i| alphabet[i]).collect();
            if let Ok(pieces) = parse(&s) {
                let text: String = pieces.iter().map(|p| p.text.as_str()).collect();
                assert!(text.len() <= s.len(), "{s:?}");
                assert!(pieces.iter().all(|p| p.weight.is_finite()), "{s:?}");
            }
            // Next string (odometer over lengths 0..=5).
            let mut k = 0;
            loop {
                if k == idx.len() {
                    if idx.len() == 5 {
                        return;
                    }
                    idx.push(0);
                    break;
                }
                idx[k] += 1;
                if idx[k] < alphabet.len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
        }
    }
}
