package dist

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func testSpec() LaunchSpec {
	return LaunchSpec{
		Passes: []LaunchPass{{"scan-1", 7}, {"link-1", 7}, {"resolve-1", 1}, {"final", 7}, {"publish", 1}},
		Binary: "/opt/winnow/bin/winnow", Config: "conf/run 1.yaml", Output: "s3://bkt/out?endpoint=http://minio:9000",
		Tasks:     7,
		Env:       map[string]string{"AWS_REGION": "us-east-1", "NOTE": `it's "a" $HOME: $(X) x`, "A_MULTI": "l1\nl2"},
		Partition: "cpu", Time: "04:00:00", CPUs: 8, ExtraSBatch: []string{"--exclusive"},
		Image: "ghcr.io/x/winnow:1.2", Namespace: "data", CPURequest: "2", MemRequest: "8Gi",
	}
}

// writeFiles writes the rendered files into a fresh directory.
func writeFiles(t *testing.T, files []File) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), []byte(f.Text), f.Mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRenderSlurm(t *testing.T) {
	spec := testSpec()
	files, err := RenderSlurm(spec)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	want := []string{"01-scan-1.sbatch", "02-link-1.sbatch", "03-resolve-1.sbatch", "04-final.sbatch", "05-publish.sbatch", "submit.sh"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("file names = %q, want %q", names, want)
	}
	wantArray := []string{"0-6", "0-6", "0-0", "0-6", "0-0"}
	for i, p := range spec.Passes {
		text := files[i].Text
		for _, line := range []string{
			"#!/bin/bash\n",
			"\n#SBATCH --array=" + wantArray[i] + "\n",
			"\n#SBATCH --job-name=winnow-" + p.Name + "\n",
			"\n#SBATCH --output=logs/winnow-" + p.Name + "-%A_%a.log\n",
			"\n#SBATCH --partition=cpu\n", "\n#SBATCH --cpus-per-task=8\n", "\n#SBATCH --exclusive\n",
			"\nset -euo pipefail\n",
			"\nexec /opt/winnow/bin/winnow run -c 'conf/run 1.yaml' -o 's3://bkt/out?endpoint=http://minio:9000' --tasks 7 --pass " + p.Name + ` --task "$SLURM_ARRAY_TASK_ID" --wait` + "\n",
		} {
			if !strings.Contains(text, line) {
				t.Errorf("%s lacks %q:\n%s", files[i].Name, line, text)
			}
		}
		if strings.Contains(text, "--account") || strings.Contains(text, "--mem") {
			t.Errorf("%s sets an option left empty in the spec:\n%s", files[i].Name, text)
		}
		if i := strings.Index(text, "\nset "); strings.Contains(text[i:], "#SBATCH") {
			t.Errorf("#SBATCH after the first command is ignored by sbatch:\n%s", text)
		}
	}

	t.Run("SubmitChain", func(t *testing.T) { testSubmitChain(t, files) })
	t.Run("BashSyntax", func(t *testing.T) {
		bash := lookPath(t, "bash")
		dir := writeFiles(t, files)
		for _, f := range files {
			if out, err := exec.Command(bash, "-n", filepath.Join(dir, f.Name)).CombinedOutput(); err != nil {
				t.Errorf("bash -n %s: %v\n%s", f.Name, err, out)
			}
		}
	})
	t.Run("ScriptRuns", func(t *testing.T) { testScriptRuns(t, spec) })
	t.Run("SbatchTestOnly", func(t *testing.T) {
		sbatch, err := exec.LookPath("sbatch")
		if err != nil {
			t.Skip("sbatch not in PATH: cannot check scripts with sbatch --test-only")
		}
		dir := writeFiles(t, files)
		for _, f := range files[:len(files)-1] {
			if out, err := exec.Command(sbatch, "--test-only", filepath.Join(dir, f.Name)).CombinedOutput(); err != nil {
				t.Errorf("sbatch --test-only %s: %v\n%s", f.Name, err, out)
			}
		}
	})
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not in PATH", name)
	}
	return p
}

// testSubmitChain runs submit.sh against a fake sbatch that records its
// arguments and answers "jobid;cluster", then checks each submission depends
// on the job before it.
func testSubmitChain(t *testing.T, files []File) {
	bash := lookPath(t, "bash")
	dir := writeFiles(t, files)
	fake := "#!/bin/bash\necho \"$*\" >> \"$SBATCH_LOG\"\nn=$(wc -l < \"$SBATCH_LOG\")\necho \"$((100+n));clusterA\"\n"
	bin := writeFiles(t, []File{{"sbatch", fake, 0o755}})
	log := filepath.Join(t.TempDir(), "calls")
	cmd := exec.Command(bash, filepath.Join(dir, "submit.sh"))
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "SBATCH_LOG="+log)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("submit.sh: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "logs")); err != nil {
		t.Errorf("submit.sh did not create the log directory: %v", err)
	}
	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	calls := strings.Split(strings.TrimSpace(string(raw)), "\n")
	want := []string{"--parsable 01-scan-1.sbatch"}
	for i, f := range files[1 : len(files)-1] {
		want = append(want, "--parsable --dependency=afterok:"+strconv.Itoa(101+i)+" "+f.Name)
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("sbatch calls:\n%q\nwant\n%q", calls, want)
	}
}

// testScriptRuns executes one sbatch script with a fake winnow that prints
// its arguments and environment, proving the quoting end to end.
func testScriptRuns(t *testing.T, spec LaunchSpec) {
	bash := lookPath(t, "bash")
	fake := "#!/bin/bash\nprintf '%s\\n' \"$@\"\nprintf '%s|' \"$NOTE\" \"$A_MULTI\"\n"
	spec.Binary = filepath.Join(writeFiles(t, []File{{"fake winnow", fake, 0o755}}), "fake winnow")
	files, err := RenderSlurm(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "-c", files[2].Text)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	want := strings.Join([]string{"run", "-c", spec.Config, "-o", spec.Output, "--tasks", "7",
		"--pass", "resolve-1", "--task", "0", "--wait", spec.Env["NOTE"] + "|" + spec.Env["A_MULTI"] + "|"}, "\n")
	if string(out) != want {
		t.Errorf("fake winnow saw\n%q\nwant\n%q", out, want)
	}
}

func TestShellQuote(t *testing.T) {
	bash := lookPath(t, "bash")
	for _, s := range []string{"plain", "with space", "it's", `say "hi"`, "$HOME ${x}", "`id`", "a\nb", "", "中文", `\'"$!*?~`, "-n", "''"} {
		out, err := exec.Command(bash, "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Errorf("shellQuote(%q) = %s: %v", s, shellQuote(s), err)
		} else if string(out) != s {
			t.Errorf("shellQuote(%q) = %s: bash printed %q", s, shellQuote(s), out)
		}
	}
}

// decodeDocs parses a YAML stream into one map per document.
func decodeDocs(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return docs
		} else if err != nil {
			t.Fatalf("decoding manifest: %v\n%s", err, data)
		}
		docs = append(docs, m)
	}
}

// dig follows keys (strings) and indexes (ints) into decoded YAML.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			if s, _ := v.([]any); k < len(s) {
				v = s[k]
			} else {
				return nil
			}
		}
	}
	return v
}

func TestRenderK8s(t *testing.T) {
	spec := testSpec()
	out, err := RenderK8s(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "# ") || !strings.Contains(string(out), "--wait") {
		t.Errorf("manifest lacks the header comment:\n%s", out)
	}
	docs := decodeDocs(t, out)
	if len(docs) != len(spec.Passes) {
		t.Fatalf("%d documents, want %d", len(docs), len(spec.Passes))
	}
	for i, p := range spec.Passes {
		doc := docs[i]
		c := dig(doc, "spec", "template", "spec", "containers", 0)
		for _, chk := range []struct {
			root any // the document, or the container when nil
			path []any
			want any
		}{
			{doc, []any{"apiVersion"}, "batch/v1"},
			{doc, []any{"kind"}, "Job"},
			{doc, []any{"metadata", "name"}, "winnow-" + p.Name},
			{doc, []any{"metadata", "namespace"}, "data"},
			{doc, []any{"metadata", "labels", "winnow.dev/pass"}, p.Name},
			{doc, []any{"metadata", "labels", "app.kubernetes.io/name"}, "winnow"},
			{doc, []any{"spec", "completionMode"}, "Indexed"},
			{doc, []any{"spec", "completions"}, p.Tasks},
			{doc, []any{"spec", "parallelism"}, p.Tasks},
			{doc, []any{"spec", "backoffLimit"}, 3},
			{doc, []any{"spec", "template", "spec", "restartPolicy"}, "Never"},
			{doc, []any{"spec", "template", "spec", "serviceAccountName"}, nil},
			{nil, []any{"name"}, "winnow"},
			{nil, []any{"image"}, spec.Image},
			{nil, []any{"command"}, []any{spec.Binary}},
			{nil, []any{"resources", "requests"}, map[string]any{"cpu": "2", "memory": "8Gi"}},
			{nil, []any{"env"}, []any{ // sorted by name, values intact
				map[string]any{"name": "AWS_REGION", "value": "us-east-1"},
				map[string]any{"name": "A_MULTI", "value": "l1\nl2"},
				map[string]any{"name": "NOTE", "value": `it's "a" $$HOME: $$(X) x`}, // $$: no $(X) expansion
			}},
		} {
			root := chk.root
			if root == nil {
				root = c
			}
			if got := dig(root, chk.path...); !reflect.DeepEqual(got, chk.want) {
				t.Errorf("doc %d %v = %#v, want %#v", i, chk.path, got, chk.want)
			}
		}
		// No --task: each pod gets JOB_COMPLETION_INDEX instead.
		wantArgs := []any{"run", "-c", spec.Config, "-o", spec.Output, "--tasks", "7", "--pass", p.Name, "--wait"}
		if args := dig(c, "args"); !reflect.DeepEqual(args, wantArgs) {
			t.Errorf("doc %d args = %q, want %q", i, args, wantArgs)
		}
	}

	spec.BackoffLimitPerIndex, spec.ServiceAccount, spec.Namespace = 2, "winnow-sa", ""
	out, err = RenderK8s(spec)
	if err != nil {
		t.Fatal(err)
	}
	doc := decodeDocs(t, out)[0]
	if dig(doc, "spec", "backoffLimitPerIndex") != 2 || dig(doc, "spec", "backoffLimit") != nil ||
		dig(doc, "spec", "template", "spec", "serviceAccountName") != "winnow-sa" || dig(doc, "metadata", "namespace") != nil {
		t.Errorf("optional fields not rendered as set:\n%s", out)
	}
}

func TestLaunchValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*LaunchSpec)
		field  string
		target string // "both", "slurm" or "k8s"
	}{
		{"no passes", func(s *LaunchSpec) { s.Passes = nil }, "Passes", "both"},
		{"zero N", func(s *LaunchSpec) { s.Tasks = 0 }, "Tasks", "both"},
		{"zero pass tasks", func(s *LaunchSpec) { s.Passes[2].Tasks = 0 }, "Passes[2].Tasks", "both"},
		{"pass tasks over N", func(s *LaunchSpec) { s.Passes[0].Tasks = 8 }, "Passes[0].Tasks", "both"},
		{"uppercase pass", func(s *LaunchSpec) { s.Passes[1].Name = "Link" }, "Passes[1].Name", "both"},
		{"duplicate pass", func(s *LaunchSpec) { s.Passes[1].Name = "scan-1" }, "Passes[1].Name", "both"},
		{"no binary", func(s *LaunchSpec) { s.Binary = "" }, "Binary", "both"},
		{"no config", func(s *LaunchSpec) { s.Config = "" }, "Config", "both"},
		{"no output", func(s *LaunchSpec) { s.Output = "" }, "Output", "both"},
		{"bad job name", func(s *LaunchSpec) { s.JobName = "My_Job" }, "JobName", "both"},
		{"bad env name", func(s *LaunchSpec) { s.Env["A-B"] = "x" }, "Env", "both"},
		{"extra not option", func(s *LaunchSpec) { s.ExtraSBatch = []string{"-N 2"} }, "ExtraSBatch[0]", "slurm"},
		{"extra newline", func(s *LaunchSpec) { s.ExtraSBatch = []string{"--a\nrm -rf /"} }, "ExtraSBatch[0]", "slurm"},
		{"log dir space", func(s *LaunchSpec) { s.LogDir = "my logs" }, "LogDir", "slurm"},
		{"negative cpus", func(s *LaunchSpec) { s.CPUs = -1 }, "CPUs", "slurm"},
		{"negative backoff", func(s *LaunchSpec) { s.BackoffLimitPerIndex = -1 }, "BackoffLimitPerIndex", "k8s"},
		{"no image", func(s *LaunchSpec) { s.Image = "" }, "Image", "k8s"},
		{"name too long", func(s *LaunchSpec) { s.JobName = strings.Repeat("w", 55) }, "Passes[2].Name", "k8s"},
		{"trailing hyphen", func(s *LaunchSpec) { s.Passes[0].Name = "scan-" }, "Passes[0].Name", "k8s"},
		{"bad namespace", func(s *LaunchSpec) { s.Namespace = "Data" }, "Namespace", "k8s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := testSpec()
			tc.edit(&spec)
			_, serr := RenderSlurm(spec)
			_, kerr := RenderK8s(spec)
			for name, err := range map[string]error{"slurm": serr, "k8s": kerr} {
				if wantErr := tc.target == "both" || tc.target == name; !wantErr && err != nil {
					t.Errorf("%s rejected a spec valid for it: %v", name, err)
				} else if wantErr && (err == nil || !strings.Contains(err.Error(), tc.field)) {
					t.Errorf("%s error = %v, want one naming %s", name, err, tc.field)
				}
			}
		})
	}
}
