package trainer

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a failed run; the CLI maps each kind to an exit code.
type Kind string

const (
	KindInternal    Kind = "internal"    // a bug, or the worker died (killed, crashed)
	KindConfig      Kind = "config"      // settings that cannot work; nothing was trained
	KindIO          Kind = "io"          // shards or the run directory are missing or unusable
	KindDependency  Kind = "dependency"  // no Python with torch, or a missing package
	KindData        Kind = "data"        // a shard that cannot be read, or too little text
	KindOOM         Kind = "oom"         // out of memory on the device
	KindInterrupted Kind = "interrupted" // SIGINT/SIGTERM; Checkpoint says where to resume from
)

// Error is a failed run: what went wrong, what to do about it, and the tail
// of worker.log when the worker was involved.
type Error struct {
	Kind       Kind
	Msg        string
	Hint       string
	Checkpoint string // interrupted: the checkpoint --resume continues from ("" when none)
	LogTail    string
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Msg)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, "\nhint: %s", e.Hint)
	}
	if e.LogTail != "" {
		fmt.Fprintf(&b, "\nlast lines of worker.log:\n%s", indent(e.LogTail))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of a run's error: KindInternal for errors that are
// not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

func errorf(kind Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "  | " + strings.Join(lines, "\n  | ")
}
