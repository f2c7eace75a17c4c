// Package storage gives the N tasks of a distributed winnow run one view of
// the storage they share: a local or network file system (file:// or a plain
// path) or an S3-compatible object store (s3://bucket/prefix?endpoint=...).
//
// The shape follows from how the tasks coordinate: they do not talk to each
// other and no task may rely on another task's local disk, so everything one
// task hands to the next pass is an object in the Store, and "task i of pass
// p is finished" is itself an object, a done-marker. Two primitives carry the
// whole protocol:
//
//   - Put is complete or absent: a reader never sees a partial object, so a
//     task that crashed mid-write leaves nothing that looks like output.
//   - CreateIfAbsent creates an object only if no object has the key, and
//     exactly one of any number of concurrent callers, in any number of
//     processes or machines, is told it created it. A rerun of a finished
//     task sees the marker and does nothing.
//
// Objects go through gocloud.dev/blob (fileblob, s3blob). Where fileblob falls
// short this package does the work itself: fileblob's IfNotExist is a Stat
// followed by a rename, which two processes can both pass, so on files
// CreateIfAbsent links a fully written temporary file into place with link(2),
// which fails if the name exists. On S3 it is a PutObject with
// If-None-Match: *. Temporary files live next to their final name (a rename
// across file systems would fail) and end in ".tmp", so keys ending in ".tmp"
// are reserved and List never shows them.
//
// Not there yet: listing with a delimiter, ranged reads, object metadata,
// retries beyond the SDK's own (except S3's 409 ConditionalRequestConflict on
// a conditional create), cleanup of temporary files left by a crashed writer,
// and other schemes (gs://, azblob://). link(2) is atomic on local file
// systems and on NFS servers as far as the server is; it has not been tested
// here on a network file system.
package storage
