//! The names include/sdrt.h declares, read from its text (shared by tests/c_api.rs and
//! tests/modules.rs).

/// The names the header declares: (macros, types, enumerators, functions).
pub struct Declared {
    pub macros: Vec<String>,
    pub types: Vec<String>,
    pub constants: Vec<String>,
    pub functions: Vec<String>,
}

fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn ident_before(s: &str) -> Option<String> {
    let s = s.trim_end();
    let start = s
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let id = &s[start..];
    (!id.is_empty()).then(|| id.to_string())
}

pub fn declared_names(src: &str) -> Declared {
    let parse_error = |line: &str| -> String { panic!("cannot parse {line:?} in include/sdrt.h") };
    let code = strip_comments(src);
    let mut d = Declared {
        macros: Vec::new(),
        types: Vec::new(),
        constants: Vec::new(),
        functions: Vec::new(),
    };
    let mut in_enum = false;
    for line in code.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("#define ") {
            d.macros
                .push(rest.split_whitespace().next().unwrap().to_string());
        } else if t.starts_with('#') || t.is_empty() {
        } else if let Some(rest) = t.strip_prefix("enum ") {
            d.types
                .push(rest.split_whitespace().next().unwrap().to_string());
            in_enum = true;
        } else if in_enum {
            if t.starts_with('}') {
                in_enum = false;
            } else if let Some((name, _)) = t.split_once('=') {
                d.constants.push(name.trim().to_string());
            } else if t != "{" && !t.starts_with(':') {
                d.constants.push(t.trim_end_matches(',').to_string());
            }
        } else if t.starts_with("typedef") {
            if let Some(i) = t.find("(*") {
                d.types.push(
                    ident_before(&t[..t[i..].find(')').unwrap() + i])
                        .unwrap_or_else(|| parse_error(line)),
                );
            } else {
                if !t.ends_with('{') {
                    // `typedef struct sdrt_x {` names the typedef at its closing brace.
                    d.types.push(
                        ident_before(t.trim_end_matches(';')).unwrap_or_else(|| parse_error(line)),
                    );
                }
                if let Some(rest) = t.strip_prefix("typedef struct ") {
                    d.types
                        .push(rest.split_whitespace().next().unwrap().to_string());
                }
            }
        } else if t.starts_with('}') && t.ends_with(';') && t.len() > 2 {
            d.types
                .push(ident_before(t.trim_end_matches(';')).unwrap_or_else(|| parse_error(line)));
        } else if !line.starts_with(' ') && t.contains('(') && !t.starts_with("extern") {
            d.functions.push(
                ident_before(&t[..t.find('(').unwrap()]).unwrap_or_else(|| parse_error(line)),
            );
        }
    }
    d
}

/// Each enumerator with its enum and value: (enum tag, constant, value).
pub fn enum_constants(src: &str) -> Vec<(String, String, u64)> {
    let code = strip_comments(src);
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in code.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("enum ") {
            current = rest.split_whitespace().next().map(str::to_string);
        } else if t.starts_with('}') {
            current = None;
        } else if t.starts_with('#') {
        } else if let (Some(e), Some((name, value))) = (&current, t.split_once('=')) {
            let value = value.trim().trim_end_matches(',');
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("enumerator {t:?} has no plain number"));
            out.push((e.clone(), name.trim().to_string(), value));
        }
    }
    out
}

/// The tag names: (`enum X` tags, `struct X` tags).
pub fn tags(src: &str) -> (Vec<String>, Vec<String>) {
    let code = strip_comments(src);
    let mut enums = Vec::new();
    let mut structs = Vec::new();
    for line in code.lines() {
        let t = line.trim();
        let first = |s: &str| s.split_whitespace().next().unwrap().to_string();
        if let Some(rest) = t.strip_prefix("enum ") {
            enums.push(first(rest));
        } else if let Some(rest) = t.strip_prefix("typedef struct ") {
            structs.push(first(rest));
        }
    }
    (enums, structs)
}
