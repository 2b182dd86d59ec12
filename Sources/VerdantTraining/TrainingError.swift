/// Errors of training commands that a user can cause (bad arguments, data, resumable state).
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case invalidArgument(String)
    case data(String)
    case checkpoint(String)

    public var description: String {
        switch self {
        case .invalidArgument(let m): return m
        case .data(let m): return "training data: \(m)"
        case .checkpoint(let m): return "training checkpoint: \(m)"
        }
    }
}
