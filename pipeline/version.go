package pipeline

// Version is winnow's version, stored in every shard and manifest. Shards
// carry no timestamp, so one binary writes byte-identical shards every run.
const Version = "0.1.0"
