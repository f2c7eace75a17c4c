package stages

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"winnow/pipeline"
)

// PIIOptions configure the pii stage.
type PIIOptions struct {
	Types        []string          `yaml:"types" doc:"what to find: email, ip (public IPv4/IPv6 only), url_cred (user:password in scheme://user:password@host), cn_mobile, cn_phone (landlines), cn_id (18-digit resident ids, check digit verified), bank_card (Luhn and issuer prefix verified), passport (only after the keyword 护照/passport)"`
	Placeholders map[string]string `yaml:"placeholders" doc:"type -> replacement overriding the default (<EMAIL>, <IP>, <URL_CRED>, <CN_MOBILE>, <CN_PHONE>, <CN_ID>, <BANK_CARD>, <PASSPORT>); a replacement holds no ASCII digit and starts and ends with a character that is not an ASCII letter, digit or one of ._%+-@:/()"`
	Mode         string            `yaml:"mode" doc:"redact (replace each match with its placeholder) or tag (keep the text, only count)"`
}

const (
	piiModeRedact = "redact"
	piiModeTag    = "tag"
	// piiMaxRounds bounds the re-scans of redacted text (see PII).
	piiMaxRounds = 4
)

// PIIInfo registers the pii stage.
var PIIInfo = pipeline.StageInfo{
	Name: "pii",
	Doc:  "find e-mail, public IPs, URL credentials, mainland mobiles and landlines, resident ids, bank cards and passports; replace them with typed placeholders or only count them (column pii_counts)",
	Defaults: func() any {
		return &PIIOptions{
			Types:        slices.Clone(piiNames[:]),
			Placeholders: map[string]string{},
			Mode:         piiModeRedact,
		}
	},
	New: func(o any, where string) (pipeline.Stage, error) {
		return newPII(*o.(*PIIOptions), where, time.Now().UTC())
	},
}

// PII finds personal data in the text of every alive row and replaces each
// match with its type's placeholder (mode redact) or leaves the text as it
// is (mode tag). The matchers are in pii_rules.go; in short:
//
//   - email: local@domain with a letters-only TLD (not a file extension
//     such as icon@2x.png); user@localhost and a@b are not addresses;
//   - ip: dotted IPv4 and IPv6 in public ranges only (no private,
//     loopback, link-local, CGN, documentation, multicast or reserved
//     addresses); a dotted quad after a version word (v, version,
//     Chrome/, 版本 …) is a version, not an address, and one of small
//     octets (all ≤ 20: 1.1.2.1) is an outline number unless a network
//     word (IP, DNS, server, 地址, 服务器 …) comes shortly before it;
//   - url_cred: only the user:password of scheme://user:password@host is
//     replaced, so the scheme and host stay readable
//     (https://<URL_CRED>@example.com/);
//   - cn_mobile: 1[3-9] + 9 digits, optionally +86/86/0086/(+86) before
//     it and 3-4-4 grouping;
//   - cn_phone: area code (010, 02x, 0[3-9]xx) with '-', a space or
//     parentheses, 7–8 digits not starting with 0, optional extension; a bare
//     12-digit run is not taken for a landline;
//   - cn_id: 18 characters, known province, a real birth date from 1900 to
//     the day the stage was built (UTC: the one way the output depends on
//     the date, for ids born between two runs), GB 11643 check character
//     (X or x); 15-digit first-generation ids are not matched;
//   - bank_card: 13–19 digits with a known issuer prefix for that length
//     and a valid Luhn check, contiguous or in groups of 4;
//   - passport: E/G/D/S/P + 8 digits or E + letter + 7 digits, only when
//     护照 or passport is among the 20 characters before it.
//
// Digit matches need a clean boundary: not inside a longer run of digits
// or letters, not a decimal, not an amount (¥/$ before, 元/万/亿 after).
// The scan is one left-to-right pass; matches do not overlap. Replacing a
// match changes what its neighbours see (61.135.169.121-13800138000: the phone
// is joined to the address, <IP>-13800138000 is not), so redacted text is
// scanned again, up to piiMaxRounds times, until nothing more matches:
// redacting the output again changes nothing.
//
// Column pii_counts, map<string, int32>: for each alive row the number of
// matches per type, only types found (an empty map when none); null for
// rows dropped before the stage. Counters: one per type (matches), docs_pii
// (documents with a match), docs_changed (documents whose text or messages
// were rewritten; 0 in tag mode) and messages_changed (message contents
// rewritten).
//
// Instruction data: message contents of alive rows are redacted the same
// way and the messages column is rebuilt when one changed. Counts come from
// the text only, which is the rendered contents, so nothing counts twice.
//
// A row's text is left as the same string when nothing matches, and the
// text column is rebuilt only when some row changed.
type PII struct {
	sc   piiScanner
	ph   [piiKinds]string
	mode string
}

// Name implements pipeline.Stage.
func (*PII) Name() string { return "pii" }

// NeverDrops tells retune that pii only rewrites text.
func (*PII) NeverDrops() {}

func newPII(o PIIOptions, where string, now time.Time) (*PII, error) {
	p := &PII{mode: o.Mode, ph: piiDefaultPlaceholders}
	p.sc.today = now.Year()*10000 + int(now.Month())*100 + now.Day()
	var errs []error
	switch o.Mode {
	case piiModeRedact, piiModeTag:
	default:
		errs = append(errs, fmt.Errorf("%s.mode: %q is not one of redact, tag", where, o.Mode))
	}
	if len(o.Types) == 0 {
		errs = append(errs, fmt.Errorf("%s.types: empty; list one or more of %s", where, strings.Join(piiNames[:], ", ")))
	}
	for _, t := range o.Types {
		k, ok := piiKindOf(t)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s.types: %q is not one of %s", where, t, strings.Join(piiNames[:], ", ")))
		case p.sc.on[k]:
			errs = append(errs, fmt.Errorf("%s.types: %q listed twice", where, t))
		default:
			p.sc.on[k] = true
		}
	}
	names := make([]string, 0, len(o.Placeholders))
	for name := range o.Placeholders {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		k, ok := piiKindOf(name)
		if !ok {
			errs = append(errs, fmt.Errorf("%s.placeholders: %q is not one of %s", where, name, strings.Join(piiNames[:], ", ")))
			continue
		}
		v := o.Placeholders[name]
		if err := piiCheckPlaceholder(v); err != nil {
			errs = append(errs, fmt.Errorf("%s.placeholders.%s: %q %v", where, name, v, err))
			continue
		}
		p.ph[k] = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

func piiKindOf(name string) (piiKind, bool) {
	for k, n := range piiNames {
		if n == name {
			return piiKind(k), true
		}
	}
	return 0, false
}

// piiCheckPlaceholder keeps replacements from creating new matches with
// their neighbours or within themselves.
func piiCheckPlaceholder(v string) error {
	if v == "" || len(v) > 64 || !utf8.ValidString(v) {
		return fmt.Errorf("must be 1-64 bytes of UTF-8")
	}
	for i := 0; i < len(v); i++ {
		if piiIsDigit(v[i]) {
			return fmt.Errorf("must hold no ASCII digit")
		}
	}
	for _, c := range []byte{v[0], v[len(v)-1]} {
		if piiIsWord(c) || strings.IndexByte("._%+-@:/()", c) >= 0 {
			return fmt.Errorf("must start and end with a character other than an ASCII letter, digit or one of ._%%+-@:/()")
		}
	}
	all := piiScanner{today: 99991231}
	for k := range all.on {
		all.on[k] = true
	}
	if m, ok := all.next(v, 0); ok {
		return fmt.Errorf("holds a %s itself", m.kind)
	}
	return nil
}

// redact returns s with every match replaced (the same string when none)
// and adds the matches to counts.
func (p *PII) redact(s string, counts *[piiKinds]int32) string {
	for range piiMaxRounds {
		m, ok := p.sc.next(s, 0)
		if !ok {
			return s
		}
		var sb strings.Builder
		sb.Grow(len(s) + 16)
		last := 0
		for ok {
			counts[m.kind]++
			sb.WriteString(s[last:m.start])
			sb.WriteString(p.ph[m.kind])
			last = m.end
			m, ok = p.sc.next(s, m.end)
		}
		sb.WriteString(s[last:])
		s = sb.String()
	}
	return s
}

// piiCountsType is the type of the pii_counts column.
var piiCountsType = arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int32)

var piiCountsField = arrow.Field{Name: "pii_counts", Type: piiCountsType, Nullable: true}

// Process finds PII in every alive row; see PII.
func (p *PII) Process(ctx context.Context, b *pipeline.Batch) error {
	texts := b.Texts()
	mb := array.NewMapBuilderWithType(b.Allocator(), piiCountsType)
	defer mb.Release()
	keys := mb.KeyBuilder().(*array.StringBuilder)
	items := mb.ItemBuilder().(*array.Int32Builder)
	var out []string // nil until a row changes
	var total [piiKinds]int64
	var docsPII int64
	var changedRow []bool // nil until a row changes
	mark := func(i int) {
		if changedRow == nil {
			changedRow = make([]bool, b.Len())
		}
		changedRow[i] = true
	}
	for i := 0; i < b.Len(); i++ {
		if i%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		t := texts.Value(i)
		if !b.Alive(i) {
			if out != nil {
				out[i] = t
			}
			mb.AppendNull()
			continue
		}
		var c [piiKinds]int32
		r := p.redact(t, &c)
		mb.Append(true)
		found := false
		for k, n := range c {
			if n > 0 {
				keys.Append(piiNames[k])
				items.Append(n)
				total[k] += int64(n)
				found = true
			}
		}
		if found {
			docsPII++
		}
		if p.mode == piiModeTag {
			r = t
		}
		if r != t && out == nil {
			out = make([]string, b.Len())
			for j := range i {
				out[j] = texts.Value(j)
			}
		}
		if out != nil {
			out[i] = r
		}
		if r != t {
			mark(i)
		}
	}
	if p.mode == piiModeRedact {
		msgRows, nMsgs, err := p.redactMessages(ctx, b)
		if err != nil {
			return fmt.Errorf("pii: %w", err)
		}
		for _, i := range msgRows {
			mark(i)
		}
		if nMsgs > 0 {
			b.AddCount("messages_changed", nMsgs)
		}
	}
	docsChanged := int64(0)
	for _, c := range changedRow {
		if c {
			docsChanged++
		}
	}
	for k, n := range total {
		if n > 0 {
			b.AddCount(piiNames[k], n)
		}
	}
	if docsPII > 0 {
		b.AddCount("docs_pii", docsPII)
	}
	if docsChanged > 0 {
		b.AddCount("docs_changed", docsChanged)
	}
	if out != nil {
		if err := b.SetColumn(normTextField(b), normStringColumn(b, out)); err != nil {
			return fmt.Errorf("pii: %w", err)
		}
	}
	if err := b.SetColumn(piiCountsField, mb.NewArray()); err != nil {
		return fmt.Errorf("pii: %w", err)
	}
	return nil
}

// redactMessages redacts the message contents of alive rows and rebuilds
// the messages column when one changed. It returns the rows changed and
// the number of contents rewritten.
func (p *PII) redactMessages(ctx context.Context, b *pipeline.Batch) ([]int, int64, error) {
	col := b.Column(pipeline.ColMessages)
	if col == nil {
		return nil, 0, nil
	}
	list, ok := col.(*array.List)
	if !ok {
		return nil, 0, fmt.Errorf("column %s is %s, want %s", pipeline.ColMessages, col.DataType(), pipeline.MessagesType)
	}
	st, ok := list.ListValues().(*array.Struct)
	if !ok {
		return nil, 0, fmt.Errorf("column %s is %s, want %s", pipeline.ColMessages, col.DataType(), pipeline.MessagesType)
	}
	stType := st.DataType().(*arrow.StructType)
	ci, ok := stType.FieldIdx("content")
	if !ok {
		return nil, 0, fmt.Errorf("column %s has no content field", pipeline.ColMessages)
	}
	fields := make([]*array.String, st.NumField())
	for f := range fields {
		if fields[f], ok = st.Field(f).(*array.String); !ok {
			return nil, 0, fmt.Errorf("column %s: field %s is %s, want string", pipeline.ColMessages, stType.Field(f).Name, st.Field(f).DataType())
		}
	}
	contents := fields[ci]
	var repl map[int]string // element index -> redacted content
	var rows []int
	var dummy [piiKinds]int32
	for i := 0; i < b.Len(); i++ {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		if !b.Alive(i) || list.IsNull(i) {
			continue
		}
		start, end := list.ValueOffsets(i)
		rowChanged := false
		for e := int(start); e < int(end); e++ {
			if contents.IsNull(e) {
				continue
			}
			v := contents.Value(e)
			if r := p.redact(v, &dummy); r != v {
				if repl == nil {
					repl = map[int]string{}
				}
				repl[e] = r
				rowChanged = true
			}
		}
		if rowChanged {
			rows = append(rows, i)
		}
	}
	if repl == nil {
		return nil, 0, nil
	}
	field := arrow.Field{Name: pipeline.ColMessages, Type: col.DataType(), Nullable: true}
	for _, f := range b.Fields() {
		if f.Name == pipeline.ColMessages {
			field = f
		}
	}
	lb := array.NewListBuilderWithField(b.Allocator(), list.DataType().(*arrow.ListType).ElemField())
	defer lb.Release()
	sb := lb.ValueBuilder().(*array.StructBuilder)
	for i := 0; i < list.Len(); i++ {
		if list.IsNull(i) {
			lb.AppendNull()
			continue
		}
		lb.Append(true)
		start, end := list.ValueOffsets(i)
		for e := int(start); e < int(end); e++ {
			if st.IsNull(e) {
				sb.AppendNull()
				continue
			}
			sb.Append(true)
			for f, src := range fields {
				fb := sb.FieldBuilder(f).(*array.StringBuilder)
				switch r, ok := repl[e]; {
				case f == ci && ok:
					fb.Append(r)
				case src.IsNull(e):
					fb.AppendNull()
				default:
					fb.Append(src.Value(e))
				}
			}
		}
	}
	if err := b.SetColumn(field, lb.NewArray()); err != nil {
		return nil, 0, err
	}
	return rows, int64(len(repl)), nil
}
