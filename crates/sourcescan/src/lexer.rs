//! Tokens for the brace languages — JavaScript/TypeScript, Java, Go, Rust, C# — with just enough
//! of each one's comments and string literals that a `test(` inside a string or a comment is
//! never code, and brackets paired once so every scanner can jump over a body in O(1).
//!
//! Robustness over fidelity: ordinary one-line strings (and JS regexes) end at the line's end
//! even when unterminated, so a stray quote costs one line, not the rest of the file; nothing
//! recurses, so nesting depth costs heap, not stack.

use crate::text;
use memchr::{memchr, memmem};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    Js,
    Java,
    Go,
    Rust,
    CSharp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Backslash escapes apply.
    Escaped,
    /// The text as written: raw strings, JS templates with `${}`.
    Raw,
    /// C# `@"…"`: `""` stands for one quote.
    Verbatim,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Ident,
    Number,
    Punct(u8),
    /// A string literal; `open` and `close` are the byte lengths of its delimiters (prefixes
    /// included; `close` is 0 when unterminated).
    Str {
        open: u16,
        close: u16,
        flavor: Flavor,
    },
    /// Char literals, lifetimes, regular expressions.
    Other,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub kind: Kind,
    start: u32,
    end: u32,
}

impl Token {
    pub(crate) fn new(kind: Kind, start: usize, end: usize) -> Self {
        Token {
            kind,
            start: offset(start),
            end: offset(end),
        }
    }
}

/// Files are at most 4 MiB, so offsets fit; saturate rather than wrap if one ever did not.
fn offset(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

const UNPAIRED: u32 = u32::MAX;

/// A file's tokens, with each bracket's partner.
pub(crate) struct Tokens<'a> {
    text: &'a str,
    toks: Vec<Token>,
    pairs: Vec<u32>,
}

impl<'a> Tokens<'a> {
    pub(crate) fn new(text: &'a str, toks: Vec<Token>) -> Self {
        let pairs = pair_brackets(&toks);
        Tokens { text, toks, pairs }
    }

    pub(crate) fn len(&self) -> usize {
        self.toks.len()
    }

    pub(crate) fn kind(&self, i: usize) -> Option<Kind> {
        self.toks.get(i).map(|t| t.kind)
    }

    pub(crate) fn punct(&self, i: usize, c: u8) -> bool {
        self.kind(i) == Some(Kind::Punct(c))
    }

    pub(crate) fn ident(&self, i: usize) -> Option<&'a str> {
        let t = self.toks.get(i)?;
        (t.kind == Kind::Ident).then(|| self.slice(t))
    }

    pub(crate) fn is_ident(&self, i: usize, s: &str) -> bool {
        self.ident(i) == Some(s)
    }

    pub(crate) fn is_str(&self, i: usize) -> bool {
        matches!(self.kind(i), Some(Kind::Str { .. }))
    }

    /// The token's text as written.
    pub(crate) fn raw(&self, i: usize) -> &'a str {
        self.toks.get(i).map_or("", |t| self.slice(t))
    }

    /// A string literal's value.
    pub(crate) fn string(&self, i: usize) -> Option<String> {
        let t = self.toks.get(i)?;
        let Kind::Str {
            open,
            close,
            flavor,
        } = t.kind
        else {
            return None;
        };
        let start = t.start as usize + usize::from(open);
        let end = (t.end as usize)
            .saturating_sub(usize::from(close))
            .max(start);
        let inner = self.text.get(start..end).unwrap_or_default();
        Some(match flavor {
            Flavor::Escaped => text::unescape(inner),
            Flavor::Raw => inner.to_owned(),
            Flavor::Verbatim => inner.replace("\"\"", "\""),
        })
    }

    /// Byte offset where token `i` starts (the text's end past the last token).
    pub(crate) fn start(&self, i: usize) -> usize {
        self.toks
            .get(i)
            .map_or(self.text.len(), |t| t.start as usize)
    }

    /// Byte offset where token `i` ends (the text's end past the last token).
    pub(crate) fn end(&self, i: usize) -> usize {
        self.toks.get(i).map_or(self.text.len(), |t| t.end as usize)
    }

    /// The partner of the bracket at `i`; `len()` (past the end) when it has none.
    pub(crate) fn close(&self, i: usize) -> usize {
        match self.pairs.get(i) {
            Some(&p) if p != UNPAIRED => p as usize,
            _ => self.toks.len(),
        }
    }

    /// After `(`, `[` or `{` at `i`, or `i + 1` for any other token.
    pub(crate) fn skip(&self, i: usize) -> usize {
        if self.punct(i, b'(') || self.punct(i, b'[') || self.punct(i, b'{') {
            self.close(i).saturating_add(1)
        } else {
            i + 1
        }
    }

    /// The text from byte `start` to byte `end`, cut back to a character boundary.
    pub(crate) fn text_between(&self, start: usize, end: usize) -> &'a str {
        let end = end.min(self.text.len());
        let from = self.text.get(start.min(end)..).unwrap_or_default();
        text::truncate(from, end.saturating_sub(start))
    }

    /// String values among the tokens `from..to`.
    pub(crate) fn strings(&self, from: usize, to: usize) -> Vec<String> {
        (from..to.min(self.len()))
            .filter_map(|i| self.string(i))
            .collect()
    }

    fn slice(&self, t: &Token) -> &'a str {
        self.text
            .get(t.start as usize..t.end as usize)
            .unwrap_or_default()
    }
}

/// Pairs `()`, `[]`, `{}`. A closer with no opener of its kind is ignored; openers left
/// unclosed inside a pair stay unpaired. Counting open brackets per kind keeps this linear.
fn pair_brackets(toks: &[Token]) -> Vec<u32> {
    let mut pairs = vec![UNPAIRED; toks.len()];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut open = [0usize; 3];
    for (i, t) in toks.iter().enumerate() {
        let Kind::Punct(c) = t.kind else { continue };
        match c {
            b'(' | b'[' | b'{' => {
                let k = bracket_kind(c);
                stack.push((i, k));
                open[k] += 1;
            }
            b')' | b']' | b'}' => {
                let k = bracket_kind(c);
                if open[k] == 0 {
                    continue;
                }
                while let Some((j, kj)) = stack.pop() {
                    open[kj] -= 1;
                    if kj == k {
                        if let (Some(a), Some(b)) = (pairs.get_mut(j), u32::try_from(i).ok()) {
                            *a = b;
                        }
                        if let (Some(a), Some(b)) = (pairs.get_mut(i), u32::try_from(j).ok()) {
                            *a = b;
                        }
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    pairs
}

fn bracket_kind(c: u8) -> usize {
    match c {
        b'(' | b')' => 0,
        b'[' | b']' => 1,
        _ => 2,
    }
}

pub(crate) fn lex(text: &str, lang: Lang) -> Tokens<'_> {
    let mut lexer = Lexer {
        b: text.as_bytes(),
        lang,
        toks: Vec::with_capacity(text.len() / 6),
    };
    lexer.run();
    Tokens::new(text, lexer.toks)
}

struct Lexer<'a> {
    b: &'a [u8],
    lang: Lang,
    toks: Vec<Token>,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: Kind, start: usize, end: usize) -> usize {
        self.toks.push(Token::new(kind, start, end));
        end
    }

    fn push_str(
        &mut self,
        start: usize,
        end: usize,
        open: usize,
        closed: usize,
        flavor: Flavor,
    ) -> usize {
        let kind = match (u16::try_from(open), u16::try_from(closed)) {
            (Ok(open), Ok(close)) => Kind::Str {
                open,
                close,
                flavor,
            },
            _ => Kind::Other,
        };
        self.push(kind, start, end)
    }

    fn run(&mut self) {
        let n = self.b.len();
        let mut i = 0;
        if self.lang == Lang::Js && self.b.starts_with(b"#!") {
            i = line_end(self.b, 0);
        }
        while i < n {
            let c = self.at(i);
            i = match c {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => i + 1,
                b'/' if self.at(i + 1) == b'/' => line_end(self.b, i),
                b'/' if self.at(i + 1) == b'*' => {
                    block_comment_end(self.b, i, self.lang == Lang::Rust)
                }
                b'#' if self.lang == Lang::CSharp && at_line_start(self.b, i) => {
                    line_end(self.b, i)
                }
                _ => self.token(i),
            }
            .max(i + 1);
        }
    }

    /// Lexes the token at `i` and returns where the next one may start.
    fn token(&mut self, i: usize) -> usize {
        let c = self.at(i);
        match (self.lang, c) {
            (_, b'"') => self.double_quote(i),
            (Lang::Js, b'\'') => {
                let (end, closed) = quoted(self.b, i, b'\'', true);
                self.push_str(i, end, 1, usize::from(closed), Flavor::Escaped)
            }
            (Lang::Rust, b'\'') => self.rust_quote(i, i),
            (_, b'\'') => {
                let (end, _) = quoted(self.b, i, b'\'', true);
                self.push(Kind::Other, i, end)
            }
            (Lang::Js, b'`') => {
                let (end, closed, holes) = template(self.b, i);
                let flavor = if holes { Flavor::Raw } else { Flavor::Escaped };
                self.push_str(i, end, 1, usize::from(closed), flavor)
            }
            (Lang::Go, b'`') => match memchr(b'`', self.b.get(i + 1..).unwrap_or_default()) {
                Some(p) => self.push_str(i, i + p + 2, 1, 1, Flavor::Raw),
                None => self.push_str(i, self.b.len(), 1, 0, Flavor::Raw),
            },
            (Lang::CSharp, b'@') if self.at(i + 1) == b'"' => {
                let (end, closed) = verbatim(self.b, i + 1);
                self.push_str(i, end, 2, usize::from(closed), Flavor::Verbatim)
            }
            (Lang::CSharp, b'@') if self.at(i + 1) == b'$' && self.at(i + 2) == b'"' => {
                let (end, closed) = interpolated(self.b, i + 2, true);
                self.push_str(i, end, 3, usize::from(closed), Flavor::Raw)
            }
            (Lang::CSharp, b'$') => self.csharp_dollar(i),
            (Lang::Js, b'/') if self.regex_allowed() => self.regex(i),
            _ if is_ident_start(c, self.lang) => self.word(i),
            _ if c.is_ascii_digit() => {
                let mut j = i + 1;
                while j < self.b.len() {
                    let d = self.at(j);
                    if d.is_ascii_alphanumeric()
                        || d == b'_'
                        || (d == b'.' && self.at(j + 1).is_ascii_digit())
                    {
                        j += 1;
                    } else {
                        break;
                    }
                }
                self.push(Kind::Number, i, j)
            }
            _ => self.push(Kind::Punct(c), i, i + 1),
        }
    }

    fn double_quote(&mut self, i: usize) -> usize {
        let quotes = self
            .b
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&q| q == b'"')
            .count();
        match self.lang {
            Lang::Java if quotes >= 3 => {
                let mut j = i + 3;
                while j < self.b.len() {
                    if self.at(j) == b'\\' {
                        j += 2;
                    } else if self.b.get(j..j + 3) == Some(b"\"\"\"") {
                        return self.push_str(i, j + 3, 3, 3, Flavor::Escaped);
                    } else {
                        j += 1;
                    }
                }
                self.push_str(i, self.b.len(), 3, 0, Flavor::Escaped)
            }
            Lang::CSharp if quotes >= 3 => {
                let (end, closed) = raw_quotes(self.b, i + quotes, quotes);
                self.push_str(i, end, quotes, if closed { quotes } else { 0 }, Flavor::Raw)
            }
            _ => {
                let line_bounded = self.lang != Lang::Rust;
                let (end, closed) = quoted(self.b, i, b'"', line_bounded);
                self.push_str(i, end, 1, usize::from(closed), Flavor::Escaped)
            }
        }
    }

    /// C# `$"…"`, `$@"…"`, `$"""…"""`, `$$"""…"""`.
    fn csharp_dollar(&mut self, i: usize) -> usize {
        let dollars = self
            .b
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&d| d == b'$')
            .count();
        let q = i + dollars;
        if self.at(q) == b'@' && self.at(q + 1) == b'"' {
            let (end, closed) = interpolated(self.b, q + 1, true);
            return self.push_str(i, end, dollars + 2, usize::from(closed), Flavor::Raw);
        }
        if self.at(q) != b'"' {
            return self.push(Kind::Punct(b'$'), i, i + 1);
        }
        let quotes = self
            .b
            .get(q..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&c| c == b'"')
            .count();
        if quotes >= 3 {
            let (end, closed) = raw_quotes(self.b, q + quotes, quotes);
            return self.push_str(
                i,
                end,
                dollars + quotes,
                if closed { quotes } else { 0 },
                Flavor::Raw,
            );
        }
        let (end, closed) = interpolated(self.b, q, false);
        self.push_str(i, end, dollars + 1, usize::from(closed), Flavor::Raw)
    }

    /// An identifier, or in Rust a prefixed literal (`r"…"`, `r#"…"#`, `b"…"`, `b'x'`, `c"…"`)
    /// or a raw identifier (`r#type`).
    fn word(&mut self, i: usize) -> usize {
        let mut j = i + 1;
        while j < self.b.len() && is_ident_char(self.at(j), self.lang) {
            j += 1;
        }
        if self.lang != Lang::Rust {
            return self.push(Kind::Ident, i, j);
        }
        let word = self.b.get(i..j).unwrap_or_default();
        let next = self.at(j);
        match word {
            b"r" | b"br" | b"cr" if next == b'"' || next == b'#' => {
                let hashes = self
                    .b
                    .get(j..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|&&h| h == b'#')
                    .count();
                if self.at(j + hashes) == b'"' {
                    let body = j + hashes + 1;
                    let mut closing = vec![b'"'];
                    closing.resize(hashes + 1, b'#');
                    let open = body - i;
                    return match memmem::find(self.b.get(body..).unwrap_or_default(), &closing) {
                        Some(p) => {
                            self.push_str(i, body + p + hashes + 1, open, hashes + 1, Flavor::Raw)
                        }
                        None => self.push_str(i, self.b.len(), open, 0, Flavor::Raw),
                    };
                }
                if word == b"r" && hashes == 1 && is_ident_start(self.at(j + 1), self.lang) {
                    let mut k = j + 2;
                    while k < self.b.len() && is_ident_char(self.at(k), self.lang) {
                        k += 1;
                    }
                    return self.push(Kind::Ident, i, k);
                }
                self.push(Kind::Ident, i, j)
            }
            b"b" | b"c" if next == b'"' => {
                let (end, closed) = quoted(self.b, j, b'"', false);
                self.push_str(i, end, 2, usize::from(closed), Flavor::Escaped)
            }
            b"b" if next == b'\'' => self.rust_quote(i, j),
            _ => self.push(Kind::Ident, i, j),
        }
    }

    /// Rust `'`: a char literal (`'x'`, `'\n'`, `'\u{1F600}'`, `'é'`) or a lifetime/label.
    fn rust_quote(&mut self, start: usize, q: usize) -> usize {
        if self.at(q + 1) == b'\\' {
            let mut j = q + 3;
            while j < self.b.len() && j < q + 16 && !matches!(self.at(j), b'\'' | b'\n') {
                j += 1;
            }
            if self.at(j) == b'\'' {
                return self.push(Kind::Other, start, j + 1);
            }
            return self.push(Kind::Punct(b'\''), q, q + 1);
        }
        let lead = self.at(q + 1);
        let width = match lead {
            0xf0.. => 4,
            0xe0.. => 3,
            0xc0.. => 2,
            _ => 1,
        };
        if q + 1 < self.b.len() && lead != b'\n' && lead != b'\'' && self.at(q + 1 + width) == b'\''
        {
            return self.push(Kind::Other, start, q + 2 + width);
        }
        let mut j = q + 1;
        while j < self.b.len() && is_ident_char(self.at(j), self.lang) {
            j += 1;
        }
        if j == q + 1 {
            return self.push(Kind::Punct(b'\''), q, q + 1);
        }
        self.push(Kind::Other, start, j)
    }

    /// A `/` starts a regex where an expression may start: after an operator, an opening
    /// bracket, a `}` (a statement ends), a keyword such as `return`, or at the start.
    fn regex_allowed(&self) -> bool {
        let Some(prev) = self.toks.last() else {
            return true;
        };
        match prev.kind {
            Kind::Punct(c) => !matches!(c, b')' | b']'),
            Kind::Ident => {
                let word = self
                    .b
                    .get(prev.start as usize..prev.end as usize)
                    .unwrap_or_default();
                matches!(
                    word,
                    b"return"
                        | b"typeof"
                        | b"instanceof"
                        | b"in"
                        | b"of"
                        | b"new"
                        | b"delete"
                        | b"void"
                        | b"throw"
                        | b"case"
                        | b"do"
                        | b"else"
                        | b"yield"
                        | b"await"
                )
            }
            _ => false,
        }
    }

    fn regex(&mut self, i: usize) -> usize {
        let mut j = i + 1;
        let mut in_class = false;
        loop {
            match self.at(j) {
                0 if j >= self.b.len() => return self.push(Kind::Punct(b'/'), i, i + 1),
                b'\n' => return self.push(Kind::Punct(b'/'), i, i + 1),
                b'\\' => j += 2,
                b'[' => {
                    in_class = true;
                    j += 1;
                }
                b']' => {
                    in_class = false;
                    j += 1;
                }
                b'/' if !in_class => break,
                _ => j += 1,
            }
        }
        j += 1;
        while self.at(j).is_ascii_alphabetic() {
            j += 1;
        }
        self.push(Kind::Other, i, j)
    }
}

fn is_ident_start(c: u8, lang: Lang) -> bool {
    c.is_ascii_alphabetic()
        || c == b'_'
        || c >= 0x80
        || (c == b'$' && matches!(lang, Lang::Js | Lang::Java))
}

fn is_ident_char(c: u8, lang: Lang) -> bool {
    is_ident_start(c, lang) || c.is_ascii_digit()
}

/// The index of the `\n` ending the line at `i`, or the end.
pub(crate) fn line_end(b: &[u8], i: usize) -> usize {
    match memchr(b'\n', b.get(i..).unwrap_or_default()) {
        Some(p) => i + p,
        None => b.len(),
    }
}

fn at_line_start(b: &[u8], i: usize) -> bool {
    b.get(..i)
        .unwrap_or_default()
        .iter()
        .rev()
        .take_while(|&&c| c != b'\n')
        .all(|&c| c == b' ' || c == b'\t' || c == b'\r')
}

fn block_comment_end(b: &[u8], i: usize, nested: bool) -> usize {
    let body = b.get(i + 2..).unwrap_or_default();
    if !nested {
        return memmem::find(body, b"*/").map_or(b.len(), |p| i + 2 + p + 2);
    }
    let mut depth = 1usize;
    let mut j = i + 2;
    while j < b.len() {
        match (b.get(j), b.get(j + 1)) {
            (Some(b'/'), Some(b'*')) => {
                depth += 1;
                j += 2;
            }
            (Some(b'*'), Some(b'/')) => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return j;
                }
            }
            _ => j += 1,
        }
    }
    b.len()
}

/// A quoted literal opened at `i`, with backslash escapes: its end, and whether it was closed.
/// `line_bounded` literals stop (unclosed) at a newline.
pub(crate) fn quoted(b: &[u8], i: usize, quote: u8, line_bounded: bool) -> (usize, bool) {
    let mut j = i + 1;
    while let Some(&c) = b.get(j) {
        if c == b'\\' {
            j += 2;
        } else if c == quote {
            return (j + 1, true);
        } else if c == b'\n' && line_bounded {
            return (j, false);
        } else {
            j += 1;
        }
    }
    (b.len(), false)
}

/// C# raw string content starting at `from`, closed by `quotes` quotes.
fn raw_quotes(b: &[u8], from: usize, quotes: usize) -> (usize, bool) {
    let closing = vec![b'"'; quotes];
    match memmem::find(b.get(from..).unwrap_or_default(), &closing) {
        Some(p) => (from + p + quotes, true),
        None => (b.len(), false),
    }
}

/// C# `@"…"` with its quote at `q`; `""` is an escaped quote.
fn verbatim(b: &[u8], q: usize) -> (usize, bool) {
    let mut j = q + 1;
    while let Some(&c) = b.get(j) {
        if c == b'"' {
            if b.get(j + 1) == Some(&b'"') {
                j += 2;
                continue;
            }
            return (j + 1, true);
        }
        j += 1;
    }
    (b.len(), false)
}

/// A JS template literal opened at `i`: its end, whether closed, whether it has `${}` holes.
/// Holes may hold strings, comments and further templates, tracked on a heap stack.
fn template(b: &[u8], i: usize) -> (usize, bool, bool) {
    const TEMPLATE: u32 = u32::MAX;
    let mut stack = vec![TEMPLATE];
    let mut holes = false;
    let mut j = i + 1;
    while let (Some(&c), Some(top)) = (b.get(j), stack.last_mut()) {
        if *top == TEMPLATE {
            match c {
                b'\\' => j += 2,
                b'`' => {
                    stack.pop();
                    j += 1;
                    if stack.is_empty() {
                        return (j, true, holes);
                    }
                }
                b'$' if b.get(j + 1) == Some(&b'{') => {
                    stack.push(0);
                    holes = true;
                    j += 2;
                }
                _ => j += 1,
            }
        } else {
            match c {
                b'{' => {
                    *top = top.saturating_add(1);
                    j += 1;
                }
                b'}' => {
                    if *top == 0 {
                        stack.pop();
                    } else {
                        *top -= 1;
                    }
                    j += 1;
                }
                b'`' => {
                    stack.push(TEMPLATE);
                    j += 1;
                }
                b'\'' | b'"' => j = quoted(b, j, c, true).0.max(j + 1),
                b'/' if b.get(j + 1) == Some(&b'/') => j = line_end(b, j),
                b'/' if b.get(j + 1) == Some(&b'*') => j = block_comment_end(b, j, false),
                _ => j += 1,
            }
        }
    }
    (b.len(), false, holes)
}

/// A C# interpolated string with its quote at `q`: holes `{…}` may hold strings and further
/// interpolated strings, tracked on a heap stack. Non-verbatim ones stop at a newline outside
/// a hole.
fn interpolated(b: &[u8], q: usize, verbatim_outer: bool) -> (usize, bool) {
    enum Ctx {
        Str { verbatim: bool },
        Hole { depth: u32 },
    }
    let mut stack = vec![Ctx::Str {
        verbatim: verbatim_outer,
    }];
    let mut j = q + 1;
    while let (Some(&c), Some(top)) = (b.get(j), stack.last_mut()) {
        match top {
            Ctx::Str { verbatim } => {
                let verbatim = *verbatim;
                match c {
                    b'\\' if !verbatim => j += 2,
                    b'"' if verbatim && b.get(j + 1) == Some(&b'"') => j += 2,
                    b'"' => {
                        stack.pop();
                        j += 1;
                        if stack.is_empty() {
                            return (j, true);
                        }
                    }
                    b'{' if b.get(j + 1) == Some(&b'{') => j += 2,
                    b'{' => {
                        stack.push(Ctx::Hole { depth: 0 });
                        j += 1;
                    }
                    b'\n' if !verbatim && stack.len() == 1 => return (j, false),
                    _ => j += 1,
                }
            }
            Ctx::Hole { depth } => match c {
                b'{' => {
                    *depth = depth.saturating_add(1);
                    j += 1;
                }
                b'}' => {
                    if *depth == 0 {
                        stack.pop();
                    } else {
                        *depth -= 1;
                    }
                    j += 1;
                }
                b'"' => j = quoted(b, j, b'"', true).0.max(j + 1),
                b'\'' => j = quoted(b, j, b'\'', true).0.max(j + 1),
                b'@' if b.get(j + 1) == Some(&b'"') => j = verbatim(b, j + 1).0,
                b'$' | b'@' => {
                    let mut k = j;
                    let mut is_verbatim = false;
                    while let Some(&d) = b.get(k) {
                        match d {
                            b'$' => k += 1,
                            b'@' => {
                                is_verbatim = true;
                                k += 1;
                            }
                            _ => break,
                        }
                    }
                    if b.get(k) == Some(&b'"') {
                        stack.push(Ctx::Str {
                            verbatim: is_verbatim,
                        });
                    }
                    j = k + 1;
                }
                _ => j += 1,
            },
        }
    }
    (b.len(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str, lang: Lang) -> Vec<String> {
        let t = lex(text, lang);
        (0..t.len())
            .map(|i| match t.kind(i) {
                Some(Kind::Str { .. }) => format!("S:{}", t.string(i).unwrap_or_default()),
                Some(Kind::Other) => format!("O:{}", t.raw(i)),
                _ => t.raw(i).to_owned(),
            })
            .collect()
    }

    #[test]
    fn js_comments_strings_templates_and_regexes() {
        let src = "a // it('x')\n/* it('y') */ `t ${ `n ${'}'}` } it(` + 'q\\'s' + x / 2 + /it\\('/g.source";
        assert_eq!(
            kinds(src, Lang::Js),
            [
                "a",
                "S:t ${ `n ${'}'}` } it(",
                "+",
                "S:q's",
                "+",
                "x",
                "/",
                "2",
                "+",
                "O:/it\\('/g",
                ".",
                "source"
            ]
        );
    }

    #[test]
    fn an_unclosed_js_string_costs_one_line() {
        assert_eq!(kinds("x = 'oops\nit", Lang::Js), ["x", "=", "S:oops", "it"]);
    }

    #[test]
    fn rust_raw_strings_chars_lifetimes_and_nested_comments() {
        let src = "r##\"a \"# b\"## 'a' '\\'' fn f<'a>() /* /* */ x */ br\"z\" r#type 'é'";
        assert_eq!(
            kinds(src, Lang::Rust),
            [
                "S:a \"# b",
                "O:'a'",
                "O:'\\''",
                "fn",
                "f",
                "<",
                "O:'a",
                ">",
                "(",
                ")",
                "S:z",
                "r#type",
                "O:'é'"
            ]
        );
    }

    #[test]
    fn csharp_verbatim_interpolated_and_raw_strings() {
        let src = "@\"a \"\"b\"\" c\" $\"x {(y ? \"}\" : $\"{z}\")} w\" $$\"\"\"\n q \"\" \"\"\" #x\n  #region r\nend";
        assert_eq!(
            kinds(src, Lang::CSharp),
            [
                "S:a \"b\" c",
                "S:x {(y ? \"}\" : $\"{z}\")} w",
                "S:\n q \"\" ",
                "#",
                "x",
                "end"
            ]
        );
    }

    #[test]
    fn go_raw_strings_and_java_text_blocks() {
        assert_eq!(kinds("`a\nb` 'x'", Lang::Go), ["S:a\nb", "O:'x'"]);
        assert_eq!(
            kinds("\"\"\"\n  a \\\"\"\" b\"\"\" c", Lang::Java),
            ["S:\n  a \"\"\" b", "c"]
        );
    }

    #[test]
    fn brackets_pair_and_strays_are_ignored() {
        let t = lex("( [ ) ] { }", Lang::Js);
        assert_eq!(t.close(0), 2);
        assert_eq!(t.close(1), t.len());
        assert_eq!(t.close(4), 5);
    }
}
