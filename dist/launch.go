// Launch files: Slurm batch scripts and Kubernetes Indexed Jobs that run
// every pass of a distributed run as an array of tasks.

package dist

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LaunchPass is one pass to launch: its name and how many tasks (the array
// size, at most LaunchSpec.Tasks) it has.
type LaunchPass struct {
	Name  string
	Tasks int
}

// LaunchSpec describes a pipeline launch. The common fields apply to every
// renderer; the Slurm and Kubernetes groups are read only by their renderer.
type LaunchSpec struct {
	Passes []LaunchPass
	Binary string // winnow on the nodes or in the image
	Config string // -c value as the tasks see it
	Output string // -o value: a shared path or an s3:// URL
	Tasks  int    // --tasks value: N
	// TaskArgs are more winnow run arguments of every task (e.g.
	// --workers-per-band 3), after --tasks.
	TaskArgs []string
	JobName  string            // prefix of job names; "winnow" when empty
	Env      map[string]string // extra environment for every task (not secret)

	// Slurm. Empty fields are left to the cluster's defaults.
	Partition, Account, Time, Mem string
	CPUs                          int      // --cpus-per-task when > 0
	LogDir                        string   // "logs" when empty, relative to the scripts
	ExtraSBatch                   []string // extra options, each starting with "--"

	// Kubernetes. Empty fields are omitted from the manifest.
	Image, Namespace, ServiceAccount string
	CPURequest, MemRequest           string
	BackoffLimitPerIndex             int // retries per index; backoffLimit 3 when 0
}

// File is one rendered launch file.
type File struct {
	Name string
	Text string
	Mode os.FileMode
}

var (
	namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	dnsLabel    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	shellPlain  = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)
)

// withDefaults returns s with empty defaulted fields filled in.
func (s LaunchSpec) withDefaults() LaunchSpec {
	if s.JobName == "" {
		s.JobName = "winnow"
	}
	if s.LogDir == "" {
		s.LogDir = "logs"
	}
	return s
}

// fieldError reports an invalid spec field by its Go name, so the caller
// knows what to fix.
func fieldError(field, format string, args ...any) error {
	return fmt.Errorf("invalid %s: %s", field, fmt.Sprintf(format, args...))
}

// validate checks the fields every renderer uses.
func (s LaunchSpec) validate() error {
	if len(s.Passes) == 0 {
		return fieldError("Passes", "at least one pass is required")
	}
	if s.Tasks < 1 {
		return fieldError("Tasks", "%d, must be at least 1", s.Tasks)
	}
	for _, f := range [][2]string{{"Binary", s.Binary}, {"Config", s.Config}, {"Output", s.Output}} {
		if f[1] == "" {
			return fieldError(f[0], "must not be empty")
		}
	}
	if !namePattern.MatchString(s.JobName) {
		return fieldError("JobName", "%q must match %s", s.JobName, namePattern)
	}
	seen := make(map[string]bool)
	for i, p := range s.Passes {
		field := fmt.Sprintf("Passes[%d]", i)
		if !namePattern.MatchString(p.Name) {
			return fieldError(field+".Name", "%q must match %s", p.Name, namePattern)
		}
		if seen[p.Name] {
			return fieldError(field+".Name", "duplicate pass %q", p.Name)
		}
		seen[p.Name] = true
		// Task i of N does the units u with u mod N == i, so a pass never
		// has more than N tasks.
		if p.Tasks < 1 || p.Tasks > s.Tasks {
			return fieldError(field+".Tasks", "%d, must be in 1..%d (Tasks)", p.Tasks, s.Tasks)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		if !envName.MatchString(k) {
			return fieldError("Env", "%q is not a valid variable name", k)
		}
	}
	return nil
}

// runArgs returns the winnow arguments shared by all tasks of pass p; the
// task index is added (or not) by each renderer.
func (s LaunchSpec) runArgs(p LaunchPass) []string {
	args := []string{"run", "-c", s.Config, "-o", s.Output, "--tasks", strconv.Itoa(s.Tasks)}
	return append(append(args, s.TaskArgs...), "--pass", p.Name)
}

// shellQuote quotes s for bash. Single quotes keep everything literal, so the
// only character needing care is the single quote itself: close the quotes,
// add an escaped quote, and reopen them.
func shellQuote(s string) string {
	if shellPlain.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// validateSlurm checks values that land in #SBATCH lines, which sbatch
// splits on whitespace and which cannot span lines.
func (s LaunchSpec) validateSlurm() error {
	fields := [][2]string{{"Partition", s.Partition}, {"Account", s.Account}, {"Time", s.Time}, {"Mem", s.Mem}, {"LogDir", s.LogDir}}
	for _, f := range fields {
		if strings.ContainsAny(f[1], " \t\r\n") {
			return fieldError(f[0], "%q must not contain whitespace", f[1])
		}
	}
	if s.CPUs < 0 {
		return fieldError("CPUs", "%d, must not be negative", s.CPUs)
	}
	for i, l := range s.ExtraSBatch {
		if !strings.HasPrefix(l, "--") || strings.ContainsAny(l, "\r\n") {
			return fieldError(fmt.Sprintf("ExtraSBatch[%d]", i), "%q must be one line starting with --", l)
		}
	}
	return nil
}

// RenderSlurm renders one sbatch script per pass, named NN-<pass>.sbatch so
// that ls order is run order, plus submit.sh, which submits them chained by
// afterok dependencies. Tasks wait for earlier passes themselves (--wait);
// the dependencies keep queued passes from holding nodes while they poll.
func RenderSlurm(s LaunchSpec) ([]File, error) {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("slurm launch spec: %w", err)
	}
	if err := s.validateSlurm(); err != nil {
		return nil, fmt.Errorf("slurm launch spec: %w", err)
	}
	width := max(2, len(strconv.Itoa(len(s.Passes))))
	var files []File
	var submit strings.Builder
	submit.WriteString("#!/bin/bash\n# Submits every pass; each waits for the previous one (afterok).\n")
	submit.WriteString("set -euo pipefail\ncd \"$(dirname \"$0\")\"\n")
	fmt.Fprintf(&submit, "mkdir -p %s\n", shellQuote(s.LogDir))
	for i, p := range s.Passes {
		name := fmt.Sprintf("%0*d-%s.sbatch", width, i+1, p.Name)
		files = append(files, File{Name: name, Text: s.sbatchScript(i, p), Mode: 0o644})
		dep := ""
		if i > 0 {
			dep = ` --dependency=afterok:"$jid"`
		}
		// --parsable prints "jobid" or "jobid;cluster"; keep the id.
		fmt.Fprintf(&submit, "jid=$(sbatch --parsable%s %s)\njid=${jid%%%%;*}\necho %s \"$jid\"\n",
			dep, shellQuote(name), shellQuote(p.Name+":"))
	}
	files = append(files, File{Name: "submit.sh", Text: submit.String(), Mode: 0o755})
	return files, nil
}

// sbatchScript renders the batch script of pass p at position i. Every pass
// gets an --array, even a one-task pass (0-0), so SLURM_ARRAY_TASK_ID is
// always set and all scripts share one exec line.
func (s LaunchSpec) sbatchScript(i int, p LaunchPass) string {
	job := s.JobName + "-" + p.Name
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	opt := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "#SBATCH --%s=%s\n", k, v)
		}
	}
	opt("job-name", job)
	opt("array", fmt.Sprintf("0-%d", p.Tasks-1))
	opt("output", fmt.Sprintf("%s/%s-%%A_%%a.log", s.LogDir, job))
	opt("partition", s.Partition)
	opt("account", s.Account)
	opt("time", s.Time)
	opt("mem", s.Mem)
	if s.CPUs > 0 {
		opt("cpus-per-task", strconv.Itoa(s.CPUs))
	}
	for _, l := range s.ExtraSBatch {
		fmt.Fprintf(&b, "#SBATCH %s\n", l)
	}
	fmt.Fprintf(&b, "# Pass %d of %d: %s, %d task(s).\nset -euo pipefail\n", i+1, len(s.Passes), p.Name, p.Tasks)
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(s.Env[k]))
	}
	b.WriteString("exec " + shellQuote(s.Binary))
	for _, a := range s.runArgs(p) {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString(" --task \"$SLURM_ARRAY_TASK_ID\" --wait\n")
	return b.String()
}

// Kubernetes objects: only the fields winnow sets, in manifest order.
type (
	k8sJob struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   k8sMeta    `yaml:"metadata"`
		Spec       k8sJobSpec `yaml:"spec"`
	}
	k8sMeta struct {
		Name      string            `yaml:"name,omitempty"`
		Namespace string            `yaml:"namespace,omitempty"`
		Labels    map[string]string `yaml:"labels"`
	}
	k8sJobSpec struct {
		CompletionMode       string      `yaml:"completionMode"`
		Completions          int         `yaml:"completions"`
		Parallelism          int         `yaml:"parallelism"`
		BackoffLimit         *int        `yaml:"backoffLimit,omitempty"`
		BackoffLimitPerIndex *int        `yaml:"backoffLimitPerIndex,omitempty"`
		Template             k8sTemplate `yaml:"template"`
	}
	k8sTemplate struct {
		Metadata k8sMeta `yaml:"metadata"`
		Spec     k8sPod  `yaml:"spec"`
	}
	k8sPod struct {
		RestartPolicy      string         `yaml:"restartPolicy"`
		ServiceAccountName string         `yaml:"serviceAccountName,omitempty"`
		Containers         []k8sContainer `yaml:"containers"`
	}
	k8sContainer struct {
		Name      string        `yaml:"name"`
		Image     string        `yaml:"image"`
		Command   []string      `yaml:"command"`
		Args      []string      `yaml:"args"`
		Env       []k8sEnv      `yaml:"env,omitempty"`
		Resources *k8sResources `yaml:"resources,omitempty"`
	}
	k8sEnv struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	}
	k8sResources struct {
		Requests map[string]string `yaml:"requests"`
	}
)

const k8sHeader = `# winnow launch: one Indexed Job per pass.
# Kubernetes has no dependencies between Jobs, so apply them all at once:
# every task runs with --wait and polls until the earlier passes are done.
# Each pod reads its task index from JOB_COMPLETION_INDEX.
`

// RenderK8s renders one batch/v1 Indexed Job per pass as a multi-document
// YAML stream, marshalled from structs so quoting is always right.
func RenderK8s(s LaunchSpec) ([]byte, error) {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("k8s launch spec: %w", err)
	}
	if err := s.validateK8s(); err != nil {
		return nil, fmt.Errorf("k8s launch spec: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString(k8sHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, p := range s.Passes {
		if err := enc.Encode(s.k8sJob(p)); err != nil {
			return nil, fmt.Errorf("encoding job of pass %s: %w", p.Name, err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding jobs: %w", err)
	}
	return buf.Bytes(), nil
}

// validateK8s checks the Kubernetes fields and the Job names, which end up
// in a pod label and so must be DNS-1123 labels (at most 63 characters).
func (s LaunchSpec) validateK8s() error {
	if s.Image == "" {
		return fieldError("Image", "must not be empty")
	}
	if s.Namespace != "" && !isDNSLabel(s.Namespace) {
		return fieldError("Namespace", "%q is not a DNS-1123 label", s.Namespace)
	}
	if s.BackoffLimitPerIndex < 0 {
		return fieldError("BackoffLimitPerIndex", "%d, must not be negative", s.BackoffLimitPerIndex)
	}
	for i, p := range s.Passes {
		if name := s.JobName + "-" + p.Name; !isDNSLabel(name) {
			return fieldError(fmt.Sprintf("Passes[%d].Name", i), "job name %q is not a DNS-1123 label of at most 63 characters", name)
		}
	}
	return nil
}

func isDNSLabel(s string) bool { return len(s) <= 63 && dnsLabel.MatchString(s) }

// k8sLiteral escapes s for command, args and env values, where the kubelet
// expands $(VAR) and reduces $$ to $: doubling every $ keeps s literal, as
// the single quotes of the Slurm scripts do.
func k8sLiteral(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// k8sJob builds the Job of pass p.
func (s LaunchSpec) k8sJob(p LaunchPass) k8sJob {
	name := s.JobName + "-" + p.Name
	labels := map[string]string{"app.kubernetes.io/name": "winnow", "winnow.dev/pass": p.Name}
	args := append(s.runArgs(p), "--wait") // no --task: JOB_COMPLETION_INDEX
	for i := range args {
		args[i] = k8sLiteral(args[i])
	}
	c := k8sContainer{Name: "winnow", Image: s.Image, Command: []string{k8sLiteral(s.Binary)}, Args: args}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		c.Env = append(c.Env, k8sEnv{Name: k, Value: k8sLiteral(s.Env[k])})
	}
	req := map[string]string{"cpu": s.CPURequest, "memory": s.MemRequest}
	if maps.DeleteFunc(req, func(_, v string) bool { return v == "" }); len(req) > 0 {
		c.Resources = &k8sResources{Requests: req}
	}
	spec := k8sJobSpec{
		CompletionMode: "Indexed",
		Completions:    p.Tasks,
		Parallelism:    p.Tasks,
		Template: k8sTemplate{
			Metadata: k8sMeta{Labels: labels},
			Spec:     k8sPod{RestartPolicy: "Never", ServiceAccountName: s.ServiceAccount, Containers: []k8sContainer{c}},
		},
	}
	if n := s.BackoffLimitPerIndex; n > 0 {
		spec.BackoffLimitPerIndex = &n
	} else {
		n = 3
		spec.BackoffLimit = &n
	}
	return k8sJob{
		APIVersion: "batch/v1",
		Kind:       "Job",
		Metadata:   k8sMeta{Name: name, Namespace: s.Namespace, Labels: labels},
		Spec:       spec,
	}
}
