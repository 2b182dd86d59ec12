/// An integer gene as the solver sees it for multiplication: its value term and, per value,
/// the condition under which it holds. A product with another term becomes a case split
/// (if gene = v then v · t), which keeps every constraint in linear integer arithmetic —
/// a theory Z3 decides completely — instead of nonlinear arithmetic, where it may answer
/// "unknown". Only genes with small domains (layers, widths, heads) are ever split on.
struct Factor {
    var term: Z3Solver.Term
    /// nil for a constant.
    var cases: [(condition: Z3Solver.Term, value: Int)]?
    var constant: Int?

    static func constant(_ v: Int, _ z: Z3Solver) throws -> Factor {
        Factor(term: try z.int(v), cases: nil, constant: v)
    }

    /// The term equal to `body(value)` for the gene's value: an if-then-else chain.
    func split(_ z: Z3Solver, _ body: (Int) throws -> Z3Solver.Term) throws -> Z3Solver.Term {
        if let c = constant { return try body(c) }
        guard let cases, let last = cases.last else { return try z.int(0) }
        var t = try body(last.value)
        for c in cases.dropLast().reversed() { t = try z.ifThenElse(c.condition, body(c.value), t) }
        return t
    }

    /// value · t, linear by cases.
    func times(_ z: Z3Solver, _ t: Z3Solver.Term) throws -> Z3Solver.Term { try split(z) { try z.times($0, t) } }
}

