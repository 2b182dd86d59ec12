/// Post-processors, reduced to what matters for ids of a single sequence:
/// which special ids go before and after it when special tokens are requested.
indirect enum PostProcessor: Sendable {
    /// ByteLevel only trims offsets; ids are untouched.
    case none
    case template(prefix: [Int], suffix: [Int])
    case sequence([PostProcessor])

    func apply(_ ids: inout [Int], addSpecialTokens: Bool) {
        guard addSpecialTokens else { return }
        switch self {
        case .none: return
        case let .template(prefix, suffix):
            if !prefix.isEmpty { ids.insert(contentsOf: prefix, at: 0) }
            ids.append(contentsOf: suffix)
        case .sequence(let ps):
            for p in ps { p.apply(&ids, addSpecialTokens: true) }
        }
    }

    /// First id added in front / last id added behind (bos/eos guesses).
    var prefixIds: [Int] {
        switch self {
        case .none: return []
        case .template(let p, _): return p
        case .sequence(let ps): return ps.flatMap(\.prefixIds)
        }
    }

    var suffixIds: [Int] {
        switch self {
        case .none: return []
        case .template(_, let s): return s
        case .sequence(let ps): return ps.flatMap(\.suffixIds)
        }
    }

    static func parse(_ j: JSONValue) throws(TokenizerError) -> PostProcessor {
        if j.isNull { return .none }
        guard let type = j["type"]?.string else { throw .invalid("post_processor without a type") }
        switch type {
        case "ByteLevel": return .none
        case "Sequence":
            var out: [PostProcessor] = []
            for p in j["processors"]?.array ?? [] { out.append(try parse(p)) }
            return .sequence(out)
        case "TemplateProcessing":
            guard let single = j["single"]?.array else { throw .invalid("TemplateProcessing without 'single'") }
            var specials: [String: [Int]] = [:]
            if let obj = j["special_tokens"]?.object {
                for (k, v) in obj {
                    var ids: [Int] = []
                    for x in v["ids"]?.array ?? [] {
                        guard let i = x.int else { throw .invalid("TemplateProcessing special token '\(k)' has a bad id") }
                        ids.append(i)
                    }
                    specials[k] = ids
                }
            }
            var prefix: [Int] = [], suffix: [Int] = []
            var seenSequence = false
            for piece in single {
                if let st = piece["SpecialToken"] {
                    guard let name = st["id"]?.string, let ids = specials[name] else {
                        throw .invalid("TemplateProcessing refers to an undeclared special token")
                    }
                    if seenSequence { suffix += ids } else { prefix += ids }
                } else if piece["Sequence"] != nil {
                    seenSequence = true
                } else {
                    throw .invalid("TemplateProcessing: unknown template piece")
                }
            }
            return .template(prefix: prefix, suffix: suffix)
        case "RobertaProcessing", "BertProcessing":
            guard let sep = j["sep"]?.array, sep.count == 2, let sepId = sep[1].int,
                  let cls = j["cls"]?.array, cls.count == 2, let clsId = cls[1].int else {
                throw .invalid("\(type) without cls/sep")
            }
            return .template(prefix: [clsId], suffix: [sepId])
        default:
            throw .unsupported("post_processor \(type)")
        }
    }
}
