//! The syntax tree: bodies of attributes and blocks, and expressions.

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Str(Vec<Part>, usize, usize),
    Num(f64),
    Bool(bool),
    List(Vec<Expr>),
    Obj(Vec<(String, Expr)>),
    Var(String, usize, usize),
}

#[derive(Debug, Clone)]
pub(super) enum Part {
    Lit(String),
    Var(String),
}

#[derive(Debug, Default)]
pub(super) struct Body {
    pub(super) attrs: Vec<(String, Expr)>,
    pub(super) blocks: Vec<Block>,
}

#[derive(Debug)]
pub(super) struct Block {
    pub(super) kind: String,
    pub(super) labels: Vec<String>,
    pub(super) body: Body,
}

pub(super) type Res<T> = Result<T, String>;
