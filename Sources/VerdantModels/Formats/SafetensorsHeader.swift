import VerdantTensors

/// The validated contents of a safetensors header.
struct SafetensorsHeader {
    /// Sorted by data offset.
    var tensors: [TensorInfo]
    var metadata: [String: String]

    /// Parses and validates `json` (the header bytes) against a data section of
    /// `dataSize` bytes. `path` only labels errors.
    static func parse(_ json: UnsafeRawBufferPointer, dataSize: Int, path: String) throws(CheckpointError) -> SafetensorsHeader {
        let root: OrderedJSON
        do { root = try OrderedJSON.parse(json) } catch {
            throw .malformedHeader(path: path, reason: error.description)
        }
        guard case .object(let members) = root else {
            throw .malformedHeader(path: path, reason: "top level is a \(root.kindName), expected an object")
        }
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(members.count)
        var metadata: [String: String] = [:]
        var seen = Set<String>()
        seen.reserveCapacity(members.count)
        var sawMetadata = false
        for member in members {
            let name = member.key, value = member.value
            if name == "__metadata__" {
                guard !sawMetadata else { throw .malformedHeader(path: path, reason: "__metadata__ appears twice") }
                sawMetadata = true
                metadata = try parseMetadata(value, path: path)
                continue
            }
            guard seen.insert(name).inserted else { throw .duplicateTensor(path: path, tensor: name) }
            tensors.append(try parseTensor(name, value, dataSize: dataSize, path: path))
        }
        tensors.sort { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }
        // Sorted by start, any overlap shows up between neighbours; empty tensors occupy nothing.
        var last: TensorInfo?
        for t in tensors where !t.byteRange.isEmpty {
            if let l = last, t.byteRange.lowerBound < l.byteRange.upperBound {
                throw .overlappingTensors(path: path, first: l.name, second: t.name)
            }
            last = t
        }
        return SafetensorsHeader(tensors: tensors, metadata: metadata)
    }

    private static func parseMetadata(_ value: OrderedJSON, path: String) throws(CheckpointError) -> [String: String] {
        guard case .object(let members) = value else {
            throw .malformedHeader(path: path, reason: "__metadata__ is a \(value.kindName), expected an object of strings")
        }
        var out: [String: String] = [:]
        for member in members {
            let k = member.key, v = member.value
            guard case .string(let s) = v else {
                throw .malformedHeader(path: path, reason: "__metadata__ value '\(k)' is a \(v.kindName), expected a string")
            }
            guard out.updateValue(s, forKey: k) == nil else {
                throw .malformedHeader(path: path, reason: "__metadata__ key '\(k)' appears twice")
            }
        }
        return out
    }

    private static func parseTensor(_ name: String, _ value: OrderedJSON, dataSize: Int, path: String) throws(CheckpointError) -> TensorInfo {
        guard case .object(let fields) = value else {
            throw .malformedHeader(path: path, reason: "entry '\(name)' is a \(value.kindName), expected an object")
        }
        var dtypeValue: OrderedJSON?, shapeValue: OrderedJSON?, offsetsValue: OrderedJSON?
        for field in fields {
            let k = field.key, v = field.value
            switch k {
            case "dtype": dtypeValue = v
            case "shape": shapeValue = v
            case "data_offsets": offsetsValue = v
            default: continue
            }
        }
        guard case .string(let dtypeName)? = dtypeValue else {
            throw .malformedHeader(path: path, reason: "entry '\(name)' has no string 'dtype'")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw .unknownDType(path: path, tensor: name, dtype: dtypeName)
        }
        guard case .array(let dims)? = shapeValue else {
            throw .invalidShape(path: path, tensor: name, reason: "'shape' is missing or not an array")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for d in dims {
            guard let n = d.intValue, n >= 0 else {
                throw .invalidShape(path: path, tensor: name, reason: "dimensions must be non-negative integers, found \(describe(d))")
            }
            shape.append(n)
        }
        guard let count = checkedElementCount(shape) else {
            throw .invalidShape(path: path, tensor: name, reason: "\(shape) has more elements than fit in memory")
        }
        let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else {
            throw .invalidShape(path: path, tensor: name, reason: "\(shape) of \(dtypeName) is larger than addressable memory")
        }
        guard case .array(let offs)? = offsetsValue, offs.count == 2,
              let begin = offs[0].intValue, let end = offs[1].intValue else {
            throw .invalidOffsets(path: path, tensor: name, reason: "expected [begin, end] integers")
        }
        guard begin >= 0, begin <= end else {
            throw .invalidOffsets(path: path, tensor: name, reason: "[\(begin), \(end)] is not an increasing pair of non-negative offsets")
        }
        guard end <= dataSize else {
            throw .invalidOffsets(path: path, tensor: name, reason: "end \(end) is beyond the data section of \(dataSize) bytes")
        }
        guard end - begin == expected else {
            throw .sizeMismatch(path: path, tensor: name, expectedBytes: expected, actualBytes: end - begin)
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end, elementCount: count)
    }

    private static func describe(_ v: OrderedJSON) -> String {
        switch v {
        case .number(let literal): return literal
        case .string(let s): return "\"\(s)\""
        default: return v.kindName
        }
    }
}
