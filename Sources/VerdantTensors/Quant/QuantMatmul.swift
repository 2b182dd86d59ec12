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
    compactGroupSums(acts, shift: groupShift(w.format), blocks: padded / 32)
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
    if usesInterleavedGEMM(w.format) {
        // Prefill: each task packs its 16-row tiles once, then sweeps the tokens
        // eight at a time over them (InterleavedGEMM.swift).
        let panelBytes = interleavedPanelBytes(w.format, paddedCols: padded)
        let tiles = (n + interleavedRows - 1) / interleavedRows
        let tilesPerTask = min(4, max(1, (tiles + pool.threads * 4 - 1) / (pool.threads * 4)))
        let tasks = (tiles + tilesPerTask - 1) / tilesPerTask
        pool.runWorkers(tasks) { task, worker in
            let scratch = pool.scratch(worker: worker, bytes: panelBytes * tilesPerTask + 64)
            let panels = scratch + ((64 - Int(bitPattern: scratch) % 64) % 64)
            let tile0 = task * tilesPerTask, tile1 = min(tiles, tile0 + tilesPerTask)
            for tile in tile0..<tile1 {
                packInterleavedTile(w, firstRow: tile * interleavedRows, panel: panels + (tile - tile0) * panelBytes)
            }
            var t = 0
            while t < rows {
                let count = min(interleavedTokens, rows - t)
                for tile in tile0..<tile1 {
                    let r0 = tile * interleavedRows
                    interleavedTile(acts, firstToken: t, count: count, w, panel: panels + (tile - tile0) * panelBytes,
                                    firstRow: r0, validRows: min(interleavedRows, n - r0), y, ldy: n)
                }
                t += count
            }
        }
        return
    }
    // Prefill (w8a8): each task packs a block of rows once, then sweeps the tokens
    // four at a time over all of them, so a token's activations are read once
    // per block of rows (from L1/L2) instead of once per row.
    let panelBytes = quantPanelBytes(cols: padded)
    let rowsPerTask = min(32, max(4, (n + pool.threads * 4 - 1) / (pool.threads * 4)))
    let tasks = (n + rowsPerTask - 1) / rowsPerTask
    pool.runWorkers(tasks) { task, worker in
        let scratch = pool.scratch(worker: worker, bytes: panelBytes * rowsPerTask + 64)
        let panels = scratch + ((64 - Int(bitPattern: scratch) % 64) % 64)
        let r0 = task * rowsPerTask, r1 = min(n, r0 + rowsPerTask)
        var excess = [Int32](repeating: 0, count: r1 - r0)
        for r in r0..<r1 { excess[r - r0] = packQuantRow(w, row: r, panel: panels + (r - r0) * panelBytes) }
        var t = 0
        while t < rows {
            let count = min(4, rows - t)
            for r in r0..<r1 {
                quantGEMMTile(acts, token: t, count: count, w, row: r, panel: panels + (r - r0) * panelBytes,
                              excess: excess[r - r0], y, ldy: n)
            }
            t += count
        }
    }
    #else
    for t in 0..<rows {
        for r in 0..<w.rows { y[t * w.rows + r] = quantDotReference(acts, token: t, w, row: r) }
    }
    #endif
}
