// Package faultfs is the fault filesystem under a store node's data
// directory: a FUSE loopback of a backing directory that behaves as a
// disk with a page cache, and that faults can make slow, failing or full,
// or lose power.
//
// What it models:
//
//   - Writes are held in memory until the file is fsynced (or was opened
//     O_SYNC/O_DSYNC), as a kernel's page cache holds them; reads see
//     them. A process killed above the mount loses nothing, as with a
//     real page cache. LoseUnsynced is the power loss: everything not yet
//     fsynced is gone, and each file is what its backing file holds (as
//     Jepsen's lazyfs "clear-cache"). Unlike a real page cache, nothing
//     is written back by itself after a while: what was never fsynced is
//     lost however old (the worst case; Linux writes dirty pages back
//     after about 30 s).
//   - The backing directory is the disk: an fsync puts the held writes
//     there, without a real fsync on the host (content.flush).
//   - Creating, renaming, linking and deleting files is durable at once,
//     as on a filesystem that journals its metadata. Renaming a file over
//     another first puts the renamed file's held writes on disk, as ext4
//     does by default (auto_da_alloc) for the write-then-rename pattern.
//   - Faults (Set): latency before each write or fsync, and an error
//     (EIO, ENOSPC) returned by writes or by fsyncs. A failed fsync keeps
//     the writes held; they are lost if the power goes before a later
//     fsync succeeds.
//
// The mount needs /dev/fuse and the right to mount (root, or
// CAP_SYS_ADMIN); Available says whether this host has them.
package faultfs
