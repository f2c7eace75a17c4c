package trainer_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"winnow/trainer"
	"winnow/trainer/trainertest"
)

// tinyLlama builds a random Llama-style model directory with a byte-level
// BPE tokenizer trained on the fixtures' prose (tools/trainer/make_tiny_llama.py):
// no model hub is reachable here.
func tinyLlama(t *testing.T, py trainer.Interpreter) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "llama")
	texts, _ := filepath.Glob("../fixtures/corpus/zh-prose/*.txt")
	args := append([]string{"../tools/trainer/make_tiny_llama.py", dir}, texts...)
	if out, err := exec.Command(py.Path, args...).CombinedOutput(); err != nil {
		t.Fatalf("make_tiny_llama.py: %v\n%s", err, out)
	}
	return dir
}

// --model DIR fine-tunes a local Llama-style model with its own tokenizer,
// every weight or (--lora) a peft adapter.
func TestModelDir(t *testing.T) {
	py := trainertest.Python(t, "transformers", "tokenizers", "peft")
	model := tinyLlama(t, py)
	t.Run("full", func(t *testing.T) { fullFineTune(t, py, model) })
	t.Run("lora", func(t *testing.T) { loraFineTune(t, py, model) })
}

// fullFineTune: every weight trains; the saved model loads back with
// transformers, most of its tensors changed, with the model's tokenizer.
func fullFineTune(t *testing.T, py trainer.Interpreter, model string) {
	job := tinyJob(20)
	job.Preset, job.Model, job.LR = "", model, 3e-3
	o := options(t, py, job)
	res := train(t, o)
	ev := evals(t, o.Run)
	if res.Ready.Arch != "hf:llama" || ev[20] >= ev[0]-0.3 {
		t.Errorf("arch %s, held-out loss %.3f -> %.3f: want hf:llama and a clear drop", res.Ready.Arch, ev[0], ev[20])
	}
	check := pyCheck(t, py, `
import json, sys, torch, transformers
base = transformers.AutoModelForCausalLM.from_pretrained(sys.argv[1])
tuned = transformers.AutoModelForCausalLM.from_pretrained(sys.argv[2])
tok = transformers.AutoTokenizer.from_pretrained(sys.argv[2])
changed = sum(not torch.equal(a, b) for a, b in zip(base.state_dict().values(), tuned.state_dict().values()))
print(json.dumps({"changed": changed, "tensors": len(base.state_dict()), "eos": tok.eos_token}))
`, model, filepath.Join(o.Run, "final"))
	if check["changed"].(float64) < check["tensors"].(float64)/2 || check["eos"] != "<|endoftext|>" {
		t.Errorf("final/: %v; want most tensors changed and the model's tokenizer", check)
	}
	t.Logf("full fine-tune (%d params): held-out loss %.3f -> %.3f", res.Ready.Trainable, ev[0], ev[20])
}

// loraFineTune: only a peft adapter trains; the adapter saved in final/
// loads back with peft onto the untouched base model and holds exactly the
// trained weights of the last checkpoint, with non-zero LoRA B matrices
// (they start at zero), so the adapted model's logits differ from the base's.
func loraFineTune(t *testing.T, py trainer.Interpreter, model string) {
	job := tinyJob(20)
	job.Preset, job.Model, job.LoRA, job.LR = "", model, true, 1e-2
	o := options(t, py, job)
	res := train(t, o)
	ev := evals(t, o.Run)
	if res.Ready.Trainable >= res.Ready.Params/5 || ev[20] >= ev[0] {
		t.Errorf("%d of %d params trainable, held-out loss %.3f -> %.3f: want a small adapter that learns",
			res.Ready.Trainable, res.Ready.Params, ev[0], ev[20])
	}
	check := pyCheck(t, py, `
import json, sys, torch, transformers, peft
base = transformers.AutoModelForCausalLM.from_pretrained(sys.argv[1])
x = torch.arange(1, 33).unsqueeze(0)
with torch.no_grad():
    before = base(input_ids=x).logits
model = peft.PeftModel.from_pretrained(base, sys.argv[2])
trained = torch.load(sys.argv[3], map_location="cpu", weights_only=False)["model"]
params = dict(model.named_parameters())
equal = sum(torch.equal(params[k], v) for k, v in trained.items() if k in params)
nonzero_b = sum(int(bool(p.abs().sum() > 0)) for k, p in params.items() if "lora_B" in k)
with torch.no_grad():
    after = model(input_ids=x).logits
print(json.dumps({"trained": len(trained), "equal": equal, "lora_b": sum("lora_B" in k for k in params),
                  "nonzero_b": nonzero_b, "logit_change": float((after - before).abs().max())}))
`, model, filepath.Join(o.Run, "final", "adapter"), filepath.Join(o.Run, "ckpt", "step-0000020", "state.pt"))
	if check["trained"].(float64) == 0 || check["equal"] != check["trained"] || check["nonzero_b"] != check["lora_b"] ||
		check["logit_change"].(float64) == 0 {
		t.Errorf("adapter loaded with peft: %v; want every trained tensor equal, every lora_B non-zero, changed logits", check)
	}
	t.Logf("LoRA: %d of %d params trainable, held-out loss %.3f -> %.3f; reloaded: %v", res.Ready.Trainable, res.Ready.Params, ev[0], ev[20], check)
}

// pyCheck runs a Python snippet with args and decodes the JSON it prints last.
func pyCheck(t *testing.T, py trainer.Interpreter, script string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(py.Path, append([]string{"-c", script}, args...)...)
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python check: %v\n%s", err, stderr.Bytes())
	}
	var v map[string]any
	if err := json.Unmarshal(lastLine(out), &v); err != nil {
		t.Fatalf("python check printed %q: %v", out, err)
	}
	return v
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}
