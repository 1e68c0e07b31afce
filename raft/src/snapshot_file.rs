//! Snapshot files: one file per snapshot, written aside and renamed into place.
//!
//! ```text
//!  file:  u32 BE len ++ rmp(SnapshotMeta)   the Raft metadata
//!         engine snapshot stream            Header, Entry*, End (engine/snapshot.rs)
//!  name:  snap-{last_index:020}.lsnap
//! ```
//!
//! A file is complete or absent: it is written as `*.tmp`, synced, then
//! renamed. The newest file by index is the current snapshot; older ones are
//! removed once a newer one exists (the last two are kept so a transfer that
//! is reading the previous one can finish). The same bytes travel over gRPC,
//! so a receiver can store the stream as-is and read the meta back out.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::codec::{decode_io, encode_io};
use crate::types::SnapshotMeta;

const SUFFIX: &str = "lsnap";
const KEEP: usize = 2;

/// A snapshot on disk. Sent by path so the same snapshot can be streamed to
/// several followers, each reading its own handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    pub path: PathBuf,
}

impl SnapshotFile {
    /// Reads the Raft metadata at the front of the file and returns it with a
    /// reader positioned at the engine stream.
    pub fn open(&self) -> io::Result<(SnapshotMeta, BufReader<File>)> {
        let mut reader = BufReader::new(File::open(&self.path)?);
        let mut len = [0_u8; 4];
        reader.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > 64 << 20 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("snapshot meta of {len} bytes in {}", self.path.display()),
            ));
        }
        let mut meta = vec![0_u8; len];
        reader.read_exact(&mut meta)?;
        Ok((decode_io(&meta)?, reader))
    }

    /// The file's size in bytes.
    pub fn size_bytes(&self) -> io::Result<u64> {
        Ok(fs::metadata(&self.path)?.len())
    }
}

/// The directory holding one group's snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotDir {
    dir: PathBuf,
}

impl SnapshotDir {
    pub fn open(dir: &Path) -> io::Result<SnapshotDir> {
        fs::create_dir_all(dir)?;
        // Leftovers of writes a crash interrupted.
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&path)?;
            }
        }
        Ok(SnapshotDir {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh temporary path in this directory (same filesystem, so the
    /// final rename is atomic).
    pub fn temp_path(&self, what: &str) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.dir
            .join(format!("{what}-{}-{n}.tmp", std::process::id()))
    }

    /// Writes a snapshot: the meta, then whatever `body` writes, synced and
    /// renamed into place. Returns the installed file.
    pub fn write(
        &self,
        meta: &SnapshotMeta,
        body: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
    ) -> io::Result<SnapshotFile> {
        let temp = self.temp_path("build");
        let mut out = BufWriter::new(File::create(&temp)?);
        let meta_bytes = encode_io(meta)?;
        out.write_all(&(meta_bytes.len() as u32).to_be_bytes())?;
        out.write_all(&meta_bytes)?;
        body(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        self.adopt(&temp, meta)
    }

    /// Moves a complete snapshot file (e.g. one received over the network
    /// into [`SnapshotDir::temp_path`]) into place as the snapshot of `meta`.
    pub fn adopt(&self, path: &Path, meta: &SnapshotMeta) -> io::Result<SnapshotFile> {
        let index = meta.last_log_id.map(|l| l.index).unwrap_or(0);
        let final_path = self.dir.join(format!("snap-{index:020}.{SUFFIX}"));
        fs::rename(path, &final_path)?;
        File::open(&self.dir)?.sync_all()?;
        self.prune()?;
        Ok(SnapshotFile { path: final_path })
    }

    /// The newest snapshot, if any.
    pub fn current(&self) -> io::Result<Option<SnapshotFile>> {
        Ok(self.list()?.pop().map(|path| SnapshotFile { path }))
    }

    /// Snapshot files, oldest first (names sort by index).
    fn list(&self) -> io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == SUFFIX))
            .collect();
        files.sort();
        Ok(files)
    }

    fn prune(&self) -> io::Result<()> {
        let files = self.list()?;
        let excess = files.len().saturating_sub(KEEP);
        for old in &files[..excess] {
            fs::remove_file(old)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_open_round_trips_meta_and_body() {
        let dir = tempfile::tempdir().unwrap();
        let snapshots = SnapshotDir::open(dir.path()).unwrap();
        let meta = SnapshotMeta::default();
        let file = snapshots
            .write(&meta, |out| out.write_all(b"engine bytes"))
            .unwrap();
        let (read_meta, mut rest) = file.open().unwrap();
        assert_eq!(read_meta, meta);
        let mut body = Vec::new();
        rest.read_to_end(&mut body).unwrap();
        assert_eq!(body, b"engine bytes");
        assert_eq!(snapshots.current().unwrap(), Some(file));
    }

    #[test]
    fn keeps_only_the_newest_two() {
        let dir = tempfile::tempdir().unwrap();
        let snapshots = SnapshotDir::open(dir.path()).unwrap();
        let mut meta = SnapshotMeta::default();
        for index in 1..=4 {
            meta.last_log_id = Some(openraft::testing::log_id::<crate::types::TypeConfig>(
                1, 1, index,
            ));
            snapshots.write(&meta, |_| Ok(())).unwrap();
        }
        let names: Vec<_> = snapshots.list().unwrap();
        assert_eq!(names.len(), 2);
        assert!(names[1].ends_with("snap-00000000000000000004.lsnap"));
    }

    #[test]
    fn interrupted_writes_are_cleaned_up_on_open() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("build-1-0.tmp"), b"half").unwrap();
        let snapshots = SnapshotDir::open(dir.path()).unwrap();
        assert_eq!(snapshots.current().unwrap(), None);
        assert!(!dir.path().join("build-1-0.tmp").exists());
    }
}
