/// matmul for quantized weights: activations quantized once per row (in
/// parallel for prefill), then integer dot products, split over output rows.
func quantMatmul(_ x: UnsafePointer<Float>, rows: Int, _ w: WeightMatrix,
                 _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
    let layout = QuantizedActivations.layout(for: w.format)
    let padded = w.format.paddedColumns(w.cols)
    let acts = QuantizedActivations(memory: pool.sharedScratch(bytes: QuantizedActivations.bytesNeeded(rows: rows, cols: padded)),
                                    rows: rows, cols: w.cols, paddedCols: padded)
    if rows >= 8 && pool.threads > 1 {
        let chunk = (rows + pool.threads - 1) / pool.threads
        pool.run(pool.threads) { i in
            acts.quantize(x, layout: layout, rows: min(rows, i * chunk), min(rows, (i + 1) * chunk))
        }
    } else {
        acts.quantize(x, layout: layout, rows: 0, rows)
    }
    #if arch(x86_64)
    let n = w.rows
    if rows < 2 {
        // Decode: contiguous row ranges per task keep each thread's stream sequential.
        let tasks = min(n, pool.threads * 4)
        let per = (n + tasks - 1) / tasks
        pool.run(tasks) { i in
            let a = i * per, b = min(n, a + per)
            if a < b { quantGEMV(acts, token: 0, w, y, rows: a, b) }
        }
        return
    }
    let panelBytes = quantPanelBytes(cols: w.cols)
    let rowsPerTask = 8
    let tasks = (n + rowsPerTask - 1) / rowsPerTask
    pool.runWorkers(tasks) { task, worker in
        let panel = pool.scratch(worker: worker, bytes: panelBytes)
        let aligned = panel + ((64 - Int(bitPattern: panel) % 64) % 64)
        for r in (task * rowsPerTask)..<min(n, (task + 1) * rowsPerTask) {
            quantGEMMRow(acts, tokens: 0, rows, w, row: r, y, ldy: n, panel: aligned)
        }
    }
    #else
    for t in 0..<rows {
        for r in 0..<w.rows { y[t * w.rows + r] = quantDotReference(acts, token: t, w, row: r) }
    }
    #endif
}
