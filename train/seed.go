package train

import "math/rand/v2"

// Randomness streams. Every random choice of a run is drawn from a source
// derived from (seed, stream, index), so that any step can be replayed from
// the seed and the step number alone: resuming needs no saved RNG state.
const (
	streamShuffle uint64 = iota + 1 // index: epoch
	streamDropout                   // index: step
	streamAttack                    // index: step
)

// derive mixes a run seed, a stream and an index into a new seed
// (splitmix64 finaliser over the combination).
func derive(seed, stream, index uint64) uint64 {
	z := seed ^ (stream * 0x9e3779b97f4a7c15) ^ (index * 0xbf58476d1ce4e5b9)
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newRand returns a generator for (seed, stream, index).
func newRand(seed, stream, index uint64) *rand.Rand {
	return rand.New(rand.NewPCG(derive(seed, stream, index), stream))
}
