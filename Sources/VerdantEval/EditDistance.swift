/// Levenshtein distance (insertions, deletions and substitutions cost 1) between
/// two sequences of Unicode scalars — code points, as Python's `str` counts them,
/// so that scores agree with Python evaluators. Two rows, O(min(m, n)) memory.
public func levenshtein(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    // Iterate over the longer sequence, keep rows as long as the shorter one.
    let (long, short) = a.count >= b.count ? (a, b) : (b, a)
    if short.isEmpty { return long.count }
    var previous = Array(0...short.count)
    var current = [Int](repeating: 0, count: short.count + 1)
    for (i, x) in long.enumerated() {
        current[0] = i + 1
        for (j, y) in short.enumerated() {
            let substitution = previous[j] + (x == y ? 0 : 1)
            current[j + 1] = min(substitution, previous[j + 1] + 1, current[j] + 1)
        }
        swap(&previous, &current)
    }
    return previous[short.count]
}

public func levenshtein(_ a: String, _ b: String) -> Int {
    levenshtein(Array(a.unicodeScalars), Array(b.unicodeScalars))
}

/// Edit similarity in percent: 100 × (1 − Levenshtein(p, t) / max(len(p), len(t), 1)),
/// lengths in code points. Two empty strings are 100% similar.
public func editSimilarity(_ prediction: String, _ target: String) -> Double {
    let p = Array(prediction.unicodeScalars), t = Array(target.unicodeScalars)
    let d = levenshtein(p, t)
    return 100 * (1 - Double(d) / Double(max(p.count, t.count, 1)))
}

extension Unicode.Scalar {
    /// Python's `str.isspace()`: Unicode White_Space plus the ASCII information
    /// separators U+001C…U+001F, which Python also strips.
    var isPythonWhitespace: Bool {
        properties.isWhitespace || (0x1C...0x1F).contains(value)
    }
}

/// `s.strip()` as Python does it (Unicode whitespace at both ends).
public func pythonStrip(_ s: String) -> String {
    let scalars = Array(s.unicodeScalars)
    guard let first = scalars.firstIndex(where: { !$0.isPythonWhitespace }),
          let last = scalars.lastIndex(where: { !$0.isPythonWhitespace }) else { return "" }
    var out = String.UnicodeScalarView()
    out.append(contentsOf: scalars[first...last])
    return String(out)
}
