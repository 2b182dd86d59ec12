/// What the training loop needs from its data: fixed-length windows of token ids
/// and a position that can be saved and restored, so that a resumed run reads
/// exactly the windows an uninterrupted one would have.
///
/// `TokenStreamSource` (Data/) serves the packed, shuffled .jsonl / .jsonl.xz stream.
public protocol TrainingDataSource: AnyObject {
    /// The next `count` sequences of `length` ids each ([count][length]; length =
    /// context + 1: a row predicts ids[1...] from ids[..<context]).
    func next(sequences count: Int, length: Int) throws -> [[Int32]]
    /// Opaque, serialisable position (saved in training checkpoints).
    var position: String { get }
    /// Continue from a position `position` returned (throws on a malformed one).
    func restore(position: String) throws
}
