package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"winnow/internal/testenv"
)

// backend opens a fresh, empty store of one kind.
type backend struct {
	name string
	open func(t *testing.T) *Store
}

func backends() []backend {
	return []backend{
		{"file", func(t *testing.T) *Store { return openFile(t) }},
		{"s3", func(t *testing.T) *Store { s, _ := openFakeS3(t); return s }},
	}
}

func openFile(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// s3Proxy sits in front of gofakes3. It counts PUTs that carry
// If-None-Match: * (to prove the client sends the header; gofakes3 enforces
// it itself) and can answer the next conflicts conditional PUTs with S3's 409
// ConditionalRequestConflict, which gofakes3 never sends.
type s3Proxy struct {
	next        http.Handler
	ifNoneMatch atomic.Int64
	conflicts   atomic.Int64
}

func (p *s3Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && r.Header.Get("If-None-Match") == "*" {
		p.ifNoneMatch.Add(1)
		if p.conflicts.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code><Message>conflict</Message></Error>`)
			return
		}
	}
	p.next.ServeHTTP(w, r)
}

// openFakeS3 serves an in-memory gofakes3 on loopback and opens
// s3://winnow/run-1 on it, with a prefix, as a real run would.
func openFakeS3(t *testing.T) (*Store, *s3Proxy) {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket("winnow"); err != nil {
		t.Fatal(err)
	}
	proxy := &s3Proxy{next: gofakes3.New(mem).Server()}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	testenv.AWSTestCredentials(t)
	url := "s3://winnow/run-1?endpoint=" + srv.URL + "&region=us-east-1&use_path_style=true"
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, proxy
}

func TestPutGet(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	cases := []struct {
		key  string
		data []byte
	}{
		{"empty", nil},
		{"small", []byte("hello")},
		{"pass1/task-0003/shard-00000.parquet", big},
		{"with space and=equals", []byte("x")},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			for _, c := range cases {
				if err := s.Put(ctx, c.key, bytes.NewReader(c.data)); err != nil {
					t.Fatalf("Put(%q): %v", c.key, err)
				}
				got, err := s.Get(ctx, c.key)
				if err != nil || !bytes.Equal(got, c.data) {
					t.Fatalf("Get(%q) = %d bytes, %v; want %d bytes", c.key, len(got), err, len(c.data))
				}
				if ok, err := s.Exists(ctx, c.key); !ok || err != nil {
					t.Fatalf("Exists(%q) = %v, %v; want true", c.key, ok, err)
				}
			}
			// Put replaces.
			if err := s.Put(ctx, "small", strings.NewReader("bye")); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, "small"); string(got) != "bye" || err != nil {
				t.Fatalf("Get after overwrite = %q, %v", got, err)
			}
		})
	}
}

func TestMissing(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			if ok, err := s.Exists(ctx, "no/such"); ok || err != nil {
				t.Errorf("Exists = %v, %v; want false, nil", ok, err)
			}
			_, getErr := s.Get(ctx, "no/such")
			_, readerErr := s.NewReader(ctx, "no/such")
			delErr := s.Delete(ctx, "no/such")
			for op, err := range map[string]error{"Get": getErr, "NewReader": readerErr, "Delete": delErr} {
				if !errors.Is(err, ErrNotExist) {
					t.Errorf("%s: %v; want ErrNotExist", op, err)
					continue
				}
				var se *Error
				if !errors.As(err, &se) || se.Key != "no/such" || se.Store != s.URL() {
					t.Errorf("%s: %v; want *Error with key and store", op, err)
				}
				if msg := err.Error(); !strings.Contains(msg, "no/such") || !strings.Contains(msg, s.URL()) {
					t.Errorf("%s: message %q lacks key or store URL", op, msg)
				}
			}
		})
	}
}

func TestInvalidKeys(t *testing.T) {
	keys := []string{"", "/abs", "a//b", "a/", "./a", "a/../b", "a../b", "x.tmp", "a/b.1234.tmp", "nl\n", `a\b`}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			for _, k := range keys {
				err := s.Put(ctx, k, strings.NewReader("x"))
				_, cerr := s.CreateIfAbsent(ctx, k, []byte("x"))
				if !errors.Is(err, ErrInvalidKey) || !errors.Is(cerr, ErrInvalidKey) {
					t.Errorf("key %q: Put %v, CreateIfAbsent %v; want ErrInvalidKey", k, err, cerr)
				}
			}
			if keys, err := s.List(ctx, ""); err != nil || len(keys) != 0 {
				t.Errorf("List after invalid puts = %q, %v; want nothing", keys, err)
			}
		})
	}
}

func TestListDelete(t *testing.T) {
	put := []string{"p1/t1/b", "p1/t1/a", "p1/t10/a", "p1-x", "p1/t2/a", "p2/t1/a", "p1/t1.done"}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"p1-x", "p1/t1.done", "p1/t1/a", "p1/t1/b", "p1/t10/a", "p1/t2/a", "p2/t1/a"}},
		{"p1/", []string{"p1/t1.done", "p1/t1/a", "p1/t1/b", "p1/t10/a", "p1/t2/a"}},
		{"p1/t1", []string{"p1/t1.done", "p1/t1/a", "p1/t1/b", "p1/t10/a"}},
		{"p1/t1/", []string{"p1/t1/a", "p1/t1/b"}},
		{"p3/", nil},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			for _, k := range put {
				if err := s.Put(ctx, k, strings.NewReader(k)); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range cases {
				got, err := s.List(ctx, c.prefix)
				if err != nil || !reflect.DeepEqual(got, c.want) {
					t.Errorf("List(%q) = %q, %v; want %q", c.prefix, got, err, c.want)
				}
			}
			if err := s.Delete(ctx, "p1/t1/a"); err != nil {
				t.Fatal(err)
			}
			got, err := s.List(ctx, "p1/t1/")
			if err != nil || !reflect.DeepEqual(got, []string{"p1/t1/b"}) {
				t.Errorf("List after Delete = %q, %v", got, err)
			}
		})
	}
}

func TestCreateIfAbsent(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			for i, want := range []bool{true, false, false} {
				created, err := s.CreateIfAbsent(ctx, "p1/task-0000.done", []byte(fmt.Sprint(i)))
				if err != nil || created != want {
					t.Fatalf("call %d: created=%v err=%v; want %v", i, created, err, want)
				}
			}
			if got, err := s.Get(ctx, "p1/task-0000.done"); string(got) != "0" || err != nil {
				t.Fatalf("marker = %q, %v; want the first caller's %q", got, err, "0")
			}
			// An object written by Put counts as present too.
			if err := s.Put(ctx, "p1/task-0001.done", strings.NewReader("put")); err != nil {
				t.Fatal(err)
			}
			if created, err := s.CreateIfAbsent(ctx, "p1/task-0001.done", []byte("x")); created || err != nil {
				t.Fatalf("over Put: created=%v err=%v; want false", created, err)
			}
			if keys, _ := s.List(ctx, ""); len(keys) != 2 {
				t.Fatalf("List = %q; want the two markers and no temporary files", keys)
			}
		})
	}
}

func TestCreateIfAbsentRace(t *testing.T) {
	// Enough rounds that a check-then-rename (fileblob's IfNotExist, which
	// lets two or more racers win in about one round in twelve here) fails.
	const n, rounds = 16, 50
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			for round := range rounds {
				key := fmt.Sprintf("race/%d.done", round)
				var (
					start   = make(chan struct{})
					wg      sync.WaitGroup
					mu      sync.Mutex
					winners []int
				)
				for i := range n {
					wg.Go(func() {
						<-start
						created, err := s.CreateIfAbsent(ctx, key, []byte(fmt.Sprint(i)))
						if err != nil {
							t.Error(err)
						}
						if created {
							mu.Lock()
							winners = append(winners, i)
							mu.Unlock()
						}
					})
				}
				close(start)
				wg.Wait()
				if len(winners) != 1 {
					t.Fatalf("round %d: winners %v; want exactly one", round, winners)
				}
				got, err := s.Get(ctx, key)
				if err != nil || string(got) != fmt.Sprint(winners[0]) {
					t.Fatalf("round %d: marker %q, %v; want the winner's %d", round, got, err, winners[0])
				}
			}
		})
	}
}

// TestS3ConditionalCreate checks what the race test cannot tell apart: that
// the client really sends If-None-Match: * (so the server, not luck, decides
// the race), and that a 409 ConditionalRequestConflict is retried.
func TestS3ConditionalCreate(t *testing.T) {
	ctx := context.Background()
	s, proxy := openFakeS3(t)
	if created, err := s.CreateIfAbsent(ctx, "a.done", []byte("1")); !created || err != nil {
		t.Fatalf("created=%v err=%v", created, err)
	}
	if got := proxy.ifNoneMatch.Load(); got != 1 {
		t.Fatalf("%d PUTs with If-None-Match: *; want 1", got)
	}
	if err := s.Put(ctx, "plain", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if got := proxy.ifNoneMatch.Load(); got != 1 {
		t.Fatalf("Put sent If-None-Match (%d conditional PUTs); want a plain PUT", got)
	}

	proxy.conflicts.Store(2)
	if created, err := s.CreateIfAbsent(ctx, "b.done", []byte("2")); !created || err != nil {
		t.Fatalf("after two 409s: created=%v err=%v; want a retried create", created, err)
	}
	proxy.conflicts.Store(100)
	if _, err := s.CreateIfAbsent(ctx, "c.done", []byte("3")); err == nil {
		t.Fatal("endless 409s: want an error")
	}
	proxy.conflicts.Store(0)
}

// slowReader yields first, signals half, waits for release, then yields
// rest, or fails if fail is set.
type slowReader struct {
	first, rest   []byte
	half, release chan struct{}
	fail, paused  bool
}

func newSlowReader(data []byte, fail bool) *slowReader {
	return &slowReader{
		first: data[:len(data)/2], rest: data[len(data)/2:],
		half: make(chan struct{}), release: make(chan struct{}), fail: fail,
	}
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.first) > 0 {
		n := copy(p, r.first)
		r.first = r.first[n:]
		return n, nil
	}
	if !r.paused {
		r.paused = true
		close(r.half)
		<-r.release
	}
	if r.fail {
		return 0, errors.New("source failed")
	}
	if len(r.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// TestPutAtomic reads while a Put is stalled halfway: the key shows the old
// object (or none) in full, never part of the new one; a Put whose source
// fails leaves the old state. On S3 the same holds as long as gofakes3 only
// stores complete requests; on files it is the rename.
func TestPutAtomic(t *testing.T) {
	old := []byte("old object")
	data := bytes.Repeat([]byte("new object "), 100_000)
	cases := []struct {
		name     string
		previous []byte // nil: no object before
		fail     bool
	}{
		{"new", nil, false},
		{"overwrite", old, false},
		{"new-fails", nil, true},
		{"overwrite-fails", old, true},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			for _, c := range cases {
				key := "atomic/" + c.name
				if c.previous != nil {
					if err := s.Put(ctx, key, bytes.NewReader(c.previous)); err != nil {
						t.Fatal(err)
					}
				}
				r := newSlowReader(bytes.Clone(data), c.fail)
				done := make(chan error)
				go func() { done <- s.Put(ctx, key, r) }()
				<-r.half
				checkState(t, s, key, c.previous, c.name+" mid-write")
				close(r.release)
				err := <-done
				if c.fail {
					if err == nil {
						t.Fatalf("%s: Put of a failing source succeeded", c.name)
					}
					checkState(t, s, key, c.previous, c.name+" after failed write")
				} else {
					if err != nil {
						t.Fatal(err)
					}
					checkState(t, s, key, data, c.name+" after write")
				}
			}
		})
	}
}

// checkState checks that key holds want in full, or is absent if want is nil,
// through Exists, Get and List.
func checkState(t *testing.T, s *Store, key string, want []byte, when string) {
	t.Helper()
	ctx := context.Background()
	ok, err := s.Exists(ctx, key)
	if err != nil || ok != (want != nil) {
		t.Fatalf("%s: Exists = %v, %v; want %v", when, ok, err, want != nil)
	}
	got, err := s.Get(ctx, key)
	switch {
	case want == nil && !errors.Is(err, ErrNotExist):
		t.Fatalf("%s: Get = %d bytes, %v; want ErrNotExist", when, len(got), err)
	case want != nil && (err != nil || !bytes.Equal(got, want)):
		t.Fatalf("%s: Get = %d bytes, %v; want %d bytes", when, len(got), err, len(want))
	}
	keys, err := s.List(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if wantKeys := map[bool]int{true: 1, false: 0}[want != nil]; len(keys) != wantKeys {
		t.Fatalf("%s: List = %q; want %d key(s)", when, keys, wantKeys)
	}
}

func TestFileLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir) // a plain path
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(ctx, "p1/t0/shard", strings.NewReader("rows")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateIfAbsent(ctx, "p1/t0.done", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	// A key is a plain file under the root, readable by other tools, with
	// no sidecar metadata and no leftover temporary files.
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	sort.Strings(files)
	if want := []string{"p1/t0.done", "p1/t0/shard"}; !reflect.DeepEqual(files, want) {
		t.Fatalf("files %q; want %q", files, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "p1", "t0", "shard")); string(b) != "rows" || err != nil {
		t.Fatalf("shard file = %q, %v", b, err)
	}
	// A crashed writer's temporary file is not an object.
	if err := os.WriteFile(filepath.Join(dir, "p1", "t1.done.123.tmp"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if keys, err := s.List(ctx, "p1/"); err != nil || len(keys) != 2 {
		t.Fatalf("List = %q, %v; want the two objects only", keys, err)
	}
	// The same directory as a file:// URL sees the same objects.
	s2, err := Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if ok, err := s2.Exists(ctx, "p1/t0.done"); !ok || err != nil {
		t.Fatalf("Exists via file:// = %v, %v", ok, err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, url := range []string{
		"gs://bucket",
		"file://host/dir",
		"file:///tmp/x?create_dir=1",
		"s3://bucket?no_such_param=1",
	} {
		if s, err := Open(context.Background(), url); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded; want an error", url)
		}
	}
}

func TestLocalPath(t *testing.T) {
	ctx := context.Background()
	s := openFile(t)
	if err := s.Put(ctx, "a/b.txt", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	p, ok := s.LocalPath("a/b.txt")
	if !ok {
		t.Fatal("a file store has no local path")
	}
	if data, err := os.ReadFile(p); err != nil || string(data) != "hello" {
		t.Errorf("LocalPath file: %q, %v", data, err)
	}
	if _, ok := s.LocalPath("../escape"); ok {
		t.Error("LocalPath accepted a key outside the store")
	}
	s3, _ := openFakeS3(t)
	if _, ok := s3.LocalPath("a/b.txt"); ok {
		t.Error("an S3 store has a local path")
	}
}

// TestListWhileCreating lists a prefix while other goroutines create
// objects under it: the temporary files of writes in flight come and go
// during the listing, which must neither fail nor show them.
func TestListWhileCreating(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			var wg sync.WaitGroup
			done := make(chan struct{})
			for w := range 4 {
				wg.Go(func() {
					for i := range 100 {
						if _, err := s.CreateIfAbsent(ctx, fmt.Sprintf("done/pass/unit-%d-%03d.json", w, i), []byte("{}")); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			go func() { wg.Wait(); close(done) }()
			lists := 0
			for finished := false; !finished; lists++ {
				select {
				case <-done:
					finished = true
				default:
				}
				keys, err := s.List(ctx, "done/pass/")
				if err != nil {
					t.Fatalf("list %d: %v", lists, err)
				}
				for _, k := range keys {
					if strings.HasSuffix(k, ".tmp") {
						t.Fatalf("list %d shows a temporary file: %s", lists, k)
					}
				}
				if finished && len(keys) != 400 {
					t.Errorf("after the writers: %d keys, want 400", len(keys))
				}
			}
		})
	}
}

func TestCopy(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			if err := s.Put(ctx, "work/a.parquet", strings.NewReader("first")); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, "out/a.parquet", strings.NewReader("old object")); err != nil {
				t.Fatal(err)
			}
			if err := s.Copy(ctx, "out/a.parquet", "work/a.parquet"); err != nil {
				t.Fatal(err)
			}
			if err := s.Copy(ctx, "out/new/b.parquet", "work/a.parquet"); err != nil {
				t.Fatal(err)
			}
			// Replacing the source afterwards leaves the copies as they were.
			if err := s.Put(ctx, "work/a.parquet", strings.NewReader("second")); err != nil {
				t.Fatal(err)
			}
			for key, want := range map[string]string{"out/a.parquet": "first", "out/new/b.parquet": "first", "work/a.parquet": "second"} {
				if got, err := s.Get(ctx, key); err != nil || string(got) != want {
					t.Errorf("%s: %q, %v; want %q", key, got, err, want)
				}
			}
			keys, err := s.List(ctx, "")
			if err != nil || len(keys) != 3 {
				t.Errorf("List: %v, %v; want the 3 objects and no temporary file", keys, err)
			}
			if err := s.Copy(ctx, "out/c", "work/missing"); !errors.Is(err, ErrNotExist) {
				t.Errorf("copy of a missing object: %v, want ErrNotExist", err)
			}
			if err := s.Copy(ctx, "../escape", "work/a.parquet"); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("copy to a bad key: %v, want ErrInvalidKey", err)
			}
		})
	}
}
