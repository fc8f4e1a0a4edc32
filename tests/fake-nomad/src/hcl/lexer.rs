//! The parser's cursor and its tokens: positions for diagnostics, whitespace and
//! comments, identifiers, quoted strings and heredocs (`<<EOF`, `<<-EOF`) with `${...}`
//! interpolation and the `$${` and `%%{` escapes.

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

    /// A quoted string: one line, backslash escapes, interpolations.
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
                    match c {
                        b'n' => lit.push('\n'),
                        b't' => lit.push('\t'),
                        b'r' => lit.push('\r'),
                        b'"' | b'\\' => lit.push(c as char),
                        b'u' | b'U' => {
                            let digits = if c == b'u' { 4 } else { 8 };
                            let hex = self
                                .src
                                .get(self.pos + 2..self.pos + 2 + digits)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32);
                            let Some(ch) = hex else {
                                return self.err(
                                    "Invalid escape sequence",
                                    "The \\u escape sequence must be followed by four hexadecimal digits.",
                                );
                            };
                            lit.push(ch);
                            self.pos += digits;
                        }
                        _ => {
                            return self.err(
                                "Invalid escape sequence",
                                &format!(
                                    "The symbol {:?} is not a valid escape sequence selector.",
                                    c as char
                                ),
                            );
                        }
                    }
                    self.pos += 2;
                }
                Some(_) => self.template_char(&mut parts, &mut lit)?,
            }
        }
        if !lit.is_empty() || parts.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Expr::Str(parts, line, col))
    }

    /// One character of template text at the cursor: an interpolation, an escaped
    /// `$${` or `%%{`, or a literal character.
    fn template_char(&mut self, parts: &mut Vec<Part>, lit: &mut String) -> Res<()> {
        let rest = &self.src[self.pos..];
        if rest.starts_with(b"$${") || rest.starts_with(b"%%{") {
            lit.push(rest[0] as char);
            lit.push('{');
            self.pos += 3;
            return Ok(());
        }
        if rest.starts_with(b"%{") {
            return self.err(
                "Unsupported template directive",
                "The fake Nomad's HCL evaluates no %{ } directives; write %%{ for a literal %{.",
            );
        }
        if rest.starts_with(b"${") {
            let Some(end) = rest.iter().position(|&c| c == b'}') else {
                return self.err(
                    "Unterminated template string",
                    "No closing marker was found for the interpolation.",
                );
            };
            let inner = String::from_utf8_lossy(&rest[2..end]).trim().to_string();
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(lit)));
            }
            parts.push(Part::Var(inner));
            self.pos += end + 1;
            return Ok(());
        }
        let text = std::str::from_utf8(rest).unwrap_or("");
        let ch = text.chars().next().unwrap_or('?');
        lit.push(ch);
        self.pos += ch.len_utf8().max(1);
        Ok(())
    }

    /// A heredoc at the cursor (`<<EOF` or `<<-EOF`, the marker alone on its closing
    /// line). The text keeps its newlines, escapes are not processed, interpolations
    /// are; the `<<-` form drops the indentation the non-blank lines share.
    pub(super) fn heredoc(&mut self) -> Res<Expr> {
        let (line, col) = self.at();
        self.pos += 2;
        let flush = self.src.get(self.pos) == Some(&b'-');
        if flush {
            self.pos += 1;
        }
        let Some(marker) = self.ident() else {
            return self.err(
                "Invalid heredoc marker",
                "A heredoc marker must be an identifier, such as EOF, right after << or <<-.",
            );
        };
        while matches!(self.src.get(self.pos), Some(b' ' | b'\t' | b'\r')) {
            self.pos += 1;
        }
        if self.src.get(self.pos) != Some(&b'\n') {
            return self.err(
                "Invalid heredoc marker",
                "The heredoc marker must be followed by a newline.",
            );
        }
        self.pos += 1;
        let body_start = self.pos;
        let mut lines: Vec<(usize, usize)> = Vec::new();
        loop {
            if self.pos >= self.src.len() {
                self.pos = body_start;
                return self.err(
                    "Unterminated template string",
                    &format!("There is no closing marker {marker:?} for this heredoc."),
                );
            }
            let start = self.pos;
            let end = self.src[start..]
                .iter()
                .position(|&c| c == b'\n')
                .map(|i| start + i)
                .unwrap_or(self.src.len());
            let text = String::from_utf8_lossy(&self.src[start..end]);
            if text.trim() == marker {
                self.pos = end;
                break;
            }
            lines.push((start, (end + 1).min(self.src.len())));
            self.pos = (end + 1).min(self.src.len());
        }
        let strip = if flush {
            lines
                .iter()
                .filter(|(s, e)| !self.src[*s..*e].iter().all(u8::is_ascii_whitespace))
                .map(|(s, e)| {
                    self.src[*s..*e]
                        .iter()
                        .take_while(|&&c| c == b' ' || c == b'\t')
                        .count()
                })
                .min()
                .unwrap_or(0)
        } else {
            0
        };
        let resume = self.pos;
        let mut parts = Vec::new();
        let mut lit = String::new();
        for (s, e) in lines {
            let indent = self.src[s..e]
                .iter()
                .take_while(|&&c| c == b' ' || c == b'\t')
                .count();
            self.pos = s + strip.min(indent);
            while self.pos < e {
                self.template_char(&mut parts, &mut lit)?;
            }
        }
        self.pos = resume;
        if !lit.is_empty() || parts.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Expr::Str(parts, line, col))
    }
}
