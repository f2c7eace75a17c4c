package stages

import "winnow/pipeline"

// Register adds the input readers and the per-document stages to r.
func Register(r *pipeline.Registry) {
	r.NewReader = NewFileReader
	r.Register(NormalizeInfo)
	r.Register(LangIDInfo)
	r.Register(SegmentInfo)
	r.Register(PIIInfo)
}
