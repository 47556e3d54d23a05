//! Calico's list and regex handling for `interface=`, `skip-interface=` and
//! `cidr=`: how a method value is cut into items, and how interface regexes
//! (Go RE2 syntax) are joined and compiled.
//!
//! Calico joins the items as `(r1)|(r2)|…` and compiles the joined text with
//! Go's `regexp`. The Rust `regex` crate reads almost the same syntax, but a
//! few spellings mean different things or fail in only one of the two. The
//! translation here closes the gaps that matter for interface names:
//!
//! * a `{` that does not open a valid repeat (`eth{1`, `a{,5}`, `a{01}`) is a
//!   literal in Go, an error in Rust;
//! * `\d \s \w \b` are ASCII-only in Go, Unicode-aware in Rust;
//! * `\<`, `\>` are word boundaries in Rust, literal `<`, `>` in Go;
//! * `[` inside a class is a literal in Go, a nested class in Rust, and
//!   `&&`, `--`, `~~` are set operators in Rust classes only;
//! * `\Q…\E` and octal escapes exist only in Go;
//! * Go rejects stacked repeats (`a**`, `a{2}{3}`), repeat counts above 1000,
//!   nested counts whose product passes 1000 (`((x?){40}){30}`) and flags
//!   other than `imsU`, all of which Rust accepts.
//!
//! Everything else is passed to the `regex` crate unchanged.

use regex::RegexSet;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

/// Go's `\s` (RE2 Perl class): `[\t\n\f\r ]`.
fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0C' | '\r' | ' ')
}

/// Splits a method value the way `regexp.MustCompile(`\s*,\s*`).Split(v, -1)`
/// does: whitespace next to a comma goes, whitespace at the two ends stays,
/// empty items are kept (`"eth0,"` → `["eth0", ""]`, `""` → `[""]`).
pub fn split_list(value: &str) -> Vec<String> {
    let pieces: Vec<&str> = value.split(',').collect();
    let last = pieces.len() - 1;
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut s: &str = p;
            if i > 0 {
                s = s.trim_start_matches(is_go_space);
            }
            if i < last {
                s = s.trim_end_matches(is_go_space);
            }
            s.to_string()
        })
        .collect()
}

/// Joins regex items the way Calico does: `(r1)|(r2)|…`.
pub fn join_alternation(items: &[String]) -> String {
    let mut s = String::from("(");
    s.push_str(&items.join(")|("));
    s.push(')');
    s
}

/// A compiled interface regex. Only whether a name matches is ever asked,
/// so it is built without capture slots (a one-pattern `RegexSet`): the
/// regex engine's PikeVM keeps a slot per capture group for every NFA
/// state, and a 243-byte method of groups under repeats asked it for one
/// allocation over 256 MiB (found by the `calico_method` fuzz target).
#[derive(Debug, Clone)]
pub struct Regex(RegexSet);

impl Regex {
    /// Whether `name` matches anywhere (Go's `MatchString`).
    #[inline]
    pub fn is_match(&self, name: &str) -> bool {
        self.0.is_match(name)
    }
}

/// How many compiled patterns [`compile_go`] keeps, and the longest it keeps:
/// one method's few patterns (its items, their alternation). Few, because a
/// compiled regex of a 512-byte pattern can hold megabytes.
const KEPT: usize = 4;
const KEPT_LEN: usize = 512;

/// Compiles an already joined Go regex. The error text names the regex.
///
/// Recently compiled short patterns are reused: `audit` evaluates the same
/// methods on every host and for both families, and `skip-interface=` looks
/// up the item that matched each skipped interface, so the same few patterns
/// come back many times and compiling is most of the cost. At most [`KEPT`]
/// patterns of at most [`KEPT_LEN`] bytes are kept, oldest dropped first.
pub fn compile_go(pattern: &str) -> Result<Regex, String> {
    if pattern.len() > KEPT_LEN {
        return compile_uncached(pattern);
    }
    if let Some((_, compiled)) = recent().iter().find(|(p, _)| p == pattern) {
        return compiled.clone();
    }
    let compiled = compile_uncached(pattern);
    let mut kept = recent();
    if kept.len() == KEPT {
        kept.pop_front();
    }
    kept.push_back((pattern.to_owned(), compiled.clone()));
    compiled
}

/// The patterns [`compile_go`] keeps, with what compiling them gave.
type Kept = VecDeque<(String, Result<Regex, String>)>;

fn recent() -> MutexGuard<'static, Kept> {
    static RECENT: Mutex<Kept> = Mutex::new(VecDeque::new());
    // A panic while holding it cannot leave an entry half-written.
    RECENT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn compile_uncached(pattern: &str) -> Result<Regex, String> {
    let translated = translate_go(pattern)?;
    RegexSet::new([translated]).map(Regex).map_err(|e| {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or("").trim();
        let last = last.strip_prefix("error: ").unwrap_or(last);
        format!("invalid regex {pattern:?}: {last}")
    })
}

/// Compiles `(r1)|(r2)|…`, or returns `None` for an empty list (no filter).
pub fn compile_list(items: &[String]) -> Result<Option<Regex>, String> {
    if items.is_empty() {
        return Ok(None);
    }
    compile_go(&join_alternation(items)).map(Some)
}

/// A literal character in a form the `regex` crate reads as that character,
/// inside or outside a class.
fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:x}}}", c as u32));
    }
}

const DIGIT: &str = "0-9";
const SPACE: &str = "\\t\\n\\x0C\\r ";
const WORD: &str = "0-9A-Za-z_";

/// The ASCII Perl class `\X` (d, s, w, upper case negated): the range text
/// and whether it is negated. `None` for other letters.
fn perl_class(c: char) -> Option<(&'static str, bool)> {
    match c {
        'd' => Some((DIGIT, false)),
        'D' => Some((DIGIT, true)),
        's' => Some((SPACE, false)),
        'S' => Some((SPACE, true)),
        'w' => Some((WORD, false)),
        'W' => Some((WORD, true)),
        _ => None,
    }
}

/// Go's `parseInt` inside `{…}`: one or more digits, no leading zero unless
/// the number is `0`. Returns the value (saturated) and the digits consumed.
fn go_repeat_int(s: &[char]) -> Option<(u64, usize)> {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || (n >= 2 && s[0] == '0') {
        return None;
    }
    let mut v: u64 = 0;
    for c in &s[..n] {
        v = v
            .saturating_mul(10)
            .saturating_add(u64::from(*c as u8 - b'0'));
    }
    Some((v, n))
}

/// If `s` (starting at `{`) is a repeat Go accepts, returns (min, max, len).
/// `max` is `None` for `{n,}`.
fn go_repeat(s: &[char]) -> Option<(u64, Option<u64>, usize)> {
    if s.first() != Some(&'{') {
        return None;
    }
    let mut i = 1;
    let (min, n) = go_repeat_int(&s[i..])?;
    i += n;
    let max;
    match s.get(i) {
        Some(',') => {
            i += 1;
            match s.get(i) {
                Some('}') => max = None,
                Some(_) => {
                    let (m, n) = go_repeat_int(&s[i..])?;
                    i += n;
                    max = Some(m);
                }
                None => return None,
            }
        }
        Some(_) => max = Some(min),
        None => return None,
    }
    if s.get(i) != Some(&'}') {
        return None;
    }
    Some((min, max, i + 1))
}

/// Go escapes for single characters: octal, `\x`, control letters and
/// punctuation. Returns the character and the length consumed from `s`
/// (which starts at the backslash).
fn go_escape_char(s: &[char]) -> Result<(char, usize), String> {
    let c = *s.get(1).ok_or("trailing backslash at end of expression")?;
    match c {
        '1'..='7' if !matches!(s.get(2), Some('0'..='7')) => Err(format!(
            "invalid escape sequence: `\\{c}` (backreferences are not supported)"
        )),
        '0'..='7' => {
            let mut v = c as u32 - '0' as u32;
            let mut n = 2;
            while n < 4 {
                match s.get(n) {
                    Some(d @ '0'..='7') => {
                        v = v * 8 + (*d as u32 - '0' as u32);
                        n += 1;
                    }
                    _ => break,
                }
            }
            Ok((char::from_u32(v).unwrap_or('\u{FFFD}'), n))
        }
        'x' => {
            if s.get(2) == Some(&'{') {
                let end = s[3..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or("invalid escape sequence: `\\x{`")?;
                let hex: String = s[3..3 + end].iter().collect();
                let v = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("invalid escape sequence: `\\x{{{hex}}}`"))?;
                Ok((v, 4 + end))
            } else {
                let hex: String = s.iter().skip(2).take(2).collect();
                if hex.len() != 2 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err("invalid escape sequence: `\\x`".to_string());
                }
                let v = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                Ok((char::from_u32(v).unwrap_or('\u{FFFD}'), 4))
            }
        }
        'a' => Ok(('\x07', 2)),
        'f' => Ok(('\x0C', 2)),
        't' => Ok(('\t', 2)),
        'n' => Ok(('\n', 2)),
        'r' => Ok(('\r', 2)),
        'v' => Ok(('\x0B', 2)),
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c, 2)),
        c => Err(format!("invalid escape sequence: `\\{c}`")),
    }
}

/// `\p{Name}` / `\pL` starting at the backslash: its text and length.
fn unicode_class(s: &[char]) -> Result<(String, usize), String> {
    match s.get(2) {
        Some('{') => {
            let end = s[3..]
                .iter()
                .position(|&c| c == '}')
                .ok_or("invalid character class range: missing `}`")?;
            Ok((s[..4 + end].iter().collect(), 4 + end))
        }
        Some(_) => Ok((s[..3].iter().collect(), 3)),
        None => Err("invalid character class range: `\\p`".to_string()),
    }
}

/// Translates one Go character class starting at `[`. Returns the Rust text
/// and the length consumed.
fn translate_class(s: &[char]) -> Result<(String, usize), String> {
    let mut out = String::from("[");
    let mut i = 1;
    if s.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let c = *s
            .get(i)
            .ok_or("missing closing ]: character class never closed")?;
        if c == ']' && !first {
            out.push(']');
            return Ok((out, i + 1));
        }
        first = false;
        // POSIX class [:name:] (Go looks for the nearest ":]").
        if c == '[' && s.get(i + 1) == Some(&':') {
            if let Some(end) = s[i + 2..].windows(2).position(|w| w == [':', ']']) {
                let name: String = s[i + 2..i + 2 + end].iter().collect();
                let bare = name.strip_prefix('^').unwrap_or(&name);
                const NAMES: [&str; 14] = [
                    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower",
                    "print", "punct", "space", "upper", "word", "xdigit",
                ];
                if !NAMES.contains(&bare) {
                    return Err(format!("invalid character class range: `[:{name}:]`"));
                }
                out.push_str(&format!("[:{name}:]"));
                i += end + 4;
                continue;
            }
        }
        if c == '\\' {
            match s.get(i + 1) {
                Some('p') | Some('P') => {
                    let (text, n) = unicode_class(&s[i..])?;
                    out.push_str(&text);
                    i += n;
                    continue;
                }
                Some(&l) => {
                    if let Some((set, neg)) = perl_class(l) {
                        if neg {
                            out.push_str(&format!("[^{set}]"));
                        } else {
                            out.push_str(set);
                        }
                        i += 2;
                        continue;
                    }
                }
                None => {}
            }
        }
        // A single character or a range lo-hi.
        let (lo, n) = class_char(&s[i..])?;
        i += n;
        if s.get(i) == Some(&'-') && s.get(i + 1).is_some_and(|&c| c != ']') {
            let (hi, n) = class_char(&s[i + 1..])?;
            if hi < lo {
                return Err(format!("invalid character class range: `{lo}-{hi}`"));
            }
            i += 1 + n;
            push_literal(&mut out, lo);
            out.push('-');
            push_literal(&mut out, hi);
        } else {
            push_literal(&mut out, lo);
        }
    }
}

fn class_char(s: &[char]) -> Result<(char, usize), String> {
    match s.first() {
        None => Err("missing closing ]: character class never closed".to_string()),
        Some('\\') => go_escape_char(s),
        Some(&c) => Ok((c, 1)),
    }
}

/// Go's limit on the copies a nest of `{n,m}` repeats may ask for
/// (`regexp/syntax` `repeatIsValid(re, 1000)`).
const MAX_REPEAT_PRODUCT: u64 = 1000;

/// One open group while translating: the largest product of `{n,m}` counts
/// along any path inside it, and that of the item just read (what a
/// following repeat applies to).
#[derive(Clone, Copy)]
struct Nest {
    widest: u64,
    last: u64,
}

impl Nest {
    const NEW: Nest = Nest { widest: 1, last: 1 };

    fn item(&mut self, weight: u64) {
        self.last = weight;
        self.widest = self.widest.max(weight);
    }
}

/// Go's `repeatIsValid` for a repeat `{min,max}` applied to an item whose
/// nested counts multiply to `inner`: the new item's product, or `None` when
/// Go rejects it. Go checks only repeats with a count of 2 or more; `{0}`
/// hides what it repeats, `{0,}` counts as 1; `*`, `+`, `?` never count.
fn repeat_weight(min: u64, max: Option<u64>, inner: u64) -> Option<u64> {
    let factor = match max {
        Some(0) => return Some(1),
        Some(m) => m,
        None => min.max(1),
    };
    let weight = factor.saturating_mul(inner);
    let checked = min >= 2 || max.is_some_and(|m| m >= 2);
    if checked && weight > MAX_REPEAT_PRODUCT {
        None
    } else {
        Some(weight)
    }
}

/// Translates Go RE2 syntax into `regex` crate syntax with the same meaning,
/// or returns the error Go would report.
pub fn translate_go(pattern: &str) -> Result<String, String> {
    let s: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    // Open groups, innermost last; the bottom one is the whole pattern.
    let mut nests = vec![Nest::NEW];
    // The previous item was a repeat operator (Go rejects stacking them).
    let mut after_repeat = false;
    while i < s.len() {
        let c = s[i];
        if !matches!(c, '(' | ')' | '*' | '+' | '?' | '{') {
            if let Some(n) = nests.last_mut() {
                n.item(1);
            }
        }
        match c {
            '\\' => {
                after_repeat = false;
                let l = *s
                    .get(i + 1)
                    .ok_or("trailing backslash at end of expression")?;
                if l == 'Q' {
                    let rest = &s[i + 2..];
                    let end = rest
                        .windows(2)
                        .position(|w| w == ['\\', 'E'])
                        .unwrap_or(rest.len());
                    for &lit in &rest[..end] {
                        push_literal(&mut out, lit);
                    }
                    i += 2 + (end + 2).min(rest.len());
                    continue;
                }
                if let Some((set, neg)) = perl_class(l) {
                    out.push('[');
                    if neg {
                        out.push('^');
                    }
                    out.push_str(set);
                    out.push(']');
                    i += 2;
                    continue;
                }
                match l {
                    'b' => {
                        out.push_str("(?-u:\\b)");
                        i += 2;
                    }
                    'B' => {
                        out.push_str("(?-u:\\B)");
                        i += 2;
                    }
                    'A' | 'z' => {
                        out.push('\\');
                        out.push(l);
                        i += 2;
                    }
                    'p' | 'P' => {
                        let (text, n) = unicode_class(&s[i..])?;
                        out.push_str(&text);
                        i += n;
                    }
                    _ => {
                        let (ch, n) = go_escape_char(&s[i..])?;
                        push_literal(&mut out, ch);
                        i += n;
                    }
                }
            }
            '[' => {
                after_repeat = false;
                let (text, n) = translate_class(&s[i..])?;
                out.push_str(&text);
                i += n;
            }
            '(' => {
                after_repeat = false;
                if s.get(i + 1) == Some(&'?') {
                    let rest = &s[i + 2..];
                    let named = rest.first() == Some(&'<')
                        || (rest.first() == Some(&'P') && rest.get(1) == Some(&'<'));
                    if !named {
                        // Flags group: Go knows only i, m, s, U.
                        let end = rest
                            .iter()
                            .position(|&c| c == ')' || c == ':')
                            .ok_or("missing closing ): unterminated flag group")?;
                        if let Some(bad) = rest[..end]
                            .iter()
                            .find(|c| !matches!(c, 'i' | 'm' | 's' | 'U' | '-'))
                        {
                            return Err(format!("invalid or unsupported Perl syntax: `(?{bad}`"));
                        }
                    }
                }
                out.push('(');
                nests.push(Nest::NEW);
                i += 1;
            }
            ')' => {
                after_repeat = false;
                if nests.len() > 1 {
                    let inner = nests.pop().unwrap_or(Nest::NEW);
                    if let Some(n) = nests.last_mut() {
                        n.item(inner.widest.max(inner.last));
                    }
                }
                out.push(')');
                i += 1;
            }
            '*' | '+' | '?' => {
                if after_repeat {
                    return Err(format!("invalid nested repetition operator: `{c}`"));
                }
                out.push(c);
                i += 1;
                if s.get(i) == Some(&'?') {
                    out.push('?');
                    i += 1;
                }
                after_repeat = true;
            }
            '{' => match go_repeat(&s[i..]) {
                Some((min, max, n)) => {
                    if after_repeat {
                        return Err("invalid nested repetition operator".to_string());
                    }
                    let text: String = s[i..i + n].iter().collect();
                    if min > 1000 || max.is_some_and(|m| m > 1000 || m < min) {
                        return Err(format!("invalid repeat count: `{text}`"));
                    }
                    if let Some(nest) = nests.last_mut() {
                        match repeat_weight(min, max, nest.last) {
                            Some(w) => nest.item(w),
                            None => {
                                return Err(format!(
                                    "invalid repeat count: `{text}` (nested repeats ask for more \
                                     than {MAX_REPEAT_PRODUCT} copies)"
                                ))
                            }
                        }
                    }
                    out.extend(&s[i..i + n]);
                    i += n;
                    if s.get(i) == Some(&'?') {
                        out.push('?');
                        i += 1;
                    }
                    after_repeat = true;
                }
                None => {
                    after_repeat = false;
                    if let Some(n) = nests.last_mut() {
                        n.item(1);
                    }
                    out.push_str("\\{");
                    i += 1;
                }
            },
            '}' | ']' => {
                after_repeat = false;
                out.push('\\');
                out.push(c);
                i += 1;
            }
            _ => {
                after_repeat = false;
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        compile_go(pattern).unwrap().is_match(name)
    }

    #[test]
    fn kept_patterns_match_as_freshly_compiled_ones() {
        // More patterns than are kept, each compiled twice: the second
        // compile (kept or dropped by then) matches as the first did.
        let patterns: Vec<String> = (0..KEPT + 4).map(|i| format!("^eth{i}$")).collect();
        for round in 0..2 {
            for (i, p) in patterns.iter().enumerate() {
                let re = compile_go(p).unwrap();
                assert!(re.is_match(&format!("eth{i}")), "{p} round {round}");
                assert!(!re.is_match(&format!("eth{i}x")), "{p} round {round}");
            }
        }
        let bad = compile_go("a{2}{3}").unwrap_err();
        assert_eq!(compile_go("a{2}{3}").unwrap_err(), bad);
        let long = format!("^{}$", "x".repeat(KEPT_LEN));
        let re = compile_go(&long).unwrap();
        assert!(re.is_match(&"x".repeat(KEPT_LEN)));
        assert!(!re.is_match(&"x".repeat(KEPT_LEN - 1)));
    }

    #[test]
    fn split_like_go() {
        assert_eq!(split_list(""), vec![""]);
        assert_eq!(split_list("eth0,"), vec!["eth0", ""]);
        assert_eq!(split_list(" a , b "), vec![" a", "b "]);
        assert_eq!(split_list("a , , b"), vec!["a", "", "b"]);
        assert_eq!(split_list("eth{1,2}"), vec!["eth{1", "2}"]);
        assert_eq!(split_list(",,"), vec!["", "", ""]);
    }

    #[test]
    fn braces_that_are_not_repeats_are_literals() {
        let r = compile_go(&join_alternation(&split_list("eth{1,2}"))).unwrap();
        assert!(!r.is_match("eth1"));
        assert!(r.is_match("eth{1"));
        assert!(r.is_match("x2}"));
        assert!(m("a{,5}", "a{,5}"));
        assert!(m("a{01}", "a{01}"));
        assert!(m("^a{2}$", "aa"));
        assert!(m("^a{1,}$", "aaa"));
        assert!(m("^a{1,2}$", "aa"));
        assert!(!m("^a{1,2}$", "aaa"));
    }

    #[test]
    fn go_only_errors() {
        assert!(compile_go("a**").is_err());
        assert!(compile_go("a{2}{3}").is_err());
        assert!(compile_go("a{1001}").is_err());
        assert!(compile_go("a{3,2}").is_err());
        assert!(compile_go("(?x)a").is_err());
        assert!(compile_go("\\1").is_err());
        assert!(compile_go("\\8").is_err());
        assert!(compile_go("[a").is_err());
        assert!(compile_go("(a").is_err());
        assert!(compile_go("a\\").is_err());
        assert!(compile_go("*a").is_err());
        assert!(compile_go("[[:foo:]]").is_err());
        assert!(compile_go("a*?").is_ok());
        assert!(compile_go("(?i)ETH").is_ok());
        assert!(compile_go("(?P<n>eth)").is_ok());
    }

    #[test]
    fn nested_repeat_counts_like_go() {
        // Go's repeatIsValid: the product of nested counts may not pass 1000.
        assert!(compile_go("((x?){40}){30}").is_err());
        assert!(compile_go("(a{10}){100}").is_ok());
        assert!(compile_go("(a{10}){101}").is_err());
        assert!(compile_go("((a{2}){2}){251}").is_err());
        assert!(compile_go("((a{2}){2}){250}").is_ok());
        assert!(compile_go("(?:a{1000}|b)").is_ok());
        assert!(compile_go("(a{500}|b){3}").is_err());
        // {n,} counts n; {0} hides what it repeats; * + ? never count.
        assert!(compile_go("(a{40,}){30}").is_err());
        assert!(compile_go("(a{999}){0}").is_ok());
        assert!(compile_go("((a{40})*){30}").is_err());
        assert!(compile_go("(a{40})(b{30})").is_ok());
        assert!(compile_go("(a{0,1}){1000}").is_ok());
        assert!(compile_go("(a{1,2}){501}").is_err());
        assert!(m("^(x{2}){3}$", "xxxxxx"));
    }

    #[test]
    fn go_literals() {
        assert!(m("\\<x\\>", "<x>"));
        assert!(m("\\Qa.b\\E", "a.b"));
        assert!(!m("^\\Qa.b\\E$", "axb"));
        assert!(m("[[a]", "["));
        assert!(m("[a&&b]", "&"));
        assert!(compile_go("[a--b]").is_err());
        assert!(m("[a~~b]", "~"));
        assert!(m("[-a]", "-"));
        assert!(m("\\141", "a"));
        assert!(m("\\x61\\x{62}", "ab"));
        assert!(m("[\\d.]", "."));
        assert!(m("^[^\\D]$", "7"));
        assert!(!m("\\d", "\u{0663}"));
        assert!(m("eth\\.1", "eth.1"));
        assert!(!m("eth\\.1", "eth01"));
        assert!(m("[[:alpha:]]", "a"));
        assert!(m("\\pL", "a"));
        assert!(m("\\bx", "a-x"));
        assert!(m("[]a]", "]"));
        assert!(m("(?i)ETH0", "eth0"));
    }

    #[test]
    fn unanchored_and_empty() {
        assert!(m("(eth0)", "veth0ab"));
        assert!(m("()", "anything"));
        assert!(m("(eth*)", "bet"));
    }
}
