//! The grammar: a body of attributes and labelled blocks, and expressions (strings,
//! heredocs, lists, objects, numbers, booleans, `null`, `var.x`, and the bare names and
//! calls of type constraints).

use super::ast::{Block, Body, Expr, Res};
use super::lexer::Parser;

impl Parser<'_> {
    pub(super) fn body(&mut self, closing: bool) -> Res<Body> {
        let mut body = Body::default();
        loop {
            self.skip(true);
            match self.src.get(self.pos) {
                None if closing => {
                    return self.err(
                        "Unclosed configuration block",
                        "There is no closing brace for this block before the end of the file.",
                    );
                }
                None => return Ok(body),
                Some(b'}') if closing => {
                    self.pos += 1;
                    return Ok(body);
                }
                _ => {}
            }
            let at = self.at();
            let Some(name) = self.ident() else {
                return self.err(
                    "Argument or block definition required",
                    "An argument or block definition is required here.",
                );
            };
            self.skip(false);
            match self.src.get(self.pos) {
                Some(b'=') => {
                    self.pos += 1;
                    let value = self.expr()?;
                    if body.attrs.iter().any(|(k, _)| *k == name) {
                        return Err(super::ast::diag(
                            at,
                            name.len(),
                            "Attribute redefined",
                            &format!(
                                "The argument {name:?} was already set. Each argument may be set only once."
                            ),
                        ));
                    }
                    body.attrs.push((name, value));
                    body.attr_at.push(at);
                }
                Some(b'{') | Some(b'"') => {
                    let mut labels = Vec::new();
                    while self.src.get(self.pos) == Some(&b'"') {
                        labels.push(self.plain_string()?);
                        self.skip(false);
                    }
                    if self.src.get(self.pos) != Some(&b'{') {
                        return self.err("Invalid block definition", "A block definition must have block content delimited by \"{\" and \"}\", starting on the same line as the block header.");
                    }
                    self.pos += 1;
                    let inner = self.body(true)?;
                    body.blocks.push(Block {
                        kind: name,
                        labels,
                        body: inner,
                        at,
                    });
                }
                _ => {
                    return self.err(
                        "Argument or block definition required",
                        "An argument or block definition is required here. To set an argument, use the equals sign \"=\" to introduce the argument value.",
                    );
                }
            }
        }
    }

    fn expr(&mut self) -> Res<Expr> {
        self.skip(false);
        match self.src.get(self.pos) {
            Some(b'"') => self.string(),
            Some(b'<') if self.src.get(self.pos + 1) == Some(&b'<') => self.heredoc(),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip(true);
                    if self.src.get(self.pos) == Some(&b']') {
                        self.pos += 1;
                        return Ok(Expr::List(items));
                    }
                    items.push(self.expr()?);
                    self.skip(true);
                    match self.src.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {}
                        _ => {
                            return self.err(
                                "Missing item separator",
                                "Expected a comma to mark the beginning of the next item.",
                            );
                        }
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip(true);
                    match self.src.get(self.pos) {
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Expr::Obj(items));
                        }
                        Some(b',') => {
                            self.pos += 1;
                            continue;
                        }
                        Some(b'"') => {
                            let key = self.plain_string()?;
                            self.object_item(key, &mut items)?;
                        }
                        _ => {
                            let Some(key) = self.ident() else {
                                return self.err(
                                    "Invalid object key",
                                    "An object key must be a name or a string.",
                                );
                            };
                            self.object_item(key, &mut items)?;
                        }
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.pos;
                self.pos += 1;
                while let Some(&c) = self.src.get(self.pos) {
                    let exponent_sign = (c == b'+' || c == b'-')
                        && matches!(self.src.get(self.pos - 1), Some(b'e' | b'E'));
                    if c.is_ascii_digit() || c == b'.' || c == b'e' || c == b'E' || exponent_sign {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                let text = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
                match text.parse() {
                    Ok(n) => Ok(Expr::Num(n)),
                    Err(_) => self.err("Invalid number", "This is not a valid number."),
                }
            }
            _ => {
                let (line, col) = self.at();
                let Some(name) = self.ident() else {
                    return self.err(
                        "Invalid expression",
                        "Expected the start of an expression, but found an invalid expression token.",
                    );
                };
                match name.as_str() {
                    "true" => Ok(Expr::Bool(true)),
                    "false" => Ok(Expr::Bool(false)),
                    "null" => Ok(Expr::Null),
                    _ if name.starts_with("var.") => {
                        Ok(Expr::Var(name[4..].to_string(), line, col))
                    }
                    _ if self.src.get(self.pos) == Some(&b'(') => {
                        self.pos += 1;
                        let mut args = Vec::new();
                        loop {
                            self.skip(true);
                            if self.src.get(self.pos) == Some(&b')') {
                                self.pos += 1;
                                return Ok(Expr::Call(name, args, line, col));
                            }
                            args.push(self.expr()?);
                            self.skip(true);
                            match self.src.get(self.pos) {
                                Some(b',') => self.pos += 1,
                                Some(b')') => {}
                                _ => {
                                    return self.err(
                                        "Missing argument separator",
                                        "A comma is required to separate each function argument from the next.",
                                    );
                                }
                            }
                        }
                    }
                    _ => Ok(Expr::Ident(name, line, col)),
                }
            }
        }
    }

    fn object_item(&mut self, key: String, items: &mut Vec<(String, Expr)>) -> Res<()> {
        self.skip(false);
        match self.src.get(self.pos) {
            Some(b'=') | Some(b':') => self.pos += 1,
            _ => {
                return self.err(
                    "Missing key/value separator",
                    "Expected an equals sign (\"=\") to mark the beginning of the attribute value.",
                );
            }
        }
        let value = self.expr()?;
        items.push((key, value));
        Ok(())
    }
}
