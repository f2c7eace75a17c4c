package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"
)

// ErrNotExist is matched, through errors.Is, by the errors of operations on
// an object that does not exist.
var ErrNotExist = errors.New("object does not exist")

// ErrInvalidKey is matched by the errors of operations given a key this
// package does not accept (see Store).
var ErrInvalidKey = errors.New("invalid key")

// Error records a failed operation with the key and store it was about.
type Error struct {
	Op    string // "put", "get", "create", ...
	Store string // the URL the Store was opened with
	Key   string
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("storage: %s %q in %s: %v", e.Op, e.Key, e.Store, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// A Store holds objects under slash-separated keys such as
// "pass1/task-0003/shard-00000.parquet". A key has no empty, "." or ".."
// segment, no segment ending in "..", no control characters, and does not
// end in ".tmp"; on files a key is the path of a file below the root.
//
// A Store is safe for concurrent use.
type Store struct {
	url    string
	bucket *blob.Bucket
	dir    string // root directory of a file store; "" for object stores
}

// Open opens the store at rawURL: "file:///abs/dir", a plain path, or
// "s3://bucket/prefix?endpoint=http://host:9000&region=us-east-1&use_path_style=true"
// (the query parameters are those of gocloud.dev/blob/s3blob; credentials
// come from the usual AWS environment variables and files). A local
// directory is created if missing.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	if !strings.Contains(rawURL, "://") {
		return openDir(rawURL, rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		if (u.Host != "" && u.Host != "localhost") || u.RawQuery != "" {
			return nil, fmt.Errorf("storage: open %s: want file:///absolute/dir without host or query", rawURL)
		}
		return openDir(rawURL, u.Path)
	case "s3":
		return openS3(ctx, rawURL, u)
	default:
		return nil, fmt.Errorf("storage: open %s: unsupported scheme %q (want file or s3)", rawURL, u.Scheme)
	}
}

func openDir(rawURL, dir string) (*Store, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", rawURL, err)
	}
	// NoTempDir: temporary files go next to their final name, since a rename
	// from os.TempDir to a shared file system fails. No sidecar metadata
	// files: the tree holds exactly the objects.
	b, err := fileblob.OpenBucket(dir, &fileblob.Options{
		CreateDir: true,
		NoTempDir: true,
		Metadata:  fileblob.MetadataDontWrite,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", rawURL, err)
	}
	return &Store{url: rawURL, bucket: b, dir: dir}, nil
}

func openS3(ctx context.Context, rawURL string, u *url.URL) (*Store, error) {
	bucketURL := *u
	bucketURL.Path, bucketURL.RawPath = "", ""
	opener := &s3blob.URLOpener{}
	b, err := opener.OpenBucketURL(ctx, &bucketURL)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", rawURL, err)
	}
	if prefix := strings.Trim(u.Path, "/"); prefix != "" {
		b = blob.PrefixedBucket(b, prefix+"/")
	}
	return &Store{url: rawURL, bucket: b}, nil
}

// URL returns the URL the store was opened with.
func (s *Store) URL() string { return s.url }

// Close releases the store's resources.
func (s *Store) Close() error {
	if err := s.bucket.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", s.url, err)
	}
	return nil
}

// Put stores the contents of r under key, replacing any object there. Until
// Put returns nil, readers see the previous object or none, never part of
// this one; if Put fails, the previous object (or none) is left in place.
// On files the data is synced to disk before it is renamed into place.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	if err := checkKey(key); err != nil {
		return s.wrap("put", key, err)
	}
	// Cancelling the writer's context is how gocloud aborts a write.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var f *os.File // fileblob's temporary file; nil on object stores
	w, err := s.bucket.NewWriter(ctx, key, &blob.WriterOptions{
		ContentType: "application/octet-stream",
		BeforeWrite: func(as func(any) bool) error { as(&f); return nil },
	})
	if err != nil {
		return s.wrap("put", key, err)
	}
	_, err = io.Copy(w, r)
	if err == nil && f != nil {
		err = f.Sync()
	}
	if err != nil {
		cancel()
		_ = w.Close()
		return s.wrap("put", key, err)
	}
	if err := w.Close(); err != nil {
		return s.wrap("put", key, err)
	}
	return s.wrap("put", key, s.syncParent(key))
}

// Copy stores the object at from under to as well, replacing any object
// there; readers of to see the previous object or the copy, never part of
// it. On files the copy is a hard link (objects are never changed in place:
// Put replaces the file), on S3 a server-side CopyObject: no bytes pass
// through this process.
func (s *Store) Copy(ctx context.Context, to, from string) error {
	for _, k := range []string{to, from} {
		if err := checkKey(k); err != nil {
			return s.wrap("copy", k, err)
		}
	}
	if s.dir != "" {
		return s.wrap("copy", from, s.linkReplace(ctx, to, from))
	}
	return s.wrap("copy", from, s.bucket.Copy(ctx, to, from, nil))
}

// NewReader opens the object at key for reading; the caller closes it.
func (s *Store) NewReader(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, s.wrap("get", key, err)
	}
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	return r, nil
}

// Get returns the contents of the object at key.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	r, err := s.NewReader(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	return data, nil
}

// Exists reports whether an object exists at key.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, s.wrap("exists", key, err)
	}
	ok, err := s.bucket.Exists(ctx, key)
	if err != nil {
		return false, s.wrap("exists", key, err)
	}
	return ok, nil
}

// Delete removes the object at key; deleting a missing object is an error
// matching ErrNotExist.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return s.wrap("delete", key, err)
	}
	return s.wrap("delete", key, s.bucket.Delete(ctx, key))
}

// List returns the keys that start with prefix, in byte order. Prefix is a
// plain string prefix, not a directory: "a/b" matches "a/b1" and "a/b/c".
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if s.dir != "" {
		keys, err := s.listFiles(ctx, prefix)
		return keys, s.wrap("list", prefix, err)
	}
	var keys []string
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, s.wrap("list", prefix, err)
		}
		// Temporary files of writes in flight (or of crashed writers).
		if obj.IsDir || strings.HasSuffix(obj.Key, tmpSuffix) {
			continue
		}
		keys = append(keys, obj.Key)
	}
	sort.Strings(keys) // byte order, whatever order the server lists in
	return keys, nil
}

// CreateIfAbsent stores data under key only if no object exists there, and
// reports whether it did. Of any number of concurrent callers for one key,
// in any number of processes, exactly one gets created == true; the others
// get false and a nil error and leave the winner's object untouched. This is
// the done-marker primitive.
func (s *Store) CreateIfAbsent(ctx context.Context, key string, data []byte) (created bool, err error) {
	if err := checkKey(key); err != nil {
		return false, s.wrap("create", key, err)
	}
	if s.dir != "" {
		created, err = s.linkIfAbsent(ctx, key, data)
	} else {
		created, err = s.putIfNoneMatch(ctx, key, data)
	}
	return created, s.wrap("create", key, err)
}

// putIfNoneMatch is PutObject with If-None-Match: *. S3 answers 412 to the
// losers, and may answer 409 ConditionalRequestConflict while a conflicting
// write is in flight, in which case AWS documents that the request be retried.
func (s *Store) putIfNoneMatch(ctx context.Context, key string, data []byte) (bool, error) {
	opts := &blob.WriterOptions{ContentType: "application/octet-stream", IfNotExist: true}
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		err = s.bucket.Upload(ctx, key, bytes.NewReader(data), opts)
		switch {
		case err == nil:
			return true, nil
		case gcerrors.Code(err) == gcerrors.FailedPrecondition:
			return false, nil
		case !isConditionalConflict(err):
			return false, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
	return false, err
}

func isConditionalConflict(err error) bool {
	var api interface{ ErrorCode() string }
	return errors.As(err, &api) && api.ErrorCode() == "ConditionalRequestConflict"
}

// wrap returns err with op, key and the store URL, matching ErrNotExist
// where the object was missing; nil stays nil.
func (s *Store) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if gcerrors.Code(err) == gcerrors.NotFound || errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w: %w", ErrNotExist, err)
	}
	return &Error{Op: op, Store: s.url, Key: key, Err: err}
}

const tmpSuffix = ".tmp"

// checkKey rejects keys that fileblob would escape (so that a key is its
// file's path below the root), that could leave the root, or that are
// reserved for temporary files.
func checkKey(key string) error {
	if key == "" || strings.HasSuffix(key, tmpSuffix) {
		return fmt.Errorf("%w %q", ErrInvalidKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || strings.HasSuffix(seg, "..") {
			return fmt.Errorf("%w %q", ErrInvalidKey, key)
		}
	}
	for _, c := range key {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return fmt.Errorf("%w %q", ErrInvalidKey, key)
		}
	}
	return nil
}
