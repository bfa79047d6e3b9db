// ort_nodes.js times one model in ONNX Runtime with its per-node profiler on
// and writes each node's median kernel time (µs) over the timed runs, for the
// per-node comparison with edgeprune in docs/benchmarks.md, "Threads"
// (bench/ort_nodes.sh runs it). One session, sequential execution, intra-op
// threads N, no spinning, all graph optimisations (as bench/ort_latency.js).
//
//   node bench/ort_nodes.js MODEL NAME=D0,D1,... THREADS RUNS OUT.json
//
// OUT.json: {"median_ms": whole run, "nodes": {name: {op, med_us, n}}}.
'use strict';
const path=require('path'),os=require('os'),fs=require('fs');
const ort=require(path.join(process.env.EDGEPRUNE_ORT_DIR||path.join(process.env.EDGEPRUNE_CACHE||path.join(os.homedir(),'.cache','edgeprune'),'ort'),'node_modules','onnxruntime-node'));
(async()=>{
 const [model,spec,th,runs,out]=process.argv.slice(2);
 const [name,ds]=spec.split('=');const dims=ds.split(',').map(Number);
 const n=dims.reduce((a,b)=>a*b,1);const data=new Float32Array(n);for(let i=0;i<n;i++)data[i]=Math.random();
 const prefix=out.replace(/\.json$/,'')+'_prof';
 const sess=await ort.InferenceSession.create(model,{intraOpNumThreads:+th,interOpNumThreads:1,executionMode:'sequential',graphOptimizationLevel:'all',enableProfiling:true,profileFilePrefix:prefix,extra:{session:{intra_op:{allow_spinning:'0'}}}});
 const feeds={[name]:new ort.Tensor('float32',data,dims)};
 for(let i=0;i<3;i++)await sess.run(feeds);
 const ts=[];for(let i=0;i<+runs;i++){const t0=process.hrtime.bigint();await sess.run(feeds);ts.push(Number(process.hrtime.bigint()-t0)/1e6);}
 sess.endProfiling();
 await new Promise(r=>setTimeout(r,200));
 const f=fs.readdirSync(path.dirname(prefix)).filter(x=>x.startsWith(path.basename(prefix))).map(x=>path.join(path.dirname(prefix),x)).sort().pop();
 const ev=JSON.parse(fs.readFileSync(f));
 const per={};
 for(const e of ev){ if(e.cat!=='Node'||!e.name.endsWith('_kernel_time'))continue; const k=e.name.replace(/_kernel_time$/,''); (per[k]=per[k]||{op:e.args.op_name,d:[]}).d.push(e.dur);}
 const med=a=>{a=a.slice(-(+runs)).sort((x,y)=>x-y);return a[(a.length-1)>>1]};
 const res={};for(const k in per)res[k]={op:per[k].op,med_us:med(per[k].d),n:per[k].d.length};
 ts.sort((a,b)=>a-b);
 fs.writeFileSync(out,JSON.stringify({median_ms:ts[(ts.length-1)>>1],nodes:res},null,1));
 fs.unlinkSync(f);
})().catch(e=>{console.error(e);process.exit(1)});
