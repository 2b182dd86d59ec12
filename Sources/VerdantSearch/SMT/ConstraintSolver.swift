import Foundation
import VerdantModels

/// The legal part of a configuration space, held by Z3: every configuration it returns or
/// accepts satisfies hidden = heads × head size, heads divisible by kv heads, the exact
/// stored size ≤ the budget, the optional FLOPs / KV-cache limits and, with
/// `Budget.teacher`, the conditions for cutting it out of the teacher — proved by the solver
/// on the exact formulas, never approximated by a box of bounds.
///
/// Not thread-safe (one Z3 context); use one per task.
public final class ConstraintSolver {
    public let space: ConfigurationSpace
    public let budget: Budget
    private let z: Z3Solver
    /// One index variable per gene (0 ≤ index < count).
    private let indices: [Z3Solver.Term]
    private let terms: ShapeTerms
    private let sizeTerm: Z3Solver.Term
    /// Checks run so far (each a proof of satisfiability or unsatisfiability).
    public private(set) var checks = 0

    /// Builds the constraints and proves that at least one configuration is legal; a budget
    /// too small for every configuration is a `SpaceError.infeasible` naming the smallest size
    /// the space can reach.
    public init(space: ConfigurationSpace, budget: Budget, timeoutMilliseconds: UInt32 = 30_000) throws {
        self.space = space
        self.budget = budget
        let z = try Z3Solver(timeoutMilliseconds: timeoutMilliseconds)
        self.z = z
        let (indices, terms) = try Self.declare(space, in: z, teacher: budget.teacher)
        self.indices = indices
        self.terms = terms
        sizeTerm = try terms.bytes(z, budget.storage)
        try z.assert(z.lessOrEqual(sizeTerm, z.int(budget.sizeBytes)))
        if let f = budget.maxFlopsPerToken { try z.assert(z.lessOrEqual(terms.flopsPerToken(z), z.int(f))) }
        if let k = budget.maxKVCacheBytes { try z.assert(z.lessOrEqual(terms.kvCacheBytes(z), z.int(k))) }
        checks += 1
        guard try z.check() else { throw try Self.infeasibility(space: space, budget: budget) }
    }

    /// Gene index variables with their domains, the value of every integer gene the shape
    /// uses, and the shape rules (which hold whatever the budget).
    private static func declare(_ space: ConfigurationSpace, in z: Z3Solver, shapeRules: Bool = true,
                                teacher: TeacherLimits? = nil) throws -> ([Z3Solver.Term], ShapeTerms) {
        var indices: [Z3Solver.Term] = []
        var factors: [String: Factor] = [:]
        for (gi, g) in space.genes.enumerated() {
            let idx = try z.intVariable("i\(gi)_\(g.name)")
            indices.append(idx)
            try z.assert(z.greaterOrEqual(idx, z.int(0)))
            try z.assert(z.lessOrEqual(idx, z.int(g.count - 1)))
            let numeric: [Int]?
            if g.name == GeneName.tiedEmbeddings {
                numeric = g.values.map { $0.boolValue == true ? 1 : 0 }  // the formulas multiply by it
            } else if g.isInteger {
                numeric = g.values.map { $0.intValue ?? 0 }
            } else {
                numeric = nil
            }
            guard let numeric else { continue }
            let term: Z3Solver.Term
            if case .range(let lo, _, let step) = g.domain {
                term = try z.plus(z.times(step, idx), lo)
            } else {
                let v = try z.intVariable("v\(gi)_\(g.name)")
                try z.assert(z.or(numeric.enumerated().map { i, x in try z.and([z.equal(idx, z.int(i)), z.equal(v, z.int(x))]) }))
                term = v
            }
            let cases = try numeric.enumerated().map { i, x in (condition: try z.equal(idx, z.int(i)), value: x) }
            factors[g.name] = numeric.count == 1 ? try .constant(numeric[0], z) : Factor(term: term, cases: cases, constant: nil)
        }
        func factor(_ name: String) throws -> Factor {
            guard let f = factors[name] else { throw SpaceError.malformed("missing integer gene '\(name)'") }
            return f
        }
        let heads = try factor(GeneName.attentionHeads)
        let t = ShapeTerms(
            layers: try factor(GeneName.layers), hidden: try factor(GeneName.hiddenSize), heads: heads,
            kvHeads: factors[GeneName.kvHeads] ?? heads, headDim: try factor(GeneName.headSize),
            tied: try factors[GeneName.tiedEmbeddings] ?? .constant(1, z),
            intermediate: try factor(GeneName.intermediateSize).term, vocab: try factor(GeneName.vocabSize).term,
            context: try factor(GeneName.contextLength).term,
            family: space.architecture, qkvBias: space.qkvBias, outputBias: space.outputBias)
        if shapeRules {
            try z.assert(z.equal(t.hidden.term, t.qDim(z)))
            // heads mod k = 0 for the kv-head count k in force: modulo a constant stays linear.
            if factors[GeneName.kvHeads] != nil {
                let divisible = try t.kvHeads.split(z) { k in
                    try z.ifThenElse(z.equal(z.modulo(heads.term, z.int(k)), z.int(0)), z.int(1), z.int(0))
                }
                try z.assert(z.equal(divisible, z.int(1)))
            }
        }
        if let teacher { try assertCutable(teacher, space: space, terms: t, indices: indices, in: z) }
        return (indices, t)
    }

    /// `--init from-teacher`'s requirements (TeacherLimits) as constraints, so that every
    /// legal configuration can be cut out of the teacher. A requirement no value of the space
    /// can meet is named at once, rather than reported later as an empty space.
    private static func assertCutable(_ limits: TeacherLimits, space: ConfigurationSpace, terms t: ShapeTerms,
                                      indices: [Z3Solver.Term], in z: Z3Solver) throws {
        let l = limits.teacher
        func need(_ ok: Bool, _ why: @autoclosure () -> String) throws {
            if !ok { throw SpaceError.infeasible("--init from-teacher: \(why())") }
        }
        try need(space.architecture == .llama && l.family == .llama, "students are cut from a teacher of the llama family only; the space declares \(space.architecture.rawValue)")
        // The students' config.json (`studentConfig`) has no biases, so neither may the teacher.
        try need(!space.qkvBias && !space.outputBias && !l.qkvBias && !l.outputBias && !l.mlpBias,
                 "students are written without biases, so the space (qkv \(space.qkvBias), output \(space.outputBias)) and the teacher (qkv \(l.qkvBias), output \(l.outputBias), mlp \(l.mlpBias)) must have none")
        let headSizes = space.geneIndex(GeneName.headSize).map { space.genes[$0].values.compactMap(\.intValue) } ?? []
        try need(headSizes.contains(l.headDim), "head_size must be the teacher's \(l.headDim) (heads are kept whole), which the space's \(headSizes) lacks")
        if let gi = space.geneIndex(GeneName.activation) {
            let values = space.genes[gi].values
            let allowed = values.indices.filter { values[$0].stringValue.flatMap { try? Activation(huggingFace: $0) } == limits.activation }
            try need(!allowed.isEmpty, "the activation must be the teacher's \(limits.activation.rawValue), which the space's activation gene lacks")
            try z.assert(z.or(allowed.map { try z.equal(indices[gi], z.int($0)) }))
        } else {
            try need((try? Activation(huggingFace: TeacherLimits.defaultActivation)) == limits.activation,
                     "the space has no activation gene (students use \(TeacherLimits.defaultActivation)) but the teacher's is \(limits.activation.rawValue)")
        }
        if space.geneIndex(GeneName.tiedEmbeddings) == nil {
            try need(l.tiedEmbeddings, "the space has no tied_embeddings gene (students are tied) but the teacher's embeddings are untied")
        }
        try z.assert(z.equal(t.tied.term, z.int(l.tiedEmbeddings ? 1 : 0)))
        try z.assert(z.equal(t.headDim.term, z.int(l.headDim)))
        let bounds: [(Z3Solver.Term, Int)] = [(t.layers.term, l.layers), (t.hidden.term, l.hidden), (t.heads.term, l.heads),
                                              (t.kvHeads.term, l.kvHeads), (t.intermediate, l.intermediate), (t.vocab, l.vocab)]
        for (term, limit) in bounds { try z.assert(z.lessOrEqual(term, z.int(limit))) }
        // heads / kv_heads ≤ the teacher's group size, as a product with a constant (linear);
        // heads are already a multiple of kv_heads.
        try z.assert(z.lessOrEqual(t.heads.term, z.times(limits.queriesPerGroup, t.kvHeads.term)))
    }

    /// The message for an empty legal space: either the shape rules alone contradict each
    /// other, or the smallest configuration they allow (found exactly, by bisection on the
    /// size bound) is larger than the budget.
    private static func infeasibility(space: ConfigurationSpace, budget: Budget) throws -> SpaceError {
        let z = try Z3Solver()
        let (_, t) = try declare(space, in: z, teacher: budget.teacher)
        let name = budget.storage.name
        guard try z.check() else {
            if let limits = budget.teacher {
                let l = limits.teacher
                return .infeasible("the space has no configuration with hidden_size = attention_heads × head_size and attention_heads divisible by kv_heads that --init from-teacher can cut from the teacher (head_size \(l.headDim), at most \(l.layers) layers, hidden \(l.hidden), \(l.heads) heads, \(l.kvHeads) kv heads with ≤ \(limits.queriesPerGroup) heads each, intermediate \(l.intermediate), vocabulary \(l.vocab))")
            }
            return .infeasible("the space has no configuration with hidden_size = attention_heads × head_size and attention_heads divisible by kv_heads")
        }
        let size = try t.bytes(z, budget.storage)
        var hi = try z.values(of: [size])[0]
        var lo = budget.sizeBytes  // known infeasible under every limit together
        var limitsOnly = false
        // Can the FLOPs / KV limits be met at all? Then the size alone is not what fails.
        if budget.maxFlopsPerToken != nil || budget.maxKVCacheBytes != nil {
            z.push()
            if let f = budget.maxFlopsPerToken { try z.assert(z.lessOrEqual(t.flopsPerToken(z), z.int(f))) }
            if let k = budget.maxKVCacheBytes { try z.assert(z.lessOrEqual(t.kvCacheBytes(z), z.int(k))) }
            let sat = try z.check()
            if sat { hi = try z.values(of: [size])[0] } else { limitsOnly = true }
            z.pop()
        }
        if limitsOnly { return .infeasible("no configuration meets the FLOPs / KV-cache limits, whatever its size") }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            z.push()
            try z.assert(z.lessOrEqual(size, z.int(mid)))
            let sat = try z.check()
            if sat { hi = try z.values(of: [size])[0] } else { lo = mid }
            z.pop()
        }
        return .infeasible("the budget is \(megabytes(budget.sizeBytes)) but the smallest configuration of the space "
                           + "takes \(hi) bytes (\(megabytes(hi))) in \(name)")
    }

    // MARK: questions

    /// Proves `c` legal (true) or illegal (false) by asking the solver with every gene fixed.
    public func isLegal(_ c: Configuration) throws -> Bool {
        guard space.contains(c) else { return false }
        z.push()
        defer { z.pop() }
        try z.assert(z.and(zip(indices, c.indices).map { try z.equal($0, z.int($1)) }))
        checks += 1
        return try z.check()
    }

    /// A legal configuration close to `c`, so a search's crossover and mutation keep their
    /// effect: `c` itself if legal; else the nearest configuration that changes one gene (by
    /// normalised distance, at most `singleMoveChecks` candidates tried); else genes are
    /// released in `order` until the solver finds a model. Every answer is a model of the
    /// constraints, legal by construction. nil only if no release helps, which cannot happen
    /// once init succeeded (all released = satisfiable).
    public func repair(_ c: Configuration, releaseOrder order: [Int], singleMoveChecks: Int = 48) throws -> Configuration? {
        if try isLegal(c) { return c }
        let genes = space.genes
        var moves: [(distance: Double, gene: Int, value: Int)] = []
        for (g, gene) in genes.enumerated() where gene.count > 1 {
            for v in 0..<gene.count where v != c.indices[g] {
                moves.append((Double(abs(v - c.indices[g])) / Double(gene.count - 1), g, v))
            }
        }
        // Ties broken by the release order, so which gene gives way is the caller's choice.
        let rank = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        moves.sort { $0.distance != $1.distance ? $0.distance < $1.distance
                     : (rank[$0.gene] ?? 0, $0.value) < (rank[$1.gene] ?? 0, $1.value) }
        for m in moves.prefix(singleMoveChecks) {
            var candidate = c
            candidate.indices[m.gene] = m.value
            if try isLegal(candidate) { return candidate }
        }
        var fixed = Set(0..<genes.count)
        var pending = order[...]
        while true {
            z.push()
            defer { z.pop() }
            let eqs = try fixed.sorted().map { try z.equal(indices[$0], z.int(c.indices[$0])) }
            if !eqs.isEmpty { try z.assert(z.and(eqs)) }
            checks += 1
            if try z.check() { return Configuration(try z.values(of: indices)) }
            guard let next = pending.popFirst() else { return nil }
            fixed.remove(next)
        }
    }

    /// Up to `limit` distinct legal configurations, each a model of the constraints with
    /// every earlier one excluded by a blocking clause. `fixing` pins genes (by index) first.
    public func enumerate(limit: Int, fixing: [Int: Int] = [:]) throws -> [Configuration] {
        z.push()
        defer { z.pop() }
        for (g, v) in fixing { try z.assert(z.equal(indices[g], z.int(v))) }
        var out: [Configuration] = []
        while out.count < limit {
            checks += 1
            guard try z.check() else { break }
            let c = Configuration(try z.values(of: indices))
            out.append(c)
            try z.assert(z.or(zip(indices, c.indices).map { try z.not(z.equal($0, z.int($1))) }))
        }
        return out
    }

    /// Exact stored bytes of `c`, as the solver's size term evaluates it (tests compare this
    /// with StudentShape.bytes).
    public func solverBytes(_ c: Configuration) throws -> Int {
        z.push()
        defer { z.pop() }
        try z.assert(z.and(zip(indices, c.indices).map { try z.equal($0, z.int($1)) }))
        checks += 1
        guard try z.check() else { throw SpaceError.infeasible("configuration is not legal: \(space.describe(c))") }
        return try z.values(of: [sizeTerm])[0]
    }

    /// Exact parameters and stored bytes of `c` by the solver's formulas, without the budget
    /// or the shape rules (so checkpoints whose head size is not hidden / heads can be checked).
    public static func solverCounts(space: ConfigurationSpace, configuration c: Configuration,
                                    storage: StorageFormat) throws -> (parameters: Int, bytes: Int) {
        let z = try Z3Solver()
        let (indices, t) = try declare(space, in: z, shapeRules: false)
        let p = try t.parameterCount(z), b = try t.bytes(z, storage)
        try z.assert(z.and(zip(indices, c.indices).map { try z.equal($0, z.int($1)) }))
        guard try z.check() else { throw SpaceError.infeasible("configuration outside its space: \(space.describe(c))") }
        let v = try z.values(of: [p, b])
        return (v[0], v[1])
    }
}

func megabytes(_ bytes: Int) -> String {
    String(format: "%.3f MB", Double(bytes) / 1e6)
}
