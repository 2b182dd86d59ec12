/// The unbiased pass@k estimator of Chen et al. 2021 ("Evaluating Large Language
/// Models Trained on Code"): with n samples of which c pass,
///     pass@k = 1 − C(n − c, k) / C(n, k),
/// computed as 1 − Π_{i = n−c+1}^{n} (1 − k / i), which never forms the binomials.
public func passAtK(n: Int, c: Int, k: Int) -> Double {
    precondition(n >= 1 && c >= 0 && c <= n && k >= 1 && k <= n)
    if n - c < k { return 1 }
    if c == 0 { return 0 }
    var product = 1.0
    for i in (n - c + 1)...n {
        product *= 1 - Double(k) / Double(i)
    }
    return 1 - product
}

/// Mean pass@k over problems, for every k in `ks` that every problem has enough
/// samples for (k ≤ min n). Problems with no samples are left out.
public func meanPassAtK(_ counts: [(n: Int, c: Int)], ks: [Int] = [1, 10, 100]) -> [Int: Double] {
    let attempted = counts.filter { $0.n > 0 }
    guard let minN = attempted.map(\.n).min() else { return [:] }
    var out: [Int: Double] = [:]
    for k in ks where k <= minN {
        out[k] = attempted.reduce(0) { $0 + passAtK(n: $1.n, c: $1.c, k: k) } / Double(attempted.count)
    }
    return out
}
