#!/usr/bin/env bash
# Per node, edgeprune against ONNX Runtime on resnet18 at 1 and 2 threads
# (docs/benchmarks.md, "Threads", session 8): in each of 3 rounds, ORT's
# per-node profile at 1 and 2 threads (bench/ort_nodes.js, 40 runs) and
# bench/nodescale (every node at 1 thread, then at 2; medians of 40 runs);
# then per ORT node (ORT fuses conv2 + residual Add + Relu into one node, so
# edgeprune's three are summed) the medians of the rounds, sorted by what
# edgeprune loses at 2 threads. Since session 9 edgeprune folds the
# residual Add (and its Relu) into the convolution just before it: in a
# block with a downsample that is the downsample, so its row holds the Add
# and Relu that ORT counts in conv2's (compare block sums, not those rows).
#
#   go build -o /tmp/nodescale ./bench/nodescale
#   bench/priority-run bench/ort_nodes.sh /tmp/nodescale [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ns=$1
out=${2:-$(mktemp -d)}
model=${MODEL:-../shared/models/tv/resnet18.onnx}
mkdir -p "$out"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in 1 2 3; do
	node bench/ort_nodes.js "$model" input=1,3,224,224 1 40 "$out/ort1-$r.json"
	node bench/ort_nodes.js "$model" input=1,3,224,224 2 40 "$out/ort2-$r.json"
	"$ns" -runs 40 -top 1000 -q 0.5 "$model" input=1,3,224,224 >"$out/ep-$r.txt"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import json, sys, re, glob, statistics as st
d = sys.argv[1]
def ortmap(name):
    if name == '/relu/Relu_output_0_nchwc': return 'conv1'
    m = re.match(r'/(layer\d)/(layer\d\.\d)/(relu/Relu|conv2/Conv|downsample/downsample\.0/Conv)_output_0_nchwc', name)
    if m:
        t = {'relu/Relu':'conv1','conv2/Conv':'conv2+add+relu','downsample/downsample.0/Conv':'downsample'}[m.group(3)]
        return m.group(2)+' '+t
    if 'maxpool' in name: return 'maxpool'
    if 'fc' in name: return 'fc'
    return 'other'
def epmap(name):
    if name == '/conv1/Conv': return 'conv1'
    m = re.match(r'/(layer\d)/(layer\d\.\d)/(conv1/Conv|conv2/Conv|Add|relu_1/Relu|downsample/downsamp)', name)
    if m:
        t = {'conv1/Conv':'conv1','conv2/Conv':'conv2+add+relu','Add':'conv2+add+relu','relu_1/Relu':'conv2+add+relu','downsample/downsamp':'downsample'}[m.group(3)]
        return m.group(2)+' '+t
    if 'MaxPool' in name or 'maxpool' in name: return 'maxpool'
    if 'fc' in name: return 'fc'
    return 'other'
def ort(t):
    runs=[]
    for f in sorted(glob.glob(f'{d}/ort{t}-[0-9].json')):
        j=json.load(open(f)); agg={}
        for k,v in j['nodes'].items(): agg[ortmap(k)]=agg.get(ortmap(k),0)+v['med_us']
        runs.append((j['median_ms'],agg))
    return runs
def ep():
    runs=[]
    for f in sorted(glob.glob(f'{d}/ep-[0-9].txt')):
        a1={};a2={}; tot=None
        for line in open(f):
            m=re.search(r': total (\d+) → (\d+) µs',line)
            if m:  # nodescale's summary line (the model's path, whatever it is)
                tot=(int(m.group(1))/1000,int(m.group(2))/1000); continue
            p=line.split()
            if len(p)>=8 and p[0].startswith('/'):
                k=epmap(p[0]); a1[k]=a1.get(k,0)+float(p[-4]); a2[k]=a2.get(k,0)+float(p[-3])
        runs.append((tot,a1,a2))
    return runs
o1,o2,e=ort(1),ort(2),ep()
keys=[k for k in o1[0][1]]
med=lambda xs: st.median(xs)
print('whole run medians ms: ORT1', [round(r[0],2) for r in o1], 'ORT2', [round(r[0],2) for r in o2], 'ep1/ep2', [r[0] for r in e])
print('| node | ORT 1 µs | ep 1 µs | ORT 2 µs | ep 2 µs | ORT 1→2 | ep 1→2 | ep−ORT at 2, µs |')
print('|---|---:|---:|---:|---:|---:|---:|---:|')
rows=[]; S=[0]*4
for k in keys:
    a=med([r[1].get(k,0) for r in o1]); b=med([r[1].get(k,0) for r in e]); c=med([r[1].get(k,0) for r in o2]); dd=med([r[2].get(k,0) for r in e])
    rows.append((dd-c,k,a,b,c,dd))
for x in sorted(rows,reverse=True):
    dl,k,a,b,c,dd=x; S=[S[0]+a,S[1]+b,S[2]+c,S[3]+dd]
    print(f'| {k} | {a:.0f} | {b:.0f} | {c:.0f} | {dd:.0f} | {a/c if c else 0:.2f}× | {b/dd if dd else 0:.2f}× | {dl:+.0f} |')
print(f'| Σ | {S[0]:.0f} | {S[1]:.0f} | {S[2]:.0f} | {S[3]:.0f} | {S[0]/S[2]:.2f}× | {S[1]/S[3]:.2f}× | {S[3]-S[2]:+.0f} |')
PY
