#!/usr/bin/env bash
# Fine-tuned builds of the MNIST models against uniform structured pruning
# fine-tuned the same way, over several seeds (docs/profiles.md, "MNIST
# after fine-tuning, several seeds"), ending with one summary table:
#   [SHARED=../shared] [SEEDS="1 2 3"] [NICE=10] [FRACS="0.5 0.3"] [EPOCHS=3] [BUILD_ARGS=...] \
#     bench/build_mnist_ft.sh PROFILE OUT [MODEL...]   (default lenet5 bncnn)
# For each MODEL, latency budget FRAC of the original's (--budget
# latency_ms=FRAC: the build judges the built model's latency over the
# original's timed interleaved with it; 1 thread) and SEED: edgeprune build
# with --train mnist_train.npz (bncnn's own training recipe: EPOCHS epochs,
# batch 128, sgd momentum 0.9, weight decay 1e-4, one-cycle lr max 0.1,
# BatchNorm train, --seed SEED, which also draws the 1/8 epoch each
# candidate is probed on), damage and candidate scores on the first 256
# MNIST test images, verification on the next 2,000; BUILD_ARGS are added
# to every build (e.g. --probe-fraction 0.25).
# Uniform structured pruning (layer scope, rounded to UROUND) at 0.1 … 0.9.
# Then ONE interleaved timing run per model (bench/buildcmp time: the
# original, every build and every uniform model, 8 rounds, p50 of each,
# ratio to the original's in the same round, median over rounds): each
# build is paired with the uniform model of least sparsity whose ratio is
# ≤ the build's, fine-tuned by edgeprune finetune with the same recipe and
# the same seed. Everything is scored on all 10,000 test images.
# Summary per model and budget: mean ± sd over seeds of the top-1 of the
# builds and of their uniform pairs, of the paired difference, and the
# ratios; and the ceiling, the original fine-tuned alike per seed
# (CEILING=0: skipped). Builds and the timing run go through bench/priority-run (global
# lock, nice -15; BUILD_RUN="chrt -i 0" runs the builds, fine-tuning included, at
# SCHED_IDLE instead and keeps only the timing under the lock); pruning, uniform
# fine-tunes and evals at SCHED_IDLE or nice NICE (default: SCHED_IDLE, chrt -i 0).
# REUSE=1 keeps the builds already in OUT (OUT/MODEL-FRAC-sSEED with its
# build.json, e.g. from a run stopped after them) and goes on from there.
# TEACHER=1 distils from the unpruned MODEL on both sides (--teacher MODEL
# --alpha ALPHA, default 0.5: (1-α)·KD + α·CE, T 4): the build's probes and
# fine-tune, the uniform fine-tunes and the ceiling alike.
# UROUND (default 8): the uniform models' channel rounding (--round-to; 4
# with a profile whose search.structured.round_to is 4).
# Each build is also paired with the least pruned uniform model whose
# interleaved ratio is within the budget FRAC (the uniform pruning a user
# would pick for the same budget), fine-tuned alike: "uniform in budget".
set -euo pipefail
cd "$(dirname "$0")/.."
prof=$(realpath "$1")
out=$2
models=("${@:3}")
[ ${#models[@]} -gt 0 ] || models=(lenet5 bncnn)
seeds=(${SEEDS:-1 2 3})
fracs=(${FRACS-0.5 0.3}) # FRACS="" with CEILING=1: the ceiling alone
extra=(${BUILD_ARGS:-})
shared=$(realpath "${SHARED:-../shared}") # SHARED: the reference data (../shared beside the main checkout)
lock=${BENCH_RUN:-bench/priority-run}
read -ra build_run <<<"${BUILD_RUN:-$lock}"
mkdir -p "$out"
[ -x "$out/edgeprune" ] || go build -o "$out/edgeprune" ./cmd/edgeprune
[ -x "$out/buildcmp" ] || go build -o "$out/buildcmp" ./bench/buildcmp
ep="$out/edgeprune"
epochs=${EPOCHS:-3}
# The pruning, uniform fine-tunes and evals run at SCHED_IDLE (chrt -i 0:
# they yield the CPU to any timing run), or at nice NICE when NICE is set.
lowpri=(chrt -i 0)
[ -z "${NICE:-}" ] || lowpri=(nice -n "$NICE")
teacher="" # the model distilled from (TEACHER=1), set per model below
recipe() { # the training flags; $1 is the epochs flag's name, $2 the batch's, $3 the seed
	echo "$1 $epochs $2 128 --lr 0.1 --schedule onecycle --weight-decay 1e-4 --bn train --seed $3${teacher:+ --teacher $teacher --alpha ${ALPHA:-0.5}}"
}
top1() {
	"${lowpri[@]}" "$ep" eval "$1" --data "$shared/data/mnist_test.npz" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["top1"])'
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
t_start=$(date +%s)
echo "host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus; $(date -u '+%F %T UTC'); load before: $(load); EPOCHS=$epochs SEEDS=${seeds[*]} FRACS=${fracs[*]} BUILD_ARGS=${extra[*]:-} TEACHER=${TEACHER:-} ALPHA=${ALPHA:-}"
res="$out/results.jsonl"
: >"$res"
for m in "${models[@]}"; do
	model=$shared/models/mnist/$m.onnx
	[ -z "${TEACHER:-}" ] || teacher=$model
	dtop=$(top1 "$model")
	echo "== $m: top-1 $dtop"
	timed=("$model")
	for frac in "${fracs[@]}"; do
		b=$(python3 -c "print(round($frac*100))")%
		for seed in "${seeds[@]}"; do
			d="$out/$m-$frac-s$seed"
			if [ -n "${REUSE:-}" ] && [ -f "$d/build.json" ]; then
				timed+=("$d/model.onnx")
				echo "-- $m $b seed $seed: build reused from $d (REUSE)"
				continue
			fi
			rm -rf "$d"
			start=$(date +%s)
			set +e
			# shellcheck disable=SC2046
			"${build_run[@]}" "$ep" build "$model" --profile "$prof" --budget "latency_ms=$b" \
				--data "$shared/data/mnist_test.npz" --calib-images 256 --verify-images 2000 \
				--train "$shared/data/mnist_train.npz" $(recipe --finetune-epochs --train-batch "$seed") "${extra[@]}" -o "$d" >"$d.out" 2>"$d.log"
			code=$?
			set -e
			kept=""
			if [ "$code" = 0 ]; then
				timed+=("$d/model.onnx")
				kept=$(python3 -c 'import json,sys;r=json.load(open(sys.argv[1]));print(next((c["name"]+" "+str(c["kept"]) for c in (r.get("selection") or {}).get("candidates",[]) if c.get("chosen")), "solver"))' "$d/build.json")
			fi
			echo "-- $m $b seed $seed: build exit $code, wall $(($(date +%s) - start)) s (lock wait included); load $(load); kept: $kept"
		done
	done
	for s in 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9; do
		u="$out/$m-uniform-$s.onnx"
		[ -f "$u" ] || "${lowpri[@]}" "$ep" prune "$model" -o "$u" --structured --sparsity "$s" --scope layer --round-to "${UROUND:-8}" >/dev/null
		timed+=("$u")
	done
	if [ ${#fracs[@]} -gt 0 ]; then
		echo "-- $m: interleaved timing of ${#timed[@]} models; load $(load)"
		"$lock" "$out/buildcmp" time -threads 1 -runs 15 -rounds 8 "${timed[@]}" >"$out/$m.time"
	fi
	# Pair each build with the least pruned uniform model at ≤ its ratio.
	for frac in "${fracs[@]}"; do
		for seed in "${seeds[@]}"; do
			d="$out/$m-$frac-s$seed"
			if [ ! -f "$d/model.onnx" ]; then
				echo "{\"model\":\"$m\",\"frac\":$frac,\"seed\":$seed,\"exit\":\"$(grep -o 'budgets cannot be met: .*' "$d.log" | head -1 | tr -d '"')\"}" >>"$res"
				continue
			fi
			us=$(python3 - "$out/$m.time" "$d/model.onnx" <<-'EOF'
				import json, sys
				T = {j['model']: j for j in map(json.loads, open(sys.argv[1]))}
				r = T[sys.argv[2]]['ratio']
				us = sorted((float(k.rsplit('-', 1)[1][:-5]), k) for k in T if '-uniform-' in k and T[k]['ratio'] <= r)
				print(us[0][0] if us else '')
			EOF
			)
			ub=$(python3 - "$out/$m.time" "$frac" <<-'EOF'
				import json, sys
				T = {j['model']: j for j in map(json.loads, open(sys.argv[1]))}
				us = sorted(float(k.rsplit('-', 1)[1][:-5]) for k in T if '-uniform-' in k and T[k]['ratio'] <= float(sys.argv[2]))
				print(us[0] if us else '')
			EOF
			)
			btop=$(top1 "$d/model.onnx")
			utop=null
			if [ -n "$us" ]; then
				u="$out/$m-uniform-$us.onnx"
				# shellcheck disable=SC2046
				[ -f "$u.s$seed.ft.onnx" ] || "${lowpri[@]}" "$ep" finetune "$u" -o "$u.s$seed.ft.onnx" --data "$shared/data/mnist_train.npz" $(recipe --epochs --batch "$seed") >"$u.s$seed.ft.log" 2>&1
				utop=$(top1 "$u.s$seed.ft.onnx")
			fi
			ubtop=null
			if [ -n "$ub" ]; then
				u="$out/$m-uniform-$ub.onnx"
				# shellcheck disable=SC2046
				[ -f "$u.s$seed.ft.onnx" ] || "${lowpri[@]}" "$ep" finetune "$u" -o "$u.s$seed.ft.onnx" --data "$shared/data/mnist_train.npz" $(recipe --epochs --batch "$seed") >"$u.s$seed.ft.log" 2>&1
				ubtop=$(top1 "$u.s$seed.ft.onnx")
			fi
			python3 - "$out/$m.time" "$d" "$m" "$frac" "$seed" "$btop" "$utop" "${us:-null}" "$dtop" "${ub:-null}" "$ubtop" >>"$res" <<-'EOF'
				import json, sys
				T = {j['model']: j for j in map(json.loads, open(sys.argv[1]))}
				d, m, frac, seed, btop, utop, us, dtop, ub, ubtop = sys.argv[2:]
				j = json.load(open(d + '/build.json'))
				kept = next((c for c in (j.get('selection') or {}).get('candidates', []) if c.get('chosen')), None)
				u = None if us == 'null' else T[d.rsplit('/', 1)[0] + '/' + m + '-uniform-' + us + '.onnx']
				print(json.dumps({'model': m, 'frac': float(frac), 'seed': int(seed), 'dense_top1': float(dtop),
					'build_top1': float(btop), 'build_ratio_in_build': j['after'].get('measured_ratio'),
					'build_ratio': T[d + '/model.onnx']['ratio'], 'kept': kept and kept['name'], 'kept_channels': kept and kept['kept'],
					'uniform': None if us == 'null' else float(us), 'uniform_ratio': u and u['ratio'],
					'uniform_top1': None if utop == 'null' else float(utop),
					'uniform_budget': None if ub == 'null' else float(ub),
					'uniform_budget_ratio': None if ub == 'null' else T[d.rsplit('/', 1)[0] + '/' + m + '-uniform-' + ub + '.onnx']['ratio'],
					'uniform_budget_top1': None if ubtop == 'null' else float(ubtop)}))
			EOF
			tail -1 "$res"
		done
	done
	[ "${CEILING:-1}" = 1 ] || continue
	# The ceiling: the original itself fine-tuned alike, per seed.
	for seed in "${seeds[@]}"; do
		c="$out/$m-dense.s$seed.ft.onnx"
		# shellcheck disable=SC2046
		[ -f "$c" ] || "${lowpri[@]}" "$ep" finetune "$model" -o "$c" --data "$shared/data/mnist_train.npz" $(recipe --epochs --batch "$seed") >"$c.log" 2>&1
		echo "{\"model\":\"$m\",\"seed\":$seed,\"dense_top1\":$dtop,\"ceiling_top1\":$(top1 "$c")}" >>"$res"
		tail -1 "$res"
	done
done
echo "load after: $(load); $(($(date +%s) - t_start)) s in all"
echo
python3 - "$res" <<-'EOF'
	import json, statistics as st, sys
	R = [json.loads(l) for l in open(sys.argv[1])]
	C = [r for r in R if 'ceiling_top1' in r]
	R = [r for r in R if 'frac' in r]
	def ms(xs, k=100):
	    xs = [k * x for x in xs if x is not None]
	    if not xs: return '–'
	    return '%.2f ± %.2f' % (st.mean(xs), st.stdev(xs)) if len(xs) > 1 else '%.2f' % xs[0]
	print('| model (dense top-1), budget | seeds | build top-1 (%) | build ratio (interleaved) | uniform sparsity paired | uniform ratio | uniform top-1 (%) | build − uniform (points, paired) | uniform in budget: sparsity, ratio, top-1 (%) | build − uniform in budget | kept candidates |')
	print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
	for m in dict.fromkeys(r['model'] for r in R):
	    for f in dict.fromkeys(r['frac'] for r in R if r['model'] == m):
	        rs = [r for r in R if r['model'] == m and r['frac'] == f]
	        ok = [r for r in rs if 'build_top1' in r]
	        pair = [r for r in ok if r['uniform_top1'] is not None]
	        rng = lambda k, rr: '%.3f–%.3f' % (min(r[k] for r in rr), max(r[k] for r in rr)) if rr else '–'
	        kc = '; '.join('%s %s' % (r['kept'], r['kept_channels']) for r in ok)
	        ub = [r for r in ok if r.get('uniform_budget_top1') is not None]
	        ubc = '%s, %s, %s' % (' '.join(str(r['uniform_budget']) for r in ub) or '–', rng('uniform_budget_ratio', ub), ms([r['uniform_budget_top1'] for r in ub]))
	        ubd = ms([r['build_top1'] - r['uniform_budget_top1'] for r in ub]) + (' (n=%d)' % len(ub) if len(ub) != len(ok) else '')
	        fails = len(rs) - len(ok)
	        print('| %s (%.2f%%), %d%% | %d%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (m, 100 * rs[0].get('dense_top1', ok[0]['dense_top1'] if ok else 0), round(100 * f), len(rs),
	              ' (%d failed)' % fails if fails else '', ms([r['build_top1'] for r in ok]), rng('build_ratio', ok),
	              ' '.join(str(r['uniform']) for r in ok), rng('uniform_ratio', pair), ms([r['uniform_top1'] for r in pair]),
	              ms([r['build_top1'] - r['uniform_top1'] for r in pair]) + (' (n=%d)' % len(pair) if len(pair) != len(ok) else ''), ubc, ubd, kc))
	for m in dict.fromkeys(r['model'] for r in C):
	    cs = [r for r in C if r['model'] == m]
	    print('\nceiling, %s fine-tuned alike (%d seeds): top-1 %s%% (dense %.2f%%)' % (m, len(cs), ms([r['ceiling_top1'] for r in cs]), 100 * cs[0]['dense_top1']))
EOF
