//! `$regex`: MongoDB's PCRE patterns on the `regex` crate.
//!
//! MongoDB compiles patterns with PCRE (UTF mode, no Unicode properties for
//! the shorthand classes). The `regex` crate accepts nearly the same syntax;
//! the differences that change *which strings match* are rewritten before
//! compiling:
//!
//! ```text
//!  PCRE                         rewritten to (regex crate)
//!  \d \w \s  (ASCII only)       [0-9] [0-9A-Za-z_] [\t\n\v\f\r ]   (also negated, also inside [...])
//!  \b \B     (ASCII words)      (?-u:\b) (?-u:\B)
//!  $  \Z     (end, or before    (?:\n?\z)       — only without the m flag
//!             a final newline)
//!  \Q...\E   (literal text)     the text, escaped
//!  [a[&~ #]  (literal in a      [a\[\&\~\x20\#]   — `[`, `&&`, `~~`, `--` are set
//!             class)                                 operators in the crate
//!  a{ , x{y} (literal braces)   a\{ , x\{y}
//! ```
//!
//! Features the crate lacks (backreferences, look-around, atomic groups,
//! possessive quantifiers) fail to compile and are reported as
//! [`Error::BadRegex`] naming the pattern: never a silent non-match.
//!
//! Options: `i` case-insensitive, `m` multi-line anchors, `s` dot matches
//! newline, `x` extended (whitespace and `#` comments ignored), `u` accepted
//! and ignored (UTF is always on). Anything else is an error, as in MongoDB.

use regex::{Regex, RegexBuilder};

use crate::{Error, Result};

/// A compiled `$regex` predicate together with its source, which regex
/// *values* stored in documents are compared against.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    source: String,
    options: String,
    regex: Regex,
}

impl Pattern {
    /// Compiles `source` with MongoDB `options`.
    pub(crate) fn new(source: &str, options: &str) -> Result<Pattern> {
        let mut builder_flags = Flags::default();
        for c in options.chars() {
            match c {
                'i' => builder_flags.case_insensitive = true,
                'm' => builder_flags.multi_line = true,
                's' => builder_flags.dot_all = true,
                'x' => builder_flags.extended = true,
                'u' => {}
                other => {
                    return Err(Error::BadValue(format!(
                        "invalid flag in regex options: {other}"
                    )));
                }
            }
        }
        if source.contains('\0') {
            return Err(Error::BadRegex(format!(
                "/{source}/: regular expression cannot contain an embedded null byte"
            )));
        }
        let multi_line = builder_flags.multi_line || has_inline_multiline(source);
        let translated = translate(source, multi_line, builder_flags.extended)
            .map_err(|reason| Error::BadRegex(format!("/{source}/{options}: {reason}")))?;
        let regex = RegexBuilder::new(&translated)
            .case_insensitive(builder_flags.case_insensitive)
            .multi_line(builder_flags.multi_line)
            .dot_matches_new_line(builder_flags.dot_all)
            .ignore_whitespace(builder_flags.extended)
            .build()
            .map_err(|e| Error::BadRegex(format!("/{source}/{options}: {}", short_reason(&e))))?;
        let mut sorted: Vec<char> = options.chars().collect();
        sorted.sort_unstable();
        sorted.dedup();
        Ok(Pattern {
            source: source.to_string(),
            options: sorted.into_iter().collect(),
            regex,
        })
    }

    /// True when the pattern matches somewhere in `text`.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    /// True when a stored regex value is this same regex (pattern and flags).
    pub(crate) fn same_as(&self, value: &bson::Regex) -> bool {
        if value.pattern.as_str() != self.source {
            return false;
        }
        let mut flags: Vec<char> = value.options.as_str().chars().collect();
        flags.sort_unstable();
        flags.dedup();
        flags.into_iter().eq(self.options.chars())
    }
}

#[derive(Debug, Default)]
struct Flags {
    case_insensitive: bool,
    multi_line: bool,
    dot_all: bool,
    extended: bool,
}

/// The one-line reason of a `regex` crate error (its messages span lines).
fn short_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().last().unwrap_or("invalid pattern"))
        .to_string()
}

/// True when the pattern turns on multi-line mode itself (`(?m)`, `(?im:`),
/// in which case `$` keeps the crate's multi-line meaning.
fn has_inline_multiline(source: &str) -> bool {
    source.match_indices("(?").any(|(at, _)| {
        source[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
            .take_while(|c| *c != '-')
            .any(|c| c == 'm')
    })
}

const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = r"\t\n\x0B\x0C\r\x20";

/// Rewrites a PCRE pattern into the `regex` crate's dialect (see the module
/// docs). `multi_line` tells whether `$` already means end-of-line.
fn translate(
    source: &str,
    multi_line: bool,
    extended: bool,
) -> std::result::Result<String, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&next) = chars.get(i + 1) else {
                return Err("\\ at end of pattern".to_string());
            };
            i += 2;
            if next == 'Q' {
                let mut literal = String::new();
                while i < chars.len() && !(chars[i] == '\\' && chars.get(i + 1) == Some(&'E')) {
                    literal.push(chars[i]);
                    i += 1;
                }
                i += 2;
                push_literal(&mut out, &literal, in_class);
                continue;
            }
            translate_escape(&mut out, next, in_class);
            continue;
        }
        if in_class {
            match c {
                ']' => {
                    in_class = false;
                    out.push(']');
                }
                '[' if chars.get(i + 1) == Some(&':') => {
                    // POSIX class such as [:alpha:]; copy it through.
                    let end = (i + 2..chars.len().saturating_sub(1))
                        .find(|&j| chars[j] == ':' && chars[j + 1] == ']');
                    match end {
                        Some(j) => {
                            out.extend(&chars[i..j + 2]);
                            i = j + 2;
                            continue;
                        }
                        None => out.push_str(r"\["),
                    }
                }
                '[' | '&' | '~' | '#' => {
                    out.push('\\');
                    out.push(c);
                }
                '-' if chars.get(i + 1) == Some(&'-') => out.push_str(r"\-"),
                c if c.is_whitespace() => push_hex(&mut out, c),
                c => out.push(c),
            }
            i += 1;
            continue;
        }
        // Comments: `(?#…)` always, `# …` to the end of the line in x mode.
        let comment_end =
            if c == '(' && chars.get(i + 1) == Some(&'?') && chars.get(i + 2) == Some(&'#') {
                Some(
                    chars[i..]
                        .iter()
                        .position(|&x| x == ')')
                        .map_or(chars.len(), |p| i + p + 1),
                )
            } else if c == '#' && extended {
                Some(
                    chars[i..]
                        .iter()
                        .position(|&x| x == '\n')
                        .map_or(chars.len(), |p| i + p + 1),
                )
            } else {
                None
            };
        if let Some(end) = comment_end {
            i = end;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
                continue;
            }
            '$' if !multi_line => out.push_str(r"(?:\n?\z)"),
            '{' if !is_quantifier(&chars[i..]) => out.push_str(r"\{"),
            c => out.push(c),
        }
        i += 1;
    }
    if in_class {
        return Err("missing terminating ] for character class".to_string());
    }
    Ok(out)
}

/// Writes the crate's form of the escape `\next`.
fn translate_escape(out: &mut String, next: char, in_class: bool) {
    let class = |set: &str, negated: bool| {
        if in_class && !negated {
            set.to_string()
        } else {
            format!("[{}{set}]", if negated { "^" } else { "" })
        }
    };
    let replacement = match next {
        'd' => class(DIGIT, false),
        'D' => class(DIGIT, true),
        'w' => class(WORD, false),
        'W' => class(WORD, true),
        's' => class(SPACE, false),
        'S' => class(SPACE, true),
        'b' if in_class => r"\x08".to_string(),
        'b' => r"(?-u:\b)".to_string(),
        'B' => r"(?-u:\B)".to_string(),
        'Z' => r"(?:\n?\z)".to_string(),
        'E' => String::new(),
        '/' | '"' | '\'' | '@' | '%' | ',' | ';' | ':' | '=' | '!' | '<' | '>' | '`' | '_' => {
            next.to_string()
        }
        other => format!("\\{other}"),
    };
    out.push_str(&replacement);
}

/// Appends `text` so that it matches literally.
fn push_literal(out: &mut String, text: &str, in_class: bool) {
    for c in text.chars() {
        if c.is_whitespace() {
            push_hex(out, c);
        } else if c.is_ascii_punctuation() && (!in_class || "[]\\^-&~#".contains(c)) {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
}

fn push_hex(out: &mut String, c: char) {
    out.push_str(&format!(r"\x{{{:X}}}", u32::from(c)));
}

/// True when `rest` (starting at `{`) is a PCRE quantifier: `{n}`, `{n,}`, `{n,m}`.
fn is_quantifier(rest: &[char]) -> bool {
    let mut j = 1;
    let digits = |j: &mut usize| {
        let start = *j;
        while rest.get(*j).is_some_and(|c| c.is_ascii_digit()) {
            *j += 1;
        }
        *j > start
    };
    if !digits(&mut j) {
        return false;
    }
    if rest.get(j) == Some(&',') {
        j += 1;
        digits(&mut j);
    }
    rest.get(j) == Some(&'}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, options: &str, text: &str) -> bool {
        Pattern::new(pattern, options)
            .expect("pattern compiles")
            .is_match(text)
    }

    #[test]
    fn options_map_to_flags() {
        assert!(matches("^ab", "i", "AB-100"));
        assert!(!matches("^ab", "", "AB-100"));
        assert!(matches("^R", "m", "green pear\nRipe banana"));
        assert!(!matches("^R", "", "green pear\nRipe banana"));
        assert!(matches("a.b", "s", "a\nb"));
        assert!(!matches("a.b", "", "a\nb"));
        assert!(matches("a b # comment", "x", "ab"));
        assert!(matches("a # comment [ with a bracket\n b", "x", "ab"));
        assert!(matches("a(?#comment)b", "", "ab"));
        assert!(matches(r"a\ b", "x", "a b"));
        assert!(matches(r"a\#b", "x", "a#b"));
        assert!(matches(r"^[\-x]+$", "", "-x"));
        assert!(matches(r"^[]a]+$", "", "]a"));
        assert!(matches(r"^[^]a]+$", "", "bc"));
        assert!(matches("^b$", "m", "a\nb"));
    }

    #[test]
    fn unknown_options_are_rejected() {
        let err = Pattern::new("a", "iz").unwrap_err();
        assert_eq!(
            err,
            Error::BadValue("invalid flag in regex options: z".into())
        );
    }

    #[test]
    fn dollar_matches_before_a_final_newline() {
        assert!(matches("100$", "", "AB-100"));
        assert!(matches("100$", "", "AB-100\n"));
        assert!(!matches("100$", "", "AB-100\nx"));
        assert!(matches(r"100\Z", "", "AB-100\n"));
        assert!(matches("(?m)^a$", "", "a\nb"));
    }

    #[test]
    fn shorthand_classes_are_ascii() {
        assert!(matches(r"^\w+$", "", "abc_09"));
        assert!(!matches(r"^\w+$", "", "é"));
        assert!(!matches(r"\d", "", "٣"));
        assert!(matches(r"^[\d.]+$", "", "1.5"));
        assert!(matches(r"^[^\s]+$", "", "a-b"));
        assert!(matches(r"\bbeta\b", "", "alpha beta"));
        assert!(!matches(r"\bbeta\b", "", "alphabeta"));
        assert!(matches(r"^\S+$", "", "x"));
    }

    #[test]
    fn pcre_literals_in_classes_and_braces() {
        assert!(matches("^[a[]+$", "", "a[a"));
        assert!(matches("[&]", "", "x&y"));
        assert!(matches("[ ]", "x", "a b"));
        assert!(matches("a{", "", "a{"));
        assert!(matches("x{y}", "", "x{y}"));
        assert!(matches("^a{2,3}$", "", "aaa"));
        assert!(matches(r"\Qa.b\E", "", "a.b"));
        assert!(!matches(r"\Qa.b\E", "", "axb"));
        assert!(matches(r"a\/b", "", "a/b"));
        assert!(matches("[[:digit:]]", "", "7"));
    }

    #[test]
    fn unsupported_syntax_is_a_clear_error() {
        for bad in ["(", "(a)\\1", "(?=a)", "[a"] {
            match Pattern::new(bad, "") {
                Err(Error::BadRegex(msg)) => assert!(msg.contains(bad), "{msg}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn stored_regex_values_compare_by_pattern_and_flags() {
        let p = Pattern::new("^a", "mi").expect("compiles");
        let same = bson::Regex {
            pattern: "^a".try_into().expect("cstr"),
            options: "im".try_into().expect("cstr"),
        };
        let other = bson::Regex {
            pattern: "^a".try_into().expect("cstr"),
            options: "i".try_into().expect("cstr"),
        };
        assert!(p.same_as(&same));
        assert!(!p.same_as(&other));
    }
}
