// Command nocache runs the segment stage on the Chinese text given as its
// arguments and prints each document's words joined by "/", one per line,
// then the jieba load time and the process's peak RSS. The segment tests
// build it with -trimpath and run it with empty HOME, GOPATH and GOMODCACHE,
// which proves the embedded dictionaries are used.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"winnow/pipeline"
	"winnow/stages"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "nocache:", err)
		os.Exit(1)
	}
}

func run(texts []string) error {
	info := stages.SegmentInfo
	st, err := info.New(info.Defaults(), "nocache")
	if err != nil {
		return err
	}
	docs := make([]pipeline.Doc, len(texts))
	sources := make([]string, len(texts))
	for i, t := range texts {
		docs[i] = pipeline.Doc{Text: t, Offset: int64(i)}
		sources[i] = "args"
	}
	b := pipeline.NewBatch(memory.DefaultAllocator, 0, docs, sources, false)
	defer b.Release()
	start := time.Now()
	if err := st.Process(context.Background(), b); err != nil {
		return err
	}
	elapsed := time.Since(start)
	for _, words := range b.Tokens {
		fmt.Println(strings.Join(words, "/"))
	}
	fmt.Printf("load+segment %d ms\n", elapsed.Milliseconds())
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				fmt.Println(strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return nil
}
