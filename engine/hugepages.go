package engine

// Weights and activations on huge pages.
//
// A batch-1 run reads every weight once: resnet18's 45 MB are 11 000 pages
// of 4 KiB, each a TLB entry, and on a virtual machine each TLB miss walks
// two page tables (the guest's and the host's). Where the kernel offers
// transparent huge pages only on request (/sys/kernel/mm/transparent_hugepage/enabled
// "madvise", the common default), the Go heap gets none, so a compiled plan
// asks for them on its large buffers (hugePages, per OS). Only the 2 MiB
// pages that lie wholly inside a buffer are asked for, so the process's
// resident memory does not grow; a buffer smaller than 2 MiB gains nothing.
// Results do not change: this is where the bytes live, not what they are.

// hugePageSize is the size of an x86-64 or arm64 (4 KiB granule) huge page.
const hugePageSize = 2 << 20

// adviseWeights asks for huge pages under every float weight buffer of p
// of at least hugePageSize: constants, packed Conv weights.
func (p *Program) adviseWeights() {
	add := func(f []float32) {
		if len(f)*4 >= hugePageSize {
			hugePages(f)
		}
	}
	for _, v := range p.values {
		if v.konst != nil {
			add(v.konst.f)
		}
	}
	var walk func(pr *program)
	walk = func(pr *program) {
		for _, s := range pr.steps {
			if ck, ok := s.k.(*convKernel); ok {
				for _, pa := range ck.packed {
					add(pa.data)
				}
				for _, pb := range ck.swapped {
					add(pb.data)
				}
			}
			for _, sub := range s.sub {
				walk(sub)
			}
		}
	}
	walk(p.main)
}
