//! The ledger's spool: an append-only directory of JSON-lines segment files
//! holding records a durable sink (the database) could not take in time.
//!
//! The sink's writer appends whole batches when the database is down or
//! slow; the replayer takes the oldest segment, writes it to the database
//! (inserts are idempotent on the request id, so a segment replayed twice
//! is harmless) and deletes it. Segments survive a restart and are
//! replayed by the next process. A torn last line (a crash mid-append) is
//! skipped and counted.
//!
//! File I/O runs on the blocking pool, never on the async workers.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use sluice_store::RequestRecord;

/// Segments are sealed (and a new one started) past this size.
const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The spool holds `max_bytes` already.
    #[error("spool full ({0} bytes)")]
    Full(u64),
    #[error("spool I/O: {0}")]
    Io(#[from] io::Error),
    #[error("spool encoding: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A spool directory. Cheap to clone.
#[derive(Clone)]
pub struct Spool(Arc<Inner>);

struct Inner {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
}

struct State {
    /// Sealed segments, oldest first.
    sealed: Vec<PathBuf>,
    /// The segment being appended to, with its size.
    active: Option<(PathBuf, u64)>,
    next_seq: u64,
    bytes: u64,
}

/// What a segment held.
pub struct Segment {
    pub path: PathBuf,
    pub records: Vec<RequestRecord>,
    /// Lines that could not be parsed (a torn write).
    pub corrupt: u64,
    bytes: u64,
}

impl Spool {
    /// Opens (creating) `dir`, adopting segments a previous process left.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut sealed = Vec::new();
        let mut bytes = 0;
        let mut next_seq = 0;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(seq) = name
                .to_str()
                .and_then(|n| n.strip_prefix("spool-"))
                .and_then(|n| n.strip_suffix(".jsonl"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            bytes += entry.metadata()?.len();
            next_seq = next_seq.max(seq + 1);
            sealed.push(entry.path());
        }
        sealed.sort();
        Ok(Self(Arc::new(Inner {
            dir: dir.to_owned(),
            max_bytes,
            state: Mutex::new(State {
                sealed,
                active: None,
                next_seq,
                bytes,
            }),
        })))
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.0.state.lock().bytes
    }

    /// Whether anything waits to be replayed.
    pub fn is_empty(&self) -> bool {
        self.bytes() == 0
    }

    /// Appends a batch, durably (fsync) before returning.
    pub async fn append(&self, records: &[RequestRecord]) -> Result<(), SpoolError> {
        let mut buf = Vec::with_capacity(records.len() * 1024);
        for r in records {
            serde_json::to_writer(&mut buf, r)?;
            buf.push(b'\n');
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.append_blocking(&buf))
            .await
            .map_err(|e| SpoolError::Io(io::Error::other(e)))?
    }

    fn append_blocking(&self, buf: &[u8]) -> Result<(), SpoolError> {
        let len = buf.len() as u64;
        let mut st = self.0.state.lock();
        if st.bytes + len > self.0.max_bytes {
            return Err(SpoolError::Full(st.bytes));
        }
        if st
            .active
            .as_ref()
            .is_some_and(|(_, size)| *size >= SEGMENT_BYTES)
        {
            seal(&mut st);
        }
        if st.active.is_none() {
            let path = self.0.dir.join(format!("spool-{:020}.jsonl", st.next_seq));
            st.next_seq += 1;
            st.active = Some((path, 0));
        }
        let Some((path, size)) = st.active.as_mut() else {
            return Err(SpoolError::Io(io::Error::other("no active segment")));
        };
        let mut f = OpenOptions::new().create(true).append(true).open(&*path)?;
        f.write_all(buf)?;
        f.sync_data()?;
        *size += len;
        st.bytes += len;
        Ok(())
    }

    /// Reads the oldest segment (sealing the active one if it is the only
    /// one), or `None` when the spool is empty.
    pub async fn oldest(&self) -> io::Result<Option<Segment>> {
        let path = {
            let mut st = self.0.state.lock();
            if st.sealed.is_empty() {
                seal(&mut st);
            }
            match st.sealed.first() {
                Some(p) => p.clone(),
                None => return Ok(None),
            }
        };
        tokio::task::spawn_blocking(move || read_segment(path))
            .await
            .map_err(io::Error::other)?
            .map(Some)
    }

    /// Deletes a replayed segment.
    pub async fn remove(&self, segment: &Segment) -> io::Result<()> {
        let path = segment.path.clone();
        tokio::task::spawn_blocking(move || fs::remove_file(path))
            .await
            .map_err(io::Error::other)??;
        let mut st = self.0.state.lock();
        st.sealed.retain(|p| *p != segment.path);
        st.bytes = st.bytes.saturating_sub(segment.bytes);
        Ok(())
    }
}

fn seal(st: &mut State) {
    if let Some((path, size)) = st.active.take()
        && size > 0
    {
        st.sealed.push(path);
    }
}

fn read_segment(path: PathBuf) -> io::Result<Segment> {
    let file = File::open(&path)?;
    let bytes = file.metadata()?.len();
    let mut records = Vec::new();
    let mut corrupt = 0;
    for line in BufReader::new(file).split(b'\n') {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<RequestRecord>(&line) {
            Ok(r) => records.push(r),
            Err(e) => {
                corrupt += 1;
                tracing::error!(path = %path.display(), error = %e, "unreadable spooled record skipped");
            }
        }
    }
    Ok(Segment {
        path,
        records,
        corrupt,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> RequestRecord {
        RequestRecord::new(id.into(), 1, "POST", "/v1/chat/completions")
    }

    #[tokio::test]
    async fn appends_replays_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        spool.append(&[rec("a"), rec("b")]).await.unwrap();
        spool.append(&[rec("c")]).await.unwrap();
        assert!(!spool.is_empty());
        // A torn write at the end, as after a crash.
        let reopened = {
            drop(spool);
            let path = fs::read_dir(dir.path())
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            let mut f = OpenOptions::new().append(true).open(path).unwrap();
            f.write_all(b"{\"request_id\":\"d\",\"sta").unwrap();
            Spool::open(dir.path(), 1 << 20).unwrap()
        };
        let seg = reopened.oldest().await.unwrap().unwrap();
        let ids: Vec<_> = seg.records.iter().map(|r| r.request_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(seg.corrupt, 1);
        reopened.remove(&seg).await.unwrap();
        assert!(reopened.is_empty());
        assert!(reopened.oldest().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_full_spool_refuses_appends() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 300).unwrap();
        spool.append(&[rec("a")]).await.unwrap();
        assert!(matches!(
            spool.append(&[rec("b"), rec("c")]).await,
            Err(SpoolError::Full(_))
        ));
    }
}
