import VerdantModels

/// Minimal data source over an in-memory token stream (documents tokenized and
/// joined with EOS by the caller): cut into consecutive non-overlapping windows of
/// `length` ids, visited in a shuffled order that is a pure function of
/// (seed, epoch), so the position is just (epoch, index).
public final class PackedTokenStream: TrainingDataSource {
    /// [count]
    private let tokens: [Int32]
    public let length: Int
    public let seed: UInt64
    private var epoch = 0
    private var index = 0
    /// Window order of the current epoch.
    private var order: [Int] = []

    public init(tokens: [Int32], length: Int, seed: UInt64) throws {
        guard length >= 2 else { throw TrainingError.invalidArgument("sequence length must be ≥ 2, got \(length)") }
        guard tokens.count >= length else {
            throw TrainingError.data("\(tokens.count) tokens are fewer than one training window of \(length) (context + 1)")
        }
        self.tokens = tokens
        self.length = length
        self.seed = seed
        order = Self.order(windows: tokens.count / length, seed: seed, epoch: 0)
    }

    public var windows: Int { tokens.count / length }

    /// Fisher–Yates with a generator seeded by (seed, epoch).
    static func order(windows: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = RandomSource(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch))
        var o = Array(0..<windows)
        if windows > 1 {
            for i in stride(from: windows - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                o.swapAt(i, j)
            }
        }
        return o
    }

    public func next(sequences count: Int, length requested: Int) throws -> [[Int32]] {
        guard requested == length else {
            throw TrainingError.invalidArgument("stream cut in windows of \(length) ids, asked for \(requested)")
        }
        var out: [[Int32]] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            if index == order.count {
                epoch += 1
                index = 0
                order = Self.order(windows: windows, seed: seed, epoch: epoch)
            }
            let w = order[index]
            index += 1
            out.append(Array(tokens[(w * length)..<((w + 1) * length)]))
        }
        return out
    }

    public var position: String { "\(epoch):\(index)" }

    public func restore(position: String) throws {
        let parts = position.split(separator: ":").compactMap { Int($0) }
        guard parts.count == 2, parts[0] >= 0, parts[1] >= 0, parts[1] <= windows else {
            throw TrainingError.checkpoint("data position '\(position)' does not fit this data (\(windows) windows)")
        }
        epoch = parts[0]
        index = parts[1]
        order = Self.order(windows: windows, seed: seed, epoch: epoch)
    }
}
