//! The syntax tree: bodies of attributes and blocks, and expressions.

#[derive(Debug, Clone)]
pub(super) enum Expr {
    /// A template (quoted string or heredoc): literal text and `${...}` interpolations,
    /// with the position where it starts.
    Str(Vec<Part>, usize, usize),
    Num(f64),
    Bool(bool),
    Null,
    List(Vec<Expr>),
    Obj(Vec<(String, Expr)>),
    Var(String, usize, usize),
    /// A bare name other than `true`, `false`, `null` and `var.x`: a type keyword in a
    /// variable's `type` (`string`, `number`), an error anywhere else.
    Ident(String, usize, usize),
    /// `name(args)`: a type constructor in a variable's `type` (`list(string)`); the
    /// fake evaluates no functions.
    Call(String, Vec<Expr>, usize, usize),
}

#[derive(Debug, Clone)]
pub(super) enum Part {
    Lit(String),
    /// The text inside `${...}`, trimmed.
    Var(String),
}

#[derive(Debug, Default)]
pub(super) struct Body {
    pub(super) attrs: Vec<(String, Expr)>,
    /// Where each attribute's name starts, in the order of `attrs`.
    pub(super) attr_at: Vec<(usize, usize)>,
    pub(super) blocks: Vec<Block>,
}

impl Body {
    /// Where the attribute `name` starts, for diagnostics.
    pub(super) fn attr_pos(&self, name: &str) -> (usize, usize) {
        self.attrs
            .iter()
            .position(|(k, _)| k == name)
            .and_then(|i| self.attr_at.get(i).copied())
            .unwrap_or((1, 1))
    }
}

#[derive(Debug)]
pub(super) struct Block {
    pub(super) kind: String,
    pub(super) labels: Vec<String>,
    pub(super) body: Body,
    /// Where the block's type name starts.
    pub(super) at: (usize, usize),
}

pub(super) type Res<T> = Result<T, String>;

/// An HCL diagnostic in the form `hcl.Diagnostic.Error()` prints it.
pub(super) fn diag(at: (usize, usize), width: usize, summary: &str, detail: &str) -> String {
    let (line, col) = at;
    format!(
        "input.hcl:{line},{col}-{}: {summary}; {detail}",
        col + width.max(1)
    )
}
