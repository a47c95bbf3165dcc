//go:build !race

package testsvc

// RaceEnabled reports whether the binary was built with -race (benchmarks
// that need more goroutines than the race detector allows skip then).
const RaceEnabled = false
