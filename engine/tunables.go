package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Tunables is the one table of the engine's machine-dependent numbers:
// what the scheduler's cost model knows of this machine (how long a
// parallel region costs, how fast one goroutine does a multiply-add or
// moves a float) and the kernel sizes that are chosen by measurement
// rather than fixed. Kernels read them from here; a new tunable is added
// here, with its default, its check in Validate and its measurement in
// MeasureTunables.
//
// The defaults are the values measured on the machine the engine was
// developed on (AMD EPYC Zen 5, AVX-512); a process uses them until it
// measures its own (at the first Compile with more than one thread, see
// activeTunables) or is given some with SetTunables (edgeprune tune writes
// them to a cache file that the CLI loads).
type Tunables struct {
	// CPU and GOARCH are the machine the numbers were measured on; a
	// cache file from another machine is not used.
	CPU    string `json:"cpu"`
	GOARCH string `json:"goarch"`
	// Measured says how the numbers were obtained: "default", "startup"
	// (a few milliseconds at the first parallel Compile) or "tune".
	Measured string `json:"measured"`

	// ForkJoinNs is the cost of one parallel region on 2 goroutines whose
	// helper is spinning: handing it out and collecting it, in ns.
	ForkJoinNs float64 `json:"fork_join_ns"`
	// NsPerMAC is one goroutine's time per multiply-add of the SGEMM
	// micro-kernel on a mid-sized product (conv-like shapes).
	NsPerMAC float64 `json:"ns_per_mac"`
	// NsPerElem is one goroutine's time per float an element-wise pass
	// moves (y = x + z: two read, one written, the engine's vector kernel),
	// from memory that does not fit in L2.
	NsPerElem float64 `json:"ns_per_elem"`
	// GemmNC is the width (columns of B and C) of the SGEMM column block
	// that one packed copy of B covers (sgemm.go).
	GemmNC int `json:"gemm_nc"`
}

// DefaultTunables returns the built-in values (see Tunables).
func DefaultTunables() Tunables {
	return Tunables{CPU: cpuModel(), GOARCH: runtime.GOARCH, Measured: "default",
		ForkJoinNs: 1500, NsPerMAC: 0.015, NsPerElem: 0.05, GemmNC: defaultGemmNC}
}

const defaultGemmNC = 512

// gemmNCCandidates are the column-block widths MeasureTunables tries.
var gemmNCCandidates = []int{256, 512, 1024, 2048}

// Validate reports a Tunables with a value out of range, naming the field.
func (t Tunables) Validate() error {
	var errs []error
	check := func(name string, v, lo, hi float64) {
		if !(v >= lo && v <= hi) {
			errs = append(errs, fmt.Errorf("engine: tunables: %s = %g: must be in [%g, %g]", name, v, lo, hi))
		}
	}
	// Wide ranges: a Pi Zero's Go loops under qemu are 10⁴× slower than
	// AVX-512 on a server.
	check("fork_join_ns", t.ForkJoinNs, 1, 1e8)
	check("ns_per_mac", t.NsPerMAC, 1e-4, 1e4)
	check("ns_per_elem", t.NsPerElem, 1e-3, 1e5)
	if !slices.Contains(gemmNCCandidates, t.GemmNC) {
		errs = append(errs, fmt.Errorf("engine: tunables: gemm_nc = %d: must be one of %v", t.GemmNC, gemmNCCandidates))
	}
	return errors.Join(errs...)
}

var tunables struct {
	once sync.Once
	cur  atomic.Pointer[Tunables]
}

// SetTunables makes t the tunables of every plan compiled afterwards (plans
// already compiled keep their per-node thread choices; GemmNC applies to
// every SGEMM from now on). It does not change results: every tunable only
// moves work between goroutines or blocks, never the order of a sum.
func SetTunables(t Tunables) error {
	if err := t.Validate(); err != nil {
		return err
	}
	tunables.once.Do(func() {}) // no start-up measurement after this
	tunables.cur.Store(&t)
	gemmNC = t.GemmNC
	return nil
}

// ActiveTunables returns the tunables in use: those given to SetTunables,
// else those measured at the first parallel Compile, else the defaults.
func ActiveTunables() Tunables {
	if t := tunables.cur.Load(); t != nil {
		return *t
	}
	return DefaultTunables()
}

// activeTunables is ActiveTunables for a plan that runs on threads
// goroutines: the first time one has more than one, and no SetTunables
// came before, the scheduling numbers are measured (a few ms; the kernel
// sizes keep their defaults — measuring them is MeasureTunables' job).
func activeTunables(threads int) Tunables {
	if threads > 1 {
		tunables.once.Do(func() {
			t := measureSchedule(DefaultTunables(), 3)
			t.Measured = "startup"
			if t.Validate() == nil {
				tunables.cur.Store(&t)
			}
		})
	}
	return ActiveTunables()
}

// MeasureTunables measures every tunable on this machine: the scheduling
// numbers (repeated, keeping the fastest of each), then each GemmNC
// candidate on conv-like products, keeping the default unless another is
// at least 5% faster. It takes a few seconds; edgeprune tune runs it.
func MeasureTunables() Tunables {
	t := measureSchedule(DefaultTunables(), 15)
	t.Measured = "tune"
	t.GemmNC = measureGemmNC(t.GemmNC)
	return t
}

// measureSchedule fills ForkJoinNs, NsPerMAC and NsPerElem from the fastest
// of reps measurements of each timing.
func measureSchedule(t Tunables, reps int) Tunables {
	// Each timing is repeated reps times, or until it has taken 20 ms (on
	// a slow core or under an emulator one repetition is enough).
	const budget = 20 * time.Millisecond
	fastest := func(f func() float64) float64 {
		best := math.Inf(1)
		t0 := time.Now()
		for i := 0; i < reps && (i == 0 || time.Since(t0) < budget); i++ {
			best = min(best, f())
		}
		return best
	}
	// Fork/join: a region of two equal chunks on 2 goroutines, back to
	// back (so the helper is spinning, as between a run's nodes), against
	// one chunk on the caller alone. The difference is what a region costs
	// beyond its work: handing out, collecting, and any wait for the
	// helper (a late helper leaves both chunks to the caller).
	work := make([]float32, 1024)
	var sink atomic.Uint32
	chunk := func(lo, hi int) {
		s := float32(0)
		for range hi - lo {
			for _, v := range work {
				s = s*0.999 + v
			}
		}
		sink.Add(math.Float32bits(s))
	}
	ensureWorkers(1)
	parallelForChunks(2, 2, 2, chunk)
	const regions = 50
	timeRegions := func(f func()) float64 {
		t0 := time.Now()
		for range regions {
			f()
		}
		return float64(time.Since(t0).Nanoseconds()) / regions
	}
	one, par := math.Inf(1), math.Inf(1)
	for i, t0 := 0, time.Now(); i < reps && (i == 0 || time.Since(t0) < budget); i++ {
		one = min(one, timeRegions(func() { chunk(0, 1) }))
		par = min(par, timeRegions(func() { parallelForChunks(2, 2, 2, chunk) }))
	}
	t.ForkJoinNs = max(1, par-one)
	// Multiply-adds: 64×196 by 576 deep, a mid-sized 3×3 conv.
	const m, n, k = 64, 196, 576
	a, b, c := gemmOperands(m, n, k)
	sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n, 1)
	t.NsPerMAC = fastest(func() float64 {
		t0 := time.Now()
		sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n, 1)
		return float64(time.Since(t0).Nanoseconds()) / (m * n * k)
	})
	// Element-wise: y = x + z over 2¹⁸ floats (3 MiB in all, past L2) with
	// the engine's own vector kernel, per float moved (read or written):
	// the unit scheduleThreads counts a node's elements in (its inputs and
	// outputs). Session 7 timed a scalar Go loop per output float, 6–10×
	// the fused AVX-512 kernels' real time, and sent nodes of a few µs to
	// two goroutines.
	const e = 1 << 18
	x, z, y := make([]float32, e), make([]float32, e), make([]float32, e)
	vecAdd(y, x, z)
	t.NsPerElem = fastest(func() float64 {
		t0 := time.Now()
		vecAdd(y, x, z)
		return float64(time.Since(t0).Nanoseconds()) / (3 * e)
	})
	return t
}

// measureGemmNC times one goroutine's SGEMM on three conv-like products
// (resnet18's 3×3 layers at 56², 28² and 14²) for every GemmNC candidate,
// in interleaved rounds, and returns the fastest if it beats def by 5%.
func measureGemmNC(def int) int {
	shapes := [][3]int{{64, 3136, 576}, {128, 784, 1152}, {256, 196, 2304}}
	type buf struct{ a, b, c []float32 }
	bufs := make([]buf, len(shapes))
	for i, s := range shapes {
		a, b, c := gemmOperands(s[0], s[1], s[2])
		bufs[i] = buf{a, b, c}
	}
	saved := gemmNC
	defer func() { gemmNC = saved }()
	best := make([]float64, len(gemmNCCandidates))
	for i := range best {
		best[i] = math.Inf(1)
	}
	for range 11 {
		for ci, nc := range gemmNCCandidates {
			gemmNC = nc
			t0 := time.Now()
			for i, s := range shapes {
				sgemm(false, false, s[0], s[1], s[2], 1, bufs[i].a, s[2], bufs[i].b, s[1], 0, bufs[i].c, s[1], 1)
			}
			best[ci] = min(best[ci], float64(time.Since(t0).Nanoseconds()))
		}
	}
	di := slices.Index(gemmNCCandidates, def)
	bi := 0
	for i := range best {
		if best[i] < best[bi] {
			bi = i
		}
	}
	if di >= 0 && best[bi] > best[di]*0.95 {
		return def
	}
	return gemmNCCandidates[bi]
}

// gemmOperands are the operands of an m×n by k product that the
// measurements time: A and B filled with small repeating values, C.
func gemmOperands(m, n, k int) (a, b, c []float32) {
	a, b, c = make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for i := range a {
		a[i] = float32(i%7) * 0.1
	}
	for i := range b {
		b[i] = float32(i%5) * 0.1
	}
	return a, b, c
}

// TunablesPath is where edgeprune tune caches this machine's tunables:
// edgeprune/tunables-GOARCH.json under the user cache directory.
func TunablesPath() (string, error) {
	return userCachePath("tunables", "tunables-"+runtime.GOARCH+".json")
}

// ErrTunablesOtherMachine: a tunables file measured on another CPU.
var ErrTunablesOtherMachine = errors.New("engine: tunables measured on another machine")

// LoadTunables reads a tunables file and checks it: its values in range,
// measured on this CPU and GOARCH (else ErrTunablesOtherMachine).
func LoadTunables(path string) (Tunables, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Tunables{}, err
	}
	var t Tunables
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Tunables{}, fmt.Errorf("engine: %s: %w (delete it or run edgeprune tune again)", path, err)
	}
	if err := t.Validate(); err != nil {
		return Tunables{}, fmt.Errorf("%s: %w (delete it or run edgeprune tune again)", path, err)
	}
	if t.CPU != cpuModel() || t.GOARCH != runtime.GOARCH {
		return Tunables{}, fmt.Errorf("%s: %w (%s %s, this is %s %s): run edgeprune tune",
			path, ErrTunablesOtherMachine, t.CPU, t.GOARCH, cpuModel(), runtime.GOARCH)
	}
	return t, nil
}

// SaveTunables writes t to path atomically, creating its directory.
func SaveTunables(path string, t Tunables) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return saveJSON(path, "tunables", t)
}

// cpuModel is the CPU's model name from /proc/cpuinfo ("model name" on
// x86, "Model"/"Hardware" or the first "CPU part" on ARM), or GOARCH. It
// is read once: DefaultTunables, which every Compile may call, needs it.
var cpuModel = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, key := range []string{"model name", "Model", "Hardware", "CPU part"} {
			for _, line := range strings.Split(string(b), "\n") {
				k, v, ok := strings.Cut(line, ":")
				if ok && strings.TrimSpace(k) == key {
					return strings.TrimSpace(v)
				}
			}
		}
	}
	return runtime.GOARCH
})
