//! One page shape for every list, on REST and MCP alike: a request names where to start
//! (`cursor`, handed out by the previous page) and how many (`limit`); the answer is
//! `{items, total, next_cursor}`.

use serde::{Deserialize, Serialize};

use super::{FieldError, ServiceError};

pub const MAX_PAGE: u32 = 200;
pub const DEFAULT_PAGE: u32 = 50;

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageRequest {
    /// The `next_cursor` of the previous page; leave it out for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// How many per page: 1 to 200 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many there are in all, when the source says (Nomad does not for jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// How to continue right after any item: a caller that shows only the first items of
    /// a page, such as an MCP answer cut to its budget, hands out the cursor after the
    /// last one it kept ([`Page::cursor_after`]).
    #[serde(skip)]
    pub resume: Resume,
}

/// Where a list continues after each item of a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Resume {
    /// The page starts at this offset of a list the gateway pages itself: the cursor after
    /// item `i` is `start + i + 1`, nothing to keep per item.
    Offset(u64),
    /// `cursors[i]` continues after `items[i]`, for every item but the last (Nomad's
    /// tokens, event indexes).
    Cursors(Vec<String>),
    /// Unknown: a page built without it cannot be cut short.
    #[default]
    None,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            next_cursor: self.next_cursor,
            resume: self.resume,
        }
    }

    /// The cursor that lists what comes after the first `kept` items: `next_cursor` when
    /// all of them are kept.
    pub fn cursor_after(&self, kept: usize) -> Option<String> {
        match kept {
            0 => None,
            k if k >= self.items.len() => self.next_cursor.clone(),
            k => match &self.resume {
                Resume::Offset(start) => Some((start + k as u64).to_string()),
                Resume::Cursors(cursors) => cursors.get(k - 1).cloned(),
                Resume::None => None,
            },
        }
    }
}

fn invalid(field: &str, message: String) -> ServiceError {
    ServiceError::Validation(vec![FieldError {
        field: field.into(),
        message,
    }])
}

impl PageRequest {
    pub fn new(cursor: Option<String>, limit: Option<u32>) -> PageRequest {
        PageRequest { cursor, limit }
    }

    /// The page length, or a validation error naming `limit`.
    pub fn limit(&self) -> Result<u32, ServiceError> {
        bounded_limit(self.limit, DEFAULT_PAGE as usize, MAX_PAGE as usize).map(|n| n as u32)
    }

    /// The cursor as an offset (lists the gateway pages itself), or a validation error.
    pub fn offset(&self) -> Result<u64, ServiceError> {
        match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => Ok(0),
            Some(c) => c.parse::<u64>().map_err(|_| {
                invalid(
                    "cursor",
                    "is not a cursor this list handed out; leave it out for the first page".into(),
                )
            }),
        }
    }

    /// The page of a list the gateway holds whole.
    pub fn of<T>(&self, all: Vec<T>) -> Result<Page<T>, ServiceError> {
        let (start, limit) = (self.offset()?, self.limit()?);
        let total = all.len() as u64;
        let items: Vec<T> = all
            .into_iter()
            .skip(start as usize)
            .take(limit as usize)
            .collect();
        let end = start + items.len() as u64;
        Ok(Page {
            resume: Resume::Offset(start),
            items,
            total: Some(total),
            next_cursor: (end < total).then(|| end.to_string()),
        })
    }

    /// The page of a list read `limit + 1` at a time from `offset` (the database): the
    /// extra row only says that there is more.
    pub fn of_window<T>(&self, mut rows: Vec<T>) -> Result<Page<T>, ServiceError> {
        let (start, limit) = (self.offset()?, self.limit()?);
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let end = start + rows.len() as u64;
        Ok(Page {
            resume: Resume::Offset(start),
            items: rows,
            total: None,
            next_cursor: more.then(|| end.to_string()),
        })
    }
}

/// A `limit` argument: `default` when absent, else 1 to `max`, or a validation error
/// naming `limit`.
pub fn bounded_limit(
    limit: Option<u32>,
    default: usize,
    max: usize,
) -> Result<usize, ServiceError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&(n as usize)) => Ok(n as usize),
        Some(n) => Err(invalid(
            "limit",
            format!("{n} is out of range; use 1 to {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::PageRequest;

    #[test]
    fn pages_hand_out_a_cursor_until_the_end() {
        let first = PageRequest::new(None, Some(2))
            .of((0..5).collect())
            .unwrap();
        assert_eq!(first.items, [0, 1]);
        assert_eq!(first.total, Some(5));
        assert_eq!(first.next_cursor.as_deref(), Some("2"));
        let middle = PageRequest::new(Some("1".into()), Some(3))
            .of((0..5).collect())
            .unwrap();
        assert_eq!(middle.items, [1, 2, 3]);
        // Kept only the first two of the three: the rest starts at 3.
        assert_eq!(middle.cursor_after(2).as_deref(), Some("3"));
        assert_eq!(middle.cursor_after(1).as_deref(), Some("2"));
        assert_eq!(middle.cursor_after(3).as_deref(), Some("4"));
        let last = PageRequest::new(Some("4".into()), Some(2))
            .of((0..5).collect())
            .unwrap();
        assert_eq!(last.items, [4]);
        assert_eq!(last.next_cursor, None);
        assert!(
            PageRequest::new(Some("x".into()), None)
                .of::<u8>(vec![])
                .is_err()
        );
        assert!(PageRequest::new(None, Some(0)).of::<u8>(vec![]).is_err());
        assert!(PageRequest::new(None, Some(201)).of::<u8>(vec![]).is_err());
        let window = PageRequest::new(Some("2".into()), Some(2))
            .of_window(vec![2, 3, 4])
            .unwrap();
        assert_eq!(window.items, [2, 3]);
        assert_eq!(window.next_cursor.as_deref(), Some("4"));
    }
}
