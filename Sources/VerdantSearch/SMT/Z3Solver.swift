import CZ3

/// A failure inside Z3 (bad term, resource limit) or a question it could not decide.
public enum SMTError: Error, CustomStringConvertible, Equatable {
    case z3(String)
    /// Z3 answered "unknown" (timeout or an incomplete theory); never treated as "legal".
    case undecided(String)

    public var description: String {
        switch self {
        case .z3(let m): return "Z3 error: \(m)"
        case .undecided(let m): return "Z3 could not decide: \(m)"
        }
    }
}

/// One Z3 context with one solver, over integer arithmetic.
///
/// Z3's default error handler calls exit(); a silent handler is installed instead and
/// every call that can fail is followed by a check of the context's error code, so a bad
/// term becomes a Swift error. The context is the non-reference-counted kind: terms live
/// as long as the context, except those built inside a push/pop scope, which must not be
/// kept past the pop.
final class Z3Solver {
    typealias Term = Z3_ast

    private let ctx: Z3_context
    private let solver: Z3_solver
    private let intSort: Z3_sort

    init(timeoutMilliseconds: UInt32 = 30_000) throws {
        guard let cfg = Z3_mk_config() else { throw SMTError.z3("cannot create a configuration") }
        defer { Z3_del_config(cfg) }
        guard let ctx = Z3_mk_context(cfg) else { throw SMTError.z3("cannot create a context") }
        Z3_set_error_handler(ctx) { _, _ in }
        self.ctx = ctx
        guard let solver = Z3_mk_solver(ctx), let intSort = Z3_mk_int_sort(ctx) else {
            Z3_del_context(ctx)
            throw SMTError.z3("cannot create a solver")
        }
        Z3_solver_inc_ref(ctx, solver)
        self.solver = solver
        self.intSort = intSort
        if let params = Z3_mk_params(ctx) {
            Z3_params_inc_ref(ctx, params)
            Z3_params_set_uint(ctx, params, Z3_mk_string_symbol(ctx, "timeout"), timeoutMilliseconds)
            Z3_solver_set_params(ctx, solver, params)
            Z3_params_dec_ref(ctx, params)
        }
        try checkError()
    }

    deinit {
        Z3_solver_dec_ref(ctx, solver)
        Z3_del_context(ctx)
    }

    private func checkError() throws {
        let code = Z3_get_error_code(ctx)
        if code != Z3_OK {
            let message = Z3_get_error_msg(ctx, code).map { String(cString: $0) } ?? "error \(code.rawValue)"
            throw SMTError.z3(message)
        }
    }

    private func made(_ t: Term?) throws -> Term {
        guard let t else {
            try checkError()
            throw SMTError.z3("term construction failed")
        }
        return t
    }

    // MARK: terms

    func intVariable(_ name: String) throws -> Term {
        try made(Z3_mk_const(ctx, Z3_mk_string_symbol(ctx, name), intSort))
    }

    func int(_ value: Int) throws -> Term { try made(Z3_mk_int64(ctx, Int64(value), intSort)) }

    func sum(_ terms: [Term]) throws -> Term {
        if terms.isEmpty { return try int(0) }
        if terms.count == 1 { return terms[0] }
        let args: [Term?] = terms
        return try made(Z3_mk_add(ctx, UInt32(args.count), args))
    }

    func product(_ terms: [Term]) throws -> Term {
        if terms.isEmpty { return try int(1) }
        if terms.count == 1 { return terms[0] }
        let args: [Term?] = terms
        return try made(Z3_mk_mul(ctx, UInt32(args.count), args))
    }

    func times(_ k: Int, _ t: Term) throws -> Term { k == 1 ? t : try product([int(k), t]) }
    func plus(_ t: Term, _ k: Int) throws -> Term { k == 0 ? t : try sum([t, int(k)]) }
    /// Integer division (floor for the non-negative values used here).
    func divide(_ a: Term, _ b: Term) throws -> Term { try made(Z3_mk_div(ctx, a, b)) }
    func modulo(_ a: Term, _ b: Term) throws -> Term { try made(Z3_mk_mod(ctx, a, b)) }

    func equal(_ a: Term, _ b: Term) throws -> Term { try made(Z3_mk_eq(ctx, a, b)) }
    func lessOrEqual(_ a: Term, _ b: Term) throws -> Term { try made(Z3_mk_le(ctx, a, b)) }
    func greaterOrEqual(_ a: Term, _ b: Term) throws -> Term { try made(Z3_mk_ge(ctx, a, b)) }
    func not(_ a: Term) throws -> Term { try made(Z3_mk_not(ctx, a)) }

    func and(_ terms: [Term]) throws -> Term {
        if terms.count == 1 { return terms[0] }
        let args: [Term?] = terms
        return try made(Z3_mk_and(ctx, UInt32(args.count), args))
    }

    func or(_ terms: [Term]) throws -> Term {
        if terms.count == 1 { return terms[0] }
        let args: [Term?] = terms
        return try made(Z3_mk_or(ctx, UInt32(args.count), args))
    }

    func ifThenElse(_ c: Term, _ a: Term, _ b: Term) throws -> Term { try made(Z3_mk_ite(ctx, c, a, b)) }

    // MARK: solving

    func assert(_ t: Term) throws {
        Z3_solver_assert(ctx, solver, t)
        try checkError()
    }

    func push() { Z3_solver_push(ctx, solver) }
    func pop() { Z3_solver_pop(ctx, solver, 1) }

    /// true: satisfiable; false: proved unsatisfiable; throws when Z3 cannot decide.
    func check() throws -> Bool {
        let r = Z3_solver_check(ctx, solver)
        try checkError()
        if r == Z3_L_TRUE { return true }
        if r == Z3_L_FALSE { return false }
        let reason = Z3_solver_get_reason_unknown(ctx, solver).map { String(cString: $0) } ?? "unknown"
        throw SMTError.undecided(reason)
    }

    /// The values of `terms` in the model of the last satisfiable check.
    func values(of terms: [Term]) throws -> [Int] {
        guard let model = Z3_solver_get_model(ctx, solver) else {
            try checkError()
            throw SMTError.z3("no model after a satisfiable check")
        }
        Z3_model_inc_ref(ctx, model)
        defer { Z3_model_dec_ref(ctx, model) }
        var out: [Int] = []
        out.reserveCapacity(terms.count)
        for t in terms {
            var v: Z3_ast?
            guard Z3_model_eval(ctx, model, t, true, &v), let v else {
                try checkError()
                throw SMTError.z3("cannot evaluate a term in the model")
            }
            var n: Int64 = 0
            guard Z3_get_numeral_int64(ctx, v, &n) else { throw SMTError.z3("model value is not a 64-bit integer") }
            out.append(Int(n))
        }
        return out
    }
}
