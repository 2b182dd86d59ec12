#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The k most probable ids of one teacher logits row (ties: the lower id first),
/// in decreasing order, their probabilities under softmax(logits / T), and the
/// probability mass of all other ids, which is returned. What a top-k teacher
/// cache keeps per position. `scratch` holds `vocab` floats.
public func teacherTopK(logits: UnsafePointer<Float>, vocab: Int, k: Int, temperature: Float,
                        ids: UnsafeMutablePointer<Int32>, probabilities: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>) -> Float {
    let k = min(k, vocab)
    let m = maxF32(logits, vocab)
    let total = scaledExp(logits, shift: m, scale: 1 / temperature, into: scratch, vocab)
    // Min-heap of (value, id) on the k best so far; most candidates fail the root test.
    var heap = [(Float, Int32)]()
    heap.reserveCapacity(k)
    func worse(_ a: (Float, Int32), _ b: (Float, Int32)) -> Bool { a.0 < b.0 || (a.0 == b.0 && a.1 > b.1) }
    func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var w = i
            if l < heap.count && worse(heap[l], heap[w]) { w = l }
            if r < heap.count && worse(heap[r], heap[w]) { w = r }
            if w == i { return }
            heap.swapAt(i, w)
            i = w
        }
    }
    for j in 0..<vocab {
        let v = logits[j]
        if heap.count < k {
            heap.append((v, Int32(j)))
            var i = heap.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                if worse(heap[i], heap[p]) { heap.swapAt(i, p); i = p } else { break }
            }
        } else if v > heap[0].0 {
            heap[0] = (v, Int32(j))
            siftDown(0)
        }
    }
    heap.sort { worse($1, $0) }
    for (i, entry) in heap.enumerated() {
        ids[i] = entry.1
        probabilities[i] = Float(Double(scratch[Int(entry.1)]) / total)
        scratch[Int(entry.1)] = 0
    }
    // The tail as its own sum, not 1 − Σ top-k: small tails keep their precision
    // and k = V gives exactly 0.
    var rest = 0.0
    for j in 0..<vocab { rest += Double(scratch[j]) }
    return Float(rest / total)
}
