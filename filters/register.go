package filters

import "winnow/pipeline"

// Register adds every filter to the registry.
func Register(r *pipeline.Registry) {
	r.Register(LengthInfo)
	r.Register(QualityScoreInfo)
}
