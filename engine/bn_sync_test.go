package engine

import (
	"context"
	"testing"
	"time"

	"github.com/edgeprune/edgeprune/internal/testmodels"
	"github.com/edgeprune/edgeprune/onnxio"
	"gorgonia.org/tensor"
)

// A member of a SyncBatchNorm group whose Forward fails does not leave the
// others waiting at a BatchNormalization: they finish on their own shard.
func TestSyncBatchNormBrokenMember(t *testing.T) {
	m, err := onnxio.ReadFile(testmodels.Shared(t, "mnist/bncnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := CompileTrainable(m, WithInputShape("input", 2, 1, 28, 28), WithBatchNorm(BNTrain))
	if err != nil {
		t.Fatal(err)
	}
	r, err := tr.Replica()
	if err != nil {
		t.Fatal(err)
	}
	if err := SyncBatchNorm(tr, r); err != nil {
		t.Fatal(err)
	}
	x := tensor.New(tensor.WithShape(2, 1, 28, 28), tensor.WithBacking(make([]float32, 2*28*28)))
	done := make(chan error, 1)
	go func() {
		_, err := tr.Forward(context.Background(), map[string]*tensor.Dense{"input": x})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // tr waits at its first BatchNormalization
	bad := tensor.New(tensor.WithShape(3, 1, 28, 28), tensor.WithBacking(make([]float32, 3*28*28)))
	if _, err := r.Forward(context.Background(), map[string]*tensor.Dense{"input": bad}); err == nil {
		t.Fatal("a batch of the wrong shape is accepted")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other member is still waiting after 10 s")
	}
}
