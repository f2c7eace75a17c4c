package filters

import "winnow/pipeline"

// Register adds every filter to the registry.
func Register(r *pipeline.Registry) {
	r.Register(LengthInfo)
	r.Register(QualityScoreInfo)
	r.Register(FlaggedInfo)
	r.Register(InstructionInfo)
	r.Register(ZhQuality.NewStageInfo())
	r.Register(TextStats.NewStageInfo())
	r.Register(GopherQuality.NewStageInfo())
	r.Register(GopherRepetition.NewStageInfo())
	r.Register(C4.NewStageInfo())
	r.Register(FineWeb.NewStageInfo())
}
