"""Single-thread PyTorch (MKL) rates by CPU time on the shapes of main.swift (same output format)."""
import time, torch, sys
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
shapes = [("q",384,384,2048),("kv",128,384,2048),("gate",1024,384,2048),("down",384,1024,2048),("head",16384,384,2048),("head512",16384,384,512)]
for name,out,inf,t in shapes:
    x = torch.rand(t,inf,generator=g)*2-1; w = torch.rand(out,inf,generator=g)*2-1; dy = torch.rand(t,out,generator=g)*2-1
    y, dx, dw = torch.empty(t,out), torch.empty(t,inf), torch.zeros(out,inf)
    line = f"{name:8}"
    for p, fn, fl in [("fwd", lambda: torch.mm(x, w.t(), out=y), 2*t*out*inf), ("dX", lambda: torch.mm(dy, w, out=dx), 2*t*out*inf), ("dW", lambda: dw.addmm_(dy.t(), x), 2*t*out*inf)]:
        fn(); best = 1e9
        for _ in range(9):
            c0 = time.process_time(); fn(); best = min(best, time.process_time() - c0)
        line += f" {p} cpu {int(fl/best/1e9)} wall 0  "
    print(line, flush=True)
