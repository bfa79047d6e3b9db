package npdata

import "math"

func float32bits(f float32) uint32 { return math.Float32bits(f) }
