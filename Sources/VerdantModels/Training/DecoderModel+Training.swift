import VerdantTensors

/// A batch for one forward/backward: `batch` sequences of `tokens` inputs and
/// the target (next token, or `ignoredTarget`) of each position.
public struct TrainingBatch: Sendable {
    public var batch: Int
    public var tokens: Int
    /// [batch·tokens]
    public var inputs: [Int32]
    /// [batch·tokens]
    public var targets: [Int32]

    public init(batch: Int, tokens: Int, inputs: [Int32], targets: [Int32]) {
        self.batch = batch
        self.tokens = tokens
        self.inputs = inputs
        self.targets = targets
    }

    /// From [batch × (tokens + 1)] ids: row b predicts ids[b][1...] from ids[b][..<tokens].
    public init(sequences: [[Int32]]) {
        let t = (sequences.first?.count ?? 1) - 1
        batch = sequences.count
        tokens = t
        inputs = sequences.flatMap { $0.prefix(t) }
        targets = sequences.flatMap { $0.dropFirst().prefix(t) }
    }

    /// Targets that count toward the loss.
    public var targetCount: Int { targets.reduce(0) { $0 + ($1 == ignoredTarget ? 0 : 1) } }
}

extension DecoderModel {
    /// Forward and backward of one batch: gradients of scale·Σ loss are
    /// *accumulated* into `store`'s gradient buffers (zero them per optimizer step).
    /// Returns Σ loss over the batch's rows (unscaled). The model must have been
    /// built from `store`. Each sequence starts at position 0.
    ///
    /// scale: usually 1 / (targets counted over all accumulated micro-batches), so
    /// that the accumulated gradient is that of the mean loss.
    public func accumulateGradients(_ b: TrainingBatch, loss: TokenLoss, scale: Float, tape: TrainingTape,
                                    store: ParameterStore, pool: ThreadPool) throws -> Double {
        guard b.batch == tape.batch, b.tokens == tape.tokens, b.inputs.count == tape.rows, b.targets.count == tape.rows else {
            throw ModelError.shapeMismatch("training batch", expected: [tape.batch, tape.tokens], found: [b.batch, b.tokens])
        }
        guard b.tokens <= config.maxPositions else {
            throw ModelError.contextOverflow(needed: b.tokens, capacity: config.maxPositions)
        }
        let V = vocabSize
        for t in b.inputs where t < 0 || Int(t) >= embedding.rows { throw ModelError.tokenOutOfRange(Int(t), vocab: embedding.rows) }
        for t in b.targets where t != ignoredTarget && (t < 0 || Int(t) >= V) { throw ModelError.tokenOutOfRange(Int(t), vocab: V) }
        let t0 = now()
        trainingForward(b, tape: tape, store: store, pool: pool)
        let t1 = now()
        let total = lossAndHeadBackward(b, loss: loss, scale: scale, tape: tape, store: store, pool: pool)
        let t2 = now()
        trainingBackward(b, tape: tape, store: store, pool: pool)
        tape.timings.forward += t1 - t0
        tape.timings.lossAndHead += t2 - t1
        tape.timings.backward += now() - t2
        return total
    }

    var attentionShape: AttentionShape {
        AttentionShape(numHeads: config.numHeads, numKVHeads: config.numKVHeads, headDim: config.headDim,
                       window: config.slidingWindow)
    }

    /// Runs the blocks, saving what the backward needs (see TrainingTape).
    func trainingForward(_ b: TrainingBatch, tape: TrainingTape, store: ParameterStore, pool: ThreadPool) {
        let N = tape.rows, T = b.tokens, H = config.hiddenSize, I = config.intermediateSize
        let qDim = config.qDim, kvDim = config.kvDim
        // x: [N, H] embeddings (+ learned positions)
        let x0 = tape.layerInput[0].pointer
        for r in 0..<N { embedding.copyRow(Int(b.inputs[r]), into: x0 + r * H) }
        if let pe = positionEmbedding {
            // Position t's row (f32, in the store) added to every sequence's row t.
            let rows = pe.data.assumingMemoryBound(to: Float.self)
            for r in 0..<N { addInPlace(x0 + r * H, rows + (r % T) * H, H) }
        }
        for (l, layer) in layers.enumerated() {
            let x = tape.layerInput[l].pointer, xn = tape.normed.pointer
            let q = tape.q[l].pointer, k = tape.k[l].pointer, v = tape.v[l].pointer
            layer.attentionNorm.trainingForward(x, xn, rows: N, store: store)
            switch layer.attention {
            case .separate(let wq, let wk, let wv):
                wq.trainingForward(xn, rows: N, q, store: store, pool: pool)
                wk.trainingForward(xn, rows: N, k, store: store, pool: pool)
                wv.trainingForward(xn, rows: N, v, store: store, pool: pool)
            case .fused(let wqkv):
                // fused: [N, qDim + 2·kvDim], split into q | k | v.
                let width = qDim + 2 * kvDim, f = tape.fused.pointer
                wqkv.trainingForward(xn, rows: N, f, store: store, pool: pool)
                for r in 0..<N {
                    (q + r * qDim).update(from: f + r * width, count: qDim)
                    (k + r * kvDim).update(from: f + r * width + qDim, count: kvDim)
                    (v + r * kvDim).update(from: f + r * width + qDim + kvDim, count: kvDim)
                }
            }
            if let rope {
                for r in 0..<N {
                    rope.apply(q + r * qDim, heads: config.numHeads, headStride: config.headDim, position: r % T)
                    rope.apply(k + r * kvDim, heads: config.numKVHeads, headStride: config.headDim, position: r % T)
                }
            }
            let att = tape.attention[l].pointer
            let ta = now()
            causalAttentionTrainingForward(q: q, qStride: qDim, k: k, kStride: kvDim, v: v, vStride: kvDim,
                                           batch: b.batch, tokens: T, shape: attentionShape,
                                           out: att, outStride: qDim, lse: tape.lse[l].pointer, pool: pool)
            tape.timings.attentionForward += now() - ta
            // middle = x + o_proj(att)
            let mid = tape.middle[l].pointer
            layer.output.trainingForward(att, rows: N, mid, store: store, pool: pool)
            addInPlace(mid, x, N * H)

            let xn2 = tape.normed.pointer, next = tape.layerInput[l + 1].pointer
            layer.mlpNorm.trainingForward(mid, xn2, rows: N, store: store)
            let h = tape.activated.pointer
            switch layer.mlp {
            case .gated(let gate, let up, let down):
                let g = tape.gate[l].pointer, u = tape.up[l].pointer
                gate.trainingForward(xn2, rows: N, g, store: store, pool: pool)
                up.trainingForward(xn2, rows: N, u, store: store, pool: pool)
                gatedActivationForward(activation, gate: g, up: u, out: h, count: N * I, pool: pool)
                down.trainingForward(h, rows: N, next, store: store, pool: pool)
            case .plain(let up, let down):
                let g = tape.gate[l].pointer
                up.trainingForward(xn2, rows: N, g, store: store, pool: pool)
                h.update(from: g, count: N * I)
                applyActivation(activation, h, count: N * I)
                down.trainingForward(h, rows: N, next, store: store, pool: pool)
            }
            addInPlace(next, mid, N * H)
        }
        finalNorm.trainingForward(tape.layerInput[layers.count].pointer, tape.hidden.pointer, rows: N, store: store)
    }

    /// Logits chunk by chunk → loss and dlogits → d(hidden) into tape.dNormed and
    /// the output matrix's gradient; the [N, vocab] logits never exist at once.
    func lossAndHeadBackward(_ b: TrainingBatch, loss: TokenLoss, scale: Float, tape: TrainingTape,
                             store: ParameterStore, pool: ThreadPool) -> Double {
        let N = tape.rows, H = config.hiddenSize, V = vocabSize
        let w = lmHead.f32Weight, dW = store.gradient(lmHead.name)
        let logits = tape.logits.pointer, hidden = tape.hidden.pointer, dHidden = tape.dNormed.pointer
        var total = 0.0
        var r0 = 0
        b.targets.withUnsafeBufferPointer { targets in
            while r0 < N {
                let rows = min(tape.lossChunkRows, N - r0)
                let h = hidden + r0 * H
                // logits: [rows, V]
                sgemm(transA: false, transB: true, m: rows, n: V, k: H, a: h, lda: H, b: w, ldb: H,
                      c: logits, ldc: V, accumulate: false, pool: pool)
                total += loss.lossAndGradient(logits: logits, rows: rows, vocab: V, firstRow: r0,
                                              targets: targets.baseAddress! + r0, scale: scale, pool: pool)
                sgemm(transA: false, transB: false, m: rows, n: H, k: V, a: logits, lda: V, b: w, ldb: H,
                      c: dHidden + r0 * H, ldc: H, accumulate: false, pool: pool)
                if let dW {
                    sgemm(transA: true, transB: false, m: V, n: H, k: rows, a: logits, lda: V, b: h, ldb: H,
                          c: dW, ldc: H, accumulate: true, pool: pool)
                }
                r0 += rows
            }
        }
        return total
    }

    /// From d(hidden) in tape.dNormed down to the embeddings.
    func trainingBackward(_ b: TrainingBatch, tape: TrainingTape, store: ParameterStore, pool: ThreadPool) {
        let N = tape.rows, T = b.tokens, H = config.hiddenSize, I = config.intermediateSize
        let qDim = config.qDim, kvDim = config.kvDim
        let dx = tape.dx.pointer, dn = tape.dNormed.pointer, tmp = tape.dTemp.pointer
        finalNorm.trainingBackward(x: tape.layerInput[layers.count].pointer, dy: dn, dx: dx, rows: N, store: store, pool: pool)
        for (l, layer) in layers.enumerated().reversed() {
            // MLP: dx is the gradient of the block output = of the MLP output.
            // Recompute the MLP's normed input (not kept on the tape).
            let xn2 = tape.normed.pointer, h = tape.activated.pointer, dh = tape.dh.pointer
            layer.mlpNorm.trainingForward(tape.middle[l].pointer, xn2, rows: N, store: store)
            switch layer.mlp {
            case .gated(let gate, let up, let down):
                let g = tape.gate[l].pointer, u = tape.up[l].pointer, dg = tape.dGate.pointer
                gatedActivationForward(activation, gate: g, up: u, out: h, count: N * I, pool: pool)
                down.trainingBackward(x: h, dy: dx, rows: N, dx: dh, accumulateDX: false, store: store, pool: pool)
                gatedActivationBackward(activation, gate: g, up: u, dh: dh, dGate: dg, dUp: dh, count: N * I, pool: pool)
                gate.trainingBackward(x: xn2, dy: dg, rows: N, dx: dn, accumulateDX: false, store: store, pool: pool)
                up.trainingBackward(x: xn2, dy: dh, rows: N, dx: dn, accumulateDX: true, store: store, pool: pool)
            case .plain(let up, let down):
                let g = tape.gate[l].pointer
                h.update(from: g, count: N * I)
                applyActivation(activation, h, count: N * I)
                down.trainingBackward(x: h, dy: dx, rows: N, dx: dh, accumulateDX: false, store: store, pool: pool)
                activationBackward(activation, pre: g, dy: dh, dPre: dh, count: N * I)
                up.trainingBackward(x: xn2, dy: dh, rows: N, dx: dn, accumulateDX: false, store: store, pool: pool)
            }
            layer.mlpNorm.trainingBackward(x: tape.middle[l].pointer, dy: dn, dx: tmp, rows: N, store: store, pool: pool)
            addInPlace(dx, tmp, N * H)

            // Attention: dx is now the gradient of `middle` = of the o_proj output.
            let q = tape.q[l].pointer, k = tape.k[l].pointer, v = tape.v[l].pointer, att = tape.attention[l].pointer
            let dAtt = tape.dAttention.pointer, dq = tape.dq.pointer, dk = tape.dk.pointer, dv = tape.dv.pointer
            layer.output.trainingBackward(x: att, dy: dx, rows: N, dx: dAtt, accumulateDX: false, store: store, pool: pool)
            let ta = now()
            causalAttentionTrainingBackward(q: q, qStride: qDim, k: k, kStride: kvDim, v: v, vStride: kvDim,
                                            out: att, outStride: qDim, lse: tape.lse[l].pointer,
                                            dOut: dAtt, dOutStride: qDim, dq: dq, dqStride: qDim,
                                            dk: dk, dkStride: kvDim, dv: dv, dvStride: kvDim,
                                            batch: b.batch, tokens: T, shape: attentionShape, pool: pool)
            tape.timings.attentionBackward += now() - ta
            if let rope {
                for r in 0..<N {
                    rope.applyInverse(dq + r * qDim, heads: config.numHeads, headStride: config.headDim, position: r % T)
                    rope.applyInverse(dk + r * kvDim, heads: config.numKVHeads, headStride: config.headDim, position: r % T)
                }
            }
            let xn = tape.normed.pointer
            layer.attentionNorm.trainingForward(tape.layerInput[l].pointer, xn, rows: N, store: store)
            switch layer.attention {
            case .separate(let wq, let wk, let wv):
                wq.trainingBackward(x: xn, dy: dq, rows: N, dx: dn, accumulateDX: false, store: store, pool: pool)
                wk.trainingBackward(x: xn, dy: dk, rows: N, dx: dn, accumulateDX: true, store: store, pool: pool)
                wv.trainingBackward(x: xn, dy: dv, rows: N, dx: dn, accumulateDX: true, store: store, pool: pool)
            case .fused(let wqkv):
                let width = qDim + 2 * kvDim, f = tape.fused.pointer
                for r in 0..<N {
                    (f + r * width).update(from: dq + r * qDim, count: qDim)
                    (f + r * width + qDim).update(from: dk + r * kvDim, count: kvDim)
                    (f + r * width + qDim + kvDim).update(from: dv + r * kvDim, count: kvDim)
                }
                wqkv.trainingBackward(x: xn, dy: f, rows: N, dx: dn, accumulateDX: false, store: store, pool: pool)
            }
            layer.attentionNorm.trainingBackward(x: tape.layerInput[l].pointer, dy: dn, dx: tmp, rows: N, store: store, pool: pool)
            addInPlace(dx, tmp, N * H)
        }
        // Embeddings: scatter-add rows (serial: repeated tokens add in row order).
        if let dE = store.gradient(embeddingName) {
            for r in 0..<N { addInPlace(dE + Int(b.inputs[r]) * H, dx + r * H, H) }
        }
        if let name = positionEmbeddingName, let dP = store.gradient(name) {
            for r in 0..<N { addInPlace(dP + (r % T) * H, dx + r * H, H) }
        }
    }
}
