package stages

import (
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/yanyiwu/gojieba"
)

// The jieba dictionaries live in the binary: gojieba's default paths point
// into the Go module cache at build time (or are relative under -trimpath),
// so a deployed binary could not find them. See dict/README.md.
//
//go:embed dict/jieba.dict.utf8.gz dict/hmm_model.utf8.gz
var jiebaDictFS embed.FS

// cppjieba always builds its keyword extractor and aborts the process on an
// empty IDF or stop-word file; one line each is enough for cutting.
const (
	jiebaStubIDF       = "的 1.0\n"
	jiebaStubStopWords = "的\n"
)

// jiebaInstance is one process-wide jieba, built on first use. cppjieba's
// Cut and Tokenize only read the dictionary trie and HMM model, so one
// instance serves every worker concurrently.
type jiebaInstance struct {
	once sync.Once
	jb   *gojieba.Jieba
	err  error
}

// jiebaInstances maps a normalised user dictionary (see readUserDicts; "" =
// none) to its instance, so stages with the same dictionaries share one
// (~175 MB each).
var jiebaInstances sync.Map

// sharedJieba returns the instance for userDict, loading it on first call.
func sharedJieba(userDict string) (*gojieba.Jieba, error) {
	v, _ := jiebaInstances.LoadOrStore(userDict, new(jiebaInstance))
	in := v.(*jiebaInstance)
	in.once.Do(func() { in.jb, in.err = loadJieba(userDict) })
	return in.jb, in.err
}

// loadJieba writes the embedded dictionaries to a temporary directory,
// builds a jieba from them and removes the directory: cppjieba reads every
// file inside its constructor and keeps nothing open.
func loadJieba(userDict string) (jb *gojieba.Jieba, err error) {
	dir, err := os.MkdirTemp("", "winnow-jieba-")
	if err != nil {
		return nil, fmt.Errorf("segment: loading jieba: %w", err)
	}
	defer os.RemoveAll(dir)
	files := []struct{ name, gz, text string }{
		{name: "jieba.dict.utf8", gz: "dict/jieba.dict.utf8.gz"},
		{name: "hmm_model.utf8", gz: "dict/hmm_model.utf8.gz"},
		// gojieba substitutes its module-cache default for an empty path,
		// so "no user dictionary" is an empty file.
		{name: "user.dict.utf8", text: userDict},
		{name: "idf.utf8", text: jiebaStubIDF},
		{name: "stop_words.utf8", text: jiebaStubStopWords},
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(dir, f.name)
		if f.gz != "" {
			err = jiebaWriteGunzipped(paths[i], f.gz)
		} else {
			err = os.WriteFile(paths[i], []byte(f.text), 0o600)
		}
		if err != nil {
			return nil, fmt.Errorf("segment: loading jieba: %w", err)
		}
	}
	// NewJieba panics when a file is missing; turn that into an error.
	defer func() {
		if p := recover(); p != nil {
			jb, err = nil, fmt.Errorf("segment: loading jieba: %v", p)
		}
	}()
	return gojieba.NewJieba(paths...), nil
}

// jiebaWriteGunzipped decompresses the embedded file name into path.
func jiebaWriteGunzipped(path, name string) error {
	f, err := jiebaDictFS.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, zr); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return out.Close()
}

// readUserDicts reads user dictionaries in jieba's format, one entry per
// line: "word", "word freq", "word tag" or "word freq tag", fields separated
// by white space. It returns them as one file in the form cppjieba parses
// ("word", "word tag" or "word freq tag"): cppjieba itself reads a
// two-field line as word and tag, silently dropping the frequency, and
// aborts the process on a file it cannot open, so the files are checked
// here, where a bad one is still a config error.
//
// A word without a frequency gets cppjieba's highest dictionary weight,
// which keeps it whole wherever it occurs; a frequency is used as in
// Python jieba, and a small one may not beat the dictionary's own words.
func readUserDicts(paths []string) (string, error) {
	var out strings.Builder
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("user_dicts[%d]: %w", i, err)
		}
		if line, err := appendUserDict(&out, data); err != nil {
			if line > 0 {
				return "", fmt.Errorf("user_dicts[%d]: %s:%d: %w", i, p, line, err)
			}
			return "", fmt.Errorf("user_dicts[%d]: %s: %w", i, p, err)
		}
	}
	return out.String(), nil
}

// appendUserDict normalises one user dictionary into out. On error it
// returns the 1-based line at fault (0 for the whole file).
func appendUserDict(out *strings.Builder, data []byte) (int, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !utf8.Valid(data) {
		return 0, errors.New("not valid UTF-8")
	}
	for n, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) > 3 {
			return n + 1, fmt.Errorf("%d fields, want \"word [freq] [tag]\"", len(f))
		}
		word := f[0]
		if strings.IndexFunc(word, unicode.IsControl) >= 0 {
			return n + 1, fmt.Errorf("word %q holds a control character", word)
		}
		var freq, tag string
		switch {
		case len(f) == 3:
			freq, tag = f[1], f[2]
		case len(f) == 2 && strings.ContainsAny(f[1][:1], "0123456789+-"):
			freq, tag = f[1], "x" // cppjieba reads a frequency only before a tag
		case len(f) == 2:
			tag = f[1]
		}
		if freq != "" {
			if _, err := strconv.ParseUint(freq, 10, 31); err != nil {
				return n + 1, fmt.Errorf("frequency %q is not a whole number below 2^31", freq)
			}
		}
		out.WriteString(word)
		for _, s := range []string{freq, tag} {
			if s != "" {
				out.WriteByte(' ')
				out.WriteString(s)
			}
		}
		out.WriteByte('\n')
	}
	return 0, nil
}
