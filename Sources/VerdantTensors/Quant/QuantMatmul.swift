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
        // Prefill: 16-row tiles, eight tokens per pass (InterleavedGEMM.swift).
        let tiles = (n + interleavedRows - 1) / interleavedRows
        packedSweep(units: tiles, maxPerTask: 4, panelBytes: interleavedPanelBytes(w.format, paddedCols: padded),
                    tokens: rows, tokensPerPass: interleavedTokens, pool: pool,
                    pack: { tile, panel in packInterleavedTile(w, firstRow: tile * interleavedRows, panel: panel) },
                    kernel: { tile, panel, t, count in
                        let r0 = tile * interleavedRows
                        interleavedTile(acts, firstToken: t, count: count, w, panel: UnsafeRawPointer(panel), firstRow: r0,
                                        validRows: min(interleavedRows, n - r0), y, ldy: n)
                    })
        return
    }
    // Prefill (w8a8): one row per unit, four tokens per pass; the row's total
    // initial sum is kept after its panel.
    let rowPanel = quantPanelBytes(cols: padded)
    packedSweep(units: n, maxPerTask: 32, panelBytes: rowPanel + 64, tokens: rows, tokensPerPass: 4, pool: pool,
                pack: { r, panel in
                    let excess = packQuantRow(w, row: r, panel: panel)
                    panel.storeBytes(of: excess, toByteOffset: rowPanel, as: Int32.self)
                },
                kernel: { r, panel, t, count in
                    quantGEMMTile(acts, token: t, count: count, w, row: r, panel: UnsafeRawPointer(panel),
                                  excess: panel.load(fromByteOffset: rowPanel, as: Int32.self), y, ldy: n)
                })
    #else
    for t in 0..<rows {
        for r in 0..<w.rows { y[t * w.rows + r] = quantDotReference(acts, token: t, w, row: r) }
    }
    #endif
}

/// Prefill driver: units (weight rows or row tiles) are split into tasks; each
/// task unpacks its units into per-worker scratch once, then sweeps all tokens
/// over them `tokensPerPass` at a time, so a token's activations are read once
/// per task's units (from L1/L2) instead of once per unit.
/// panelBytes: a multiple of 64 (panels stay 64-byte aligned).
@inline(__always)
func packedSweep(units: Int, maxPerTask: Int, panelBytes: Int, tokens: Int, tokensPerPass: Int, pool: ThreadPool,
                 pack: (_ unit: Int, _ panel: UnsafeMutableRawPointer) -> Void,
                 kernel: (_ unit: Int, _ panel: UnsafeMutableRawPointer, _ token: Int, _ count: Int) -> Void) {
    let perTask = min(maxPerTask, max(1, (units + pool.threads * 4 - 1) / (pool.threads * 4)))
    let tasks = (units + perTask - 1) / perTask
    pool.runWorkers(tasks) { task, worker in
        let scratch = pool.scratch(worker: worker, bytes: panelBytes * perTask + 64)
        let panels = scratch + ((64 - Int(bitPattern: scratch) % 64) % 64)
        let u0 = task * perTask, u1 = min(units, u0 + perTask)
        for u in u0..<u1 { pack(u, panels + (u - u0) * panelBytes) }
        var t = 0
        while t < tokens {
            let count = min(tokensPerPass, tokens - t)
            for u in u0..<u1 { kernel(u, panels + (u - u0) * panelBytes, t, count) }
            t += count
        }
    }
}
