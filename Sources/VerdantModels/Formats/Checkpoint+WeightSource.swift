import VerdantTensors

extension Checkpoint: WeightSource {
    public func shape(of name: String) -> [Int]? { info(name)?.shape }
    public func matrix(_ name: String) throws -> WeightMatrix { try weightMatrix(name) }
    public func vector(_ name: String) throws -> [Float] { try floats(name) }
}
