//! Making a sled directory durable: what `sled::Db::flush` does not do.
//!
//! sled 0.34's flush writes its log segments with `pwrite` and then calls
//! `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)`. That pushes the
//! pages to the device but is not `fdatasync`: it neither flushes the
//! device's write cache nor persists the file's new size when a segment
//! extends the file, and large values written as separate blob files are
//! not synced at all. Such data survives a process crash, not a power loss.
//!
//! [`DiskSync::sync`] closes that gap after a flush: `fdatasync` on the
//! `db` file, and `fdatasync` on every blob file written since the last
//! sync plus an `fsync` of the blob directory when there were any. Callers
//! flush first, then sync, then acknowledge.
//!
//! # Which blobs are new
//!
//! sled writes a blob (`blobs/<lsn>`: create, write, close) before it puts
//! the pointer to it into the log buffer, so by the time a flush has made
//! the pointer durable, the blob file is complete and closed. An inotify
//! watch on the blob directory reports exactly those closes
//! (`IN_CLOSE_WRITE`), so a sync reads the watch — one `read` that
//! usually finds nothing — instead of listing the directory. This runs on
//! the log flusher's thread, which every write waits on, hundreds of times
//! a second; listing cost five system calls each time (~1% of the samples
//! at 64 clients, `docs/benchmarks.md`). It is also exact: a listing could catch
//! a blob that sled was still writing, sync half of it and never look at
//! it again.
//!
//! Blobs written before this process opened the directory, after the
//! kernel dropped events (queue overflow), or where there is no watch
//! (not Linux, no `blobs` directory at open, watch removed) are covered by
//! syncing every blob present: at open, after an overflow, and on every
//! sync without a watch. So is a sync that failed after it had taken
//! events from the watch: the next sync lists, so a retried flush cannot
//! skip a blob the failed one did not finish.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Syncs one sled directory's files.
#[derive(Debug)]
pub struct DiskSync {
    db_file: File,
    blobs: PathBuf,
    /// Held for the whole of a sync, so a concurrent sync cannot return
    /// while another is still syncing a blob it took the event for.
    blob_state: Mutex<BlobState>,
}

/// What a sync needs to know about the blob directory.
#[derive(Debug)]
struct BlobState {
    /// `None` where there is no watch: every sync lists.
    watch: Option<watch::BlobWatch>,
    /// The last sync failed, perhaps after taking events from the watch
    /// that it never acted on: the next one syncs every blob.
    last_sync_failed: bool,
}

/// What changed in the blob directory since the last look.
#[derive(Debug, PartialEq, Eq)]
enum BlobChanges {
    /// These files were written and closed (names inside `blobs/`).
    Written(Vec<std::ffi::OsString>),
    /// Unknown: events were lost or there is no watch.
    Unknown,
    /// The watch ended (its directory was removed): unknown from now on.
    WatchGone,
}

impl DiskSync {
    /// For the sled database in `dir` (which must already be open, so its
    /// `db` file exists). Syncs the blobs already there.
    pub fn open(dir: &Path) -> io::Result<DiskSync> {
        Self::open_counting_blobs(dir).map(|(sync, _)| sync)
    }

    /// [`DiskSync::open`], returning how many blob files it synced.
    fn open_counting_blobs(dir: &Path) -> io::Result<(DiskSync, usize)> {
        let blobs = dir.join("blobs");
        // Watch first, then sync what is there: a blob closed in between
        // is synced twice, none is missed.
        let watch = watch::BlobWatch::new(&blobs)?;
        let sync = DiskSync {
            db_file: File::open(dir.join("db"))?,
            blobs,
            blob_state: Mutex::new(BlobState {
                watch,
                last_sync_failed: false,
            }),
        };
        let synced = sync_every_blob(&sync.blobs)?;
        Ok((sync, synced))
    }

    /// Makes everything sled has flushed durable. Blocking.
    pub fn sync(&self) -> io::Result<()> {
        self.sync_counting_blobs().map(|_| ())
    }

    /// [`DiskSync::sync`], returning how many blob files it synced.
    fn sync_counting_blobs(&self) -> io::Result<usize> {
        self.db_file.sync_data()?;
        let mut state = self
            .blob_state
            .lock()
            .map_err(|_| io::Error::other("blob watch poisoned"))?;
        let synced = state.sync_blobs(&self.blobs);
        state.last_sync_failed = synced.is_err();
        synced
    }
}

impl BlobState {
    fn sync_blobs(&mut self, blobs: &Path) -> io::Result<usize> {
        // Drain the watch even when listing anyway, so it does not overflow.
        let changes = match self.watch.as_mut() {
            Some(w) => w.changes()?,
            None => BlobChanges::Unknown,
        };
        match changes {
            BlobChanges::Written(_) | BlobChanges::Unknown if self.last_sync_failed => {
                sync_every_blob(blobs)
            }
            BlobChanges::Written(names) => sync_blobs(blobs, names),
            BlobChanges::Unknown => sync_every_blob(blobs),
            BlobChanges::WatchGone => {
                self.watch = None;
                sync_every_blob(blobs)
            }
        }
    }
}

/// `fdatasync` on the named blob files, then `fsync` on their directory so
/// their entries are durable too. Returns how many were synced.
fn sync_blobs(
    blobs: &Path,
    names: impl IntoIterator<Item = std::ffi::OsString>,
) -> io::Result<usize> {
    let mut synced = 0;
    for name in names {
        match File::open(blobs.join(name)) {
            Ok(file) => file.sync_data()?,
            // Removed by sled's GC since it was written.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
        synced += 1;
    }
    if synced > 0 {
        File::open(blobs)?.sync_all()?;
    }
    Ok(synced)
}

/// Syncs every blob file present (none if there is no blob directory).
fn sync_every_blob(blobs: &Path) -> io::Result<usize> {
    let entries = match std::fs::read_dir(blobs) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let names = entries
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    sync_blobs(blobs, names)
}

/// The inotify watch on the blob directory (Linux).
#[cfg(any(target_os = "linux", target_os = "android"))]
mod watch {
    use super::BlobChanges;
    use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
    use rustix::io::Errno;
    use std::ffi::OsStr;
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::fd::OwnedFd;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    /// Room for a few dozen events per `read`; more are read in turns.
    const EVENT_BUFFER_BYTES: usize = 4096;

    pub(super) struct BlobWatch {
        fd: OwnedFd,
        buffer: Box<[MaybeUninit<u8>]>,
    }

    impl std::fmt::Debug for BlobWatch {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("BlobWatch").field("fd", &self.fd).finish()
        }
    }

    impl BlobWatch {
        /// A watch for files closed after writing, or moved in. `None`
        /// when `blobs` does not exist (every sync then lists it).
        pub(super) fn new(blobs: &Path) -> io::Result<Option<BlobWatch>> {
            let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?;
            let flags = WatchFlags::CLOSE_WRITE | WatchFlags::MOVED_TO | WatchFlags::ONLYDIR;
            match inotify::add_watch(&fd, blobs, flags) {
                Ok(_) => {}
                Err(Errno::NOENT) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
            let buffer = vec![MaybeUninit::uninit(); EVENT_BUFFER_BYTES].into_boxed_slice();
            Ok(Some(BlobWatch { fd, buffer }))
        }

        /// Everything the watch saw since the last call, without blocking.
        pub(super) fn changes(&mut self) -> io::Result<BlobChanges> {
            let mut written = Vec::new();
            let mut reader = inotify::Reader::new(&self.fd, &mut self.buffer);
            loop {
                let event = match reader.next() {
                    Ok(event) => event,
                    Err(Errno::AGAIN) => return Ok(BlobChanges::Written(written)),
                    Err(e) => return Err(e.into()),
                };
                let flags = event.events();
                if flags.contains(ReadFlags::IGNORED) {
                    // The directory went away, and the watch with it.
                    return Ok(BlobChanges::WatchGone);
                }
                if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                    // The kernel dropped events: only a listing can tell.
                    return Ok(BlobChanges::Unknown);
                }
                if flags.contains(ReadFlags::ISDIR) {
                    continue;
                }
                if let Some(name) = event.file_name() {
                    written.push(OsStr::from_bytes(name.to_bytes()).to_owned());
                }
            }
        }
    }
}

/// Without inotify there is no watch: every sync lists the directory.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod watch {
    use super::BlobChanges;
    use std::io;
    use std::path::Path;

    #[derive(Debug)]
    pub(super) enum BlobWatch {}

    impl BlobWatch {
        pub(super) fn new(_blobs: &Path) -> io::Result<Option<BlobWatch>> {
            Ok(None)
        }

        pub(super) fn changes(&mut self) -> io::Result<BlobChanges> {
            match *self {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sled_with_sync(dir: &Path) -> (sled::Db, DiskSync) {
        let db = sled::Config::new().path(dir).open().unwrap();
        let sync = DiskSync::open(dir).unwrap();
        (db, sync)
    }

    #[test]
    fn syncs_the_db_file_and_new_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let (db, sync) = sled_with_sync(dir.path());
        // Values this large are written as blob files.
        db.insert(b"big", vec![7_u8; 4 * 1024 * 1024]).unwrap();
        db.flush().unwrap();
        let blobs = sync.sync_counting_blobs().unwrap();
        assert!(blobs >= 1, "the 4 MiB value should be a synced blob");
        // Nothing new: a second sync only fdatasyncs the db file.
        assert_eq!(sync.sync_counting_blobs().unwrap(), 0);
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_blob_still_being_written_waits_for_its_close() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, sync) = sled_with_sync(dir.path());
        let mut blob = File::create(dir.path().join("blobs").join("123")).unwrap();
        blob.write_all(b"first half").unwrap();
        // Open for writing: not complete, so nothing to sync yet (a
        // listing would have synced half of it and forgotten it).
        assert_eq!(sync.sync_counting_blobs().unwrap(), 0);
        blob.write_all(b", second half").unwrap();
        drop(blob);
        assert_eq!(sync.sync_counting_blobs().unwrap(), 1);
        assert_eq!(sync.sync_counting_blobs().unwrap(), 0);
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_failed_sync_lists_every_blob_the_next_time() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, sync) = sled_with_sync(dir.path());
        let blobs = dir.path().join("blobs");
        std::fs::write(blobs.join("1"), b"blob").unwrap();
        // A socket cannot be opened as a file: moved into the directory,
        // it makes the sync that takes its event fail.
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        std::fs::rename(&socket, blobs.join("2")).unwrap();
        assert!(sync.sync_counting_blobs().is_err());
        std::fs::remove_file(blobs.join("2")).unwrap();
        // The failed sync took both events; the retry lists instead of
        // trusting the (now empty) watch, so blob 1 is synced.
        assert_eq!(sync.sync_counting_blobs().unwrap(), 1);
        // Back to the watch once a sync succeeded.
        assert_eq!(sync.sync_counting_blobs().unwrap(), 0);
    }

    #[test]
    fn blobs_from_before_open_are_synced_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        std::fs::write(dir.path().join("blobs").join("7"), b"old blob").unwrap();
        let (sync, synced_at_open) = DiskSync::open_counting_blobs(dir.path()).unwrap();
        assert_eq!(synced_at_open, 1);
        // The watch started after it was closed: later syncs skip it.
        assert_eq!(sync.sync_counting_blobs().unwrap(), 0);
        drop(db);
    }

    #[test]
    fn a_removed_blob_directory_falls_back_to_listing() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, sync) = sled_with_sync(dir.path());
        let blobs = dir.path().join("blobs");
        std::fs::remove_dir(&blobs).unwrap();
        // The watch is gone with the directory; no directory, no blobs.
        assert_eq!(sync.sync_counting_blobs().unwrap(), 0);
        std::fs::create_dir(&blobs).unwrap();
        std::fs::write(blobs.join("9"), b"blob").unwrap();
        // Listing every time now: the new directory's blob is found.
        assert_eq!(sync.sync_counting_blobs().unwrap(), 1);
    }
}
