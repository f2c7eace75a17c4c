package stages

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"winnow/pipeline"
)

// The fuzz targets feed arbitrary bytes to the readers and check the
// invariants of checkInvariants: no panic, every document's text valid
// UTF-8 and non-blank, something emitted for every input (an empty or blank
// one is an empty_file), offsets strictly increasing, raw bytes capped.
// The first input byte picks the options, so the small max_doc_bytes and
// the presets are fuzzed too.

func fuzzConfig(data []byte) (pipeline.InputConfig, []byte) {
	cfg := pipeline.Defaults().Input
	if len(data) == 0 {
		return cfg, data
	}
	sel := data[0]
	if sel&1 != 0 {
		cfg.MaxDocBytes = 48
	}
	switch (sel >> 1) & 3 {
	case 1:
		cfg.Record = "alpaca"
	case 2:
		cfg.Record = "sharegpt"
	case 3:
		cfg.TextTemplate = "{title}\n{text}"
	}
	if sel&8 != 0 {
		cfg.Encoding = "utf-8"
	}
	return cfg, data[1:]
}

func FuzzReadJSONL(f *testing.F) {
	for _, s := range []string{
		"\x00{\"text\":\"一\"}\n\n{\"text\":\"二\"}\r\n",
		"\x00\uFEFF{\"id\":1,\"text\":\"a\uFEFFb\"}\n{\"text\":\n{bad}\n",
		"\x01{\"text\":\"" + string(bytes.Repeat([]byte("长"), 40)) + "\"}\n{\"text\":\"ok\"}",
		"\x02{\"instruction\":\"i\",\"input\":\"x\",\"output\":\"o\",\"history\":[[\"q\",\"a\"]]}\n",
		"\x04{\"conversations\":[{\"from\":\"human\",\"value\":\"q\\u00e9\\ud83d\\ude00\"},{\"from\":\"gpt\",\"value\":\"a\"}]}\n",
		"\x06{\"title\":\"t\",\"text\":1.5e3}\n",
		"\x00{\"text\":\"\xff\"}\n[1]\n\"s\"\n",
		"\x00   \n\t\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, body := fuzzConfig(data)
		readData(t, cfg, "f.jsonl", body)
	})
}

func FuzzReadJSONArray(f *testing.F) {
	for _, s := range []string{
		"\x00[{\"text\":\"一\"}, {\"text\":\"二\"}]",
		"\x00 [ {\"text\":\"a\\\"]}\"} , 1, \"s\", {\"text\": tru} ] trailing",
		"\x01[{\"text\":\"" + string(bytes.Repeat([]byte("x"), 100)) + "\"},{\"text\":\"ok\"}]",
		"\x00[{\"text\":\"一\"}, {\"text\":\"二",
		"\x00[,,]",
		"\x00[{\"text\":\"a\"} {\"text\":\"b\"}]",
		"\x00{\n \"text\": \"pretty\"\n}\n{\"text\":\"second\"}",
		"\x00{\"text\":\"jsonl\"}\n{\"text\":\"named json\"}\n",
		"\x02[{\"instruction\":\"i\",\"output\":\"o\"}]",
		"\x00]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, body := fuzzConfig(data)
		readData(t, cfg, "f.json", body)
	})
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"\x00id,text\n1,一\n2,\"二\n二\"\n\n3,\"三,\"\"3\"\"\"\n",
		"\x00\uFEFFtext,id\n\uFEFF一,1\n",
		"\x00id,text\n1,一,x\n2,a\"b\n3,\"open",
		"\x01id,text\n1,\"" + string(bytes.Repeat([]byte("x\n"), 50)) + "\"\n2,ok\r\n",
		"\x02instruction,input,output\ni,,o\n",
		"\x06title,text\nt,\n",
		"\x00text\n\xff\xfe\n",
		"\x00text\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, body := fuzzConfig(data)
		readData(t, cfg, "f.csv", body)
	})
}

// FuzzJSONScanner checks the hand-written scanner against encoding/json:
// the same inputs are valid objects, and string values decode the same.
func FuzzJSONScanner(f *testing.F) {
	for _, s := range []string{
		`{"a":"b","c":[1,-2.5e+3,true,false,null,{"d":"\u00e9\ud83d\ude00\n"}]}`,
		`{"a":"\ud800x"}`, `{"a":01}`, `{"a":1.}`, `{"a":"\x"}`, `{"a" "b"}`, `{"a":1,}`,
		`[1]`, `"s"`, `{}`, ` {"a":"b"} `, `{"a":"b"}x`, "{\"a\":\"\t\"}", `{"\u0061":"k"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return // the readers check UTF-8 before scanning
		}
		var rec jsonRecord
		err := rec.parse(b)
		var std map[string]json.RawMessage
		stdErr := json.Unmarshal(b, &std)
		if (err == nil) != (stdErr == nil && std != nil) {
			t.Fatalf("scanner err %v, encoding/json err %v (nil map %v) on %q", err, stdErr, std == nil, b)
		}
		if err != nil {
			return
		}
		for _, fl := range rec.fields {
			raw, ok := std[string(fl.key)]
			if !ok {
				t.Fatalf("key %q unknown to encoding/json", fl.key)
			}
			if fl.val[0] != '"' {
				continue
			}
			var want string
			if json.Unmarshal(fl.val, &want) != nil {
				t.Fatalf("value %q", fl.val)
			}
			if got := unquoteJSON(fl.val); got != want && bytes.Equal(raw, fl.val) {
				t.Fatalf("unquote(%s) = %q, encoding/json %q", fl.val, got, want)
			}
		}
	})
}
