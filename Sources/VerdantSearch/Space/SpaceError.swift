/// Why a configuration space or a budget cannot be used.
public enum SpaceError: Error, CustomStringConvertible, Equatable {
    /// The JSON does not describe a space (syntax, types, missing or contradictory fields).
    case malformed(String)
    /// The space is well formed but no configuration satisfies the constraints.
    case infeasible(String)
    case unreadable(String)

    public var description: String {
        switch self {
        case .malformed(let m): return "invalid configuration space: \(m)"
        case .infeasible(let m): return "no legal configuration: \(m)"
        case .unreadable(let m): return m
        }
    }
}
