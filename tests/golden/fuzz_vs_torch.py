#!/usr/bin/env python3
"""Random differential check of `cnnbench run` against PyTorch 1.13 (run by hand, not in CI):
random layers of every kind and option, random shapes (some with NaN), outputs, indices and running
statistics compared with the module run in float64; rejections must agree too.
usage: /usr/bin/python3 tests/golden/fuzz_vs_torch.py SEED COUNT [path/to/cnnbench [IMPL]]
With IMPL, only layers of that implementation's kind are drawn, and it is forced with --impl (layers it
does not support are skipped)."""
import torch, numpy as np, subprocess, random, os, sys, re
torch.set_grad_enabled(False)
B=os.path.abspath(sys.argv[3] if len(sys.argv)>3 else "build/cnnbench")
import tempfile
WORK=tempfile.mkdtemp(prefix="cnb_fuzz_")
IMPL=sys.argv[4] if len(sys.argv)>4 else None
KIND=IMPL.split(".")[0] if IMPL else None
# A forced implementation that promises less than float rounding (max_rel_err in `cnnbench list`, e.g. the
# winograd ones) is held to that promise, as tests/test_impls.c does: max|y - ref| <= tol * max|ref|.
TOL=0.0
if IMPL:
    for l in subprocess.run([B,'list'],capture_output=True,text=True).stdout.splitlines():
        f=re.search(r'\s(-?\d+)\s+([0-9.eE+-]+)\s',l)   # prio, then max_err
        if l.split()[:1]==[IMPL] and f: TOL=float(f.group(2))
random.seed(int(sys.argv[1]) if len(sys.argv)>1 else 0)
torch.manual_seed(int(sys.argv[1]) if len(sys.argv)>1 else 0)   # the data too: a failure can be run again
def rnd_conv(d2):
    g=random.choice([1,1,2,3]); cin=g*random.randint(1,3); cout=g*random.randint(1,3)
    k=[random.randint(1,4) for _ in range(2 if d2 else 1)]
    s=[random.randint(1,3) for _ in k]; dl=[random.randint(1,3) for _ in k]
    mode=random.choice(['zeros','reflect','replicate','circular'])
    pad=random.choice(['same','valid',[random.randint(0,3) for _ in k]])
    if pad=='same': s=[1]*len(k)
    kw=dict(kernel_size=tuple(k),stride=tuple(s),dilation=tuple(dl),groups=g,bias=random.random()<.5,padding_mode=mode,padding=pad if isinstance(pad,str) else tuple(pad))
    name='Conv2d' if d2 else 'Conv1d'
    spec=f"{name}({cin}, {cout}, "+", ".join(f"{a}={v!r}" for a,v in kw.items())+")"
    shape=[random.choice([1,2]),cin]+[random.randint(1,9) for _ in k]
    if random.random()<.2: shape=shape[1:]
    return spec,shape
def rnd_pool():
    k=[random.randint(1,4),random.randint(1,4)]
    p=[random.randint(0,x//2) for x in k]
    ceil=random.random()<.5
    if random.random()<.5:
        spec=f"MaxPool2d({tuple(k)}, stride={random.choice(['None',(random.randint(1,3),random.randint(1,3))])}, padding={tuple(p)}, dilation={(random.randint(1,3),random.randint(1,3))}, return_indices=True, ceil_mode={ceil})"
    else:
        spec=f"AvgPool2d({tuple(k)}, stride={random.choice(['None',(random.randint(1,3),random.randint(1,3))])}, padding={tuple(p)}, ceil_mode={ceil}, count_include_pad={random.random()<.5}, divisor_override={random.choice(['None',random.randint(-3,5)])})"
    shape=[random.choice([1,2]),random.randint(1,3),random.randint(1,9),random.randint(1,9)]
    return spec,shape
def rnd_ad():
    o=(random.choice([None,1,2,3,5,7]),random.choice([None,1,2,3,4,6]))
    return f"AdaptiveAvgPool2d({o})",[random.choice([1,2]),random.randint(1,3),random.randint(1,9),random.randint(1,9)]
def rnd_bn():
    c=random.randint(1,4)
    spec=f"BatchNorm2d({c}, eps={random.choice([1e-5,1e-3,0.1])}, momentum={random.choice([None,0.1,0.5,1.0])}, affine={random.random()<.5}, track_running_stats={random.random()<.7})"
    return spec,[random.randint(1,3),c,random.randint(1,5),random.randint(1,5)]
ok=bad=0
for it in range(int(sys.argv[2]) if len(sys.argv)>2 else 200):
    spec,shape=random.choice([lambda:rnd_conv(True),lambda:rnd_conv(False),rnd_pool,rnd_ad,rnd_bn])()
    if KIND and spec.split('(')[0].lower()!=KIND: continue
    train=random.random()<.5
    x=torch.randn(*shape)
    if random.random()<.2: x[x>1]=float('nan')
    os.chdir(WORK); np.save('x.npy',x.numpy())
    args=[B,'run',spec,'--input','x.npy','--output','y.npy']+(['--impl',IMPL] if IMPL else [])
    for f in ['y.npy','i.npy','nm.npy','nv.npy']:
        if os.path.exists(f): os.remove(f)
    try:
        m=eval('torch.nn.'+spec)
    except Exception as e:
        r=subprocess.run(args,capture_output=True,text=True)
        if r.returncode==0: print("ACCEPTED BUT TORCH CTOR REJECTS",spec,shape,e); bad+=1
        else: ok+=1
        continue
    if hasattr(m,'weight') and m.weight is not None:
        m.weight.copy_(torch.randn(m.weight.shape)); np.save('w.npy',m.weight.numpy()); args+=['--weight','w.npy']
    if getattr(m,'bias',None) is not None:
        m.bias.copy_(torch.randn(m.bias.shape)); np.save('b.npy',m.bias.numpy()); args+=['--bias','b.npy']
    if isinstance(m,torch.nn.BatchNorm2d):
        if m.track_running_stats:
            m.running_mean.copy_(torch.randn(m.running_mean.shape)); m.running_var.copy_(torch.rand(m.running_var.shape)+.5)
            m.num_batches_tracked.fill_(3)
            np.save('rm.npy',m.running_mean.numpy()); np.save('rv.npy',m.running_var.numpy())
            args+=['--running-mean','rm.npy','--running-var','rv.npy','--num-batches-tracked','3','--new-running-mean','nm.npy','--new-running-var','nv.npy']
        if train: args+=['--train']; m.train()
        else: m.eval()
    if 'MaxPool' in spec: args+=['--indices','i.npy']
    md=m.double()
    try:
        out=md(x.double())
        terr=None
    except Exception as e:
        terr=e
    r=subprocess.run(args,capture_output=True,text=True)
    if terr is not None:
        if r.returncode==0: print("ACCEPTED, TORCH REJECTS:",spec,shape,train,str(terr)[:100]); bad+=1
        else: ok+=1
        continue
    if r.returncode!=0 and IMPL and ('cnnbench: '+IMPL+':') in r.stderr: continue  # the implementation's refusal
    if r.returncode!=0: print("REJECTED, TORCH ACCEPTS:",spec,shape,train,r.stderr.strip()); bad+=1; continue
    if isinstance(out,tuple): out,idx=out
    else: idx=None
    y=np.load('y.npy'); ref=out.numpy().astype(np.float32)
    def close(y,ref):
        if TOL<=1e-6 or y.shape!=ref.shape: return np.allclose(y,ref,rtol=1e-5,atol=1e-6,equal_nan=True)
        fin=np.isfinite(ref)
        if not np.array_equal(np.isnan(y),np.isnan(ref)) or not np.array_equal(y[~fin&~np.isnan(ref)],ref[~fin&~np.isnan(ref)]): return False
        scale=np.abs(ref[fin]).max() if fin.any() else 1.0
        return not fin.any() or np.abs(y[fin].astype(np.float64)-ref[fin]).max()<=(TOL+1e-6)*(scale if scale>0 else 1.0)
    if y.shape!=ref.shape or not close(y,ref): print("MISMATCH",spec,shape,train, y.shape, ref.shape); bad+=1; continue
    if idx is not None and not np.array_equal(np.load('i.npy'),idx.numpy()): print("IDX MISMATCH",spec,shape); bad+=1; continue
    if isinstance(m,torch.nn.BatchNorm2d) and m.track_running_stats:
        if not np.allclose(np.load('nm.npy'),md.running_mean.numpy(),rtol=1e-5,atol=1e-6,equal_nan=True) or not np.allclose(np.load('nv.npy'),md.running_var.numpy(),rtol=1e-5,atol=1e-6,equal_nan=True):
            print("RUNNING MISMATCH",spec,shape,train); bad+=1; continue
    ok+=1
print("ok",ok,"bad",bad)
