package engine

import (
	"fmt"
	"sync"
)

// SyncBatchNorm makes the training-mode BatchNormalizations (BNTrain) of
// t and its replicas compute their statistics over all their shards as
// one batch — what one process holding the whole batch computes (torch's
// model.train() on the batch, or its SyncBatchNorm) — instead of each
// replica over its own shard. Each BatchNormalization's forward (mean,
// then variance) and backward (Σδ, Σδ·x̂) wait for every member and sum
// the members' per-channel partial sums in member order (t first, then
// replicas as given), so results depend on the data and the number of
// members only. The primary's running statistics then move with the
// whole batch's statistics (unbiased over all of it).
//
// Every member must then run each Forward and Backward together (as
// train.Trainer does). A member whose Forward or Backward fails breaks the
// group: the others stop waiting and go on with their own shard's sums,
// and the step's error is the failing member's.
func SyncBatchNorm(t *Trainable, replicas ...*Trainable) error {
	members := append([]*Trainable{t}, replicas...)
	for _, r := range replicas {
		if len(r.bns) != len(t.bns) {
			return fmt.Errorf("%w: SyncBatchNorm: a replica has %d BatchNormalizations, the model %d", ErrInput, len(r.bns), len(t.bns))
		}
		for i, k := range t.bns {
			if r.bns[i].c != k.c {
				return fmt.Errorf("%w: SyncBatchNorm: BatchNormalization %d has %d channels in a replica, %d in the model", ErrInput, i, r.bns[i].c, k.c)
			}
		}
	}
	if len(members) < 2 {
		return nil
	}
	for i := range t.bns {
		s := &bnSync{slots: make([][]float64, len(members))}
		s.cond = sync.NewCond(&s.mu)
		for rank, m := range members {
			m.bns[i].sync, m.bns[i].rank = s, rank
		}
	}
	return nil
}

// bnSync is one BatchNormalization's rendezvous across the members.
type bnSync struct {
	mu      sync.Mutex
	cond    *sync.Cond
	slots   [][]float64 // per rank: its partial sums of this round
	arrived int
	gen     int
	total   []float64 // the last round's sum
	broken  bool
}

// allReduce returns the sum over the members of local (summed in rank
// order), once every member has given its own; after breakGroup, local.
func (s *bnSync) allReduce(rank int, local []float64) []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return local
	}
	s.slots[rank] = local
	s.arrived++
	gen := s.gen
	if s.arrived == len(s.slots) {
		tot := make([]float64, len(local))
		for _, sl := range s.slots {
			for i, v := range sl {
				tot[i] += v
			}
		}
		s.total, s.arrived = tot, 0
		s.gen++
		s.cond.Broadcast()
		return tot
	}
	for gen == s.gen && !s.broken {
		s.cond.Wait()
	}
	if gen == s.gen { // broken while waiting
		return local
	}
	return s.total
}

func (s *bnSync) breakGroup() {
	s.mu.Lock()
	s.broken = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// breakSync breaks t's BatchNormalization group when err is set (a
// member that stops must not leave the others waiting).
func (t *Trainable) breakSync(err *error) {
	if *err == nil {
		return
	}
	for _, k := range t.bns {
		if k.sync != nil {
			k.sync.breakGroup()
		}
	}
}
