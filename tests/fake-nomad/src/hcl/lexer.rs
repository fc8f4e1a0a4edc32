//! The parser's cursor and its tokens: positions for diagnostics, whitespace and
//! comments, identifiers, and string literals with `${...}` interpolation.

use super::ast::{Expr, Part, Res};

pub(super) struct Parser<'a> {
    pub(super) src: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn at(&self) -> (usize, usize) {
        let before = &self.src[..self.pos.min(self.src.len())];
        let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
        let col = before.iter().rev().take_while(|&&c| c != b'\n').count() + 1;
        (line, col)
    }

    pub(super) fn err<T>(&self, summary: &str, detail: &str) -> Res<T> {
        let (line, col) = self.at();
        Err(format!(
            "input.hcl:{line},{col}-{}: {summary}; {detail}",
            col + 1
        ))
    }

    pub(super) fn skip(&mut self, newlines: bool) {
        loop {
            match self.src.get(self.pos) {
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'\n') if newlines => self.pos += 1,
                Some(b'#') => self.line_comment(),
                Some(b'/') if self.src.get(self.pos + 1) == Some(&b'/') => self.line_comment(),
                Some(b'/') if self.src.get(self.pos + 1) == Some(&b'*') => {
                    self.pos += 2;
                    while self.pos < self.src.len() && !self.src[self.pos..].starts_with(b"*/") {
                        self.pos += 1;
                    }
                    self.pos += 2;
                }
                _ => return,
            }
        }
    }

    fn line_comment(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    pub(super) fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        while let Some(&c) = self.src.get(self.pos) {
            if c.is_ascii_alphanumeric()
                || c == b'_'
                || c == b'-'
                || (c == b'.' && self.pos > start)
            {
                self.pos += 1;
            } else {
                break;
            }
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.src[start..self.pos]).into_owned())
    }

    pub(super) fn plain_string(&mut self) -> Res<String> {
        match self.string()? {
            Expr::Str(parts, ..) => Ok(parts
                .into_iter()
                .map(|p| match p {
                    Part::Lit(s) => s,
                    Part::Var(v) => format!("${{{v}}}"),
                })
                .collect()),
            _ => unreachable!("string() returns strings"),
        }
    }

    pub(super) fn string(&mut self) -> Res<Expr> {
        let (line, col) = self.at();
        self.pos += 1;
        let mut parts = Vec::new();
        let mut lit = String::new();
        loop {
            match self.src.get(self.pos) {
                None | Some(b'\n') => {
                    return self.err(
                        "Unterminated template string",
                        "No closing marker was found for the string.",
                    );
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let c = self.src.get(self.pos + 1).copied().unwrap_or(b'\\');
                    lit.push(match c {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        other => other as char,
                    });
                    self.pos += 2;
                }
                Some(b'$') if self.src.get(self.pos + 1) == Some(&b'{') => {
                    let end = self.src[self.pos..].iter().position(|&c| c == b'}');
                    let Some(end) = end else {
                        return self.err(
                            "Unterminated template string",
                            "No closing marker was found for the interpolation.",
                        );
                    };
                    let inner = String::from_utf8_lossy(&self.src[self.pos + 2..self.pos + end])
                        .trim()
                        .to_string();
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(inner));
                    self.pos += end + 1;
                }
                Some(_) => {
                    let rest = std::str::from_utf8(&self.src[self.pos..]).unwrap_or("");
                    let ch = rest.chars().next().unwrap_or('?');
                    lit.push(ch);
                    self.pos += ch.len_utf8().max(1);
                }
            }
        }
        if !lit.is_empty() || parts.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Expr::Str(parts, line, col))
    }
}
