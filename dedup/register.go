package dedup

import "winnow/pipeline"

// Register adds the dedup stages to r.
func Register(r *pipeline.Registry) {
	r.Register(ExactInfo)
	r.Register(MinHashInfo)
}
