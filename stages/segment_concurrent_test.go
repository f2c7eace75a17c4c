package stages

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/pipeline"
)

// TestSegmentConcurrent: workers share one stage and one jieba instance
// (cppjieba's cutting only reads its dictionary), and each gets exactly
// what a lone worker gets. Run under -race.
func TestSegmentConcurrent(t *testing.T) {
	passage, err := os.ReadFile(filepath.Join("testdata", "segment", "kongyiji.txt"))
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := os.ReadFile(filepath.Join("testdata", "segment", "mixed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, p := range strings.Split(string(passage)+string(mixed), "\n\n") {
		texts = append(texts, p, p+p)
	}
	st := newTestSegment(t, nil)
	want := segmentWords(t, st, texts...)
	docs := make([]pipeline.Doc, len(texts))
	sources := make([]string, len(texts))
	for i, s := range texts {
		docs[i], sources[i] = pipeline.Doc{Text: s}, "test"
	}

	const workers, rounds = 6, 5
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				b := pipeline.NewBatch(memory.DefaultAllocator, int64(r), docs, sources, false)
				err := st.Process(context.Background(), b)
				same := reflect.DeepEqual(b.Tokens, want)
				b.Release()
				if err != nil || !same {
					errs <- fmt.Sprintf("a concurrent batch differs from the sequential one (error %v)", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestSegmentSharedInstance: stages with the same user dictionaries share
// one jieba; a different dictionary gets its own.
func TestSegmentSharedInstance(t *testing.T) {
	a, err := sharedJieba("")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sharedJieba("")
	// The user-dictionary test's dictionary: no third instance (~175 MB).
	user, err := readUserDicts([]string{filepath.Join("testdata", "segment", "user.dict")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sharedJieba(user)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a == c {
		t.Errorf("instances: default %p and %p should be one, user-dict %p another", a, b, c)
	}
}
