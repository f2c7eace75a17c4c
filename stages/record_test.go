package stages

import (
	"reflect"
	"strings"
	"testing"

	"winnow/pipeline"
)

type msgs = []pipeline.Message

func TestRecordPresets(t *testing.T) {
	u := func(s string) pipeline.Message { return pipeline.Message{Role: "user", Content: s} }
	a := func(s string) pipeline.Message { return pipeline.Message{Role: "assistant", Content: s} }
	s := func(s string) pipeline.Message { return pipeline.Message{Role: "system", Content: s} }
	tests := []struct {
		name     string
		preset   string
		line     string
		want     msgs
		wantText string
		bad      string
	}{
		{name: "alpaca", preset: "alpaca", line: `{"instruction":"翻译","input":"hello","output":"你好"}`,
			want: msgs{u("翻译\n\nhello"), a("你好")}, wantText: "翻译\n\nhello\n\n你好"},
		{name: "alpaca empty input", preset: "alpaca", line: `{"instruction":"问","input":"","output":"答"}`,
			want: msgs{u("问"), a("答")}},
		{name: "alpaca no input field, system, history", preset: "alpaca",
			line: `{"instruction":"问3","output":"答3","system":"你是助手","history":[["问1","答1"],["问2","答2"]]}`,
			want: msgs{s("你是助手"), u("问1"), a("答1"), u("问2"), a("答2"), u("问3"), a("答3")}},
		{name: "alpaca empty output kept", preset: "alpaca", line: `{"instruction":"问","input":"","output":""}`,
			want: msgs{u("问"), a("")}, wantText: "问"},
		{name: "alpaca missing output", preset: "alpaca", line: `{"instruction":"问"}`, bad: pipeline.BadMissingText},
		{name: "alpaca non-string instruction", preset: "alpaca", line: `{"instruction":1,"output":"x"}`, bad: pipeline.BadMissingText},
		{name: "alpaca bad history", preset: "alpaca", line: `{"instruction":"a","output":"b","history":[["x"]]}`, bad: pipeline.BadMalformed},
		{name: "alpaca all empty", preset: "alpaca", line: `{"instruction":"","output":" "}`, bad: pipeline.BadEmptyText},
		{name: "sharegpt roles", preset: "sharegpt",
			line: `{"conversations":[{"from":"system","value":"S"},{"from":"human","value":"Q"},{"from":"gpt","value":"A"},{"from":"user","value":"Q2"},{"from":"Bing","value":"A2"},{"from":"chatgpt","value":"A3"},{"from":"function_call","value":"{}"},{"from":"observation","value":"obs"},{"from":"assistant","value":"A4"}]}`,
			want: msgs{s("S"), u("Q"), a("A"), u("Q2"), a("A2"), a("A3"), {Role: "function_call", Content: "{}"}, {Role: "observation", Content: "obs"}, a("A4")}},
		{name: "sharegpt top-level system", preset: "sharegpt", line: `{"system":"S","conversations":[{"from":"human","value":"Q"}]}`,
			want: msgs{s("S"), u("Q")}},
		{name: "sharegpt bom in value", preset: "sharegpt", line: "{\"conversations\":[{\"from\":\"human\",\"value\":\"\uFEFFQ\"}]}",
			want: msgs{u("Q")}},
		{name: "sharegpt missing", preset: "sharegpt", line: `{"messages":[]}`, bad: pipeline.BadMissingText},
		{name: "sharegpt empty list", preset: "sharegpt", line: `{"conversations":[]}`, bad: pipeline.BadMissingText},
		{name: "sharegpt not a list", preset: "sharegpt", line: `{"conversations":"hi"}`, bad: pipeline.BadMissingText},
		{name: "sharegpt turn without from", preset: "sharegpt", line: `{"conversations":[{"value":"x"}]}`, bad: pipeline.BadMissingText},
		{name: "sharegpt numeric value", preset: "sharegpt", line: `{"conversations":[{"from":"human","value":3}]}`, bad: pipeline.BadMissingText},
		{name: "openai", preset: "openai",
			line:     `{"messages":[{"role":"system","content":"S"},{"role":"user","content":[{"type":"text","text":"看图"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"说明"}]},{"role":"assistant","content":null,"tool_calls":[]},{"role":"tool","content":"42"}]}`,
			want:     msgs{s("S"), u("看图\n说明"), a(""), {Role: "tool", Content: "42"}},
			wantText: "S\n\n看图\n说明\n\n42"},
		{name: "openai missing messages", preset: "openai", line: `{"conversations":[]}`, bad: pipeline.BadMissingText},
		{name: "openai object content", preset: "openai", line: `{"messages":[{"role":"user","content":{"a":1}}]}`, bad: pipeline.BadMissingText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			readInto(t, testConfig(func(c *pipeline.InputConfig) { c.Record = tt.preset }),
				pipeline.InputFile{Path: "a.jsonl"}, strings.NewReader(tt.line+"\n"), rec)
			if tt.bad != "" {
				wantKinds(t, rec, tt.bad)
				return
			}
			wantKinds(t, rec)
			if len(rec.docs) != 1 {
				t.Fatalf("%d docs", len(rec.docs))
			}
			d := rec.docs[0]
			if !reflect.DeepEqual(d.Messages, tt.want) {
				t.Errorf("messages = %q\nwant %q", d.Messages, tt.want)
			}
			if tt.wantText != "" && d.Text != tt.wantText {
				t.Errorf("text = %q, want %q", d.Text, tt.wantText)
			}
		})
	}
}

func TestRecordTemplates(t *testing.T) {
	tests := []struct {
		tmpl string
		line string
		want string
		bad  string
	}{
		{`{title}\n{body}`, `{"title":"标题","body":"正文"}`, "标题\n正文", ""},
		{"{title}\n{body}", `{"title":"标题","body":"正文"}`, "标题\n正文", ""},
		{`{title}\t{n}|{f}|{b}|{z}|{o}`, `{"title":"T","n":12,"f":1.5,"b":true,"z":null,"o":{"k":[1]}}`, "T\t12|1.5|true||{\"k\":[1]}", ""},
		{`{title}: {missing}`, `{"title":"T"}`, "T: ", ""},
		{`\{{title}\}\\`, `{"title":"T"}`, `{T}\`, ""},
		{`{问} {答}`, `{"问":"Q","答":"A"}`, "Q A", ""},
		{`{a b}`, `{"a b":"spaced"}`, "spaced", ""},
		{`{x}{y}`, `{"z":"no"}`, "", pipeline.BadMissingText},
		{`{x}{y}`, `{"x":"","y":" "}`, "", pipeline.BadEmptyText},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			rec := readData(t, testConfig(func(c *pipeline.InputConfig) { c.TextTemplate = tt.tmpl }), "a.jsonl", []byte(tt.line))
			if tt.bad != "" {
				wantKinds(t, rec, tt.bad)
				return
			}
			wantKinds(t, rec)
			if len(rec.docs) != 1 || rec.docs[0].Text != tt.want {
				t.Errorf("texts %q, want %q", rec.texts(), tt.want)
			}
		})
	}
}

func TestRecordNeeds(t *testing.T) {
	rb, err := newRecordBuilder(testConfig(func(c *pipeline.InputConfig) { c.TextTemplate = "{a}-{b}" }), pipeline.Defaults().Input)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rb.needs(), ","); got != "a,b,id" {
		t.Errorf("needs = %s", got)
	}
}
