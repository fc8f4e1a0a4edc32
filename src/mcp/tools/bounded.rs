//! Bounded answers: a tool's text and `structuredContent` together stay within the answer
//! budget (`GATEWAY_MCP_ANSWER_BYTES`), since every byte is context an agent pays for.
//!
//! An answer over the budget is cut, not refused. The largest list or long string in the
//! structured answer is shortened first, by just enough (a list keeps its first items, or
//! its last ones for an answer whose end is what matters, such as log lines; a string keeps
//! its start and ends in `…`), and again until it fits. The cut document is still valid
//! for the tool's `outputSchema` (lists and strings only get shorter) and is turned back
//! into the typed answer, so the text is written from what was kept and says the same.
//! What was cut is listed in the text and in `_meta["nomad-gateway/cut"]`, with how to get
//! the rest: for a list the cursor that continues right after the last item kept.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Summary;

/// The `_meta` key of a cut answer's account.
pub const META_KEY: &str = "nomad-gateway/cut";

/// Room left for the note a cut answer carries.
const NOTE_RESERVE: usize = 640;

/// A string shorter than this is never cut: identifiers, statuses and times stay whole.
const MIN_STRING: usize = 160;

/// The marker that ends a cut string (or starts one kept by its end).
const ELLIPSIS: &str = "…";

/// Which end of a list or string a cut answer keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The start: lists ordered by importance (newest first, most serious first).
    Head,
    /// The end: output that grows at the end, such as log lines.
    Tail,
}

/// One part of a cut answer: where (a JSON pointer into `structuredContent`, or `text`),
/// and how much of it was kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cut {
    pub path: String,
    pub kept: usize,
    pub of: usize,
    /// `items` for a list, `bytes` for a string.
    pub unit: &'static str,
}

/// A cut answer: the kept document, its text, what was cut and how to get the rest.
pub struct Fitted {
    pub value: Value,
    pub text: String,
    /// The note and account, when something was cut.
    pub meta: Option<Value>,
}

/// The answer `output` of `tool` within `budget` bytes of text plus `structuredContent`.
pub fn fit<O: Serialize + DeserializeOwned + Summary>(
    output: &O,
    budget: usize,
    tool: &str,
) -> Result<Fitted, serde_json::Error> {
    let value = serde_json::to_value(output)?;
    let text = output.summary();
    let full = size(&value) + text.len();
    if full <= budget {
        return Ok(Fitted {
            value,
            text,
            meta: None,
        });
    }
    let text_of = |v: &Value| {
        serde_json::from_value::<O>(v.clone())
            .map(|o| o.summary().len())
            .unwrap_or(0)
    };
    let mut target = budget.saturating_sub(NOTE_RESERVE);
    let mut value = value;
    let mut cuts = Vec::new();
    loop {
        shrink(&mut value, target, O::KEEP, &text_of, &mut cuts);
        let mut kept: O = serde_json::from_value(value.clone())?;
        let rest = kept.resume(output, tool);
        let kept_value = serde_json::to_value(&kept)?;
        let json = size(&kept_value);
        let mut text = kept.summary();
        let mut all_cuts: Vec<Cut> = cuts.iter().map(|(_, c)| c.clone()).collect();
        // A text that does not follow the document (it cannot shrink with it) is cut
        // on its own, keeping its start.
        let room = target.saturating_sub(json).max(MIN_STRING);
        if text.len() > room {
            let of = text.len();
            text = cut_string(&text, of - room, Keep::Head);
            all_cuts.push(Cut {
                path: "text".into(),
                kept: text.len() - ELLIPSIS.len(),
                of,
                unit: "bytes",
            });
        }
        let note = note(budget, &all_cuts, &rest);
        text.push_str("\n\n");
        text.push_str(&note);
        let total = json + text.len();
        // The note may take more room than reserved; then cut once more, a little deeper.
        if total > budget && target > NOTE_RESERVE {
            target = target.saturating_sub(total - budget);
            continue;
        }
        let meta = json!({
            META_KEY: {
                "budget_bytes": budget,
                "full_bytes": full,
                "cuts": all_cuts,
                "rest": rest,
            }
        });
        return Ok(Fitted {
            value: kept_value,
            text,
            meta: Some(meta),
        });
    }
}

/// The words of a cut answer: what was kept of what, and how to get the rest.
fn note(budget: usize, cuts: &[Cut], rest: &str) -> String {
    let parts: Vec<String> = cuts
        .iter()
        .map(|c| match c.unit {
            "items" => format!("{} {} of {} items", c.path, c.kept, c.of),
            _ => format!(
                "{} {} of {}",
                c.path,
                human_bytes(c.kept),
                human_bytes(c.of)
            ),
        })
        .collect();
    format!(
        "[Cut to fit the answer budget of {}: kept {}. {rest}]",
        human_bytes(budget),
        parts.join(", ")
    )
}

fn human_bytes(n: usize) -> String {
    if n < 1024 {
        format!("{n} B")
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// RFC 6901: `~` is `~0` and `/` is `~1` within a segment.
fn pointer(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
            Seg::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

/// Cuts `value` until its encoding plus the text written from it fits `target`, or
/// nothing is left to cut. `cuts` keeps the account, by path.
fn shrink(
    value: &mut Value,
    target: usize,
    keep: Keep,
    text_of: &impl Fn(&Value) -> usize,
    cuts: &mut Vec<(Vec<Seg>, Cut)>,
) {
    // Each step cuts the largest candidate by what is over, or to its minimum; the
    // number of candidates bounds the steps.
    for _ in 0..256 {
        let mut best = None;
        let json = walk(value, &mut Vec::new(), &mut best);
        let total = json + text_of(value);
        if total <= target {
            return;
        }
        let Some((path, _)) = best else { return };
        // The text mostly repeats the document, so a cut of the document shrinks both:
        // cut the document by its share of what is over.
        let over = total - target;
        let need = (over as u128 * json as u128).div_ceil(total as u128) as usize;
        cut_at(value, &path, need.max(1), keep, cuts);
    }
}

/// The encoded size of `value` (exactly what `serde_json::to_vec` writes), noting in
/// `best` the heaviest list of two or more items (by what is not its largest item) or
/// string longer than [`MIN_STRING`].
fn walk(value: &Value, path: &mut Vec<Seg>, best: &mut Option<(Vec<Seg>, usize)>) -> usize {
    fn consider(path: &[Seg], size: usize, best: &mut Option<(Vec<Seg>, usize)>) {
        if best.as_ref().is_none_or(|(_, s)| size > *s) {
            *best = Some((path.to_vec(), size));
        }
    }
    match value {
        Value::Array(items) => {
            let mut size = 2 + items.len().saturating_sub(1);
            let mut largest = 0;
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                let item_size = walk(item, path, best);
                path.pop();
                size += item_size;
                largest = largest.max(item_size);
            }
            // A list weighs what is spread over its items: one whose bulk is a single
            // item is cut inside that item rather than losing its small neighbours.
            if items.len() > 1 {
                consider(path, size - largest, best);
            }
            size
        }
        Value::Object(map) => {
            let mut size = 2 + map.len().saturating_sub(1);
            for (key, item) in map {
                path.push(Seg::Key(key.clone()));
                size += string_len(key) + 1 + walk(item, path, best);
                path.pop();
            }
            size
        }
        Value::String(s) => {
            let size = string_len(s);
            if s.len() > MIN_STRING {
                consider(path, size, best);
            }
            size
        }
        Value::Null => 4,
        Value::Bool(b) => 4 + usize::from(!b),
        Value::Number(n) => n.to_string().len(),
    }
}

/// The encoded size of `value`, without looking for candidates: the check every answer
/// passes, so it allocates nothing.
fn size(value: &Value) -> usize {
    match value {
        Value::Array(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(size).sum::<usize>()
        }
        Value::Object(map) => {
            2 + map.len().saturating_sub(1)
                + map
                    .iter()
                    .map(|(key, item)| string_len(key) + 1 + size(item))
                    .sum::<usize>()
        }
        Value::String(s) => string_len(s),
        Value::Null => 4,
        Value::Bool(b) => 4 + usize::from(!b),
        Value::Number(n) => n.to_string().len(),
    }
}

/// A string's encoded length: quotes, and the escapes serde_json writes.
fn string_len(s: &str) -> usize {
    2 + s
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{08}' | '\u{0c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum::<usize>()
}

fn node_mut<'a>(value: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |node, seg| match (node, seg) {
        (Value::Object(map), Seg::Key(k)) => map.get_mut(k),
        (Value::Array(items), Seg::Index(i)) => items.get_mut(*i),
        _ => None,
    })
}

/// Cuts the list or string at `path` by at least `need` encoded bytes (a list keeps one
/// item, a string [`MIN_STRING`] bytes, at the least).
fn cut_at(
    value: &mut Value,
    path: &[Seg],
    need: usize,
    keep: Keep,
    cuts: &mut Vec<(Vec<Seg>, Cut)>,
) {
    let Some(node) = node_mut(value, path) else {
        return;
    };
    let (kept, of, unit, dropped) = match node {
        Value::Array(items) => {
            let len = items.len();
            let mut freed = 0;
            let mut drop = 0;
            while drop < len - 1 && freed < need {
                let item = match keep {
                    Keep::Head => &items[len - 1 - drop],
                    Keep::Tail => &items[drop],
                };
                freed += size(item) + 1;
                drop += 1;
            }
            match keep {
                Keep::Head => items.truncate(len - drop),
                Keep::Tail => {
                    items.drain(..drop);
                }
            }
            (len - drop, len, "items", drop)
        }
        Value::String(s) => {
            let len = s.len();
            *s = cut_string(s, need + ELLIPSIS.len(), keep);
            (s.len() - ELLIPSIS.len(), len, "bytes", 0)
        }
        _ => return,
    };
    // What lay inside dropped items is gone; with the end kept, the rest moved up.
    if unit == "items" {
        cuts.retain_mut(|(p, _)| {
            if p.len() <= path.len() || p[..path.len()] != *path {
                return true;
            }
            let Seg::Index(i) = p[path.len()] else {
                return true;
            };
            match keep {
                Keep::Head => i < kept,
                Keep::Tail if i < dropped => false,
                Keep::Tail => {
                    p[path.len()] = Seg::Index(i - dropped);
                    true
                }
            }
        });
    }
    match cuts.iter_mut().find(|(p, _)| p == path) {
        Some((_, cut)) => cut.kept = kept.min(cut.of),
        None => cuts.push((
            path.to_vec(),
            Cut {
                path: pointer(path),
                kept,
                of,
                unit,
            },
        )),
    }
}

/// `s` shorter by at least `need` bytes (keeping [`MIN_STRING`] at the least), cut at a
/// character boundary, with [`ELLIPSIS`] where the cut is.
fn cut_string(s: &str, need: usize, keep: Keep) -> String {
    let keep_bytes = s.len().saturating_sub(need).max(MIN_STRING.min(s.len()));
    match keep {
        Keep::Head => {
            let mut end = keep_bytes;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}{ELLIPSIS}", &s[..end])
        }
        Keep::Tail => {
            let mut start = s.len() - keep_bytes;
            while !s.is_char_boundary(start) {
                start += 1;
            }
            format!("{ELLIPSIS}{}", &s[start..])
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::mcp::tools::Line;
    use crate::service::{Page, PageRequest};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
    struct Row {
        id: String,
        note: String,
    }

    impl Line for Row {
        fn line(&self) -> String {
            format!("{}: {}", self.id, self.note)
        }
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Log {
        lines: Vec<String>,
        about: String,
    }

    impl Summary for Log {
        const KEEP: Keep = Keep::Tail;
        fn summary(&self) -> String {
            self.lines.join("\n")
        }
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Doc {
        name: String,
        spec: String,
        parts: Vec<Vec<u32>>,
    }

    impl Summary for Doc {
        fn summary(&self) -> String {
            format!("{} ({} parts)", self.name, self.parts.len())
        }
    }

    fn answer_size(f: &Fitted) -> usize {
        serde_json::to_vec(&f.value).unwrap().len() + f.text.len()
    }

    fn rows(n: usize) -> Vec<Row> {
        (0..n)
            .map(|i| Row {
                id: format!("job-{i:03}"),
                note: "x".repeat(60),
            })
            .collect()
    }

    #[test]
    fn an_answer_within_the_budget_is_left_alone() {
        let page = PageRequest::new(None, Some(5)).of(rows(5)).unwrap();
        let fitted = fit(&page, 4096, "list_jobs").unwrap();
        assert!(fitted.meta.is_none());
        assert_eq!(fitted.value, serde_json::to_value(&page).unwrap());
        assert_eq!(fitted.text, page.summary());
    }

    #[test]
    fn a_page_keeps_its_first_items_and_a_cursor_past_the_last_kept() {
        let all = rows(300);
        let page = PageRequest::new(Some("10".into()), Some(200))
            .of(all.clone())
            .unwrap();
        let fitted = fit(&page, 4096, "list_jobs").unwrap();
        assert!(
            answer_size(&fitted) <= 4096,
            "{} bytes",
            answer_size(&fitted)
        );
        let kept: Page<Row> = serde_json::from_value(fitted.value.clone()).unwrap();
        let n = kept.items.len();
        assert!(n > 5 && n < 200, "{n} kept");
        assert_eq!(kept.items[..], all[10..10 + n]);
        let cursor = (10 + n).to_string();
        assert_eq!(kept.next_cursor.as_deref(), Some(cursor.as_str()));
        assert_eq!(kept.total, Some(300));
        assert!(
            fitted
                .text
                .contains(&format!("call list_jobs again with cursor '{cursor}'")),
            "{}",
            fitted.text
        );
        let meta = &fitted.meta.unwrap()[META_KEY];
        assert_eq!(meta["budget_bytes"], 4096);
        assert_eq!(meta["cuts"][0]["path"], "/items");
        assert_eq!(meta["cuts"][0]["kept"], n);
        assert_eq!(meta["cuts"][0]["of"], 200);
        // The text lists what was kept, no more.
        assert_eq!(
            fitted
                .text
                .lines()
                .filter(|l| l.starts_with("job-"))
                .count(),
            n
        );
    }

    #[test]
    fn a_log_keeps_its_newest_lines() {
        let log = Log {
            lines: (0..2000)
                .map(|i| format!("line {i:05} {}", "y".repeat(40)))
                .collect(),
            about: "web".into(),
        };
        let fitted = fit(&log, 8192, "get_job_logs").unwrap();
        assert!(
            answer_size(&fitted) <= 8192,
            "{} bytes",
            answer_size(&fitted)
        );
        let kept: Log = serde_json::from_value(fitted.value).unwrap();
        assert_eq!(kept.lines.last(), log.lines.last());
        assert!(kept.lines.len() > 20 && kept.lines.len() < 2000);
        assert_eq!(kept.lines[..], log.lines[2000 - kept.lines.len()..]);
        assert!(
            fitted.text.starts_with(&kept.lines[0]),
            "the text follows the document"
        );
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary_and_nested_lists_shrink_in_place() {
        let doc = Doc {
            name: "web".into(),
            spec: "é".repeat(20_000),
            parts: vec![(0..3000).collect(), vec![1, 2]],
        };
        let fitted = fit(&doc, 4096, "get_job").unwrap();
        assert!(
            answer_size(&fitted) <= 4096,
            "{} bytes",
            answer_size(&fitted)
        );
        let kept: Doc = serde_json::from_value(fitted.value).unwrap();
        assert_eq!(kept.name, "web", "short strings stay whole");
        assert!(kept.spec.ends_with(ELLIPSIS) && kept.spec.starts_with("éé"));
        assert_eq!(kept.parts.len(), 2, "the outer list had little to give");
        assert_eq!(kept.parts[1], [1, 2]);
        assert!(kept.parts[0].len() < 3000);
        let meta = &fitted.meta.unwrap()[META_KEY];
        let paths: Vec<&str> = meta["cuts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["path"].as_str().unwrap())
            .collect();
        assert!(
            paths.contains(&"/spec") && paths.contains(&"/parts/0"),
            "{paths:?}"
        );
        assert!(fitted.text.contains("/spec"), "{}", fitted.text);
        assert!(fitted.text.contains("narrow the call"), "{}", fitted.text);
    }

    #[test]
    fn encoded_sizes_are_exact() {
        let value = json!({"a": ["x\"y\n\u{1}", 1.5, null, true, false, {"é/~": -3}], "b": ""});
        let mut best = None;
        let encoded = serde_json::to_vec(&value).unwrap().len();
        assert_eq!(walk(&value, &mut Vec::new(), &mut best), encoded);
        assert_eq!(size(&value), encoded);
        assert_eq!(
            pointer(&[Seg::Key("a/b~".into()), Seg::Index(2)]),
            "/a~1b~0/2"
        );
    }
}
