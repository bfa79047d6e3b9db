package train

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
)

// The saved optimizer state (WriteTo, ReadState), little-endian:
//
//	magic "EPOPTST1" | step int64 | nparams uint32
//	nparams × { id: uint16 len + bytes | rank uint8 | rank × dim uint32 }
//	nslots uint32 | nslots × { name: uint16 len + bytes | per parameter, prod(dims) × float32 }
//
// Slots are written in name order, so a state always writes the same bytes.
// Every count is checked against a limit before anything is allocated, and
// values are read in bounded chunks, so a short or hostile file fails
// before it costs memory.
const stateMagic = "EPOPTST1"

const (
	maxStateParams = 1 << 16
	maxStateRank   = 8
	maxStateSlots  = 16
	maxStateElems  = 1 << 30 // per parameter
	maxStateName   = 1 << 12
	stateChunk     = 1 << 16 // float32 values read at once
)

var errState = errors.New("train: malformed optimizer state")

// WriteTo saves the state in the format above.
func (st *State) WriteTo(w io.Writer) (int64, error) {
	if len(st.IDs) > maxStateParams || len(st.Slots) > maxStateSlots {
		return 0, fmt.Errorf("train: optimizer state too large to save: %d parameters, %d slots", len(st.IDs), len(st.Slots))
	}
	for i, id := range st.IDs {
		if len(id) > maxStateName || (i < len(st.Shapes) && len(st.Shapes[i]) > maxStateRank) {
			return 0, fmt.Errorf("train: optimizer state: parameter %.40q: ID or rank too large to save", id)
		}
	}
	for name := range st.Slots {
		if len(name) > maxStateName {
			return 0, fmt.Errorf("train: optimizer state: slot name of %d bytes", len(name))
		}
	}
	cw := &countWriter{w: w}
	bw := bufio.NewWriter(cw)
	le := binary.LittleEndian
	var b [8]byte
	bw.WriteString(stateMagic)
	le.PutUint64(b[:], uint64(st.Step))
	bw.Write(b[:8])
	le.PutUint32(b[:], uint32(len(st.IDs)))
	bw.Write(b[:4])
	for i, id := range st.IDs {
		writeName(bw, id)
		var shape []int
		if i < len(st.Shapes) {
			shape = st.Shapes[i]
		}
		bw.WriteByte(byte(len(shape)))
		for _, d := range shape {
			le.PutUint32(b[:], uint32(d))
			bw.Write(b[:4])
		}
	}
	names := make([]string, 0, len(st.Slots))
	for name := range st.Slots {
		names = append(names, name)
	}
	sort.Strings(names)
	le.PutUint32(b[:], uint32(len(names)))
	bw.Write(b[:4])
	for _, name := range names {
		writeName(bw, name)
		for _, v := range st.Slots[name] {
			for _, x := range v {
				le.PutUint32(b[:], math.Float32bits(x))
				bw.Write(b[:4])
			}
		}
	}
	err := bw.Flush()
	return cw.n, err
}

func writeName(w *bufio.Writer, s string) {
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], uint16(len(s)))
	w.Write(b[:])
	w.WriteString(s)
}

// ReadState reads a state saved by WriteTo. It refuses a state that is not
// consistent with itself; Update checks it against the parameters.
func ReadState(r io.Reader) (*State, error) {
	st, err := readState(bufio.NewReader(r))
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: truncated", errState)
		}
		return nil, fmt.Errorf("train: reading optimizer state: %w", err)
	}
	if err := st.consistent(); err != nil {
		return nil, fmt.Errorf("train: reading optimizer state: %w", err)
	}
	return st, nil
}

func readState(r *bufio.Reader) (*State, error) {
	le := binary.LittleEndian
	var b [8]byte
	if _, err := io.ReadFull(r, b[:8]); err != nil {
		return nil, err
	}
	if string(b[:8]) != stateMagic {
		return nil, fmt.Errorf("%w: not a saved optimizer state (magic %q)", errState, b[:8])
	}
	if _, err := io.ReadFull(r, b[:8]); err != nil {
		return nil, err
	}
	st := &State{Step: int64(le.Uint64(b[:8])), Slots: map[string][][]float32{}}
	if _, err := io.ReadFull(r, b[:4]); err != nil {
		return nil, err
	}
	n := le.Uint32(b[:4])
	if n > maxStateParams {
		return nil, fmt.Errorf("%w: %d parameters, more than %d", errState, n, maxStateParams)
	}
	sizes := make([]int, 0, min(n, 1024))
	for range n {
		id, err := readName(r)
		if err != nil {
			return nil, err
		}
		rank, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if rank > maxStateRank {
			return nil, fmt.Errorf("%w: parameter %q: rank %d, more than %d", errState, id, rank, maxStateRank)
		}
		shape := make([]int, rank)
		size := 1
		for k := range shape {
			if _, err := io.ReadFull(r, b[:4]); err != nil {
				return nil, err
			}
			d := int(le.Uint32(b[:4]))
			if d > maxStateElems || (d > 0 && size > maxStateElems/d) {
				return nil, fmt.Errorf("%w: parameter %q: more than %d elements", errState, id, maxStateElems)
			}
			shape[k], size = d, size*d
		}
		st.IDs = append(st.IDs, id)
		st.Shapes = append(st.Shapes, shape)
		sizes = append(sizes, size)
	}
	if _, err := io.ReadFull(r, b[:4]); err != nil {
		return nil, err
	}
	ns := le.Uint32(b[:4])
	if ns > maxStateSlots {
		return nil, fmt.Errorf("%w: %d slots, more than %d", errState, ns, maxStateSlots)
	}
	buf := make([]byte, 4*stateChunk)
	for range ns {
		name, err := readName(r)
		if err != nil {
			return nil, err
		}
		if _, dup := st.Slots[name]; dup {
			return nil, fmt.Errorf("%w: slot %q twice", errState, name)
		}
		vals := make([][]float32, len(sizes))
		for i, size := range sizes {
			v := make([]float32, 0, min(size, stateChunk))
			for len(v) < size {
				k := min(size-len(v), stateChunk)
				if _, err := io.ReadFull(r, buf[:4*k]); err != nil {
					return nil, err
				}
				for j := range k {
					v = append(v, math.Float32frombits(le.Uint32(buf[4*j:])))
				}
			}
			vals[i] = v
		}
		st.Slots[name] = vals
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: bytes after the last slot", errState)
	}
	return st, nil
}

func readName(r *bufio.Reader) (string, error) {
	var b [2]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	n := int(binary.LittleEndian.Uint16(b[:]))
	if n > maxStateName {
		return "", fmt.Errorf("%w: a name of %d bytes", errState, n)
	}
	s := make([]byte, n)
	if _, err := io.ReadFull(r, s); err != nil {
		return "", err
	}
	return string(s), nil
}
