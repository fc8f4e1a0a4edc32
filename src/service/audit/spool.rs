//! The audit spool: a local append-only file of events that have not reached the database
//! yet. An event is appended and `fsync`'d before the write it belongs to is answered, so
//! it survives a crash of the gateway; the writer replays the file into the database when
//! it answers again (also after a restart) and then removes what it replayed.
//!
//! One JSON line per event. A crash in the middle of an append leaves a torn last line;
//! that event was never acknowledged, so loading skips it (and says so in the log).
//! The file is locked while a gateway uses it: two processes never share a spool.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::db::audit::AuditRow;

const REJECTED: &str = "audit-rejected.jsonl";
/// Processes that can share one spool folder.
const SLOTS: usize = 64;

/// Which queue an event's place came from: a write's, or a refused call's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Write,
    Refusal,
}

/// One line of the spool.
#[derive(Debug, Serialize, Deserialize)]
pub struct Line {
    pub kind: Kind,
    pub event: AuditRow,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("cannot create the audit spool folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the audit spool {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "every audit spool file in {path} is in use by another gateway process ({SLOTS}); give this one its own folder"
    )]
    Locked { path: PathBuf },
    #[error("cannot read the audit spool {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the audit spool {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The open spool file, with the lock that makes it this process's own.
pub struct Spool {
    path: PathBuf,
    file: File,
    /// Held (locked) for the process's life; never read.
    _lock: File,
}

impl Spool {
    /// Opens (creating when missing) the spool in `folder`, locks it, and reads the events
    /// a previous run left behind.
    pub fn open(folder: &Path) -> Result<(Spool, Vec<Line>), SpoolError> {
        std::fs::create_dir_all(folder).map_err(|source| SpoolError::Folder {
            path: folder.to_path_buf(),
            source,
        })?;
        let open_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SpoolError::Open { path, source }
        };
        for slot in 0..SLOTS {
            let lock_path = folder.join(format!("audit-spool-{slot}.lock"));
            let lock = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)
                .map_err(open_error(&lock_path))?;
            if lock.try_lock().is_err() {
                continue;
            }
            let path = folder.join(format!("audit-spool-{slot}.jsonl"));
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&path)
                .map_err(open_error(&path))?;
            let (lines, torn) = read_lines(&path, &file)?;
            let mut spool = Spool {
                path,
                file,
                _lock: lock,
            };
            if torn > 0 {
                // The torn tail goes, so later appends start on a clean line.
                spool.rewrite(&lines)?;
            }
            return Ok((spool, lines));
        }
        Err(SpoolError::Locked {
            path: folder.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends events and waits until they are on disk.
    pub fn append<'a>(
        &mut self,
        lines: impl IntoIterator<Item = &'a Line>,
    ) -> Result<(), SpoolError> {
        let buffer = self.encode(lines)?;
        self.file
            .write_all(&buffer)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| self.write_error(e))
    }

    /// Replaces the file's content with `remaining` (the events not yet in the database):
    /// written to a temporary file, synced, then renamed over the spool, so a crash leaves
    /// either the old or the new content.
    pub fn rewrite<'a>(
        &mut self,
        remaining: impl IntoIterator<Item = &'a Line>,
    ) -> Result<(), SpoolError> {
        let buffer = self.encode(remaining)?;
        if buffer.is_empty() {
            return self
                .file
                .set_len(0)
                .and_then(|()| self.file.sync_all())
                .map_err(|e| self.write_error(e));
        }
        let temporary = self.path.with_extension("jsonl.tmp");
        let written = File::create(&temporary)
            .and_then(|mut f| f.write_all(&buffer).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&temporary, &self.path))
            .and_then(|()| sync_folder(&self.path));
        written.map_err(|e| self.write_error(e))?;
        // Appends go to the new file from now on.
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.write_error(e))?;
        Ok(())
    }

    /// Keeps an event the database refused, next to the spool, for an operator to look at.
    pub fn keep_rejected(&self, event: &AuditRow) -> Result<(), SpoolError> {
        let path = self.path.with_file_name(REJECTED);
        let mut text = serde_json::to_vec(event).map_err(|e| self.write_error(e.into()))?;
        text.push(b'\n');
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .and_then(|mut f| f.write_all(&text).and_then(|()| f.sync_data()))
            .map_err(|source| SpoolError::Write { path, source })
    }

    fn encode<'a>(&self, lines: impl IntoIterator<Item = &'a Line>) -> Result<Vec<u8>, SpoolError> {
        let mut buffer = Vec::new();
        for line in lines {
            // An AuditRow always serializes: its fields are strings, numbers, ids and JSON.
            serde_json::to_writer(&mut buffer, line).map_err(|e| self.write_error(e.into()))?;
            buffer.push(b'\n');
        }
        Ok(buffer)
    }

    fn write_error(&self, source: std::io::Error) -> SpoolError {
        SpoolError::Write {
            path: self.path.clone(),
            source,
        }
    }
}

fn read_lines(path: &Path, file: &File) -> Result<(Vec<Line>, usize), SpoolError> {
    let mut lines = Vec::new();
    let mut torn = 0usize;
    for text in BufReader::new(file).lines() {
        let text = text.map_err(|source| SpoolError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(&text) {
            Ok(line) => lines.push(line),
            Err(_) => torn += 1,
        }
    }
    if torn > 0 {
        tracing::warn!(
            spool = %path.display(),
            skipped = torn,
            "audit spool had unreadable lines (an append cut short by a crash, never acknowledged); skipped"
        );
    }
    Ok((lines, torn))
}

/// Makes a rename durable: the folder entry is synced too.
fn sync_folder(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(folder) => File::open(folder)?.sync_all(),
        None => Ok(()),
    }
}
