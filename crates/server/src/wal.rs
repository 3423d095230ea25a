//! The write-ahead log: what the intake acknowledges is first appended here and made durable
//! with one `fdatasync` per group of concurrent appends (group commit).
//!
//! Records go to numbered segment files `wal-<seq>.log`; a checkpoint closes the current
//! segment and, once the aggregates of everything in it are committed to the store, deletes it.
//! A record is `len: u32 LE | fnv1a32(kind, payload): u32 LE | kind: u8 | payload`; replay stops
//! at the first torn or corrupt record of a segment (only an unacknowledged write can be torn).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use tokio::sync::oneshot;

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Segment it was in.
    pub seq: u64,
    /// Caller-defined kind.
    pub kind: u8,
    /// Payload.
    pub payload: Vec<u8>,
}

enum Msg {
    Append(Vec<u8>, oneshot::Sender<io::Result<()>>),
    Rotate(oneshot::Sender<io::Result<u64>>),
}

/// The log's writer: a thread owning the current segment.
#[derive(Clone)]
pub struct Wal {
    tx: mpsc::Sender<Msg>,
    dir: PathBuf,
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("wal-{seq:010}.log"))
}

/// Segment numbers present in `dir`, ascending.
pub fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_prefix("wal-")
            .and_then(|s| s.strip_suffix(".log"))
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn fnv1a(kind: u8, payload: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in std::iter::once(&kind).chain(payload) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(9 + payload.len());
    r.extend_from_slice(&((payload.len() + 1) as u32).to_le_bytes());
    r.extend_from_slice(&fnv1a(kind, payload).to_le_bytes());
    r.push(kind);
    r.extend_from_slice(payload);
    r
}

/// Reads the records of segments numbered above `after`, in order.
pub fn replay(dir: &Path, after: u64) -> io::Result<Vec<Record>> {
    let mut out = Vec::new();
    for seq in segments(dir)?.into_iter().filter(|&s| s > after) {
        let mut buf = Vec::new();
        File::open(segment_path(dir, seq))?.read_to_end(&mut buf)?;
        let mut i = 0;
        while i + 9 <= buf.len() {
            let mut w = [0u8; 4];
            w.copy_from_slice(&buf[i..i + 4]);
            let len = u32::from_le_bytes(w) as usize;
            w.copy_from_slice(&buf[i + 4..i + 8]);
            let sum = u32::from_le_bytes(w);
            let Some(body) = buf.get(i + 8..i + 8 + len).filter(|b| !b.is_empty()) else {
                tracing::warn!(seq, offset = i, "write-ahead log ends in a torn record");
                break;
            };
            if fnv1a(body[0], &body[1..]) != sum {
                tracing::warn!(seq, offset = i, "write-ahead log record fails its checksum");
                break;
            }
            out.push(Record {
                seq,
                kind: body[0],
                payload: body[1..].to_vec(),
            });
            i += 8 + len;
        }
    }
    Ok(out)
}

impl Wal {
    /// Starts a writer on a new segment after the highest one in `dir` (created if missing).
    pub fn open(dir: &Path) -> io::Result<Wal> {
        std::fs::create_dir_all(dir)?;
        let mut seq = segments(dir)?.last().copied().unwrap_or(0) + 1;
        let odir = dir.to_path_buf();
        let open = move |seq: u64| -> io::Result<BufWriter<File>> {
            let dir = odir.as_path();
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(segment_path(dir, seq))?;
            // Make the new file's directory entry durable too.
            File::open(dir)?.sync_all()?;
            Ok(BufWriter::with_capacity(1 << 20, f))
        };
        let mut file = open(seq)?;
        let (tx, rx) = mpsc::channel::<Msg>();
        let wdir = dir.to_path_buf();
        std::thread::Builder::new()
            .name("doppel-wal".into())
            .spawn(move || {
                let mut acks: Vec<oneshot::Sender<io::Result<()>>> = Vec::new();
                let sync = |file: &mut BufWriter<File>| -> io::Result<()> {
                    file.flush()?;
                    file.get_ref().sync_data()
                };
                let finish =
                    |file: &mut BufWriter<File>,
                     acks: &mut Vec<oneshot::Sender<io::Result<()>>>| {
                        if acks.is_empty() {
                            return;
                        }
                        let r = sync(file);
                        for a in acks.drain(..) {
                            let _ = a.send(match &r {
                                Ok(()) => Ok(()),
                                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                            });
                        }
                    };
                while let Ok(first) = rx.recv() {
                    let mut next = Some(first);
                    while let Some(msg) = next.take() {
                        match msg {
                            Msg::Append(rec, ack) => match file.write_all(&rec) {
                                Ok(()) => acks.push(ack),
                                Err(e) => {
                                    let _ = ack.send(Err(e));
                                }
                            },
                            Msg::Rotate(reply) => {
                                finish(&mut file, &mut acks);
                                let r = sync(&mut file).and_then(|()| {
                                    let closed = seq;
                                    file = open(seq + 1)?;
                                    seq += 1;
                                    Ok(closed)
                                });
                                let _ = reply.send(r);
                            }
                        }
                        next = rx.try_recv().ok();
                    }
                    // Everything queued so far is written: one sync for the whole group.
                    finish(&mut file, &mut acks);
                }
                tracing::debug!(dir = %wdir.display(), "write-ahead log writer stopped");
            })?;
        Ok(Wal {
            tx,
            dir: dir.to_path_buf(),
        })
    }

    /// Appends a record; returns once it is on disk.
    pub async fn append(&self, kind: u8, payload: &[u8]) -> io::Result<()> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Msg::Append(encode(kind, payload), ack))
            .map_err(|_| io::Error::other("write-ahead log writer is gone"))?;
        done.await
            .map_err(|_| io::Error::other("write-ahead log writer is gone"))?
    }

    /// Closes the current segment (durably) and starts the next; returns the closed one's
    /// number: every record appended before this call is in a segment numbered at most that.
    pub async fn rotate(&self) -> io::Result<u64> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(Msg::Rotate(reply))
            .map_err(|_| io::Error::other("write-ahead log writer is gone"))?;
        done.await
            .map_err(|_| io::Error::other("write-ahead log writer is gone"))?
    }

    /// Deletes the segments numbered at most `seq` (their content is in the store).
    pub fn remove_upto(&self, seq: u64) -> io::Result<()> {
        for s in segments(&self.dir)?.into_iter().filter(|&s| s <= seq) {
            std::fs::remove_file(segment_path(&self.dir, s))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn appends_survive_reopen_and_torn_tails_are_dropped() {
        let dir = tempfile::tempdir().expect("tmp");
        let wal = Wal::open(dir.path()).expect("open");
        // Concurrent appends share syncs but each is acknowledged only once written.
        let mut tasks = Vec::new();
        for i in 0..50u8 {
            let w = wal.clone();
            tasks.push(tokio::spawn(async move { w.append(1, &[i; 3]).await }));
        }
        for t in tasks {
            t.await.expect("join").expect("append");
        }
        let closed = wal.rotate().await.expect("rotate");
        assert_eq!(closed, 1);
        wal.append(2, b"after").await.expect("append");
        let recs = replay(dir.path(), 0).expect("replay");
        assert_eq!(recs.len(), 51);
        let mut firsts: Vec<u8> = recs[..50].iter().map(|r| r.payload[0]).collect();
        firsts.sort_unstable();
        assert_eq!(firsts, (0..50).collect::<Vec<_>>());
        assert_eq!(
            recs[50],
            Record {
                seq: 2,
                kind: 2,
                payload: b"after".to_vec()
            }
        );
        // Only segments after the checkpoint are replayed; removed ones are gone.
        assert_eq!(replay(dir.path(), 1).expect("replay").len(), 1);
        wal.remove_upto(1).expect("remove");
        assert_eq!(segments(dir.path()).expect("list"), vec![2]);
        // A torn record at the end (a crash mid-write) is ignored, earlier ones are kept.
        let path = segment_path(dir.path(), 2);
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(&encode(1, b"torn")[..7]).expect("write");
        drop(f);
        let recs = replay(dir.path(), 0).expect("replay");
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].payload, b"after");
    }
}
